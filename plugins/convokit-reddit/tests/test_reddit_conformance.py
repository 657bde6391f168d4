"""The adapter conformance kit against the fake Reddit."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from convokit_reddit import STREAMS, RedditConfig, RedditCursor, StreamState, create
from reddit_fake import (
    ALL_IDS,
    CLIENT_ID,
    CLIENT_SECRET,
    PASSWORD,
    TOKEN,
    USERNAME,
    FakeReddit,
)

from convokit_core.testing import AdapterConformance


class TestRedditConformance(AdapterConformance):
    @pytest.fixture
    def platform(self) -> str:
        return "reddit"

    @pytest.fixture
    def adapter_config(self) -> RedditConfig:
        return RedditConfig(
            username=USERNAME,
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            password=PASSWORD,
            subreddits=["acme"],
            page_size=1,
            api_url="https://oauth.reddit.test",
            auth_url="https://www.reddit.test",
        )

    @pytest.fixture
    def create_adapter(self) -> Callable[..., Any]:
        return create

    @pytest.fixture
    def fake_server(self) -> FakeReddit:
        return FakeReddit()

    @pytest.fixture
    def expected_ids(self) -> set[str]:
        return set(ALL_IDS)

    @pytest.fixture
    def future_cursor(self) -> str:
        mark = (4102444800.0, "t1_zzzzzzz")  # 2100-01-01, after everything served
        return RedditCursor(
            streams={name: StreamState(mark=mark) for name in STREAMS},
            channels=frozenset({"u/acme_support", "r/acme"}),
        ).encode()

    @pytest.fixture
    def secrets(self, adapter_config: RedditConfig) -> set[str]:
        return {CLIENT_SECRET, PASSWORD, TOKEN}

    @pytest.fixture
    def team_handles(self) -> frozenset[str]:
        return frozenset({"u/kc_acme"})
