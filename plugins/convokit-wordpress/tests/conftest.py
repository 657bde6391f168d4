"""Shared helpers: hand-written payloads in WordPress's shapes, and a collecting runner."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from convokit_wordpress import WordPressConfig, create

from convokit_core import Page, SyncContext
from convokit_core import _http as core_http

FIXTURES = Path(__file__).parent / "fixtures"
SITE = "https://example.org/blog"
API = f"{SITE}/wp-json/wp/v2"


def load(name: str) -> Any:
    """A fixture file's JSON."""
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def collect(
    config: WordPressConfig,
    cursor: str | None = None,
    *,
    team: frozenset[str] = frozenset(),
    transport: httpx.AsyncBaseTransport | None = None,
) -> list[Page]:
    """Run ``fetch(cursor)`` to the end (through respx unless a transport is given)."""

    async def go() -> list[Page]:
        async with httpx.AsyncClient(transport=transport) as client:
            adapter = create(
                config, client, SyncContext(source="blog", platform="wordpress", team_handles=team)
            )
            return [page async for page in adapter.fetch(cursor)]

    return asyncio.run(go())


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Retries are instant; the waits the HTTP helper chose are recorded."""
    waits: list[float] = []

    async def no_sleep(seconds: float) -> None:
        waits.append(seconds)

    monkeypatch.setattr(core_http, "_sleep", no_sleep)
    return waits
