"""Test helpers: hand-written payloads in Discourse's shapes, and a collecting runner."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
from convokit_discourse import DiscourseAdapter, DiscourseConfig

from convokit_core import Page, SyncContext

FIXTURES = Path(__file__).parent / "fixtures"
FORUM = "https://forum.example.com"
KEY = "3f9a0c2d7e1b4a5f8c6d9e0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e"


def load(name: str) -> Any:
    """A fixture file's JSON."""
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def config(**overrides: Any) -> DiscourseConfig:
    values: dict[str, Any] = {
        "forum": FORUM,
        "api_key": KEY,
        "api_username": "system",
        "username": "priya_acme",
        "categories": ["help"],
    }
    values.update(overrides)
    return DiscourseConfig(**values)


def collect(
    cfg: DiscourseConfig,
    cursor: str | None = None,
    *,
    team: frozenset[str] = frozenset(),
    waits: list[float] | None = None,
) -> list[Page]:
    """Run ``fetch(cursor)`` to the end; retries are instant, their waits go to ``waits`` (HTTP through respx)."""

    async def go() -> list[Page]:
        async with httpx.AsyncClient() as client:
            context = SyncContext(source="forum", platform="discourse", team_handles=team)
            adapter = DiscourseAdapter(cfg, client, context, sleep=_recorder(waits))
            return [page async for page in adapter.fetch(cursor)]

    return asyncio.run(go())


def _recorder(waits: list[float] | None) -> Callable[[float], Awaitable[None]]:
    async def sleep(seconds: float) -> None:
        if waits is not None:
            waits.append(seconds)

    return sleep
