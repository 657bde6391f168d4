"""Tokens, User-Agent, rate limits, error shapes and secrets."""

from __future__ import annotations

import base64
import logging
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs

import attrs
import httpx
import pytest
from convokit_reddit import RedditConfig
from reddit_fake import (
    ALL_IDS,
    CLIENT_ID,
    CLIENT_SECRET,
    PASSWORD,
    REFRESH_TOKEN,
    SECOND_TOKEN,
    TOKEN,
    FakeReddit,
    Run,
    messages_of,
)

from convokit_core import HttpError, MalformedPayload, SyncContext, SyncError

SECRETS = (CLIENT_SECRET, PASSWORD, REFRESH_TOKEN, TOKEN, SECOND_TOKEN)


def token_requests(fake: FakeReddit) -> list[httpx.Request]:
    return [r for r in fake.requests if r.url.path == "/api/v1/access_token"]


def paths_of(fake: FakeReddit, path: str) -> list[httpx.URL]:
    return [r.url for r in fake.requests if r.url.path == path]


def api_requests(fake: FakeReddit) -> list[httpx.Request]:
    return [r for r in fake.requests if r.url.path != "/api/v1/access_token"]


# -- tokens ------------------------------------------------------------------------------


def test_script_app_token_request(
    config: RedditConfig, fake: FakeReddit, context: SyncContext
) -> None:
    Run().pages(config, fake, context)
    (request,) = token_requests(fake)
    assert request.method == "POST"
    assert str(request.url) == "https://www.reddit.test/api/v1/access_token"
    basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    assert request.headers["authorization"] == f"Basic {basic}"
    form = parse_qs(request.content.decode())
    assert form == {
        "grant_type": ["password"],
        "username": ["acme_support"],
        "password": [PASSWORD],
    }
    # The API gets the bearer token, never the app's credentials.
    for api in api_requests(fake):
        assert api.headers["authorization"] == f"Bearer {TOKEN}"
        assert str(api.url).startswith("https://oauth.reddit.test/")


def test_refresh_token_grant(config: RedditConfig, fake: FakeReddit, context: SyncContext) -> None:
    config = attrs.evolve(config, password="", refresh_token=REFRESH_TOKEN)
    assert set(messages_of(Run().pages(config, fake, context))) == ALL_IDS
    (request,) = token_requests(fake)
    form = parse_qs(request.content.decode())
    assert form == {"grant_type": ["refresh_token"], "refresh_token": [REFRESH_TOKEN]}


def test_a_401_renews_the_token_and_repeats_the_call(
    config: RedditConfig, context: SyncContext
) -> None:
    fake = FakeReddit(expire_token_after=6)  # the first token stops working mid-sync
    assert set(messages_of(Run().pages(config, fake, context))) == ALL_IDS
    assert fake.tokens_issued == 2
    assert fake.refused == 1
    statuses = [r.headers["authorization"] for r in api_requests(fake)]
    assert statuses[:6] == [f"Bearer {TOKEN}"] * 6
    assert statuses[6] == f"Bearer {TOKEN}"  # answered 401 ...
    assert set(statuses[7:]) == {f"Bearer {SECOND_TOKEN}"}  # ... then the new token


def test_a_token_is_renewed_before_it_expires(
    config: RedditConfig, fake: FakeReddit, context: SyncContext
) -> None:
    now = [datetime(2026, 11, 1, tzinfo=UTC)]

    def clock() -> datetime:
        # Each request moves the clock on by 3 hours: a 24 h token lasts ~7 requests.
        now[0] += timedelta(hours=3)
        return now[0]

    fake = FakeReddit(rotate_tokens=True)
    assert set(messages_of(Run().pages(config, fake, context, clock=clock))) == ALL_IDS
    calls = len(api_requests(fake))
    assert fake.tokens_issued >= calls // 8 >= 2
    # No request was refused: each new token was fetched before the old one ran out.
    assert fake.refused == 0


