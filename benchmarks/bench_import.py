"""JSONL → SQLite import speed against raw ``sqlite3.executemany`` of the same rows.

DESIGN §9 target: ≥ 100k messages/s and ≥ 60 % of raw executemany. Both run in this
process on the same generated rows: the baseline inserts them pre-built, convokit reads
them from a JSONL file (written before the clock starts, so in the page cache), opened
as ``convokit import`` opens its input. Wall time and CPU time (``time.process_time``, every
thread of the process) are both reported: on a shared machine the wall ratio moves with
the other work, the CPU ratio much less.

    python benchmarks/bench_import.py [--messages 1000000] [--repeat 1]

With ``--repeat N`` the two alternate N times, each into a fresh database; every run is
printed and the fastest of each is compared.
"""

from __future__ import annotations

import argparse
import gc
import io
import json
import os
import random
import sqlite3
import tempfile
import time
from datetime import UTC, datetime, timedelta

from convokit_core import open_store
from convokit_core._io._jsonl import import_jsonl
from convokit_core._io._records import parse_message
from convokit_core._io._source import ImportSource
from convokit_core._storage._sqlite import _MIGRATIONS, _UPSERT_MESSAGE, message_row


def generate(n: int, seed: int = 7) -> str:
    rng = random.Random(seed)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    out = io.StringIO()
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    conv = 0
    i = 0
    while i < n:
        conv += 1
        t = start + timedelta(seconds=rng.randrange(0, 365 * 86400))
        for turn in range(min(rng.randint(1, 20), n - i)):
            t += timedelta(seconds=rng.randrange(30, 36000))
            inbound = turn % 2 == 0
            obj = {
                "id": str(10_000_000 + i),
                "platform": "twitter",
                "conversation": str(conv),
                "channel": "acme",
                "author": f"u{conv}" if inbound else "acme",
                "direction": "inbound" if inbound else "outbound",
                "sent_at": t.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "text": f"my order #{i} has not arrived and nobody answers"
                if inbound
                else "Sorry about that! Please DM us your order number.",
            }
            if turn:
                obj["in_reply_to"] = str(10_000_000 + i - 1)
            out.write(dumps(obj) + "\n")
            i += 1
    return out.getvalue()


def fresh_db(directory: str, name: str) -> str:
    path = os.path.join(directory, name)
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA journal_mode = WAL")
    for statement in _MIGRATIONS[0].split(";"):
        if statement.strip():
            con.execute(statement)
    con.close()
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=1, help="alternating runs of each")
    args = parser.parse_args()
    n = args.messages
    print(f"generating {n:,} messages …")
    text = generate(n)
    lines = text.splitlines(keepends=True)
    rows = [message_row(parse_message(json.loads(line))) for line in lines]
    runs: list[tuple[float, float, float, float]] = []
    for _ in range(args.repeat):
        runs.append(one_run(n, text, rows))
    for k, (raw, raw_cpu, ours, ours_cpu) in enumerate(runs, start=1):
        print(
            f"run {k}: raw {raw:6.2f} s (CPU {raw_cpu:.2f}), convokit {ours:6.2f} s "
            f"(CPU {ours_cpu:.2f}): {raw / ours:6.1%} of raw, CPU {raw_cpu / ours_cpu:6.1%}"
        )
    raw, raw_cpu = min(r[0] for r in runs), min(r[1] for r in runs)
    ours, ours_cpu = min(r[2] for r in runs), min(r[3] for r in runs)
    print(f"fastest of {len(runs)} run(s) each:")
    print(f"raw sqlite3.executemany : {raw:7.2f} s  {n / raw:>10,.0f} rows/s  CPU {raw_cpu:.2f} s")
    print(
        f"convokit import (JSONL) : {ours:7.2f} s  {n / ours:>10,.0f} msg/s   CPU {ours_cpu:.2f} s"
    )
    print(f"ratio                   : {raw / ours:7.1%} of raw (target ≥ 60 %, ≥ 100k msg/s)")
    print(f"CPU ratio               : {raw_cpu / ours_cpu:7.1%} of raw")


def one_run(n: int, text: str, rows: list[tuple[object, ...]]) -> tuple[float, float, float, float]:
    """Raw executemany of the pre-built rows, then the convokit import of the text, each
    into a fresh database: wall and CPU seconds of both."""
    with tempfile.TemporaryDirectory() as tmp:
        # Baseline: the same rows, pre-built, one executemany in one transaction.
        path = fresh_db(tmp, "raw.db")
        con = sqlite3.connect(path, isolation_level=None)
        con.execute("PRAGMA synchronous = NORMAL")
        con.execute("PRAGMA cache_size = -65536")
        gc.collect()
        t0, c0 = time.perf_counter(), time.process_time()
        con.execute("BEGIN IMMEDIATE")
        con.executemany(_UPSERT_MESSAGE, rows)
        con.execute("COMMIT")
        raw, raw_cpu = time.perf_counter() - t0, time.process_time() - c0
        con.close()
        # convokit: parse + validate + write, streaming from the JSONL file. (Not from
        # io.StringIO(text): that copies the text into a buffer of four bytes a
        # character, 0.9 GB here, inside the timed call; its page faults alone took
        # 0.4-2.4 s of system time, varying with the machine's memory.)
        jsonl = os.path.join(tmp, "input.jsonl")
        with open(jsonl, "w", encoding="utf-8") as out:
            out.write(text)
        store = open_store(f"sqlite:///{tmp}/convokit.db")
        gc.collect()
        t0, c0 = time.perf_counter(), time.process_time()
        with ImportSource.of(jsonl).open_text() as stream:
            result = import_jsonl(store, stream)
        ours, ours_cpu = time.perf_counter() - t0, time.process_time() - c0
        assert result.counts["message"] == n, result.counts
        assert store.counts()["messages"] == n
        store.close()
    return raw, raw_cpu, ours, ours_cpu


if __name__ == "__main__":
    main()
