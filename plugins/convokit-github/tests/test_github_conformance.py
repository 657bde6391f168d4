"""convokit-github passes the adapter conformance kit (pull requests included and not)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from convokit_github import GitHubConfig, GitHubCursor, RepoPosition, StreamPosition, create
from github_fake import TOKEN, FakeGitHub

from convokit_core.testing import AdapterConformance

FAR = StreamPosition(since=datetime(2100, 1, 1, tzinfo=UTC))


class TestGitHubConforms(AdapterConformance):
    pulls = True

    @pytest.fixture
    def platform(self) -> str:
        return "github"

    @pytest.fixture
    def server(self) -> FakeGitHub:
        return FakeGitHub.generated(repos=2, issues=7)

    @pytest.fixture
    def adapter_config(self, server: FakeGitHub) -> GitHubConfig:
        return GitHubConfig(
            repositories=sorted(server.repos),
            token=TOKEN,
            page_size=3,
            include_pull_requests=self.pulls,
        )

    @pytest.fixture
    def create_adapter(self) -> Callable[..., Any]:
        return create

    @pytest.fixture
    def fake_server(self, server: FakeGitHub) -> Callable[..., Any]:
        return server.handler

    @pytest.fixture
    def expected_ids(self, server: FakeGitHub) -> set[str]:
        return server.expected_ids(pulls=self.pulls)

    @pytest.fixture
    def future_cursor(self, server: FakeGitHub) -> str:
        far = RepoPosition(issues=FAR, comments=FAR)
        return GitHubCursor(repos=dict.fromkeys(server.repos, far)).encode()


class TestGitHubWithoutPullRequestsConforms(TestGitHubConforms):
    pulls = False
