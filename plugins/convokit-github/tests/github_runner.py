"""Run the adapter against a fake through ``httpx.MockTransport``."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import httpx
from convokit_github import GitHubAdapter, GitHubConfig
from github_fake import TOKEN

from convokit_core import Page, SyncContext

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
MAX_REQUESTS = 500


class Runner:
    """Runs ``fetch`` to the end; records the waits the HTTP helper chose."""

    def __init__(self) -> None:
        self.sleeps: list[float] = []
        self.requests: list[httpx.Request] = []

    async def _sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)

    def run(
        self,
        handler: Callable[[httpx.Request], httpx.Response | Awaitable[httpx.Response]],
        cursor: str | None = None,
        *,
        team: tuple[str, ...] = ("sam",),
        **config: Any,
    ) -> list[Page]:
        values: dict[str, Any] = {"repositories": ["acme/widgets"], "token": TOKEN}
        values.update(config)

        async def record(request: httpx.Request) -> httpx.Response:
            self.requests.append(request)
            if len(self.requests) > MAX_REQUESTS:
                raise AssertionError(f"more than {MAX_REQUESTS} requests: the walk loops")
            response = handler(request)
            if not isinstance(response, httpx.Response):
                response = await response
            return response

        async def go() -> list[Page]:
            async with httpx.AsyncClient(transport=httpx.MockTransport(record)) as client:
                adapter = GitHubAdapter(
                    GitHubConfig(**values),
                    client,
                    SyncContext(source="gh", platform="github", team_handles=team),
                    sleep=self._sleep,
                    clock=lambda: NOW,
                )
                return [page async for page in adapter.fetch(cursor)]

        return asyncio.run(go())
