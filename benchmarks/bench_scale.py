"""The columnar engine at growing sizes: time linear in messages, memory flat (issue 14).

Builds ``bench_check``'s support traffic at each size (``--sizes`` conversations, about
ten messages each), then runs ``check`` with bench_check's five commitments in a fresh
process per size, keeping every finding (they spill to disk), and prints seconds, CPU
seconds, peak RSS and seconds per million messages.

    python benchmarks/bench_scale.py [--sizes 100000,1000000] [--dir DIR] [--engine columnar]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import bench_check


def child(db: str, engine: str, keep: str, prefetch: bool) -> None:
    from convokit_core import check, open_store
    from convokit_core._columnar import _engine

    _engine.PREFETCH = prefetch

    store = open_store(f"sqlite:///{db}")
    t0, c0 = time.perf_counter(), time.process_time()
    report = check(
        store,
        bench_check.commitments(),  # type: ignore[arg-type]
        as_of=bench_check.AS_OF,
        only=None if keep == "all" else {"breached", "at_risk"},
        classifiers=[],
        engine=engine,
    )
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    total = sum(c.total for c in report.commitments)
    print(
        json.dumps(
            {
                "seconds": seconds,
                "cpu": cpu,
                "kept": len(report.findings),
                "total": total,
                "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--dir", default=".")
    parser.add_argument("--engine", default="columnar")
    parser.add_argument("--keep", choices=("all", "failing"), default="all")
    parser.add_argument("--child")
    parser.add_argument(
        "--no-prefetch", action="store_true", help="columnar: read on the evaluating thread"
    )
    args = parser.parse_args()
    if args.child:
        child(args.child, args.engine, args.keep, not args.no_prefetch)
        return
    for size in (int(s) for s in args.sizes.split(",")):
        db = os.path.join(args.dir, f"scale-{size}.db")
        if not os.path.exists(db):
            t0 = time.perf_counter()
            built = bench_check.build(db, size, 1)
            print(f"built {built['messages']:,} messages in {time.perf_counter() - t0:.0f}s")
        messages = sqlite_count(db)
        cmd = [
            sys.executable,
            __file__,
            "--child",
            db,
            "--engine",
            args.engine,
            "--keep",
            args.keep,
        ]
        if args.no_prefetch:
            cmd.append("--no-prefetch")
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode:
            sys.exit(proc.stderr)
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        print(
            f"{args.engine}{' (no prefetch)' if args.no_prefetch else ''} {messages:>11,} "
            f"messages {size:>9,} conversations: "
            f"{r['seconds']:7.1f}s wall {r['cpu']:7.1f}s cpu  peak {r['peak_mb']:5.0f} MB  "
            f"{r['seconds'] / messages * 1e6:5.2f}s per 1M messages  "
            f"findings {r['total']:,} (kept {r['kept']:,})  load {os.getloadavg()[0]:.1f}"
        )


def sqlite_count(db: str) -> int:
    import sqlite3

    con = sqlite3.connect(db)
    try:
        return int(con.execute("SELECT count(*) FROM messages").fetchone()[0])
    finally:
        con.close()


if __name__ == "__main__":
    main()
