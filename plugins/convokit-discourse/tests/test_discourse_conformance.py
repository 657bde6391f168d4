"""convokit-discourse passes the adapter conformance kit against the fake forum."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from convokit_discourse import DiscourseConfig, create
from convokit_discourse.testing import FakeDiscourse

from convokit_core.testing import AdapterConformance

FUTURE = "2100-01-01T00:00:00Z"


class TestDiscourseConforms(AdapterConformance):
    @pytest.fixture
    def platform(self) -> str:
        return "discourse"

    @pytest.fixture
    def server(self) -> FakeDiscourse:
        return FakeDiscourse(topics=8, topics_per_page=3, actions_per_page=1)

    @pytest.fixture
    def adapter_config(self, server: FakeDiscourse) -> DiscourseConfig:
        return DiscourseConfig(
            forum=server.forum,
            api_key=server.api_key,
            api_username=server.api_username,
            username="acme_support",
            categories=["support", "feature-requests"],
        )

    @pytest.fixture
    def team_handles(self) -> frozenset[str]:
        return frozenset({"kc"})

    @pytest.fixture
    def create_adapter(self) -> Callable[..., Any]:
        return create

    @pytest.fixture
    def fake_server(self, server: FakeDiscourse) -> Callable[..., Any]:
        return server.handler

    @pytest.fixture
    def expected_ids(self, server: FakeDiscourse) -> set[str]:
        return server.expected_ids({5, 8})

    @pytest.fixture
    def future_cursor(self) -> str:
        position = f'{{"w":"{FUTURE}","e":[]}}'
        return f'{{"v":1,"categories":{{"5":{position},"8":{position}}},"mentions":{position}}}'
