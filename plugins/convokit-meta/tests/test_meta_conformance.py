"""Both platforms of convokit-meta pass the adapter conformance kit."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from convokit_meta import (
    FacebookConfig,
    InstagramConfig,
    State,
    SurfaceState,
    create_facebook,
    create_instagram,
)
from meta_fake import FakeGraph

from convokit_core.testing import AdapterConformance

TOKEN = "EAAGconformancePageToken0123456789"
FAR = datetime(2100, 1, 1, tzinfo=UTC)


def _future(account: str, surfaces: tuple[str, ...]) -> str:
    state = State(account=account, surfaces={s: SurfaceState(watermark=FAR) for s in surfaces})
    return state.encode()


class TestFacebookConforms(AdapterConformance):
    @pytest.fixture
    def platform(self) -> str:
        return "facebook"

    @pytest.fixture
    def server(self) -> FakeGraph:
        return FakeGraph("facebook.json", token=TOKEN)

    @pytest.fixture
    def adapter_config(self) -> FacebookConfig:
        return FacebookConfig(page_id="104857600123456", access_token=TOKEN, page_size=2)

    @pytest.fixture
    def create_adapter(self) -> Callable[..., Any]:
        return create_facebook

    @pytest.fixture
    def fake_server(self, server: FakeGraph) -> Callable[..., Any]:
        return server.handler

    @pytest.fixture
    def expected_ids(self, server: FakeGraph) -> set[str]:
        return server.expected_ids()

    @pytest.fixture
    def future_cursor(self) -> str:
        return _future("104857600123456", ("posts", "messenger"))


class TestInstagramConforms(AdapterConformance):
    @pytest.fixture
    def platform(self) -> str:
        return "instagram"

    @pytest.fixture
    def server(self) -> FakeGraph:
        return FakeGraph("instagram.json", token=TOKEN)

    @pytest.fixture
    def adapter_config(self) -> InstagramConfig:
        return InstagramConfig(ig_user_id="17841400008460056", access_token=TOKEN, page_size=2)

    @pytest.fixture
    def create_adapter(self) -> Callable[..., Any]:
        return create_instagram

    @pytest.fixture
    def fake_server(self, server: FakeGraph) -> Callable[..., Any]:
        return server.handler

    @pytest.fixture
    def expected_ids(self, server: FakeGraph) -> set[str]:
        return server.expected_ids()

    @pytest.fixture
    def future_cursor(self) -> str:
        return _future("17841400008460056", ("media", "direct"))