def test_a_wrong_password_is_a_clear_error(
    config: RedditConfig, fake: FakeReddit, context: SyncContext
) -> None:
    config = attrs.evolve(config, password="not-the-password")
    with pytest.raises(SyncError, match="refused the password credentials") as info:
        Run().pages(config, fake, context)
    assert "invalid_grant" in str(info.value)
    assert "not-the-password" not in str(info.value)
    assert api_requests(fake) == []


def test_a_wrong_client_secret_is_a_clear_error(
    config: RedditConfig, fake: FakeReddit, context: SyncContext
) -> None:
    config = attrs.evolve(config, client_secret="wrong-secret-value")
    with pytest.raises(HttpError, match="check client_id and client_secret") as info:
        Run().pages(config, fake, context)
    assert info.value.status == 401
    assert "wrong-secret-value" not in str(info.value)


# -- User-Agent --------------------------------------------------------------------------


def test_default_user_agent_names_the_plugin_and_our_account(
    config: RedditConfig, fake: FakeReddit, context: SyncContext
) -> None:
    Run().pages(config, fake, context)
    agents = {r.headers["user-agent"] for r in fake.requests}
    assert agents == {"python:convokit-reddit:0.1.0 (by /u/acme_support)"}


def test_configured_user_agent_is_sent_everywhere(
    config: RedditConfig, fake: FakeReddit, context: SyncContext
) -> None:
    config = attrs.evolve(config, user_agent="linux:acme-support-sync:2.1 (by /u/acme_support)")
    Run().pages(config, fake, context)
    assert {r.headers["user-agent"] for r in fake.requests} == {
        "linux:acme-support-sync:2.1 (by /u/acme_support)"
    }


# -- rate limits -------------------------------------------------------------------------


def test_waits_for_the_reset_when_the_remaining_budget_is_spent(
    config: RedditConfig, context: SyncContext
) -> None:
    # A window of 4 requests: every 4th answer says "X-Ratelimit-Remaining: 0.0".
    fake = FakeReddit(rate_window=4, rate_reset="42")
    run = Run()
    assert set(messages_of(run.pages(config, fake, context))) == ALL_IDS
    calls = len(api_requests(fake))
    assert calls > 8
    # One wait of the reset's 42 s after each spent window that is followed by a request.
    assert run.sleeps == [42.0] * ((calls - 1) // 4)
    assert run.adapter is not None
    assert run.adapter.api.rate_limit_waits == run.sleeps


def test_fractional_remaining_and_reset_are_understood(
    config: RedditConfig, context: SyncContext
) -> None:
    class Fractional(FakeReddit):
        def __call__(self, request: httpx.Request) -> httpx.Response:
            response = super().__call__(request)
            if request.url.path == "/message/mentions":
                response.headers["X-Ratelimit-Remaining"] = "0.4"
                response.headers["X-Ratelimit-Reset"] = "12.5"
            return response

    run = Run()
    run.pages(config, Fractional(), context)
    mentions_pages = 1  # page_size 2: both mentions on one page
    assert run.sleeps == [12.5] * mentions_pages


def test_no_wait_while_budget_remains(
    config: RedditConfig, fake: FakeReddit, context: SyncContext
) -> None:
    run = Run()
    run.pages(config, fake, context)  # "598.0" remaining on every answer
    assert run.sleeps == []


def test_a_429_waits_the_seconds_until_reset(config: RedditConfig, context: SyncContext) -> None:
    class Busy(FakeReddit):
        busy = 1

        def __call__(self, request: httpx.Request) -> httpx.Response:
            if request.url.path == "/message/comments" and self.busy:
                self.busy -= 1
                self.requests.append(request)
                return httpx.Response(
                    429,
                    json={"message": "Too Many Requests", "error": 429},
                    headers={"X-Ratelimit-Remaining": "0.0", "X-Ratelimit-Reset": "17"},
                )
            return super().__call__(request)

    run = Run()
    fake = Busy()
    assert set(messages_of(run.pages(config, fake, context))) == ALL_IDS
    # The shared helper read the seconds-until reset header (no Retry-After was sent)
    # and retried once after it; nothing else waited.
    assert run.sleeps == [17.0]
    assert len(paths_of(fake, "/message/comments")) == 2  # the 429, then its retry


# -- error shapes and secrets ------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body", "match"),
    [
        ("/message/mentions", {"kind": "t1", "data": {}}, "expected a Listing"),
        ("/message/mentions", {"kind": "Listing", "data": {"after": None}}, "no 'children'"),
        ("/comments/1gx4a1b", {"kind": "Listing", "data": {"children": []}}, "two-element array"),
        ("/api/morechildren", {"json": {"errors": []}}, "json.data.things"),
        ("/user/acme_support/about", {"kind": "t5", "data": {}}, "expected a t2"),
    ],
)
def test_wrong_shapes_are_malformed_payloads(
    config: RedditConfig, context: SyncContext, path: str, body: object, match: str
) -> None:
    class Broken(FakeReddit):
        def __call__(self, request: httpx.Request) -> httpx.Response:
            response = super().__call__(request)
            if request.url.path == path:
                return httpx.Response(200, json=body, headers=response.headers)
            return response

    with pytest.raises(MalformedPayload, match=match):
        Run().pages(config, Broken(), context)


