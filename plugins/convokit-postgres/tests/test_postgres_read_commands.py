"""Read commands never create a store on PostgreSQL either: a missing database, and a
database without the convokit schema, are one error naming the URL (exit 2)."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
from _pg_support import with_database
from click.testing import CliRunner

from convokit_core import StorageError, open_store
from convokit_core._cli import cli

POLICY = '[[commitment]]\nname = "f"\nrule = "first_reply"\nwithin = "1h"\n'


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def _tables(admin: psycopg.Connection[tuple[object, ...]]) -> int:
    row = admin.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema()"
    ).fetchone()
    assert row is not None
    return int(str(row[0]))


READS = [["check", "--policy", "policy.toml"], ["export"], ["store", "info"]]


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # policy.toml is written there


@pytest.mark.parametrize("args", READS)
def test_a_database_without_the_schema_is_a_missing_store(
    pg_url: str, pg_admin: psycopg.Connection[tuple[object, ...]], args: list[str]
) -> None:
    Path("policy.toml").write_text(POLICY, encoding="utf-8")
    code, out, err = _run("--store", pg_url, *args)
    assert code == 2
    assert err.startswith(f"Error: store {pg_url!r} holds no convokit store yet")
    assert out == ""
    assert _tables(pg_admin) == 0  # nothing was created


@pytest.mark.parametrize("args", READS)
def test_a_missing_database_is_an_error_naming_the_url(pg_admin_url: str, args: list[str]) -> None:
    Path("policy.toml").write_text(POLICY, encoding="utf-8")
    url = with_database(pg_admin_url, "convokit_no_such_database")
    code, _, err = _run("--store", url, *args)
    assert code == 2
    assert err.startswith(f"Error: store {url!r}: cannot connect")
    assert 'database "convokit_no_such_database" does not exist' in err


def test_write_commands_still_create_the_schema(pg_url: str) -> None:
    with pytest.raises(StorageError, match="holds no convokit store yet"):
        open_store(pg_url, create=False)
    open_store(pg_url).close()  # migrates
    with open_store(pg_url, create=False) as store:
        assert store.counts()["messages"] == 0
