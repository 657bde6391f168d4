"""Shared test helpers: fixture files, the adapter run to the end, recorded sleeps."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import respx
from convokit_slack import SlackConfig, create

from convokit_core import Page, SyncContext

FIXTURES = Path(__file__).parent / "fixtures"
TOKEN = "xoxb-7700-8800-fixtureTokenValue42"
API = "https://slack.com/api/"


def load(name: str) -> dict[str, Any]:
    """A fixture file as JSON."""
    data = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def slack_config(**kw: Any) -> SlackConfig:
    values: dict[str, Any] = {"token": TOKEN, "channels": ["C07HELPDSK"]}
    values.update(kw)
    return SlackConfig(**values)


class Sleeps:
    """Records the waits the adapter asked for, without waiting."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def collect(
    config: SlackConfig | None = None,
    cursor: str | None = None,
    *,
    team: frozenset[str] = frozenset({"U07SAMTEAM"}),
    sleep: Callable[[float], Any] | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> list[Page]:
    """Run one fetch to the end and return its pages."""

    async def go() -> list[Page]:
        async with httpx.AsyncClient(transport=transport) as client:
            from convokit_slack import SlackAdapter

            context = SyncContext(source="s", platform="slack", team_handles=team)
            if sleep is None:
                adapter = create(config or slack_config(), client, context)
            else:
                adapter = SlackAdapter(config or slack_config(), client, context, sleep=sleep)
            return [page async for page in adapter.fetch(cursor)]

    return asyncio.run(go())


def method(router: respx.MockRouter, name: str) -> respx.Route:
    """The route of one Web API method."""
    return router.get(f"{API}{name}")
