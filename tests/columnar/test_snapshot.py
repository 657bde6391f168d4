"""The ADBC reader runs the conversations query on a connection of its own, beside the
message stream, only when every query can be held to one snapshot: it takes the
store's write lock (without waiting) while they start. Writers in another process are
shut out while the lock is held, commit as soon as it is dropped, and a commit then is
seen by none of the running queries. A store whose lock is taken, or a read-only
store, is read on one connection, with the same findings."""

from __future__ import annotations

import io
import logging
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from convokit_core import check, open_store
from convokit_core._columnar import _engine, _reader
from convokit_core._policy._evaluate import Commitment
from convokit_core._policy._rules import first_reply, next_reply, resolution_within
from convokit_core._report._reporters import render_json

AS_OF = datetime(2024, 2, 5, tzinfo=UTC)
POLICY = [
    Commitment(name="first", rule=first_reply("2h")),
    Commitment(name="next", rule=next_reply("4h")),
    Commitment(name="resolve", rule=resolution_within("3d")),
]
# A new conversation with one unanswered message, and a reply added to an existing one:
# both change the findings, and either breaks the merge of the two streams if one of
# them saw it and the other did not.
WRITE = """
import sqlite3, sys
con = sqlite3.connect(sys.argv[1], timeout=0)
try:
    con.execute("BEGIN IMMEDIATE")
except sqlite3.OperationalError as exc:
    print(exc)
    raise SystemExit(3)
row = "INSERT INTO messages VALUES (?, ?, ?, NULL, ?, ?, ?, NULL, 'x', 'public', 0, NULL, NULL, NULL, 0)"
first = con.execute("SELECT platform, conversation_id, max(sent_at) FROM messages GROUP BY 1, 2 LIMIT 1").fetchone()
con.execute(row, (first[0], "late-reply", first[1], "agent", "outbound", first[2] + 1))
con.execute(row, (first[0], "late-new", "zz-late", "someone", "inbound", 1706000000000000))
con.commit()
print("committed")
"""
HOLD = """
import sqlite3, sys
con = sqlite3.connect(sys.argv[1], timeout=0, isolation_level=None)
con.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
sys.stdin.readline()
con.execute("ROLLBACK")
"""


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    from convokit_core.testing._generate import generate_history

    path = tmp_path / "store.db"
    with open_store(f"sqlite:///{path}") as store:
        for batch in generate_history(400, seed=5, days=30):
            store.write(batch)
    return path


def findings(url: str, engine: str) -> str:
    buffer = io.StringIO()
    render_json(check(url, POLICY, as_of=AS_OF, engine=engine, classifiers=[]), buffer)
    return buffer.getvalue()


def write(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", WRITE, str(path)], capture_output=True, text=True, check=False
    )


@pytest.fixture
def threads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the threads the reader reads ahead on."""
    names: list[str] = []
    original = _reader.prefetched

    def spy(make: Any, depth: int = 2, name: str = "") -> Iterator[Any]:
        names.append(name)
        return original(make, depth, name)

    monkeypatch.setattr(_reader, "prefetched", spy)
    monkeypatch.setattr(_engine, "PREFETCH", False)
    return names


def test_a_commit_between_the_queries_waits_and_one_after_them_is_not_seen(
    store_path: Path, threads: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{store_path}"
    before = findings(url, "python")
    seen: dict[str, subprocess.CompletedProcess[str]] = {}

    def hook(point: str) -> None:
        seen[point] = write(store_path)

    monkeypatch.setattr(_reader, "HOOK", hook)
    assert findings(url, "columnar") == before
    assert threads == ["convokit-columnar-conversations"]
    # while the queries start, the lock is held: a writer is turned away at once
    assert seen["first started"].returncode == 3, seen["first started"]
    assert "locked" in seen["first started"].stdout
    # once they run, it is dropped: the writer commits, and no query sees its rows
    assert seen["started"].returncode == 0, seen["started"]
    monkeypatch.setattr(_reader, "HOOK", None)
    after = findings(url, "python")
    assert after != before
    assert "zz-late" in after
    assert findings(url, "columnar") == after


def test_a_writer_holding_the_lock_leaves_every_query_on_one_connection(
    store_path: Path,
    threads: list[str],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    url = f"sqlite:///{store_path}"
    expected = findings(url, "python")
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(store_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline() == "locked\n"
        with caplog.at_level(logging.DEBUG, logger="convokit.policy"):
            assert findings(url, "columnar") == expected
    finally:
        assert holder.stdin is not None
        holder.stdin.write("\n")
        holder.stdin.close()
        holder.wait()
    assert holder.returncode == 0
    assert threads == []
    assert "the write lock is taken" in caplog.text
    assert findings(url, "columnar") == expected
    assert threads == ["convokit-columnar-conversations"]


def test_a_read_only_store_is_read_on_one_connection(store_path: Path, threads: list[str]) -> None:
    """Opened read-only, the store is never locked by a read: one connection."""
    url = f"sqlite:///{store_path}?mode=ro"
    assert findings(url, "columnar") == findings(url, "python")
    assert threads == []


def test_an_immutable_file_needs_no_lock(store_path: Path) -> None:
    """``immutable=1`` is the caller's promise that nothing writes the file: every
    query gets a connection of its own, with no lock taken."""
    reader = _reader.AdbcReader(f"file:{store_path}?mode=ro&immutable=1", True, immutable=True)
    try:
        (messages,), (counts,), apart = reader.start(
            ["SELECT count(*) FROM messages"], [("SELECT count(*) FROM conversations", 10)]
        )
        assert apart
        assert len(reader._cons) == 2
        assert next(messages).column(0).to_pylist()[0] > 1000
        assert next(counts).column(0).to_pylist() == [400]
    finally:
        reader.close()
