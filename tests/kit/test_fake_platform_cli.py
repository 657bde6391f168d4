"""`convokit sync` against a FakePlatform served on loopback (real HTTP, no mocks)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sync.toy import ToyConfig, create

from convokit_core import PluginManager, open_store, set_plugin_manager
from convokit_core._cli import cli
from convokit_core.hookspecs import hookimpl
from convokit_core.testing import FakePlatform, Fault, Order, Paging

TOKEN = "toy-secret-token"
T0 = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)


class ToyPlugin:
    __name__ = "toy-loopback-plugin"

    @hookimpl
    def register_platforms(self, register: object) -> None:
        assert callable(register)
        register("toy", config=ToyConfig, create=create, description="toy platform")


@pytest.fixture(autouse=True)
def toy_plugin() -> Iterator[None]:
    set_plugin_manager(PluginManager(plugins=[ToyPlugin()]))
    yield
    set_plugin_manager(None)


def toy_api() -> FakePlatform:
    """The toy API (``GET /api/items?after=ID&limit=N``) over the same rows as ToyServer."""
    rows = [
        {
            "id": f"{i:04d}",
            "author": "acme" if i % 3 == 0 else f"user{i}",
            "text": f"item {i}",
            "at": (T0 + timedelta(minutes=i)).isoformat(),
        }
        for i in range(1, 11)
    ]
    return FakePlatform(
        rows,
        paging=Paging.AFTER_ID,
        order=Order.OLDEST_FIRST,
        cursor_param="after",
        page_size=3,
        time_key="at",
        envelope=lambda chunk, last: {"items": chunk, "next": last},
        token=TOKEN,
    )


def sync(base_url: str) -> tuple[int, str]:
    Path("convokit.toml").write_text(
        f'store = "sqlite:///store.db"\n\n[[source]]\nname = "loop"\nplatform = "toy"\n'
        f'url = "{base_url}"\ntoken = "{TOKEN}"\n',
        encoding="utf-8",
    )
    result = CliRunner().invoke(cli, ["sync"], catch_exceptions=False)
    return result.exit_code, result.stderr


def stored() -> set[str]:
    with open_store("sqlite:///store.db") as store:
        return {m.id for m in store.iter_messages()}


def test_cli_sync_through_a_loopback_server_with_faults() -> None:
    api = toy_api()
    # A 429 saying "now" and a 502: the HTTP helper retries both.
    api.fail_next(Fault.rate_limited(0, retry_after=True), Fault.server_error(502))
    with api.serve() as base_url:
        code, err = sync(base_url)
        assert code == 0, err
        assert stored() == api.ids()
        # Rows arriving later come with the next sync, and only they are requested.
        api.rows.append({"id": "0011", "author": "user11", "text": "new", "at": T0.isoformat()})
        before = len(api.requests)
        code, err = sync(base_url)
        assert code == 0, err
        assert stored() == api.ids()
    after = [r.url.params.get("after") for r in api.requests[before:]]
    assert after[0] == "0010"
    assert all(r.url.host == "127.0.0.1" for r in api.requests)


def test_cli_sync_fails_the_source_when_the_server_keeps_failing() -> None:
    api = toy_api()
    api.fail_next(*[Fault.server_error(503)] * 20)
    with api.serve() as base_url:
        code, err = sync(base_url)
    assert code == 1
    assert "source 'loop' failed" in err
    assert "HTTP 503" in err
    assert TOKEN not in err
