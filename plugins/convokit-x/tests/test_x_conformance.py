"""The adapter conformance kit, run against the fake X API."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest
from convokit_x import XConfig, create_adapter
from x_fake import TOKEN, FakeX

from convokit_core.testing import AdapterConformance

# Every post the fake serves except: a reply older than the 7-day search window that
# neither mentions us nor is ours, and two retweets.
EXPECTED = {
    "1780000000000000001",
    "1780000000000000003",
    "1780000000000000004",
    "1790000000000000001",
    "1790000000000000002",
    "1790000000000000003",
    "1790000000000000004",
    "1790000000000000005",
    "1790000000000000007",
    "1790000000000000008",
    "1790000000000000009",
    "1790000000000000010",
}
OURS = {
    "1780000000000000003",
    "1790000000000000002",
    "1790000000000000004",
    "1790000000000000008",
}


def cursor_after(since_id: str) -> str:
    """A cursor in the adapter's format whose passes have completed at ``since_id``."""
    state = {"v": 1, "mentions": {"since": since_id}, "own": {"since": since_id}}
    raw = json.dumps(state, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


class TestXConformance(AdapterConformance):
    @pytest.fixture
    def platform(self) -> str:
        return "x"

    @pytest.fixture
    def adapter_config(self) -> XConfig:
        return XConfig(
            account="@acme", bearer_token=TOKEN, api_url="https://api.x.test", page_size=5
        )

    @pytest.fixture
    def create_adapter(self) -> Callable[..., Any]:
        return create_adapter

    @pytest.fixture
    def fake_server(self) -> FakeX:
        return FakeX()

    @pytest.fixture
    def expected_ids(self) -> set[str]:
        return set(EXPECTED)

    @pytest.fixture
    def outbound_ids(self) -> set[str]:
        return set(OURS)

    @pytest.fixture
    def future_cursor(self) -> str:
        return cursor_after("9" * 19)
