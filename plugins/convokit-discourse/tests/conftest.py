"""Shared helpers: hand-written payloads in Discourse's shapes, and a collecting runner."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from convokit_discourse import DiscourseConfig, create

from convokit_core import Page, SyncContext
from convokit_core import _http as core_http

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
    cfg: DiscourseConfig, cursor: str | None = None, *, team: frozenset[str] = frozenset()
) -> list[Page]:
    """Run ``fetch(cursor)`` to the end (HTTP through respx)."""

    async def go() -> list[Page]:
        async with httpx.AsyncClient() as client:
            adapter = create(
                cfg, client, SyncContext(source="forum", platform="discourse", team_handles=team)
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
