"""The Spark engine against the local engine on generated support traffic.

    python bench_spark.py build --conversations 100000 DIR   # DIR/store.db + DIR/dataset
    python bench_spark.py local DIR                            # local check, JSON to DIR
    python bench_spark.py spark DIR --master local[2]          # Spark check, JSON to DIR

The data is ``benchmarks/bench_check.py``'s (about ten messages a conversation: 100k
conversations are about 1M messages), the policy is ``convokit_core.testing.DEMO_POLICY``
plus the bench's five commitments. Each run prints one JSON line with its timings.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))

AS_OF = datetime(2024, 4, 15, tzinfo=UTC)

POLICY = """
[[commitment]]
name = "first-reply"
rule = "first_reply"
within = "1h"

[[commitment]]
name = "next-reply"
rule = "next_reply"
within = "4h"

[[commitment]]
name = "complaints"
rule = "follow_up"
tags = ["complaint"]
acknowledge_within = "30m"
resolve_within = "2d"

[[commitment]]
name = "resolution"
rule = "resolution_within"
duration = "3d"
"""


def policy_file(directory: Path) -> Path:
    from convokit_core.testing import DEMO_POLICY

    path = directory / "policy.toml"
    path.write_text(DEMO_POLICY + POLICY, encoding="utf-8")
    return path


def build(directory: Path, conversations: int) -> None:
    import sqlite3

    from bench_check import build as build_store  # type: ignore[import-not-found]
    from sqlite_dataset import export_sqlite  # type: ignore[import-not-found]

    directory.mkdir(parents=True, exist_ok=True)
    db = directory / "store.db"
    t0 = time.perf_counter()
    info = build_store(str(db), conversations, seed=1)
    con = sqlite3.connect(db)
    for c in ("acme", "acme_help", "acme_billing", "acme_quiet"):
        con.execute(
            "INSERT OR IGNORE INTO channels VALUES (?,?,?,?,?)",
            ("twitter", c, c, 1_600_000_000_000_000, None),
        )
    con.commit()
    con.close()
    t1 = time.perf_counter()
    export_sqlite(db, directory / "dataset")
    t2 = time.perf_counter()
    policy_file(directory)
    print(json.dumps({"build": round(t1 - t0, 1), "export": round(t2 - t1, 1), **info}))


def run_local(directory: Path) -> None:
    from convokit_core import open_store
    from convokit_core._policy._policyfile import load_policy
    from convokit_core._policy._run import check
    from convokit_core._report._reporters import render_json

    policy = load_policy(directory / "policy.toml")
    store = open_store(f"sqlite:///{directory / 'store.db'}")
    t0 = time.perf_counter()
    report = check(store, policy, as_of=AS_OF, engine="python", classifiers=[])
    t1 = time.perf_counter()
    with open(directory / "local.json", "w", encoding="utf-8") as out:
        render_json(report, out)
    store.close()
    print(
        json.dumps(
            {"engine": "python", "check": round(t1 - t0, 1), "findings": len(report.findings)}
        )
    )


def run_spark(directory: Path, master: str, partitions: int, write_json: bool) -> None:
    import attrs
    from convokit_spark import check_spark, spark_session

    from convokit_core._policy._policyfile import load_policy
    from convokit_core._report._reporters import render_json

    policy = load_policy(directory / "policy.toml")
    t0 = time.perf_counter()
    spark = spark_session(master=master, shuffle_partitions=partitions)
    t1 = time.perf_counter()
    result = check_spark(spark, str(directory / "dataset"), policy, as_of=AS_OF, classifiers=[])
    report = result.report()
    t2 = time.perf_counter()
    report = attrs.evolve(report, store=f"sqlite:///{directory / 'store.db'}")
    if write_json:
        with open(directory / f"spark-{master}.json", "w", encoding="utf-8") as out:
            render_json(report, out)
    print(
        json.dumps(
            {
                "engine": "spark",
                "master": master,
                "partitions": partitions,
                "session": round(t1 - t0, 1),
                "check": round(t2 - t1, 1),
                "findings": len(report.findings),
                "conversations": result.conversations,
                "report": result.timings,
            }
        )
    )
    spark.stop()


def run_breakdown(directory: Path, master: str, partitions: int) -> None:
    """Where the time goes: Spark alone (read, shuffle, sort, an identity mapInArrow),
    stage 1 alone (the policy without its channel-level rule), then the whole policy."""
    import pyarrow as pa
    from convokit_spark import check_spark, spark_session
    from convokit_spark._check import _SORT, _row_stream

    from convokit_core._policy._policyfile import load_policy

    policy = load_policy(directory / "policy.toml")
    spark = spark_session(master=master, shuffle_partitions=partitions)
    dataset = str(directory / "dataset")
    as_of_us = int(AS_OF.timestamp() * 1_000_000)
    out: dict[str, object] = {"master": master, "partitions": partitions}
    for name, text in (("scan, shuffle, sort (no Python)", False), ("+ Arrow to Python", True)):
        stream = _row_stream(spark, dataset, as_of_us, with_tags=True, with_text=False)
        df = stream.repartition(partitions, "platform", "conversation_id").sortWithinPartitions(
            *_SORT
        )
        if text:

            def count(batches: object) -> object:
                n = 0
                for b in batches:  # type: ignore[attr-defined]
                    n += len(b.column(0).to_pylist())
                yield pa.RecordBatch.from_pylist([{"n": n}])

            df = df.mapInArrow(count, "n bigint")
        t0 = time.perf_counter()
        df.count() if not text else df.collect()
        out[name] = round(time.perf_counter() - t0, 1)
    conv_only = [c for c in policy.commitments if c.rule.level != "channel"]
    for name, commitments in (("stage 1 only", conv_only), ("both stages", policy.commitments)):
        t0 = time.perf_counter()
        result = check_spark(
            spark, dataset, commitments, as_of=AS_OF, classifiers=[], partitions=partitions
        )
        result.report()
        out[name] = round(time.perf_counter() - t0, 1)
        out[name + " (report)"] = result.timings
        result.outcomes.unpersist()
    print(json.dumps(out))
    spark.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("what", choices=["build", "local", "spark", "breakdown"])
    parser.add_argument("dir", type=Path)
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--master", default=os.environ.get("SPARK_MASTER", "local[2]"))
    parser.add_argument("--partitions", type=int, default=8)
    parser.add_argument("--no-json", action="store_true", help="do not write the JSON report")
    args = parser.parse_args()
    if args.what == "build":
        build(args.dir, args.conversations)
    elif args.what == "local":
        run_local(args.dir)
    elif args.what == "breakdown":
        run_breakdown(args.dir, args.master, args.partitions)
    else:
        run_spark(args.dir, args.master, args.partitions, not args.no_json)


if __name__ == "__main__":
    main()
