"""Primary and secondary rate limits, told apart from a permission 403."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable

import httpx
import pytest
from convokit_github import LimitKind, classify
from github_fake import TOKEN, FakeGitHub
from github_runner import NOW, Runner

from convokit_core import HttpError

RESET = int(NOW.timestamp()) + 120  # the primary window resets two minutes from now
PRIMARY = {"message": "API rate limit exceeded for user ID 1.", "documentation_url": "x"}
SECONDARY = {
    "message": "You have exceeded a secondary rate limit. Please wait a few minutes "
    "before you try again.",
    "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api",
}
FORBIDDEN = {
    "message": "Resource not accessible by personal access token",
    "documentation_url": "https://docs.github.com/rest/issues/issues#list-repository-issues",
    "status": "403",
}


def limits(remaining: int, **extra: str) -> dict[str, str]:
    return {
        "x-ratelimit-limit": "5000",
        "x-ratelimit-remaining": str(remaining),
        "x-ratelimit-reset": str(RESET),
        "x-ratelimit-used": str(5000 - remaining),
        "x-ratelimit-resource": "core",
        **extra,
    }


def first_issues_request_answers(
    fake: FakeGitHub, status: int, body: object, headers: dict[str, str], times: int = 1
) -> Callable[[httpx.Request], httpx.Response]:
    """The fake, except that the first ``times`` issue-list requests get this answer."""
    left = [times]

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/issues") and left[0] > 0:
            left[0] -= 1
            return httpx.Response(status, json=body, headers=headers)
        return fake.handler(request)

    return handler


@pytest.mark.parametrize(
    ("status", "body", "headers", "wait"),
    [
        # Primary: remaining 0, wait until the reset moment (epoch seconds) + 1 s.
        (403, PRIMARY, limits(0), 121.0),
        (429, PRIMARY, limits(0), 121.0),
        # Secondary: retry-after says how long.
        (403, SECONDARY, limits(4000, **{"retry-after": "30"}), 30.0),
        (429, SECONDARY, limits(4000, **{"retry-after": "7"}), 7.0),
        # Secondary without retry-after: at least a minute.
        (403, SECONDARY, limits(4000), 60.0),
        (429, {"message": "Too many requests"}, {}, 60.0),
    ],
    ids=["primary-403", "primary-429", "secondary-403", "secondary-429", "secondary-msg", "429"],
)
def test_rate_limits_are_waited_out_then_the_sync_completes(
    runner: Runner, status: int, body: object, headers: dict[str, str], wait: float
) -> None:
    fake = FakeGitHub.scenario()
    pages = runner.run(first_issues_request_answers(fake, status, body, headers))
    assert {m.id for p in pages for m in p.all_messages()} == fake.expected_ids()
    assert runner.sleeps == [wait]
    issues = [r for r in runner.requests if r.url.path.endswith("/issues")]
    assert len(issues) == 2  # the limited request, then its retry


def test_a_permission_403_is_an_error_at_once(runner: Runner) -> None:
    fake = FakeGitHub.scenario()
    handler = first_issues_request_answers(fake, 403, FORBIDDEN, limits(4999))
    with pytest.raises(HttpError) as caught:
        runner.run(handler)
    assert caught.value.status == 403
    assert "Resource not accessible by personal access token" in str(caught.value)
    assert runner.sleeps == []
    assert len([r for r in runner.requests if r.url.path.endswith("/issues")]) == 1
    assert TOKEN not in str(caught.value)


def test_a_primary_limit_longer_than_the_budget_fails_clearly(runner: Runner) -> None:
    fake = FakeGitHub.scenario()
    late = limits(0) | {"x-ratelimit-reset": str(int(NOW.timestamp()) + 3000)}
    handler = first_issues_request_answers(fake, 403, PRIMARY, late)
    with pytest.raises(HttpError) as caught:
        runner.run(handler, retry_budget=600)
    message = str(caught.value)
    assert "primary rate limit" in message
    assert "retry budget of 600s exhausted" in message
    assert runner.sleeps == []  # no hour-long wait, no hammering
    assert len([r for r in runner.requests if r.url.path.endswith("/issues")]) == 1


def test_gzip_encoded_answers_pass_through_and_are_classified(runner: Runner) -> None:
    fake = FakeGitHub.scenario()
    limited = [True]

    def gzipped(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/issues") and limited[0]:
            limited[0] = False
            status, headers, body = 403, limits(0), json.dumps(PRIMARY).encode()
        else:
            answer = fake.handler(request)
            status, headers, body = answer.status_code, dict(answer.headers), answer.content
        headers = {k: v for k, v in headers.items() if k.lower() != "content-length"}
        headers["content-encoding"] = "gzip"
        return httpx.Response(status, headers=headers, content=gzip.compress(body))

    pages = runner.run(gzipped)
    assert {m.id for p in pages for m in p.all_messages()} == fake.expected_ids()
    assert runner.sleeps == [121.0]


@pytest.mark.parametrize(
    ("status", "body", "headers", "expected"),
    [
        (403, PRIMARY, limits(0), (LimitKind.PRIMARY, 121.0)),
        (403, SECONDARY, limits(12, **{"retry-after": "45"}), (LimitKind.SECONDARY, 45.0)),
        (403, SECONDARY, limits(12), (LimitKind.SECONDARY, 60.0)),
        (403, {"message": "API rate limit exceeded"}, {}, (LimitKind.SECONDARY, 60.0)),
        (403, FORBIDDEN, limits(4999), None),
        (403, {"message": "Must have admin rights to Repository."}, {}, None),
        (429, b"<html>slow down</html>", {}, (LimitKind.SECONDARY, 60.0)),
        (404, {"message": "Not Found"}, limits(0), None),
        (200, [], limits(0), None),
    ],
)
def test_classify(
    status: int,
    body: object,
    headers: dict[str, str],
    expected: tuple[LimitKind, float] | None,
) -> None:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    found = classify(status, httpx.Headers(headers), content, NOW)
    assert (None if found is None else (found.kind, found.wait)) == expected
