"""convokit-zendesk passes the adapter conformance kit against the fake account."""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from convokit_zendesk import State, ZendeskConfig, create
from convokit_zendesk.testing import FakeZendesk, basic_auth

from convokit_core.testing import AdapterConformance

FIXTURES = Path(__file__).parent / "fixtures"
EMAIL = "sam@acme.example"
TOKEN = "zd-api-token-7Q2mX9pL4vR8"


class TestZendeskConforms(AdapterConformance):
    @pytest.fixture
    def platform(self) -> str:
        return "zendesk"

    @pytest.fixture
    def server(self) -> FakeZendesk:
        return FakeZendesk.from_directory(FIXTURES, authorization=basic_auth(EMAIL, TOKEN))

    @pytest.fixture
    def adapter_config(self) -> ZendeskConfig:
        return ZendeskConfig(
            subdomain="acme", email=EMAIL, api_token=TOKEN, page_size=2, comments_page_size=2
        )

    @pytest.fixture
    def create_adapter(self) -> Callable[..., Any]:
        return create

    @pytest.fixture
    def fake_server(self, server: FakeZendesk) -> FakeZendesk:
        return server

    @pytest.fixture
    def expected_ids(self, server: FakeZendesk) -> set[str]:
        return server.message_ids()

    @pytest.fixture
    def future_cursor(self, server: FakeZendesk) -> str:
        return State(instance="acme", after=server.cursor_for(4_102_444_800, 0)).encode()

    @pytest.fixture
    def secrets(self) -> set[str]:
        pair = f"{EMAIL}/token:{TOKEN}".encode()
        return {TOKEN, base64.b64encode(pair).decode("ascii")}
