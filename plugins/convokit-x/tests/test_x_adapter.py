"""Mapping, paging, resume, rate limits, partial errors and the X pitfalls."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from convokit_x import XAdapter, XConfig
from convokit_x._cursor import Position, State, decode, encode
from hypothesis import given, settings
from hypothesis import strategies as st
from x_fake import NOW, TOKEN, FakeX

from convokit_core import (
    ConfigError,
    Direction,
    MalformedPayload,
    Message,
    Page,
    PluginManager,
    SyncContext,
    SyncError,
    Visibility,
    load_config,
    load_sources,
)

ACME = "1500000000000000001"
C1 = "1790000000000000001"
C3 = "1780000000000000001"


def config(**overrides: Any) -> XConfig:
    keys: dict[str, Any] = {
        "account": "@acme",
        "bearer_token": TOKEN,
        "api_url": "https://api.x.test",
        "page_size": 5,
    }
    keys.update(overrides)
    return XConfig(**keys)


def run(
    fake: Callable[[httpx.Request], httpx.Response],
    cursor: str | None = None,
    *,
    sleeps: list[float] | None = None,
    team: frozenset[str] = frozenset(),
    **overrides: Any,
) -> list[Page]:
    recorded = sleeps if sleeps is not None else []

    async def sleep(seconds: float) -> None:
        recorded.append(seconds)

    async def go() -> list[Page]:
        async with httpx.AsyncClient(transport=httpx.MockTransport(fake)) as client:
            adapter = XAdapter(
                config(**overrides),
                client,
                SyncContext(source="x", platform="x", team_handles=team),
                sleep=sleep,
                clock=lambda: NOW,
            )
            return [page async for page in adapter.fetch(cursor)]

    return asyncio.run(go())


def messages(pages: list[Page]) -> dict[str, Message]:
    return {m.id: m for page in pages for m in page.messages}


def decoded(cursor: str) -> Any:
    return json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))


def test_posts_map_to_messages_with_threads_directions_and_urls() -> None:
    pages = run(FakeX())
    got = messages(pages)
    root = got[C1]
    assert root.direction is Direction.INBOUND
    assert root.author_id == "x:2000000000000000011"
    assert root.conversation_id == C1
    assert root.in_reply_to is None
    assert root.sent_at == datetime(2026, 3, 8, 9, 0, tzinfo=UTC)
    assert root.url == f"https://x.com/ana_o/status/{C1}"
    assert root.channel_id == f"x:{ACME}"
    assert root.visibility is Visibility.PUBLIC
    assert not root.automated
    reply = got["1790000000000000004"]
    assert (reply.direction, reply.in_reply_to, reply.conversation_id) == (
        Direction.OUTBOUND,
        C1,
        C1,
    )
    assert reply.author_id == f"x:{ACME}"
    follow_up = got["1790000000000000005"]
    assert (follow_up.in_reply_to, follow_up.direction) == (
        "1790000000000000004",
        Direction.INBOUND,
    )
    # Post text comes with &, < and > escaped as HTML entities.
    assert (
        got["1790000000000000002"].text
        == "Our spring sale starts today & runs all week > see the shop"
    )


def test_usernames_come_from_includes_users() -> None:
    pages = run(FakeX())
    people = {s.id: s for page in pages for s in page.stakeholders}
    assert people["x:2000000000000000011"].identities == {"x": "@ana_o"}
    assert people["x:2000000000000000011"].display_name == "Ana Ortiz"
    assert f"x:{ACME}" not in people  # our account is a channel, not a stakeholder
    channels = [c for page in pages for c in page.channels]
    assert len(channels) == 1
    assert (channels[0].id, channels[0].handle) == (f"x:{ACME}", "@Acme")
    assert channels[0].created_at == datetime(2012, 5, 1, 8, 0, tzinfo=UTC)
    # A [[team]] handle matched through the joined username turns Ben's posts outbound.
    joined = messages(run(FakeX(), team=frozenset({"@BenBuilds"})))
    assert joined["1790000000000000003"].direction is Direction.OUTBOUND


def test_fields_and_expansions_are_asked_for_and_the_account_is_resolved_once() -> None:
    fake = FakeX()
    run(fake)
    lookups = [r for r in fake.requests if r.url.path.startswith("/2/users/by/username/")]
    assert [r.url.path for r in lookups] == ["/2/users/by/username/acme"]
    for request in fake.requests[1:]:
        params = request.url.params
        assert set(params["tweet.fields"].split(",")) >= {
            "created_at",
            "conversation_id",
            "in_reply_to_user_id",
            "referenced_tweets",
            "author_id",
        }
        assert set(params["expansions"].split(",")) >= {"author_id", "referenced_tweets.id"}
        assert "username" in params["user.fields"].split(",")
    searches = [r for r in fake.requests if r.url.path == "/2/tweets/search/recent"]
    # Recent search refuses max_results below 10, even with page_size = 5.
    assert {r.url.params["max_results"] for r in searches} == {"10"}
    timelines = [r for r in fake.requests if r.url.path.endswith(("/mentions", "/tweets"))]
    assert {r.url.params["max_results"] for r in timelines} == {"5"}


def test_the_seven_day_search_window_misses_old_replies_that_do_not_mention_us() -> None:
    fake = FakeX()
    got = messages(run(fake))
    queries = [r.url.params["query"] for r in fake.requests if "search" in r.url.path]
    assert f"conversation_id:{C3}" in queries
    # The old thread: its mentions and our reply arrive through the timelines...
    assert {C3, "1780000000000000003", "1780000000000000004"} <= set(got)
    # ...a reply from this week that does not mention us arrives through recent search...
    assert got["1790000000000000009"].conversation_id == C3
    # ...but a 18-day-old reply that neither mentions us nor is ours is out of reach.
    assert "1780000000000000002" not in got
    # A week later the same search finds nothing of that thread any more.
    later = FakeX(now=datetime(2026, 3, 17, 12, 0, tzinfo=UTC))
    assert "1790000000000000009" not in messages(run(later))


def test_ids_beyond_two_to_the_53_stay_exact_strings() -> None:
    # 1790000000000000001 and 1790000000000000002 are one and the same IEEE double.
    assert float("1790000000000000001") == float("1790000000000000002")
    fake = FakeX()
    pages = run(fake)
    got = messages(pages)
    assert {"1790000000000000001", "1790000000000000002"} <= set(got)
    assert got["1790000000000000001"].text != got["1790000000000000002"].text
    state = decoded(pages[-1].cursor)
    assert state["mentions"] == {"since": "1790000000000000010"}
    assert state["own"] == {"since": "1790000000000000011"}
    again = FakeX()
    assert run(again, pages[-1].cursor) == []
    since = {r.url.params.get("since_id") for r in again.requests[1:]}
    assert since == {"1790000000000000010", "1790000000000000011"}


def test_an_id_sent_as_a_json_number_is_refused_not_rounded() -> None:
    fake = FakeX()

    def numbers(request: httpx.Request) -> httpx.Response:
        response = fake(request)
        if request.url.path.endswith("/mentions"):
            body = json.loads(response.content)
            body["data"][0]["id"] = int(body["data"][0]["id"])
            return httpx.Response(200, json=body)
        return response

    with pytest.raises(MalformedPayload, match=r"data\[0\]\.id: expected an id"):
        run(numbers)


def test_partial_errors_keep_the_page_and_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="convokit.x")
    got = messages(run(FakeX()))
    orphan = got["1790000000000000010"]
    assert orphan.in_reply_to == "1790000000000000000"  # deleted, so not a message
    assert orphan.conversation_id == "1790000000000000000"
    assert "1790000000000000000" not in got
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(
        "Not Found Error: tweet 1790000000000000000 (referenced_tweets.id)" in w for w in warnings
    )
    assert all(TOKEN not in w for w in warnings)


def test_a_lookup_answered_with_only_errors_fails_with_the_account_named() -> None:
    fake = FakeX()
    with pytest.raises(SyncError, match=r"@nobody_here could not be resolved: Not Found Error"):
        run(fake, account="@nobody_here")
    assert len(fake.requests) == 1


def test_retweets_are_skipped() -> None:
    got = messages(run(FakeX()))
    assert "1790000000000000006" not in got  # Ben retweeting our post (in mentions)
    assert "1790000000000000011" not in got  # our retweet of Cleo (in our timeline)


def test_bots_are_automated_and_threads_can_be_switched_off() -> None:
    got = messages(run(FakeX(), bots=["@Acme"]))
    assert got["1790000000000000004"].automated
    assert not got[C1].automated
    fake = FakeX()
    without = messages(run(fake, threads=False))
    assert not [r for r in fake.requests if "search" in r.url.path]
    assert "1790000000000000003" not in without  # only reachable through the thread
    assert C1 in without


def test_paging_and_resume_after_each_page() -> None:
    fake = FakeX()
    pages = run(fake)
    assert len(pages) == 3
    tokens = [
        r.url.params.get("pagination_token") for r in fake.requests if "mentions" in str(r.url)
    ]
    assert tokens[0] is None
    assert tokens[1] is not None
    mid = decoded(pages[0].cursor)["mentions"]
    assert mid["token"] == tokens[1]
    assert mid["top"] == "1790000000000000010"
    rest = messages(run(FakeX(), pages[0].cursor))
    assert set(messages(pages[:1])) | set(rest) == set(messages(pages))


def test_the_next_sync_reads_only_what_is_new() -> None:
    fake = FakeX()
    final = run(fake)[-1].cursor
    fake.tweets.append(
        {
            "id": "1790000000000000020",
            "text": "@Acme the dark mode resets after every update though",
            "author_id": "2000000000000000013",
            "created_at": "2026-03-10T09:00:00.000Z",
            "conversation_id": "1790000000000000007",
            "in_reply_to_user_id": ACME,
            "referenced_tweets": [{"type": "replied_to", "id": "1790000000000000008"}],
            "edit_history_tweet_ids": ["1790000000000000020"],
        }
    )
    fake.requests.clear()
    pages = run(fake, final)
    got = messages(pages)
    assert got["1790000000000000020"].in_reply_to == "1790000000000000008"
    assert got["1790000000000000020"].direction is Direction.INBOUND
    # Its thread is read again (idempotent upserts); nothing from other threads.
    assert set(got) <= {"1790000000000000020", "1790000000000000007", "1790000000000000008"}
    assert decoded(pages[-1].cursor)["mentions"] == {"since": "1790000000000000020"}
    assert run(fake, pages[-1].cursor) == []


def test_a_spent_rate_limit_window_is_waited_out_before_the_next_request() -> None:
    fake = FakeX()
    fake.spend.add("mentions")
    sleeps: list[float] = []
    pages = run(fake, sleeps=sleeps)
    assert sleeps == [900.0]  # x-rate-limit-reset is NOW + 15 min, in epoch seconds
    assert len(messages(pages)) == 12


def test_a_429_waits_until_x_rate_limit_reset() -> None:
    fake = FakeX()
    answered: list[int] = []

    def limited(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/mentions") and not answered:
            answered.append(429)
            reset = int(NOW.timestamp()) + 120
            return httpx.Response(
                429,
                json={
                    "title": "Too Many Requests",
                    "detail": "Too Many Requests",
                    "type": "about:blank",
                    "status": 429,
                },
                headers={"x-rate-limit-remaining": "0", "x-rate-limit-reset": str(reset)},
            )
        return fake(request)

    sleeps: list[float] = []
    pages = run(limited, sleeps=sleeps)
    assert sleeps == [120.0]
    assert len(messages(pages)) == 12


@pytest.mark.parametrize(
    "state",
    [
        {"v": 1, "mentions": {"since": 1790000000000000010}, "own": {}},
        {"v": 1, "mentions": {"since": "1.79e18"}, "own": {}},
        {"v": 1, "mentions": {"token": "abc"}, "own": {}},
        {"v": 1, "mentions": {}},
        {"v": 2, "mentions": {}, "own": {}},
    ],
)
def test_a_cursor_of_the_wrong_shape_is_an_error(state: dict[str, Any]) -> None:
    raw = base64.urlsafe_b64encode(json.dumps(state).encode()).decode()
    fake = FakeX()
    with pytest.raises(MalformedPayload, match="not an X sync cursor"):
        run(fake, raw)


def test_secrets_stay_out_of_reprs_and_errors() -> None:
    assert TOKEN not in repr(config())
    with pytest.raises(ValueError) as info:
        config(bearer_token="tiny7")
    assert "tiny7" not in str(info.value)
    fake = FakeX(token="another-token-entirely")
    with pytest.raises(Exception) as failed:
        run(fake)
    assert "401" in str(failed.value)
    assert TOKEN not in str(failed.value)


@pytest.mark.parametrize(
    ("line", "key"),
    [
        ('account = "not a handle!"', "account"),
        ("page_size = 3", "page_size"),
        ('bots = "acme_status"', "bots"),
        ('api_url = "ftp://api.x.test"', "api_url"),
    ],
)
def test_a_bad_source_table_is_a_config_error_naming_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, line: str, key: str
) -> None:
    monkeypatch.setenv("CONVOKIT_LOAD_PLUGINS", "x")
    path = tmp_path / "convokit.toml"
    keys = {
        "account": 'account = "@acme"',
        "page_size": "page_size = 50",
        "bots": "bots = []",
        "api_url": 'api_url = "https://api.x.test"',
    }
    keys[key] = line
    path.write_text(
        '[[source]]\nname = "x"\nplatform = "x"\nbearer_token = "${X_BEARER_TOKEN}"\n'
        + "\n".join(keys.values())
        + "\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as info:
        load_sources(load_config(path), PluginManager(), env={"X_BEARER_TOKEN": TOKEN})
    text = str(info.value)
    assert "convokit.toml" in text
    assert key in text
    assert TOKEN not in text


def test_a_server_that_drops_the_opt_in_fields_is_a_malformed_payload() -> None:
    fake = FakeX()

    def bare(request: httpx.Request) -> httpx.Response:
        # As X answers when tweet.fields is not sent: only id, text and the edit history.
        params = dict(request.url.params)
        params.pop("tweet.fields", None)
        url = request.url.copy_with(params=params)
        return fake(httpx.Request(request.method, url, headers=request.headers))

    with pytest.raises(MalformedPayload, match=r"mentions\.data\[0\]\.author_id"):
        run(bare)


def test_no_wait_while_the_window_has_requests_left() -> None:
    sleeps: list[float] = []
    run(FakeX(), sleeps=sleeps)
    assert sleeps == []


@settings(deadline=None)  # the machine is loaded: no per-example time limit
@given(
    since=st.one_of(st.none(), st.integers(0, 2**64 - 1)),
    top=st.integers(0, 2**64 - 1),
    token=st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=40),
)
def test_cursor_ids_round_trip_exactly(since: int | None, top: int, token: str) -> None:
    state = State(
        mentions=Position(
            since_id=None if since is None else str(since), token=token, top=str(top)
        ),
        own=Position(since_id=str(top)),
    )
    assert decode(encode(state)) == state
    assert decode(encode(state)).own.since_id == str(top)
