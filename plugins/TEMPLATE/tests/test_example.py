"""Tests of the template plugin. Keep them when you copy it; change the data and shapes.

The fake server plays the platform: ``convokit_core.testing.FakePlatform`` serves
``fixtures/messages.json`` the way the real API pages it (``?after=ID&limit=N``, oldest
first, ``{"data": [...], "has_more": bool}``, a bearer token, small pages). The
conformance kit then runs the adapter against it, with injected rate limits, server
errors, timeouts and malformed answers.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import convokit_example
import httpx
import pytest
from convokit_example import ExampleConfig, create_adapter

from convokit_core import (
    Direction,
    MalformedPayload,
    PluginManager,
    SyncContext,
)
from convokit_core.testing import AdapterConformance, FakePlatform, Order, Paging

MESSAGES: list[dict[str, Any]] = json.loads(
    (Path(__file__).parent / "fixtures" / "messages.json").read_text(encoding="utf-8")
)
TOKEN = "s3cr3t-token-for-tests"
SERVER_PAGE_LIMIT = 4  # the fake API returns at most this many per page, like real ones


def fake_api(messages: list[dict[str, Any]] = MESSAGES) -> FakePlatform:
    """The Example Inbox API: ``GET /api/v1/messages?after=&limit=``, bearer token."""
    return FakePlatform(
        messages,
        path="/api/v1/messages",
        paging=Paging.AFTER_ID,
        order=Order.OLDEST_FIRST,
        cursor_param="after",
        page_size=SERVER_PAGE_LIMIT,
        envelope=lambda rows, more: {"data": rows, "has_more": more is not None},
        token=TOKEN,
    )


def config() -> ExampleConfig:
    return ExampleConfig(base_url="https://inbox.example.test", account="acme", token=TOKEN)


def run(cursor: str | None = None, server: FakePlatform | None = None) -> list[Any]:
    """Every page a fresh adapter yields from ``cursor``."""

    async def go() -> list[Any]:
        transport = httpx.MockTransport(server or fake_api())
        async with httpx.AsyncClient(transport=transport) as client:
            context = SyncContext(source="inbox", platform="example", team_handles=["@Sam"])
            adapter = create_adapter(config(), client, context)
            return [page async for page in adapter.fetch(cursor)]

    return asyncio.run(go())


# -- the conformance kit: one subclass, six fixtures -------------------------------------
# Optional fixtures (secrets, team_handles, malformed_bodies, garbage_cursors,
# outbound_ids) have defaults; see docs/adapter-conformance.md.


class TestExampleConformance(AdapterConformance):
    @pytest.fixture
    def platform(self) -> str:
        return "example"

    @pytest.fixture
    def adapter_config(self) -> ExampleConfig:
        return config()

    @pytest.fixture
    def create_adapter(self) -> Callable[..., Any]:
        return create_adapter

    @pytest.fixture
    def fake_server(self) -> Callable[[httpx.Request], httpx.Response]:
        return fake_api()

    @pytest.fixture
    def expected_ids(self) -> set[str]:
        return {m["id"] for m in MESSAGES}

    @pytest.fixture
    def future_cursor(self) -> str:
        # A cursor of our own format, after every id the server holds.
        return convokit_example._adapter._encode_cursor("m_9999")


# -- behaviour specific to this platform -------------------------------------------------


def test_registers_through_the_hook() -> None:
    manager = PluginManager(plugins=[convokit_example], load_entry_points=False)
    registration = manager.platforms["example"]
    assert registration.options["config"] is ExampleConfig
    assert registration.options["create"] is create_adapter


def test_directions_threads_and_times() -> None:
    pages = run()
    assert len(pages) == 2
    messages = {m.id: m for page in pages for m in page.messages}
    outbound = {i for i, m in messages.items() if m.direction is Direction.OUTBOUND}
    assert outbound == {"m_0002", "m_0005"}  # our account, and Sam from [[team]]
    assert messages["m_0004"].conversation_id == "t_01"
    assert messages["m_0004"].in_reply_to == "m_0002"
    assert messages["m_0003"].sent_at.isoformat() == "2024-11-04T09:01:00+00:00"
    people = {s.id: s for page in pages for s in page.stakeholders}
    assert set(people) == {"example:u_ana", "example:u_bruno", "example:u_chloe"}
    assert people["example:u_ana"].identities == {"example": "ana"}


def test_next_sync_reads_only_new_messages() -> None:
    final = run()[-1].cursor
    assert run(final) == []
    newer = {**MESSAGES[0], "id": "m_0007", "body": "Any news?", "in_reply_to": "m_0002"}

    (page,) = run(final, fake_api([*MESSAGES, newer]))
    assert [m.id for m in page.messages] == ["m_0007"]


def test_config_hides_the_token() -> None:
    assert TOKEN not in repr(config())


def test_a_cursor_we_did_not_write_is_an_error() -> None:
    with pytest.raises(MalformedPayload, match="not an example cursor"):
        run("garbage!")


def test_plain_http_to_a_remote_host_is_a_config_error() -> None:
    with pytest.raises(ValueError, match="refusing plain http"):
        ExampleConfig(base_url="http://inbox.example.com", account="acme", token=TOKEN)
    local = ExampleConfig(base_url="http://127.0.0.1:8080/", account="acme", token=TOKEN)
    assert local.base_url == "http://127.0.0.1:8080"
