"""The SQLite import path writes message rows several to a statement; what it stores,
and what an import that fails or is interrupted leaves, are those of one row at a time."""

from __future__ import annotations

import io
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from convokit_core import InputError, open_store
from convokit_core._io._importer import import_records
from convokit_core._io._jsonl import export_jsonl, import_jsonl
from convokit_core._storage import _sqlite

BASE: dict[str, Any] = {
    "platform": "twitter",
    "channel": "acme",
    "author": "ana",
    "direction": "inbound",
    "sent_at": "2024-03-01T09:00:00Z",
}


def message(id_: str, conversation: str, text: str, minute: int = 0) -> dict[str, Any]:
    sent = f"2024-03-01T09:{minute:02d}:00Z"
    return {**BASE, "id": id_, "conversation": conversation, "text": text, "sent_at": sent}


def stored(store: Any) -> dict[str, tuple[str, str, str]]:
    return {m.id: (m.conversation_id, m.text, m.sent_at.isoformat()) for m in store.iter_messages()}


def export(store: Any) -> str:
    out = io.StringIO()
    export_jsonl(store, out)
    return out.getvalue()


@pytest.mark.parametrize("per_statement", [1, 2, 3, 500])
@pytest.mark.parametrize("batch_size", [1, 4, 7, 100])
def test_rows_several_to_a_statement_end_as_one_upsert_per_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, per_statement: int, batch_size: int
) -> None:
    """Repeats within a statement, across statements of a batch, across batches and of
    stored rows: the last write wins, key columns included."""
    monkeypatch.setattr(_sqlite._Writer, "rows_per_insert", per_statement)
    first = [message(str(i), f"c{i % 3}", f"first {i}", i) for i in range(12)]
    within = [message("20", "e", "one"), message("21", "e", "two"), message("20", "f", "three")]
    again = [message(str(i), f"d{i % 2}", f"again {i}", 30 + i) for i in range(6, 16)]
    items = [*first, *within, *again]
    expected: dict[str, tuple[str, str, str]] = {}
    for obj in items:
        expected[obj["id"]] = (obj["conversation"], obj["text"], obj["sent_at"][:-1] + "+00:00")
    store = open_store(f"sqlite:///{tmp_path}/s.db")
    result = import_records(store, enumerate(items, start=1), source="x", batch_size=batch_size)
    assert result.counts["message"] == len(items)
    assert store.counts()["messages"] == len(expected) == 18
    assert stored(store) == expected
    before = export(store)
    import_records(store, enumerate(items, start=1), source="x", batch_size=batch_size)
    assert export(store) == before
    store.close()


def test_rows_per_statement_stay_within_the_limit_on_bound_parameters(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path}/s.db")
    assert isinstance(store, _sqlite.SQLiteStore)
    # 40 parameters take two rows of 15 columns; 500 rows to a statement would need 7,500
    store._con.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 40)
    items = [message(str(i), f"c{i % 7}", f"t{i}") for i in range(1_001)]
    import_records(store, enumerate(items, start=1), source="x", batch_size=1_001)
    assert store.counts()["messages"] == 1_001
    store.close()


def jsonl(objs: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(o) + "\n" for o in objs)


def test_a_bad_line_after_many_written_statements_leaves_nothing(tmp_path: Path) -> None:
    good = [message(str(i), f"c{i % 50}", f"t{i}") for i in range(12_000)]
    bad = {**good[0], "id": "x", "direction": "sideways"}
    text = jsonl([*good, bad, message("y", "c1", "after")])
    store = open_store(f"sqlite:///{tmp_path}/s.db")
    with pytest.raises(InputError) as caught:
        import_jsonl(store, io.StringIO(text), source="in.jsonl")
    assert [(e.line, e.field) for e in caught.value.errors] == [(12_001, "direction")]
    assert "in.jsonl, line 12001, field 'direction'" in str(caught.value)
    assert store.counts()["messages"] == 0
    # the transaction is over: the store takes the next import
    import_jsonl(store, io.StringIO(jsonl(good[:10])))
    assert store.counts()["messages"] == 10
    store.close()


def test_an_interrupted_import_leaves_nothing(tmp_path: Path) -> None:
    good = [message(str(i), f"c{i % 50}", f"t{i}") for i in range(12_000)]
    seen: list[int] = []

    def lines() -> Iterator[str]:
        for number, obj in enumerate(good, start=1):
            if number == 11_000:  # two batches of 5,000 rows are in the store by now
                raise KeyboardInterrupt
            seen.append(number)
            yield json.dumps(obj) + "\n"

    store = open_store(f"sqlite:///{tmp_path}/s.db")
    with pytest.raises(KeyboardInterrupt):
        import_jsonl(store, lines())
    assert len(seen) == 10_999
    assert store.counts()["messages"] == 0
    with open_store(f"sqlite:///{tmp_path}/s.db") as other:
        assert other.counts()["messages"] == 0
    import_jsonl(store, io.StringIO(jsonl(good[:10])))
    assert store.counts()["messages"] == 10
    store.close()
