"""The adapter conformance kit of convokit_core, run on the fake PDS."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from bluesky_fake import APP_PASSWORD, HANDLE, REFRESHED, SERVICE, SESSION, FakeBluesky
from convokit_bluesky import BlueskyConfig, create_adapter
from convokit_bluesky._cursor import Position, State, encode

from convokit_core.testing import AdapterConformance


def readable_posts() -> set[str]:
    """URIs of every readable post the fake serves: thread posts and our own posts."""
    server = FakeBluesky()
    ids: set[str] = set()
    for data in server.threads.values():
        stack = [data["thread"]]
        while stack:
            node = stack.pop()
            if "post" in node:  # a threadViewPost, not a notFound/blocked stub
                ids.add(node["post"]["uri"])
                stack += node.get("replies", [])
    for page in server.feed_pages.values():
        ids |= {item["post"]["uri"] for item in page["feed"] if "reason" not in item}
    return ids


class TestBlueskyConformance(AdapterConformance):
    @pytest.fixture
    def platform(self) -> str:
        return "bluesky"

    @pytest.fixture
    def adapter_config(self) -> BlueskyConfig:
        return BlueskyConfig(handle=HANDLE, app_password=APP_PASSWORD, service=SERVICE)

    @pytest.fixture
    def create_adapter(self) -> Callable[..., Any]:
        return create_adapter

    @pytest.fixture
    def fake_server(self) -> Callable[[httpx.Request], httpx.Response]:
        return FakeBluesky().handle

    @pytest.fixture
    def expected_ids(self) -> set[str]:
        return readable_posts()

    @pytest.fixture
    def future_cursor(self) -> str:
        later = Position(watermark=datetime(2100, 1, 1, tzinfo=UTC))
        return encode(State(mentions=later, own_posts=later))

    @pytest.fixture
    def secrets(self) -> set[str]:
        tokens = [SESSION[k] for k in ("accessJwt", "refreshJwt")]
        tokens += [REFRESHED[k] for k in ("accessJwt", "refreshJwt")]
        return {APP_PASSWORD, *tokens}

    @pytest.fixture
    def team_handles(self) -> frozenset[str]:
        return frozenset({"sam-acme.bsky.social"})


def test_fixture_holds_eleven_readable_posts() -> None:
    assert len(readable_posts()) == 11
