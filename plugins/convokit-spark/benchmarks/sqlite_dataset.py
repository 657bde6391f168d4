"""A benchmark-only writer of the Parquet dataset layout (docs/parquet.md) straight from
a SQLite store file, several times faster than ``convokit export --format parquet``
(which goes through the store's public iterators): it builds the 1M and 10M message
inputs of the benchmark. The tests use ``convokit_core.export_parquet``."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

TS = pa.timestamp("us", tz="UTC")
TAGS = pa.list_(pa.string())
IDENT = pa.list_(pa.struct([("platform", pa.string()), ("id", pa.string())]))

SCHEMAS = {
    "messages": pa.schema(
        [
            ("platform", pa.string()),
            ("id", pa.string()),
            ("conversation_id", pa.string()),
            ("channel_id", pa.string()),
            ("author_id", pa.string()),
            ("direction", pa.string()),
            ("sent_at", TS),
            ("in_reply_to", pa.string()),
            ("text", pa.string()),
            ("visibility", pa.string()),
            ("automated", pa.bool_()),
            ("tags", TAGS),
            ("url", pa.string()),
            ("edited_at", TS),
            ("deleted", pa.bool_()),
        ]
    ),
    "conversations": pa.schema(
        [
            ("platform", pa.string()),
            ("id", pa.string()),
            ("channel_id", pa.string()),
            ("stakeholder_id", pa.string()),
            ("owner_id", pa.string()),
            ("status", pa.string()),
            ("tags", TAGS),
        ]
    ),
    "status_changes": pa.schema(
        [
            ("platform", pa.string()),
            ("conversation_id", pa.string()),
            ("at", TS),
            ("status", pa.string()),
        ]
    ),
    "stakeholders": pa.schema(
        [
            ("id", pa.string()),
            ("kind", pa.string()),
            ("display_name", pa.string()),
            ("identities", IDENT),
        ]
    ),
    "channels": pa.schema(
        [
            ("platform", pa.string()),
            ("id", pa.string()),
            ("handle", pa.string()),
            ("created_at", TS),
            ("owner_team", pa.string()),
        ]
    ),
    "team_members": pa.schema(
        [
            ("id", pa.string()),
            ("name", pa.string()),
            ("handles", IDENT),
            ("active_from", TS),
            ("active_until", TS),
        ]
    ),
}

QUERIES = {
    "messages": "SELECT platform, id, conversation_id, channel_id, author_id, direction, "
    "sent_at, in_reply_to, text, visibility, automated, tags, url, edited_at, deleted "
    "FROM messages ORDER BY platform, conversation_id, sent_at, id",
    "conversations": "SELECT platform, id, channel_id, stakeholder_id, owner_id, status, tags "
    "FROM conversations ORDER BY platform, id",
    "status_changes": "SELECT platform, conversation_id, at, status FROM status_changes "
    "ORDER BY platform, conversation_id, at, status",
    "stakeholders": "SELECT id, kind, display_name, identities FROM stakeholders ORDER BY id",
    "channels": "SELECT platform, id, handle, created_at, owner_team FROM channels "
    "ORDER BY platform, id",
    "team_members": "SELECT id, name, handles, active_from, active_until FROM team_members "
    "ORDER BY id",
}


def _tags(raw: Any) -> list[str]:
    return list(json.loads(raw)) if raw else []


def _pairs(raw: Any) -> list[dict[str, str]]:
    value = json.loads(raw) if raw else {}
    return [{"platform": p, "id": i} for p, i in value.items()]


def _columns(table: str, rows: list[tuple[Any, ...]]) -> dict[str, list[Any]]:
    names = SCHEMAS[table].names
    cols: dict[str, list[Any]] = {n: [r[i] for r in rows] for i, n in enumerate(names)}
    if table in ("messages", "conversations"):
        cols["tags"] = [_tags(v) for v in cols["tags"]]
    if table == "messages":
        cols["automated"] = [bool(v) for v in cols["automated"]]
        cols["deleted"] = [bool(v) for v in cols["deleted"]]
    if table == "stakeholders":
        cols["identities"] = [_pairs(v) for v in cols["identities"]]
    if table == "team_members":
        cols["handles"] = [_pairs(v) for v in cols["handles"]]
    return cols


def export_sqlite(db: str | Path, out: str | Path, *, rows_per_file: int = 500_000) -> Path:
    """Write the tables of SQLite store file ``db`` as a dataset directory ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(str(db))
    manifest: dict[str, Any] = {"format": "convokit-dataset", "version": 1, "tables": {}}
    try:
        for table, sql in QUERIES.items():
            schema = SCHEMAS[table]
            folder = out / table
            folder.mkdir(exist_ok=True)
            cursor = con.execute(sql)
            files: list[str] = []
            total = 0
            pending: list[tuple[Any, ...]] = []
            while True:
                chunk = cursor.fetchmany(50_000)
                pending.extend(chunk)
                done = not chunk
                cut = len(pending) if done else 0
                if not done and len(pending) >= rows_per_file:
                    cut = len(pending)
                    if table == "messages":  # cut at a conversation boundary
                        key = pending[-1][0], pending[-1][2]
                        while cut > 0 and (pending[cut - 1][0], pending[cut - 1][2]) == key:
                            cut -= 1
                if cut or (done and not files):
                    rows, pending = pending[:cut], pending[cut:]
                    name = f"{table}/part-{len(files):05d}.parquet"
                    batch = pa.table(_columns(table, rows), schema=schema)
                    pq.write_table(batch, out / name)
                    files.append(name)
                    total += len(rows)
                if done:
                    break
            manifest["tables"][table] = {"files": files, "rows": total}
    finally:
        con.close()
    (out / "convokit-dataset.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return out
