"""The conformance kit passes a correct adapter and catches broken ones."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from convokit_core.testing._adapters import AdapterConformance

from .toy import ToyConfig, ToyServer, create

TOKEN = "toy-secret-token"


class TestToyAdapterConforms(AdapterConformance):
    @pytest.fixture
    def platform(self) -> str:
        return "toy"

    @pytest.fixture
    def adapter_config(self) -> ToyConfig:
        return ToyConfig(url="https://toy.example", token=TOKEN)

    @pytest.fixture
    def create_adapter(self) -> Callable[..., Any]:
        return create

    @pytest.fixture
    def fake_server(self) -> ToyServer:
        return ToyServer(10, token=TOKEN)

    @pytest.fixture
    def expected_ids(self) -> set[str]:
        return {f"{i:04d}" for i in range(1, 11)}

    @pytest.fixture
    def future_cursor(self) -> str:
        return "9999"