def test_a_bad_comment_field_names_the_item(config: RedditConfig, context: SyncContext) -> None:
    class Broken(FakeReddit):
        def __call__(self, request: httpx.Request) -> httpx.Response:
            response = super().__call__(request)
            if request.url.path == "/comments/1gx6c3d":
                data = response.json()
                data[1]["data"]["children"][0]["data"]["created_utc"] = "yesterday"
                return httpx.Response(200, json=data, headers=response.headers)
            return response

    with pytest.raises(MalformedPayload, match=r"comment 't1_lz0c1n1'.*created_utc"):
        Run().pages(config, Broken(), context)


def test_morechildren_errors_fail_the_source(config: RedditConfig, context: SyncContext) -> None:
    class Refusing(FakeReddit):
        def __call__(self, request: httpx.Request) -> httpx.Response:
            if request.url.path == "/api/morechildren":
                self.requests.append(request)
                return httpx.Response(
                    200, json={"json": {"errors": [["RATELIMIT", "you are doing that too much"]]}}
                )
            return super().__call__(request)

    with pytest.raises(SyncError, match="RATELIMIT"):
        Run().pages(config, Refusing(), context)


def test_secrets_echoed_in_a_malformed_payload_never_reach_the_error(
    config: RedditConfig, context: SyncContext, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)

    class Echo(FakeReddit):
        def __call__(self, request: httpx.Request) -> httpx.Response:
            response = super().__call__(request)
            if request.url.path == "/message/selfreply":
                body = {"kind": " ".join(SECRETS), "data": {"after": " ".join(SECRETS)}}
                return httpx.Response(200, json=body, headers=response.headers)
            return response

    with pytest.raises(MalformedPayload) as info:
        Run().pages(config, Echo(), context)
    texts = [str(info.value), repr(info.value), str(info.value.__context__)]
    texts += [r.getMessage() for r in caplog.records]
    for secret in (CLIENT_SECRET, PASSWORD, TOKEN):
        assert not [t for t in texts if secret in t], secret
    assert info.value.__context__ is None
    assert info.value.__cause__ is None


def test_repr_shows_no_secret(config: RedditConfig, fake: FakeReddit, context: SyncContext) -> None:
    run = Run()
    run.pages(config, fake, context)
    assert run.adapter is not None
    texts = [repr(config), str(config), repr(run.adapter), repr(run.adapter.api)]
    for secret in SECRETS:
        assert not [t for t in texts if secret in t]
    assert "token held" in repr(run.adapter.api)
