"""convokit-youtube passes the adapter conformance kit against the fake channel."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from convokit_youtube import YouTubeConfig, create
from convokit_youtube._cursor import Listing, State, encode
from convokit_youtube.testing import FakeYouTube
from youtube_data import API_KEY, CHANNEL, channel_fake

from convokit_core.testing import AdapterConformance

FAR_FUTURE = datetime(2100, 1, 1, tzinfo=UTC)


class TestYouTubeConforms(AdapterConformance):
    @pytest.fixture
    def platform(self) -> str:
        return "youtube"

    @pytest.fixture
    def server(self) -> FakeYouTube:
        return channel_fake()

    @pytest.fixture
    def adapter_config(self, server: FakeYouTube) -> YouTubeConfig:
        return YouTubeConfig(
            channel_id=CHANNEL,
            api_key=API_KEY,
            api_url="https://yt.test/youtube/v3",
            page_size=2,
        )

    @pytest.fixture
    def create_adapter(self) -> Callable[..., Any]:
        return create

    @pytest.fixture
    def fake_server(self, server: FakeYouTube) -> Callable[..., Any]:
        return server.handler

    @pytest.fixture
    def expected_ids(self, server: FakeYouTube) -> set[str]:
        return server.message_ids()

    @pytest.fixture
    def future_cursor(self) -> str:
        far = Listing(watermark=FAR_FUTURE)
        return encode(State(uploads=far, threads=far))
