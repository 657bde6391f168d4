"""``convokit store migrate`` against a real server."""

from __future__ import annotations

import json
from pathlib import Path

from _pg_support import with_params
from click.testing import CliRunner

from convokit_core._cli import cli
from convokit_postgres import SCHEMA_VERSION, PostgresStore


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def test_migrate_applies_pending_migrations_once(pg_url: str) -> None:
    code, out = _run("--store", pg_url, "store", "migrate", "--check")
    assert code == 1
    assert f"schema version 0, this release needs {SCHEMA_VERSION}" in out
    code, out = _run("--store", pg_url, "store", "migrate")
    assert code == 0, out
    assert "applied migration 1: initial schema" in out
    assert f"schema version 0 -> {SCHEMA_VERSION}" in out
    code, out = _run("--store", pg_url, "store", "migrate", "--format", "json")
    assert code == 0, out
    assert json.loads(out) == {
        "store": pg_url,
        "before": SCHEMA_VERSION,
        "after": SCHEMA_VERSION,
        "applied": [],
    }
    code, out = _run("--store", pg_url, "store", "migrate", "--check", "--format", "json")
    assert code == 0
    assert json.loads(out)["pending"] == 0
    with PostgresStore(with_params(pg_url, auto_migrate="false")) as store:
        assert store.schema_version == SCHEMA_VERSION


def test_migrate_hides_the_password_and_reports_errors(pg_url: str) -> None:
    secret = pg_url.replace("postgresql://postgres@", "postgresql://postgres:hunter2@")
    code, out = _run("--store", secret, "store", "migrate")
    assert code == 0, out
    assert "hunter2" not in out
    assert "postgres:***@" in out
    code, out = _run("--store", "postgresql://u:hunter2@127.0.0.1:1/db", "store", "migrate")
    assert code == 2
    assert "cannot connect" in out
    assert "hunter2" not in out


def test_migrate_on_another_store_opens_it(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/store.db"
    code, out = _run("--store", url, "store", "migrate")
    assert code == 0, out
    assert (tmp_path / "store.db").exists()
    code, out = _run("--store", url, "store", "migrate", "--check")
    assert code == 2
    assert "postgresql:// stores only" in out


def test_store_info_works_on_postgres(pg_url: str) -> None:
    assert _run("--store", pg_url, "store", "migrate")[0] == 0
    code, out = _run("--store", pg_url, "store", "info")
    assert code == 0, out
    assert "messages" in out
