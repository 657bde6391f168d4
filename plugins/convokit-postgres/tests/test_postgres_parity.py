"""The same data in SQLite and in PostgreSQL reads back the same, through the API and
through ``convokit import`` / ``convokit export``."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from _pg_data import PLATFORMS, T0, jsonl
from _pg_support import with_schema
from click.testing import CliRunner

from convokit_core import open_store
from convokit_core._cli import cli


def _convokit(store_url: str, *args: str, input: str | None = None) -> str:
    result = CliRunner().invoke(cli, ["--store", store_url, *args], input=input)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture
def loaded(tmp_path: Path, pg_url: str) -> Iterator[tuple[Any, Any]]:
    """(sqlite store, postgres store), both loaded from the same JSONL file by the CLI."""
    data = tmp_path / "data.jsonl"
    data.write_text(jsonl(), encoding="utf-8")
    sqlite_url = f"sqlite:///{tmp_path}/parity.db"
    for url in (sqlite_url, pg_url):
        _convokit(url, "import", str(data))
    lite, pg = open_store(sqlite_url), open_store(pg_url)
    try:
        yield lite, pg
    finally:
        lite.close()
        pg.close()


def test_export_is_byte_identical_and_round_trips(
    loaded: tuple[Any, Any],
    tmp_path: Path,
    pg_url: str,
    pg_database: str,
    new_pg_schema: Callable[[], str],
) -> None:
    lite, _ = loaded
    lite_out = _convokit(lite.url, "export")
    pg_out = _convokit(pg_url, "export")
    assert lite_out.count("\n") == sum(lite.counts().values()) - _derived(lite)
    assert pg_out == lite_out
    # export -> import into an empty PostgreSQL store -> export gives the same bytes
    exported = tmp_path / "exported.jsonl"
    exported.write_text(pg_out, encoding="utf-8")
    fresh = with_schema(pg_database, new_pg_schema())
    _convokit(fresh, "import", str(exported))
    assert _convokit(fresh, "export") == pg_out


def _derived(store: Any) -> int:
    """Conversations that exist only through their messages (not exported as records)."""
    return int(store.counts()["conversations"]) - sum(1 for _ in store.iter_conversation_records())


def _windows() -> Iterator[dict[str, Any]]:
    bounds = [None, T0 + timedelta(hours=20), T0 + timedelta(days=2, minutes=7)]
    for since, until in itertools.product(bounds, bounds):
        if since is not None and until is not None and since >= until:
            continue
        yield {"since": since, "until": until}


def test_every_read_agrees(loaded: tuple[Any, Any]) -> None:
    lite, pg = loaded
    assert pg.counts() == lite.counts()
    compared = 0
    for window in _windows():
        for platform in (None, *PLATFORMS):
            for channel in (None, "mastodon-support", "twitter-news"):
                expected = list(
                    lite.iter_conversations(platform=platform, channel=channel, **window)
                )
                got = list(pg.iter_conversations(platform=platform, channel=channel, **window))
                assert got == expected, (platform, channel, window)
                compared += len(expected)
                msgs = list(lite.iter_messages(platform=platform, channel=channel, **window))
                assert list(pg.iter_messages(platform=platform, channel=channel, **window)) == msgs
    assert compared > 1000
    for conv in itertools.islice(lite.iter_conversations(), 0, None, 9):
        assert pg.get_conversation(conv.platform, conv.id) == conv
    assert list(pg.iter_conversation_records()) == list(lite.iter_conversation_records())
    assert list(pg.iter_status_changes()) == list(lite.iter_status_changes())
    assert list(pg.iter_stakeholders()) == list(lite.iter_stakeholders())
    assert list(pg.iter_channels()) == list(lite.iter_channels())
    assert list(pg.iter_team_members()) == list(lite.iter_team_members())


POLICY = Path(__file__).parent / "policy.toml"


@pytest.mark.parametrize("as_of", ["2024-03-02T15:30:00Z", "2024-03-09T00:00:00Z"])
def test_check_finds_the_same_on_both_stores(
    loaded: tuple[Any, Any], pg_url: str, as_of: str
) -> None:
    """``convokit check`` reads SQLite through its fast path and PostgreSQL through
    ``iter_conversations``; the findings must be identical."""
    lite, _ = loaded
    args = ["check", "--policy", str(POLICY), "--as-of", as_of, "--format", "json"]
    lite_report = json.loads(_convokit(lite.url, *args, "--fail-on", "never"))
    pg_report = json.loads(_convokit(pg_url, *args, "--fail-on", "never"))
    assert lite_report.pop("store") == lite.url
    assert pg_report.pop("store") == pg_url
    assert len(lite_report["findings"]) > 300
    statuses = {f["status"] for f in lite_report["findings"]}
    assert {"met", "breached"} <= statuses
    assert pg_report == lite_report
