"""convokit-slack passes the adapter conformance kit."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from convokit_slack import SlackConfig, create
from convokit_slack.testing import FakeSlack, generated_workspace

from convokit_core.testing import AdapterConformance

TOKEN = "xoxb-1111-2222-conformanceSecret0123"


class TestSlackConforms(AdapterConformance):
    @pytest.fixture
    def platform(self) -> str:
        return "slack"

    @pytest.fixture
    def server(self) -> FakeSlack:
        return generated_workspace(token=TOKEN, threads=6)

    @pytest.fixture
    def adapter_config(self) -> SlackConfig:
        return SlackConfig(token=TOKEN, channels=["C0SUPPORT", "#billing"], page_size=4)

    @pytest.fixture
    def create_adapter(self) -> Callable[..., Any]:
        return create

    @pytest.fixture
    def fake_server(self, server: FakeSlack) -> Callable[..., Any]:
        return server.handler

    @pytest.fixture
    def team_handles(self) -> frozenset[str]:
        return frozenset({"U0TEAMKC1"})

    @pytest.fixture
    def expected_ids(self, server: FakeSlack) -> set[str]:
        return server.expected_ids()

    @pytest.fixture
    def future_cursor(self, server: FakeSlack) -> str:
        return server.future_cursor()
