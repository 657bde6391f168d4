"""convokit-mastodon passes the adapter conformance kit."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from convokit_mastodon import MastodonConfig, create
from convokit_mastodon.testing import FakeMastodon

from convokit_core.testing import AdapterConformance

TOKEN = "fake-mastodon-token-0123456789"


class TestMastodonConforms(AdapterConformance):
    @pytest.fixture
    def platform(self) -> str:
        return "mastodon"

    @pytest.fixture
    def server(self) -> FakeMastodon:
        return FakeMastodon(threads=10, token=TOKEN)

    @pytest.fixture
    def adapter_config(self) -> MastodonConfig:
        return MastodonConfig(
            instance="https://mastodon.example", account="@acme", token=TOKEN, page_size=3
        )

    @pytest.fixture
    def create_adapter(self) -> Callable[..., Any]:
        return create

    @pytest.fixture
    def fake_server(self, server: FakeMastodon) -> Callable[..., Any]:
        return server.handler

    @pytest.fixture
    def expected_ids(self, server: FakeMastodon) -> set[str]:
        return server.expected_ids()

    @pytest.fixture
    def future_cursor(self, server: FakeMastodon) -> str:
        return server.max_ids_cursor()
