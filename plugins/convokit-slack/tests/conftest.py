"""The respx Slack most adapter tests start from."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import respx
from slack_helpers import load, method


@pytest.fixture
def slack() -> Iterator[respx.MockRouter]:
    """A respx Slack answering auth.test and conversations.info from the fixtures."""
    with respx.mock(assert_all_called=False) as router:
        method(router, "auth.test").respond(json=load("auth_test.json"))
        method(router, "conversations.info").respond(json=load("conversations_info_help.json"))
        yield router
