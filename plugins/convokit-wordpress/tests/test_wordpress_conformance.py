"""convokit-wordpress passes the adapter conformance kit against the fake blog."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from convokit_wordpress import WordPressConfig, create
from convokit_wordpress.testing import FakeWordPress

from convokit_core.testing import AdapterConformance

FAR_FUTURE = 4_102_444_800  # 2100-01-01


class TestWordPressConforms(AdapterConformance):
    @pytest.fixture
    def platform(self) -> str:
        return "wordpress"

    @pytest.fixture
    def server(self) -> FakeWordPress:
        return FakeWordPress(posts=5)

    @pytest.fixture
    def adapter_config(self, server: FakeWordPress) -> WordPressConfig:
        return WordPressConfig(
            site=server.site,
            username=server.username,
            app_password=server.app_password,
            authors=["olu"],  # resolved through /users?slug=
            page_size=4,
        )

    @pytest.fixture
    def create_adapter(self) -> Callable[..., Any]:
        return create

    @pytest.fixture
    def fake_server(self, server: FakeWordPress) -> Callable[..., Any]:
        return server.handler

    @pytest.fixture
    def expected_ids(self, server: FakeWordPress) -> set[str]:
        return server.expected_ids()

    @pytest.fixture
    def future_cursor(self) -> str:
        return (
            f'{{"v":1,"posts":{{"w":{FAR_FUTURE}}},"comments":{{"w":{FAR_FUTURE}}},"authors":[]}}'
        )
