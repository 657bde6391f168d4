"""Fixtures: the fake PDS behind respx, and a sync context with one team member."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import respx
from bluesky_fake import FakeBluesky

from convokit_core import SyncContext


@pytest.fixture
def fake() -> Iterator[FakeBluesky]:
    server = FakeBluesky()
    # Only loopback or mocked hosts: respx refuses anything it does not know.
    with respx.mock(assert_all_called=False) as router:
        server.install(router)
        yield server


@pytest.fixture
def context() -> SyncContext:
    return SyncContext(source="bsky", platform="bluesky", team_handles=["@Sam-Acme.bsky.social"])
