"""How a PostgreSQL store feeds the columnar engine: transfer methods, then ``check``.

Loads ``generate_history`` data (about 9.9 messages a conversation) into a schema of a
scratch database (created if missing, the schema replaced), then, each in a subprocess
of its own so that its peak RSS is its own:

1. ``transfer <method>``: the whole message stream of the columnar engine (``id``,
   microseconds, packed flags, in ``(platform, conversation_id, sent_at, id)`` order)
   read into numpy columns plus a list of ids, by

   - ``fetchmany``: a server-side cursor, binary, 65 536 rows a fetch (the baseline);
   - ``copy_binary``: ``COPY … (FORMAT binary)`` through psycopg's ``rows()``;
   - ``copy_csv``: ``COPY … (FORMAT csv)``, the bytes parsed by ``pyarrow.csv`` every
     4 MB;
   - ``adbc``: ``adbc_driver_postgresql`` record batches (only if it is importable);

2. ``tables <transfer>``: ``PostgresStore.columnar_tables`` (what the engine reads: the
   conversation and message streams in one snapshot), through ``csv`` and ``adbc``;
3. ``check <engine>``: ``convokit_core.check`` with three reply commitments, python vs
   columnar, timed without rendering; the two JSON outputs must be identical.

    python plugins/convokit-postgres/benchmarks/bench_columnar.py \
        [--conversations 22000] [--admin-url postgresql://postgres@127.0.0.1:5432/postgres]

A script, not a timed test: numbers depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime
from typing import Any

import numpy as np
import psycopg
from psycopg import sql

DATABASE = "convokit_bench_columnar"
AS_OF = datetime(2024, 2, 15, tzinfo=UTC)
FLAGS = (
    "((direction = 'outbound')::int + 2 * (direction NOT IN ('inbound', 'outbound'))::int"
    " + 4 * (visibility = 'note')::int + 8 * (visibility <> 'public')::int"
    " + 16 * automated::int)"
)
QUERY = (
    f"SELECT id, (extract(epoch FROM sent_at) * 1000000)::int8, {FLAGS} FROM messages "
    "WHERE sent_at <= '2030-01-01' ORDER BY platform, conversation_id, sent_at, id"
)


def _peak_mb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


def transfer(url: str, method: str) -> dict[str, Any]:
    start = time.perf_counter()
    rows = 0
    if method == "fetchmany":
        with psycopg.connect(url) as conn:
            cur = conn.cursor(name="bench", binary=True)
            cur.execute(QUERY)
            while chunk := cur.fetchmany(65_536):
                cols = list(zip(*chunk, strict=True))
                ids = list(cols[0])
                np.array(cols[1], np.int64)
                np.array(cols[2], np.int8)
                rows += len(ids)
    elif method == "copy_binary":
        with (
            psycopg.connect(url) as conn,
            conn.cursor() as plain,
            plain.copy(f"COPY ({QUERY}) TO STDOUT (FORMAT binary)") as copy,
        ):
            copy.set_types(["text", "int8", "int4"])
            ids, at, flags = [], [], []
            for row in copy.rows():
                ids.append(row[0])
                at.append(row[1])
                flags.append(row[2])
                if len(ids) == 65_536:
                    np.array(at, np.int64)
                    np.array(flags, np.int8)
                    rows += len(ids)
                    ids, at, flags = [], [], []
            rows += len(ids)
    elif method == "copy_csv":
        import pyarrow as pa
        import pyarrow.csv as pacsv

        def parse(data: bytes) -> int:
            table = pacsv.read_csv(
                pa.py_buffer(data),
                read_options=pacsv.ReadOptions(column_names=["id", "at", "flags"]),
                convert_options=pacsv.ConvertOptions(
                    column_types={"id": pa.string(), "at": pa.int64(), "flags": pa.int8()},
                    null_values=[""],
                    strings_can_be_null=True,
                    quoted_strings_can_be_null=False,
                ),
                parse_options=pacsv.ParseOptions(newlines_in_values=True),
            )
            table.column("id").to_pylist()
            table.column("at").to_numpy()
            table.column("flags").to_numpy()
            return int(table.num_rows)

        with (
            psycopg.connect(url) as conn,
            conn.cursor() as plain,
            plain.copy(f"COPY ({QUERY}) TO STDOUT (FORMAT csv)") as copy,
        ):
            buffer = io.BytesIO()
            for data in copy:  # one CopyData message per row
                buffer.write(data)
                if buffer.tell() > 4 << 20:
                    rows += parse(buffer.getvalue())
                    buffer = io.BytesIO()
            if buffer.tell():
                rows += parse(buffer.getvalue())
    elif method == "adbc":
        import adbc_driver_postgresql.dbapi as adbc  # type: ignore[import-untyped]

        with adbc.connect(url) as conn, conn.cursor() as cur:
            cur.execute(QUERY)
            for batch in cur.fetch_record_batch():
                batch.column(0).to_pylist()
                batch.column(1).to_numpy()
                batch.column(2).to_numpy()
                rows += batch.num_rows
    else:
        raise SystemExit(f"unknown method {method!r}")
    return {"seconds": time.perf_counter() - start, "rows": rows, "peak_mb": _peak_mb()}


def tables(url: str, transfer: str) -> dict[str, Any]:
    from convokit_core import open_store
    from convokit_core._columnar._arrow import ColumnarTables
    from convokit_core._timeutil import to_micros

    start = time.perf_counter()
    rows = conversations = 0
    with open_store(url) as store:
        assert isinstance(store, ColumnarTables)
        for convs, messages in store.columnar_tables(
            as_of_us=to_micros(datetime(2030, 1, 1, tzinfo=UTC)),
            with_tags=False,
            with_text=False,
            batch_rows=65_536,
            transfer=transfer,  # type: ignore[call-arg]
        ):
            rows += messages.num_rows
            conversations += convs.num_rows
    return {
        "seconds": time.perf_counter() - start,
        "rows": rows,
        "conversations": conversations,
        "peak_mb": _peak_mb(),
    }


def run_check(url: str, engine: str) -> dict[str, Any]:
    from convokit_core import check
    from convokit_core._policy._evaluate import Commitment
    from convokit_core._policy._rules import first_reply, max_silence, next_reply
    from convokit_core._report._reporters import render_json

    commitments = [
        Commitment(name="first", rule=first_reply("1h")),
        Commitment(name="next", rule=next_reply("4h", pause_when="pending")),
        Commitment(name="silence", rule=max_silence("1d").where(tags="complaint")),
    ]
    start = time.perf_counter()
    report = check(url, commitments, as_of=AS_OF, engine=engine, classifiers=[])
    seconds = time.perf_counter() - start
    peak = _peak_mb()  # before rendering: the same JSON for both engines
    buffer = io.StringIO()
    render_json(report, buffer)
    digest = hashlib.sha256(buffer.getvalue().encode()).hexdigest()[:16]
    return {"seconds": seconds, "sha256": digest, "peak_mb_before_render": peak}


def load(admin_url: str, schema: str, conversations: int) -> str:
    from convokit_core import open_store
    from convokit_core.testing._generate import generate_history

    with psycopg.connect(admin_url, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)).fetchone():
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(DATABASE)))
    base = admin_url.rsplit("/", 1)[0] + "/" + DATABASE
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    url = f"{base}?options=-csearch_path%3D{schema}"
    with open_store(url) as store:
        for batch in generate_history(conversations, seed=7, batch_size=5000):
            store.write(batch)
    with psycopg.connect(url, autocommit=True) as conn:
        for table in ("messages", "conversations", "status_changes"):
            conn.execute(sql.SQL("VACUUM ANALYZE {}").format(sql.Identifier(table)))
    return url


def _child(*args: str) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", *args],
        check=True,
        capture_output=True,
        text=True,
        env=os.environ,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=22_000)
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--skip-load", action="store_true")
    parser.add_argument("--child", nargs="+")
    args = parser.parse_args()
    if args.child:
        kind, url, *rest = args.child
        result = {"transfer": lambda: transfer(url, rest[0]),
                  "tables": lambda: tables(url, rest[0]),
                  "check": lambda: run_check(url, rest[0])}[kind]()  # fmt: skip
        print(json.dumps(result))
        return
    schema = f"bench_{args.conversations}"
    if args.skip_load:
        base = args.admin_url.rsplit("/", 1)[0] + "/" + DATABASE
        url = f"{base}?options=-csearch_path%3D{schema}"
    else:
        url = load(args.admin_url, schema, args.conversations)
    print(f"load average {os.getloadavg()}", flush=True)
    methods = ["fetchmany", "copy_binary", "copy_csv"]
    try:
        import adbc_driver_postgresql  # noqa: F401

        methods.append("adbc")
    except ImportError:
        pass
    for method in methods:
        print("transfer", method, _child("transfer", url, method), flush=True)
    for how in ["csv"] + (["adbc"] if "adbc" in methods else []):
        print("columnar_tables", how, _child("tables", url, how), flush=True)
    results = {engine: _child("check", url, engine) for engine in ("python", "columnar")}
    for engine, result in results.items():
        print("check", engine, result, flush=True)
    assert results["python"]["sha256"] == results["columnar"]["sha256"], "findings differ"
    print(f"load average {os.getloadavg()}", flush=True)


if __name__ == "__main__":
    main()
