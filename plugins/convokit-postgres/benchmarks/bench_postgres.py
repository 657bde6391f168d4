"""PostgreSQL next to SQLite in the same run: import, streaming read and ``check``.

Generates support traffic in the JSONL interchange format (default 1M messages in
about 100k conversations), then for each store — a fresh SQLite file and a fresh
PostgreSQL database created (and dropped) for the run —

1. imports it with the same code as ``convokit import`` (parse, validate, write in one
   transaction);
2. streams every conversation back (``iter_conversations``), the input of ``check``;
3. runs ``convokit check`` with five built-in commitments in a subprocess of its own
   (so its peak RSS is its own) and checks both stores gave the same finding counts.

For scale, PostgreSQL's own speed is measured too: ``COPY`` of the same rows, already
built, into a fresh ``messages`` table.

    python plugins/convokit-postgres/benchmarks/bench_postgres.py \
        [--messages 1000000] [--admin-url postgresql://postgres@127.0.0.1:5432/postgres] \
        [--skip-check]

A script, not a timed test: numbers depend on the machine; the ratios are what to read.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg import sql

from convokit_core import open_store
from convokit_core._io._jsonl import import_jsonl
from convokit_core._storage._common import redact_url

POLICY = """
[[commitment]]
name = "first-reply"
promise = "Every customer hears back within an hour."
rule = "first_reply"
within = "1h"

[[commitment]]
name = "next-reply"
promise = "Every follow-up is answered within four hours."
rule = "next_reply"
within = "4h"

[[commitment]]
name = "max-silence"
promise = "Nobody waits longer than two hours."
rule = "max_silence"
window = "2h"

[[commitment]]
name = "complaints"
promise = "Complaints are acknowledged within 30 minutes and resolved within two days."
rule = "follow_up"
tags = ["complaint"]
acknowledge_within = "30m"
resolve_within = "2d"

