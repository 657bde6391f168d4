"""The plugin as the host uses it: entry point, ``[[source]]`` table, sync into SQLite."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from bluesky_fake import APP_PASSWORD, OUR_DID, REFRESHED, SESSION, FakeBluesky
from convokit_bluesky import BlueskyConfig, create_adapter

from convokit_core import (
    ConfigError,
    Direction,
    PluginManager,
    load_config,
    load_sources,
    load_team,
    open_store,
    run_sync,
)

TOML = """
[[source]]
name = "bsky-main"
platform = "bluesky"
handle = "@acme.bsky.social"
app_password = "${BSKY_APP_PASSWORD}"
service = "https://pds.test"

[[team]]
id = "sam"
name = "Sam"
handles = { bluesky = "sam-acme.bsky.social" }
"""


@pytest.fixture
def plugins(monkeypatch: pytest.MonkeyPatch) -> PluginManager:
    monkeypatch.setenv("CONVOKIT_LOAD_PLUGINS", "bluesky")
    return PluginManager()


def test_entry_point_registers_the_platform(plugins: PluginManager) -> None:
    registration = plugins.platforms["bluesky"]
    assert registration.plugin == "bluesky"
    assert registration.options["config"] is BlueskyConfig
    assert registration.options["create"] is create_adapter
    assert registration.description


def test_source_table_builds_the_config(plugins: PluginManager, tmp_path: Path) -> None:
    path = tmp_path / "convokit.toml"
    path.write_text(TOML, encoding="utf-8")
    (spec,) = load_sources(load_config(path), plugins, env={"BSKY_APP_PASSWORD": APP_PASSWORD})
    assert spec.config == BlueskyConfig(
        handle="acme.bsky.social", app_password=APP_PASSWORD, service="https://pds.test"
    )
    assert APP_PASSWORD in spec.secrets
    bad = TOML.replace('service = "https://pds.test"', 'servce = "https://pds.test"')
    path.write_text(bad, encoding="utf-8")
    with pytest.raises(ConfigError, match="servce"):
        load_sources(load_config(path), plugins, env={"BSKY_APP_PASSWORD": APP_PASSWORD})


def test_sync_into_sqlite_twice(fake: FakeBluesky, plugins: PluginManager, tmp_path: Path) -> None:
    path = tmp_path / "convokit.toml"
    path.write_text(TOML, encoding="utf-8")
    config = load_config(path)
    specs = load_sources(config, plugins, env={"BSKY_APP_PASSWORD": APP_PASSWORD})
    database = tmp_path / "store.db"
    store = open_store(f"sqlite:///{database}", plugins=plugins)
    try:
        report = asyncio.run(run_sync(specs, store, team=load_team(config)))
        assert report.ok, report.failure_message()
        messages = list(store.iter_messages(platform="bluesky"))
        assert len(messages) == 11
        outbound = {m.author_id for m in messages if m.direction == Direction.OUTBOUND}
        assert OUR_DID in outbound
        assert len(outbound) == 2  # our account and Sam, a [[team]] member
        assert [c.id for c in store.iter_channels()] == [OUR_DID]
        first_cursor = store.get_cursor("bsky-main")
        assert first_cursor is not None
        conversations = {c.id: c for c in store.iter_conversations(platform="bluesky")}
        assert len(conversations) == 5  # threads A, B, C (deleted root), F, and our old post

        # A second run finds nothing new and keeps the cursor.
        report = asyncio.run(run_sync(specs, store, team=load_team(config)))
        assert report.ok, report.failure_message()
        assert store.get_cursor("bsky-main") == first_cursor
        assert len(list(store.iter_messages(platform="bluesky"))) == 11
    finally:
        store.close()
    stored = database.read_bytes()
    for secret in (APP_PASSWORD, SESSION["accessJwt"], SESSION["refreshJwt"]):
        assert secret.encode() not in stored
    assert REFRESHED["accessJwt"].encode() not in stored
