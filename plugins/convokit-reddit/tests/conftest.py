"""Fixtures: the fake Reddit, a config pointing at it, and a sync context."""

from __future__ import annotations

import pytest
from convokit_reddit import RedditConfig
from reddit_fake import CLIENT_ID, CLIENT_SECRET, PASSWORD, USERNAME, FakeReddit

from convokit_core import SyncContext

API = "https://oauth.reddit.test"
AUTH = "https://www.reddit.test"


@pytest.fixture
def fake() -> FakeReddit:
    return FakeReddit()


@pytest.fixture
def config() -> RedditConfig:
    return RedditConfig(
        username=USERNAME,
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        password=PASSWORD,
        subreddits=["acme"],
        page_size=2,
        api_url=API,
        auth_url=AUTH,
    )


@pytest.fixture
def context() -> SyncContext:
    return SyncContext(source="reddit", platform="reddit", team_handles=["u/KC_Acme"])
