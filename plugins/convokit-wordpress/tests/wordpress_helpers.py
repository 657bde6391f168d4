"""Test helpers: hand-written payloads in WordPress's shapes, and a collecting runner."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
from convokit_wordpress import WordPressAdapter, WordPressConfig

from convokit_core import Page, SyncContext

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
    waits: list[float] | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> list[Page]:
    """Run ``fetch(cursor)`` to the end; retries are instant, their waits go to ``waits`` (through respx unless a transport is given)."""

    async def go() -> list[Page]:
        async with httpx.AsyncClient(transport=transport) as client:
            context = SyncContext(source="blog", platform="wordpress", team_handles=team)
            adapter = WordPressAdapter(config, client, context, sleep=_recorder(waits))
            return [page async for page in adapter.fetch(cursor)]

    return asyncio.run(go())


def _recorder(waits: list[float] | None) -> Callable[[float], Awaitable[None]]:
    async def sleep(seconds: float) -> None:
        if waits is not None:
            waits.append(seconds)

    return sleep
