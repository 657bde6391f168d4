"""Error shapes: malformed payloads name the field and never echo the token; 404s and
401s are clear sync errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from convokit_github import GitHubConfig, create
from github_fake import TOKEN, FakeGitHub
from github_runner import Runner

from convokit_core import HttpError, MalformedPayload, SyncContext, SyncError


def replacing(
    fake: FakeGitHub, path: str, change: Callable[[Any], Any]
) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        answer = fake.handler(request)
        if request.url.path != path:
            return answer
        return httpx.Response(
            answer.status_code,
            headers={"content-type": "application/json", "link": answer.headers.get("link", "")},
            content=json.dumps(change(json.loads(answer.content))).encode(),
        )

    return handler


@pytest.mark.parametrize(
    ("path", "change", "expected"),
    [
        (
            "/repos/acme/widgets/issues/comments",
            lambda items: [{**items[0], "issue_url": TOKEN}, *items[1:]],
            "'issue_url' does not end with an issue number",
        ),
        (
            "/repos/acme/widgets/issues",
            lambda items: [{**items[0], "created_at": TOKEN}, *items[1:]],
            "'created_at' is not an ISO 8601 timestamp",
        ),
        (
            "/repos/acme/widgets/issues",
            lambda items: [{**items[0], "title": None}, *items[1:]],
            "expected a non-empty string 'title', found null",
        ),
        (
            "/repos/acme/widgets/issues",
            lambda items: {"message": TOKEN},
            "expected a JSON array, found an object with keys message",
        ),
        (
            "/repos/acme/widgets/issues/comments",
            lambda items: [{**items[0], "user": {"login": 7}}, *items[1:]],
            "expected a non-empty string 'login', found a number",
        ),
        (
            "/repos/acme/widgets",
            lambda repo: {**repo, "full_name": TOKEN, "created_at": "when?"},
            "'created_at' is not an ISO 8601 timestamp",
        ),
    ],
)
def test_malformed_payloads_name_the_field_and_hide_the_token(
    runner: Runner, path: str, change: Callable[[Any], Any], expected: str
) -> None:
    handler = replacing(FakeGitHub.scenario(), path, change)
    with pytest.raises(MalformedPayload) as caught:
        runner.run(handler)
    assert expected in str(caught.value)
    assert TOKEN not in str(caught.value)


def test_an_unknown_repository_names_it(runner: Runner) -> None:
    with pytest.raises(SyncError, match="repository acme/nope was not found"):
        runner.run(FakeGitHub.scenario().handler, repositories=["acme/nope"])


def test_bad_credentials_fail_without_retrying(runner: Runner) -> None:
    fake = FakeGitHub.scenario(token="ghp_SomeOtherTokenThatTheServerWants01")
    with pytest.raises(HttpError) as caught:
        runner.run(fake.handler)
    assert caught.value.status == 401
    assert "Bad credentials" in str(caught.value)
    assert TOKEN not in str(caught.value)
    assert len(runner.requests) == 1
    assert runner.sleeps == []


def test_the_token_stays_out_of_reprs() -> None:
    config = GitHubConfig(repositories=["acme/widgets"], token=TOKEN)
    adapter = create(config, httpx.AsyncClient(), SyncContext(source="gh", platform="github"))
    assert TOKEN not in repr(config)
    assert TOKEN not in repr(adapter)
    assert TOKEN not in repr(adapter.http)
    assert "acme/widgets" in repr(adapter)
