"""Fixtures: the fake Reddit, a config pointing at it, and a sync context."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime

import httpx
import pytest
from convokit_reddit import RedditAdapter, RedditConfig
from reddit_fake import CLIENT_ID, CLIENT_SECRET, PASSWORD, USERNAME, FakeReddit

from convokit_core import Message, Page, SyncContext

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


class Run:
    """One ``fetch`` to the end against a fake, with its waits recorded."""

    def __init__(self) -> None:
        self.sleeps: list[float] = []
        self.adapter: RedditAdapter | None = None

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)

    def pages(
        self,
        config: RedditConfig,
        server: Callable[[httpx.Request], httpx.Response],
        context: SyncContext,
        cursor: str | None = None,
        *,
        clock: Callable[[], datetime] | None = None,
    ) -> list[Page]:
        async def go() -> list[Page]:
            async with httpx.AsyncClient(transport=httpx.MockTransport(server)) as client:
                self.adapter = RedditAdapter(config, client, context, sleep=self.sleep, clock=clock)
                return [page async for page in self.adapter.fetch(cursor)]

        return asyncio.run(go())


def messages_of(pages: list[Page]) -> dict[str, Message]:
    """Every message of ``pages`` by id (a message yielded twice fails the test)."""
    out: dict[str, Message] = {}
    for page in pages:
        for message in page.all_messages():
            assert message.id not in out, f"{message.id} yielded twice"
            out[message.id] = message
    return out
