"""The shared HTTP helper: retries, rate-limit headers, redirects, secrets."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from convokit_core._errors import ConfigError, HttpError, MalformedPayload
from convokit_core._http import (
    HttpClient,
    ResetStyle,
    RetryPolicy,
    parse_reset,
    parse_retry_after,
    redact_url,
)

NOW = datetime(2026, 11, 22, 18, 0, 0, tzinfo=UTC)
TOKEN = "tok-5ecret-abcdef"
BASE = "https://api.example"


class Recorder:
    """A scripted server: answers requests from a list, records them."""

    def __init__(self, *answers: httpx.Response | Exception | Callable[..., Any]) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        if callable(answer) and not isinstance(answer, httpx.Response):
            result: httpx.Response = answer(request)
            return result
        return answer


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def make(
    server: Recorder,
    *,
    policy: RetryPolicy | None = None,
    base_url: str = BASE,
    **kwargs: Any,
) -> tuple[HttpClient, list[float], httpx.AsyncClient]:
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    client = httpx.AsyncClient(transport=httpx.MockTransport(server))
    http = HttpClient(
        client,
        base_url=base_url,
        secret_headers={"Authorization": f"Bearer {TOKEN}"},
        policy=policy or RetryPolicy(max_retries=4, backoff_base=0.5, backoff_max=8, budget=60),
        sleep=sleep,
        clock=lambda: NOW,
        **kwargs,
    )
    return http, sleeps, client


def ok(payload: Any = None, **headers: str) -> httpx.Response:
    return httpx.Response(200, json={"ok": True} if payload is None else payload, headers=headers)


# -- header parsers ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0),
        (" 7 ", 7.0),
        ("1.5", 1.5),
        ("0", 0.0),
        ("-3", 0.0),
        ("Sun, 22 Nov 2026 18:01:30 GMT", 90.0),
        ("Sun, 22 Nov 2026 17:00:00 GMT", 0.0),
        ("soon", None),
        ("", None),
        ("nan", None),
    ],
)
def test_parse_retry_after(value: str, expected: float | None) -> None:
    assert parse_retry_after(value, NOW) == expected


@pytest.mark.parametrize(
    ("value", "style", "expected"),
    [
        ("2026-11-22T18:05:00.000Z", ResetStyle.ISO_TIMESTAMP, 300.0),
        ("2026-11-22T19:05:00+01:00", ResetStyle.ISO_TIMESTAMP, 300.0),
        ("2026-11-22T17:00:00Z", ResetStyle.ISO_TIMESTAMP, 0.0),
        ("not a date", ResetStyle.ISO_TIMESTAMP, None),
        (str(int(NOW.timestamp()) + 42), ResetStyle.EPOCH_SECONDS, 42.0),
        (str(int(NOW.timestamp()) - 42), ResetStyle.EPOCH_SECONDS, 0.0),
        ("x", ResetStyle.EPOCH_SECONDS, None),
        ("42", ResetStyle.SECONDS_UNTIL, 42.0),
        ("41.5", ResetStyle.SECONDS_UNTIL, 41.5),
        ("", ResetStyle.SECONDS_UNTIL, None),
    ],
)
def test_parse_reset(value: str, style: ResetStyle, expected: float | None) -> None:
    assert parse_reset(value, style, NOW) == expected


@given(st.integers(min_value=0, max_value=80))
def test_backoff_is_full_jitter_within_the_cap(attempt: int) -> None:
    policy = RetryPolicy(backoff_base=0.5, backoff_max=60)
    value = policy.backoff(attempt)
    assert 0.0 <= value <= min(60.0, 0.5 * 2.0**attempt)


# -- success and URLs ------------------------------------------------------------------------


def test_get_json_joins_base_url_sends_secret_and_timeout() -> None:
    server = Recorder(ok([1, 2]))
    http, sleeps, _ = make(server, headers={"User-Agent": "convokit-tests"})
    assert run(http.get_json("/api/v1/things", params={"limit": 2})) == [1, 2]
    (request,) = server.requests
    assert str(request.url) == "https://api.example/api/v1/things?limit=2"
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.headers["user-agent"] == "convokit-tests"
    assert request.extensions["timeout"]["read"] == 30.0
    assert sleeps == []


def test_set_secret_header_replaces_the_token() -> None:
    server = Recorder(ok())
    http, _, _ = make(server)
    http.set_secret_header("authorization", "Bearer refreshed-token-123")
    run(http.get_json("/x"))
    assert server.requests[0].headers["authorization"] == "Bearer refreshed-token-123"
    assert "refreshed-token-123" not in repr(http)


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8080", "http://127.3.2.1", "http://[::1]:9000", "http://localhost:1"]
)
def test_http_is_accepted_for_loopback(url: str) -> None:
    server = Recorder(ok())
    http, _, _ = make(server, base_url=url)
    assert run(http.get_json("/ping")) == {"ok": True}


@pytest.mark.parametrize(
    "url",
    [
        "http://mastodon.example",
        "http://10.0.0.1",
        "http://localhost.evil.example",
        "http://api.localhost",
        "ftp://example.org",
        "not a url",
    ],
)
def test_http_is_refused_for_remote_hosts(url: str) -> None:
    with pytest.raises(ConfigError):
        make(Recorder(ok()), base_url=url)


def test_absolute_request_url_to_remote_http_is_refused() -> None:
    server = Recorder(ok())
    http, _, _ = make(server)
    with pytest.raises(ConfigError, match="http://"):
        run(http.get_json("http://evil.example/x"))
    assert server.requests == []


def test_redact_url_hides_credentials_and_secret_params() -> None:
    shown = redact_url("https://user:pw@x.example/a?access_token=abc&max_id=5&api_key=k")
    assert "pw" not in shown
    assert "abc" not in shown
    assert "=k" not in shown
    assert "max_id=5" in shown


# -- retries ------------------------------------------------------------------------------


def test_429_then_success_is_retried_honouring_retry_after() -> None:
    server = Recorder(
        httpx.Response(429, json={"error": "Too many requests"}, headers={"Retry-After": "7"}),
        ok(),
    )
    http, sleeps, _ = make(server)
    assert run(http.get_json("/x")) == {"ok": True}
    assert len(server.requests) == 2
    assert sleeps == [7.0]


def test_retry_after_http_date_is_honoured() -> None:
    later = (NOW + timedelta(seconds=20)).strftime("%a, %d %b %Y %H:%M:%S GMT")
    server = Recorder(httpx.Response(503, headers={"Retry-After": later}), ok())
    http, sleeps, _ = make(server)
    run(http.get_json("/x"))
    assert sleeps == [20.0]


@pytest.mark.parametrize(
    ("style", "header", "value", "expected"),
    [
        (ResetStyle.ISO_TIMESTAMP, "X-RateLimit-Reset", "2026-11-22T18:00:12.000Z", 12.0),
        (ResetStyle.EPOCH_SECONDS, "RateLimit-Reset", str(int(NOW.timestamp()) + 9), 9.0),
        (ResetStyle.SECONDS_UNTIL, "X-Ratelimit-Reset", "5", 5.0),
    ],
)
def test_platform_reset_header_is_honoured(
    style: ResetStyle, header: str, value: str, expected: float
) -> None:
    server = Recorder(
        httpx.Response(429, json={"error": "slow down"}, headers={header: value}), ok()
    )
    http, sleeps, _ = make(server, reset_header=header, reset_style=style)
    run(http.get_json("/x"))
    assert sleeps == [expected]


def test_backoff_wins_when_the_server_asks_for_less() -> None:
    server = Recorder(*([httpx.Response(500)] * 3), ok())
    policy = RetryPolicy(max_retries=5, backoff_base=100, backoff_max=100, budget=10_000)
    http, sleeps, _ = make(server, policy=policy)
    run(http.get_json("/x"))
    assert len(sleeps) == 3
    assert all(0 <= s <= 100 for s in sleeps)


def test_429_with_html_body_is_retried_and_reported_without_html() -> None:
    html = httpx.Response(
        429,
        content=b"<html><h1>429 Too Many Requests</h1></html>",
        headers={"content-type": "text/html"},
    )
    server = Recorder(html)
    http, sleeps, _ = make(server, policy=RetryPolicy(max_retries=2, budget=60))
    with pytest.raises(HttpError) as info:
        run(http.get_json("/x"))
    assert info.value.status == 429
    assert len(server.requests) == 3
    assert len(sleeps) == 2
    assert "<html>" not in str(info.value)
    assert "after 3 attempts" in str(info.value)
    assert "HTTP 429" in str(info.value)


def test_5xx_retries_are_exhausted_with_a_clear_error() -> None:
    server = Recorder(httpx.Response(503, text="upstream down"))
    http, sleeps, _ = make(server)
    with pytest.raises(HttpError) as info:
        run(http.get_json("/api/v1/notifications", params={"max_id": "5"}))
    message = str(info.value)
    assert info.value.status == 503
    assert len(server.requests) == 5
    assert len(sleeps) == 4
    assert "GET https://api.example/api/v1/notifications?max_id=5" in message
    assert "failed after 5 attempts" in message
    assert "upstream down" in message


def test_retry_budget_stops_a_long_server_wait() -> None:
    server = Recorder(httpx.Response(429, headers={"Retry-After": "3600"}))
    http, sleeps, _ = make(server, policy=RetryPolicy(budget=300))
    with pytest.raises(HttpError, match="budget of 300s exhausted") as info:
        run(http.get_json("/x"))
    assert "3600" in str(info.value)
    assert sleeps == []
    assert len(server.requests) == 1


def test_retry_budget_counts_the_total_wait() -> None:
    server = Recorder(httpx.Response(429, headers={"Retry-After": "40"}))
    http, sleeps, _ = make(server, policy=RetryPolicy(max_retries=10, budget=100))
    with pytest.raises(HttpError, match="budget"):
        run(http.get_json("/x"))
    assert sleeps == [40.0, 40.0]


@pytest.mark.parametrize(
    "error",
    [
        httpx.ReadTimeout("slow"),
        httpx.ConnectTimeout("slow"),
        httpx.ConnectError("refused"),
        httpx.RemoteProtocolError("reset"),
    ],
)
def test_timeouts_and_connection_errors_are_retried(error: Exception) -> None:
    server = Recorder(error, ok())
    http, sleeps, _ = make(server)
    assert run(http.get_json("/x")) == {"ok": True}
    assert len(sleeps) == 1


def test_transport_errors_exhausted_raise_http_error_without_status() -> None:
    server = Recorder(httpx.ConnectError("connection refused"))
    http, _, _ = make(server, policy=RetryPolicy(max_retries=1))
    with pytest.raises(HttpError, match="connection failed") as info:
        run(http.get_json("/x"))
    assert info.value.status is None


def test_post_is_not_retried_unless_idempotent() -> None:
    server = Recorder(httpx.Response(503))
    http, sleeps, _ = make(server)
    with pytest.raises(HttpError, match="not idempotent"):
        run(http.post_json("/session", json={"a": 1}))
    assert len(server.requests) == 1
    assert sleeps == []

    server = Recorder(httpx.Response(503), ok())
    http, sleeps, _ = make(server)
    assert run(http.post_json("/query", json={"a": 1}, idempotent=True)) == {"ok": True}
    assert len(server.requests) == 2


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410, 422])
def test_other_4xx_fail_at_once_with_the_platform_message(status: int) -> None:
    server = Recorder(httpx.Response(status, json={"error": "Record not found"}))
    http, sleeps, _ = make(server)
    with pytest.raises(HttpError, match="Record not found") as info:
        run(http.get_json("/api/v1/accounts/lookup", params={"acct": "ana"}))
    assert info.value.status == status
    assert len(server.requests) == 1
    assert sleeps == []
    assert f"HTTP {status}" in str(info.value)


def test_invalid_json_is_a_malformed_payload() -> None:
    server = Recorder(
        httpx.Response(
            200, content=b'{"truncated": [', headers={"content-type": "application/json"}
        )
    )
    http, _, _ = make(server)
    with pytest.raises(MalformedPayload, match="not valid JSON"):
        run(http.get_json("/x"))


# -- redirects ----------------------------------------------------------------------------


def test_redirect_within_the_origin_keeps_authorization() -> None:
    server = Recorder(
        httpx.Response(302, headers={"Location": "/api/v2/x"}),
        ok(),
    )
    http, _, _ = make(server)
    run(http.get_json("/api/v1/x"))
    assert server.requests[1].url.path == "/api/v2/x"
    assert server.requests[1].headers["authorization"] == f"Bearer {TOKEN}"


def test_redirect_to_another_origin_drops_every_secret_header() -> None:
    server = Recorder(
        httpx.Response(307, headers={"Location": "https://cdn.example/data.json"}),
        ok(),
    )
    sleeps: list[float] = []

    async def sleep(s: float) -> None:
        sleeps.append(s)

    client = httpx.AsyncClient(transport=httpx.MockTransport(server))
    http = HttpClient(
        client,
        base_url=BASE,
        headers={"User-Agent": "ua"},
        secret_headers={"Authorization": f"Bearer {TOKEN}", "Api-Key": "key-123456"},
        sleep=sleep,
    )
    run(http.request("GET", "/x", headers={"authorization": "Bearer per-request"}))
    second = server.requests[1]
    assert second.url.host == "cdn.example"
    assert "authorization" not in second.headers
    assert "api-key" not in second.headers
    assert second.headers["user-agent"] == "ua"
    # Another port is another origin, too.
    server2 = Recorder(
        httpx.Response(301, headers={"Location": "https://api.example:8443/x"}), ok()
    )
    http2, _, _ = make(server2)
    run(http2.get_json("/x"))
    assert "authorization" not in server2.requests[1].headers


def test_redirect_to_remote_plain_http_is_refused() -> None:
    server = Recorder(httpx.Response(302, headers={"Location": "http://api.example/x"}), ok())
    http, _, _ = make(server)
    with pytest.raises(ConfigError):
        run(http.get_json("/x"))
    assert len(server.requests) == 1


def test_303_after_post_becomes_get_without_body() -> None:
    server = Recorder(httpx.Response(303, headers={"Location": "/result"}), ok())
    http, _, _ = make(server)
    run(http.post_json("/submit", json={"q": 1}))
    assert server.requests[1].method == "GET"
    assert server.requests[1].content == b""


def test_redirect_loops_stop() -> None:
    server = Recorder(httpx.Response(302, headers={"Location": "/again"}))
    http, _, _ = make(server)
    with pytest.raises(HttpError, match="redirects"):
        run(http.get_json("/x"))


# -- secrets ------------------------------------------------------------------------------


def test_secrets_never_show_in_repr_or_errors() -> None:
    echo = {"error": f"The access token Bearer {TOKEN} is invalid", "token": TOKEN}
    server = Recorder(httpx.Response(401, content=json.dumps(echo).encode()))
    http, _, _ = make(server)
    assert TOKEN not in repr(http)
    assert "Authorization" in repr(http)
    with pytest.raises(HttpError) as info:
        run(http.get_json(f"/x?access_token={TOKEN}&q=1"))
    texts = [str(info.value), repr(info.value), str(info.value.url)]
    assert all(TOKEN not in t for t in texts), texts
    assert "is invalid" in str(info.value)


def test_secrets_never_show_in_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG", logger="convokit")
    server = Recorder(
        httpx.Response(302, headers={"Location": f"/y?token={TOKEN}"}),
        httpx.Response(500, text=f"oops {TOKEN}"),
        ok(),
    )
    http, _, _ = make(server)
    run(http.get_json("/x"))
    assert caplog.records, "retries are logged"
    for record in caplog.records:
        assert TOKEN not in record.getMessage()


def test_reset_header_and_style_go_together() -> None:
    with pytest.raises(ValueError, match="together"):
        make(Recorder(ok()), reset_header="X-RateLimit-Reset")


_FAILURES = st.sampled_from(
    [
        ("429", None),
        ("429", "2"),
        ("500", None),
        ("503", "1"),
        ("timeout", None),
        ("connect", None),
    ]
)


@given(st.lists(_FAILURES, max_size=8), st.integers(min_value=0, max_value=6))
def test_transient_failures_then_success_property(
    failures: list[tuple[str, str | None]], max_retries: int
) -> None:
    answers: list[httpx.Response | Exception] = []
    for kind, retry_after in failures:
        headers = {"Retry-After": retry_after} if retry_after else {}
        if kind == "timeout":
            answers.append(httpx.ReadTimeout("slow"))
        elif kind == "connect":
            answers.append(httpx.ConnectError("refused"))
        else:
            answers.append(httpx.Response(int(kind), headers=headers))
    answers.append(ok())
    server = Recorder(*answers)
    policy = RetryPolicy(max_retries=max_retries, backoff_base=0.5, backoff_max=4, budget=10)
    http, sleeps, _ = make(server, policy=policy)
    error: HttpError | None = None
    try:
        result = run(http.get_json("/x"))
    except HttpError as exc:
        error = exc
    if error is not None:
        # It gave up: because retries ran out, or the next wait would break the budget.
        assert len(failures) > len(sleeps)
        assert len(sleeps) == max_retries or "budget" in str(error)
        assert sum(sleeps) <= 10
    else:
        assert result == {"ok": True}
        assert len(sleeps) == len(failures) <= max_retries
        assert sum(sleeps) <= 10
        for (_, retry_after), slept in zip(failures, sleeps, strict=True):
            if retry_after:
                assert slept >= float(retry_after)
    assert len(server.requests) == len(sleeps) + 1


def test_post_form_sends_fields_in_the_body_and_retries_when_idempotent() -> None:
    server = Recorder(httpx.Response(503), ok({"access_token": "x"}))
    http, sleeps, _ = make(server)
    answer = run(
        http.post_form(
            "/api/v1/access_token",
            data={"grant_type": "password", "password": "pa ss&word"},
            idempotent=True,
        )
    )
    assert answer == {"access_token": "x"}
    assert len(server.requests) == 2
    assert len(sleeps) == 1
    sent = server.requests[1]
    assert sent.method == "POST"
    assert sent.headers["content-type"] == "application/x-www-form-urlencoded"
    assert sent.content == b"grant_type=password&password=pa+ss%26word"
    assert "password" not in str(sent.url)


def test_post_form_is_not_retried_by_default() -> None:
    server = Recorder(httpx.Response(503))
    http, sleeps, _ = make(server)
    with pytest.raises(HttpError, match="not idempotent"):
        run(http.post_form("/token", data={"a": "1"}))
    assert len(server.requests) == 1
    assert sleeps == []


def test_a_request_takes_json_or_form_data_not_both() -> None:
    http, _, _ = make(Recorder(ok()))
    with pytest.raises(ValueError, match="not both"):
        run(http.request("POST", "/x", json={"a": 1}, data={"b": "2"}))


def test_303_after_form_post_becomes_get_without_body() -> None:
    server = Recorder(httpx.Response(303, headers={"Location": "/result"}), ok())
    http, _, _ = make(server)
    run(http.post_form("/submit", data={"q": "1"}))
    assert server.requests[1].method == "GET"
    assert server.requests[1].content == b""


# -- base URLs with a path, secret rules -------------------------------------------------


@pytest.mark.parametrize(
    ("base", "url", "expected"),
    [
        ("https://h/a/b", "x", "https://h/a/b/x"),
        ("https://h/a/b/", "x", "https://h/a/b/x"),
        ("https://h/a/b", "/x", "https://h/a/b/x"),
        ("https://h/a/b", "x/y?z=1", "https://h/a/b/x/y?z=1"),
        ("https://h/a/b", "", "https://h/a/b"),
        ("https://h", "/api/v1/x", "https://h/api/v1/x"),
        (
            "https://h/xrpc/",
            "app.bsky.feed.getTimeline",
            "https://h/xrpc/app.bsky.feed.getTimeline",
        ),
        ("https://h/a/b", "https://other.example/p?q=1", "https://other.example/p?q=1"),
        ("https://h/a/b?k=v", "x", "https://h/a/b/x"),
    ],
)
def test_relative_urls_join_below_the_base_path(base: str, url: str, expected: str) -> None:
    from convokit_core._http import join_url

    assert str(join_url(httpx.URL(base), url)) == expected


def test_requests_go_below_a_base_url_with_a_sub_path() -> None:
    server = Recorder(ok())
    http, _, _ = make(server, base_url="https://api.example/v2/tenant")
    run(http.get_json("items", params={"page": 2}))
    run(http.get_json("/items"))
    assert [str(r.url) for r in server.requests] == [
        "https://api.example/v2/tenant/items?page=2",
        "https://api.example/v2/tenant/items",
    ]


@pytest.mark.parametrize(
    ("header", "problem"),
    [
        ("Bearer abc", "credential of the secret header 'Authorization' is too short"),
        ("q7-zx", "secret header 'Authorization' is too short"),
        ("Bearer abcdefgh\r\nX-Injected: 1", "control character U\\+000D"),
    ],
)
def test_secret_headers_breaking_the_rules_are_refused(header: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem) as info:
        HttpClient(httpx.AsyncClient(), base_url=BASE, secret_headers={"Authorization": header})
    assert header not in str(info.value)


def test_basic_auth_password_is_scrubbed_in_every_form() -> None:
    import base64
    from urllib.parse import quote

    password = "basic-pa55/word+x"
    credentials = base64.b64encode(f"api:{password}".encode()).decode()
    body = {"error": f"bad {password} {quote(password, safe='')} {credentials}"}
    server = Recorder(httpx.Response(403, json=body))
    client = httpx.AsyncClient(transport=httpx.MockTransport(server))
    http = HttpClient(
        client, base_url=BASE, secret_headers={"Authorization": f"Basic {credentials}"}
    )
    with pytest.raises(HttpError) as info:
        run(http.get_json("/x"))
    assert (
        str(info.value) == "GET https://api.example/x failed: HTTP 403 Forbidden: bad *** *** ***"
    )


def test_scrubbing_never_mangles_ordinary_text() -> None:
    # The secret shares prefixes with words of the message; only the whole value goes.
    secret = "Bearer http-https"
    server = Recorder(httpx.Response(400, json={"error": "use https, not http: http-https"}))
    client = httpx.AsyncClient(transport=httpx.MockTransport(server))
    http = HttpClient(client, base_url=BASE, secret_headers={"Authorization": secret})
    with pytest.raises(HttpError) as info:
        run(http.get_json("/x"))
    assert str(info.value).endswith("HTTP 400 Bad Request: use https, not http: ***")