[[commitment]]
name = "resolution"
promise = "Conversations are resolved within three days."
rule = "resolution_within"
duration = "3d"
"""
AS_OF = "2025-01-15T00:00:00Z"

# The child reports its own peak RSS: VmHWM, which starts afresh at exec (ru_maxrss on
# Linux would include the benchmark process's memory, inherited through fork).
CHILD = textwrap.dedent(
    """
    import resource, sys, time
    from convokit_core._cli import cli

    def peak_kb():
        try:
            with open("/proc/self/status") as status:
                for line in status:
                    if line.startswith("VmHWM:"):
                        return int(line.split()[1])
        except OSError:
            pass
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    start = time.perf_counter()
    try:
        cli.main(args=sys.argv[1:], prog_name="convokit", standalone_mode=False)
    finally:
        print(f"{time.perf_counter() - start:.3f} {peak_kb()}", file=sys.stderr)
    """
)


def generate(n: int, path: str, seed: int = 7) -> int:
    """Write ``n`` messages (plus a conversation record for every fifth conversation and
    a status history for every tenth) as JSONL to ``path``; return the conversations."""
    rng = random.Random(seed)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    conv = 0
    i = 0
    with open(path, "w", encoding="utf-8") as out:
        while i < n:
            conv += 1
            t = start + timedelta(seconds=rng.randrange(0, 365 * 86400))
            if conv % 5 == 0:
                record = {
                    "type": "conversation",
                    "id": str(conv),
                    "platform": "twitter",
                    "channel": "acme",
                    "stakeholder": f"u{conv}",
                    "owner": "kc",
                    "status": "open",
                }
                out.write(dumps(record) + "\n")
            if conv % 10 == 0:
                for status, hours in (("pending", 2), ("resolved", 30)):
                    change = {
                        "type": "status",
                        "platform": "twitter",
                        "conversation": str(conv),
                        "status": status,
                        "at": (t + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    }
                    out.write(dumps(change) + "\n")
            for turn in range(min(rng.randint(1, 19), n - i)):
                t += timedelta(seconds=rng.randrange(30, 36000))
                inbound = turn % 2 == 0
                obj: dict[str, Any] = {
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
                    "tags": ["complaint"] if inbound and rng.random() < 0.1 else [],
                }
                if turn:
                    obj["in_reply_to"] = str(10_000_000 + i - 1)
                out.write(dumps(obj) + "\n")
                i += 1
    return conv


def timed_import(url: str, path: str, n: int) -> float:
    store = open_store(url)
    try:
        gc.collect()
        t0 = time.perf_counter()
        with open(path, encoding="utf-8") as stream:
            result = import_jsonl(store, stream)
        elapsed = time.perf_counter() - t0
        assert result.counts["message"] == n, result.counts
        assert store.counts()["messages"] == n
    finally:
        store.close()
    return elapsed


def timed_stream(url: str) -> tuple[float, int, int]:
    store = open_store(url)
    try:
        gc.collect()
        t0 = time.perf_counter()
        conversations = messages = 0
        for conversation in store.iter_conversations():
            conversations += 1
            messages += len(conversation.messages)
        return time.perf_counter() - t0, conversations, messages
    finally:
        store.close()


def timed_check(url: str, policy: str, out: str) -> tuple[float, int, dict[str, Any]]:
    """Run ``convokit check`` in a child process: (seconds, peak RSS in kB, counts)."""
    args = [
        "--store",
        url,
        "check",
        "--policy",
        policy,
        "--as-of",
        AS_OF,
        "--format",
        "json",
        "--fail-on",
        "never",
        "--only",
        "breached,at_risk",
        "--output",
        out,
    ]
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, *args], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise SystemExit(f"convokit check failed on {redact_url(url)}:\n{proc.stderr}")
    seconds, rss = proc.stderr.strip().splitlines()[-1].split()
    with open(out, encoding="utf-8") as handle:
        report = json.load(handle)
    counts = {c["name"]: c["counts"] for c in report["commitments"]}
    return float(seconds), int(rss), counts


def raw_copy(url: str, path: str) -> float:
    """PostgreSQL's own bulk-load speed: ``COPY`` of pre-built rows into a fresh
    ``messages`` table with its primary key (no parsing, no upsert)."""
    from convokit_core._io._records import parse_message
    from convokit_postgres._store import _MESSAGES, _message_row

    with open(path, encoding="utf-8") as stream:
        rows = [
            _message_row(parse_message(obj))
            for obj in map(json.loads, stream)
            if obj.get("type", "message") == "message"
        ]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE raw_messages (LIKE messages INCLUDING ALL)")
        gc.collect()
        t0 = time.perf_counter()
        with conn.transaction(), conn.cursor() as cur:
            columns = sql.SQL(", ").join(map(sql.Identifier, _MESSAGES.columns))
            copy_sql = sql.SQL("COPY raw_messages ({}) FROM STDIN (FORMAT BINARY)").format(columns)
            with cur.copy(copy_sql) as copy:
                copy.set_types(list(_MESSAGES.types))
                for row in rows:
                    copy.write_row(row)
        elapsed = time.perf_counter() - t0
        conn.execute("DROP TABLE raw_messages")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument(
        "--admin-url",
        default=os.environ.get("CONVOKIT_TEST_POSTGRES_URL")
        or "postgresql://postgres@127.0.0.1:5432/postgres",
        help="a URL allowed to CREATE DATABASE (default: $CONVOKIT_TEST_POSTGRES_URL or "
        "the local server)",
    )
    parser.add_argument("--skip-check", action="store_true", help="import and read only")
    args = parser.parse_args()
    n = args.messages
    database = f"convokit_bench_{uuid.uuid4().hex[:10]}"
    admin = args.admin_url
    pg_url = admin.rsplit("/", 1)[0] + "/" + database
    with tempfile.TemporaryDirectory() as tmp, psycopg.connect(admin, autocommit=True) as conn:
        data = os.path.join(tmp, "data.jsonl")
        t0 = time.perf_counter()
        conversations = generate(n, data)
        print(
            f"generated {n:,} messages in {conversations:,} conversations "
            f"({os.path.getsize(data) / 1e6:,.0f} MB JSONL) in {time.perf_counter() - t0:.1f} s"
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
        try:
            sqlite_url = f"sqlite:///{tmp}/bench.db"
            results: dict[str, dict[str, Any]] = {}
            for label, url in (("sqlite", sqlite_url), ("postgres", pg_url)):
                row: dict[str, Any] = {"import": timed_import(url, data, n)}
                row["stream"], convs, msgs = timed_stream(url)
                assert msgs == n, (label, msgs)
                row["conversations"] = convs
                if not args.skip_check:
                    policy = os.path.join(tmp, "policy.toml")
                    with open(policy, "w", encoding="utf-8") as handle:
                        handle.write(POLICY)
                    out = os.path.join(tmp, f"{label}.json")
                    row["check"], row["rss"], row["counts"] = timed_check(url, policy, out)
                results[label] = row
            copy_seconds = raw_copy(pg_url, data)
        finally:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database))
            )
    lite, pg = results["sqlite"], results["postgres"]
    assert lite["conversations"] == pg["conversations"]
    print(f"{'':26}{'SQLite':>22}{'PostgreSQL':>22}{'PG/SQLite':>12}")
    print(
        f"{'import (JSONL, 1 tx)':26}"
        f"{lite['import']:8.2f} s {n / lite['import']:>9,.0f}/s"
        f"{pg['import']:8.2f} s {n / pg['import']:>9,.0f}/s"
        f"{lite['import'] / pg['import']:>12.2f}"
    )
    print(
        f"{'stream conversations':26}"
        f"{lite['stream']:8.2f} s {n / lite['stream']:>9,.0f}/s"
        f"{pg['stream']:8.2f} s {n / pg['stream']:>9,.0f}/s"
        f"{lite['stream'] / pg['stream']:>12.2f}"
    )
    if not args.skip_check:
        print(
            f"{'check (5 commitments)':26}"
            f"{lite['check']:8.2f} s {lite['rss'] / 1024:>7,.0f} MB"
            f"{pg['check']:8.2f} s {pg['rss'] / 1024:>7,.0f} MB"
            f"{lite['check'] / pg['check']:>12.2f}"
        )
        same = lite["counts"] == pg["counts"]
        print(f"check findings identical on both stores: {same}")
        if not same:
            print(json.dumps({"sqlite": lite["counts"], "postgres": pg["counts"]}, indent=1))
            raise SystemExit(1)
    print(
        f"{'raw PostgreSQL COPY':26}{'':22}{copy_seconds:8.2f} s {n / copy_seconds:>9,.0f}/s"
        f"   (pre-built rows, no parsing or upsert)"
    )
    print(f"PostgreSQL: {redact_url(admin)} (database {database}, dropped)")


if __name__ == "__main__":
    main()
