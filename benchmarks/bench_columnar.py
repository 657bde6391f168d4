"""The columnar engine against the python engine and a hand-written pandas script, on the
generated support traffic of ``bench_check.py`` (DESIGN §9, issue 14).

Three commitment sets: ``first`` (one first_reply), ``turns`` (first-reply, next-reply,
max-silence) and ``five`` (all five of bench_check, whose pandas script is the baseline).
Each side runs in its own fresh subprocess on the same database (peak RSS is its own),
``--repeat`` times alternating, fastest run counted; all sides print their per-status
counts, which must be identical, and the two engines a digest of every finding.
Ratios are measured in the same run, so they hold on a loaded machine; CPU seconds are
printed too (a shared 2-core machine inflates wall time unevenly).

    python benchmarks/bench_columnar.py [--conversations 100000] [--keep all|failing]
        [--repeat 2] [--cli]

``--cli`` adds one first_reply commitment through ``convokit check`` end to end (table
and JSON output, each engine) against the pandas script, both as fresh processes; the
columnar engine runs twice, with every installed plugin loaded and with none ("core":
what the README's install has).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

import bench_check

STATUSES = bench_check.STATUSES
SETS = {
    "first": ("first-reply",),
    "turns": ("first-reply", "next-reply", "max-silence"),
    "five": ("first-reply", "next-reply", "max-silence", "complaints", "resolution"),
}


def commitments(which: str) -> list[object]:
    names = SETS[which]
    return [c for c in bench_check.commitments() if c.name in names]  # type: ignore[attr-defined]


def run_engine(path: str, engine: str, which: str, keep: str) -> dict[str, object]:
    from convokit_core import check, open_store

    store = open_store(f"sqlite:///{path}")
    only = None if keep == "all" else {"breached", "at_risk"}
    t0 = time.perf_counter()
    c0 = time.process_time()
    report = check(
        store,
        commitments(which),  # type: ignore[arg-type]
        as_of=bench_check.AS_OF,
        only=only,
        classifiers=[],
        engine=engine,
    )
    seconds = time.perf_counter() - t0
    cpu = time.process_time() - c0
    digest = hashlib.sha256()
    for _meta, platform, conversation, channel, outcome in report.findings.iter_raw():  # type: ignore[attr-defined]
        digest.update(repr((platform, conversation, channel, tuple(outcome))).encode())
    store.close()
    return {
        "seconds": seconds,
        "cpu": cpu,
        "kept": len(report.findings),
        "digest": digest.hexdigest(),
        "counts": {c.name: {s: c.counts.get(s, 0) for s in STATUSES} for c in report.commitments},
    }


def run_pandas(path: str, which: str) -> dict[str, object]:
    """bench_check's pandas script, cut down to the turn commitments of ``which``."""
    if which == "five":
        return bench_check.run_pandas(path)
    import numpy as np
    import pandas as pd

    t0 = time.perf_counter()
    c0 = time.process_time()
    as_of = int((bench_check.AS_OF - datetime(1970, 1, 1, tzinfo=UTC)) / timedelta(microseconds=1))
    con = sqlite3.connect(path)
    m = pd.read_sql_query(
        "SELECT conversation_id AS conv, id, sent_at AS at, direction, visibility, automated "
        "FROM messages WHERE sent_at <= ? ORDER BY platform, conversation_id, sent_at, id",
        con,
        params=(as_of,),
    )
    con.close()
    n_convs = m["conv"].nunique()
    is_s = (m["direction"] == "inbound") & (m["visibility"] != "note")
    is_r = (m["direction"] == "outbound") & (m["visibility"] != "note") & (m["automated"] == 0)
    m["kind"] = np.where(is_s, 0, np.where(is_r, 1, -1))
    m["pos"] = np.arange(len(m))
    ev = m[m["kind"] >= 0].sort_values(["conv", "at", "kind", "pos"], kind="stable")
    ev = ev.reset_index(drop=True)
    prev = ev.groupby("conv", sort=False)["kind"].shift(1)
    ev["turn_start"] = (ev["kind"] == 0) & (prev.isna() | (prev == 1))
    ev["turn"] = ev.groupby("conv", sort=False)["turn_start"].cumsum()
    starts = ev[ev["turn_start"]][["conv", "turn", "at", "id"]]
    stops = (
        ev[(ev["kind"] == 1) & (ev["turn"] > 0)]
        .groupby(["conv", "turn"], sort=False)["at"]
        .first()
        .rename("stop")
        .reset_index()
    )
    turns = starts.merge(stops, on=["conv", "turn"], how="left")

    def clock(start: pd.Series, stop: pd.Series, limit_s: int) -> pd.Series:
        limit = limit_s * 1_000_000
        stopped = stop.notna()
        end = stop.fillna(as_of).clip(lower=start)
        elapsed = end - start
        return pd.Series(
            np.where(
                stopped,
                np.where(elapsed <= limit, "met", "breached"),
                np.where(elapsed > limit, "breached", "pending"),
            ),
            index=start.index,
        )

    def counts(status: pd.Series, na: int) -> dict[str, int]:
        vc = status.value_counts()
        out = {s: int(vc.get(s, 0)) for s in STATUSES}
        out["not_applicable"] += na
        return out

    result: dict[str, dict[str, int]] = {}
    kept = 0
    names = SETS[which]
    first = turns[turns["turn"] == 1]
    result["first-reply"] = counts(
        clock(first["at"], first["stop"], bench_check.LIMITS["first-reply"]),
        n_convs - len(first),
    )
    kept += len(first)
    if "next-reply" in names:
        later = turns[turns["turn"] >= 2]
        result["next-reply"] = counts(
            clock(later["at"], later["stop"], bench_check.LIMITS["next-reply"]),
            n_convs - later["conv"].nunique(),
        )
        kept += len(later)
    if "max-silence" in names:
        result["max-silence"] = counts(
            clock(turns["at"], turns["stop"], bench_check.LIMITS["max-silence"]),
            n_convs - turns["conv"].nunique(),
        )
        kept += len(turns)
    return {
        "seconds": time.perf_counter() - t0,
        "cpu": time.process_time() - c0,
        "kept": kept,
        "counts": result,
    }


def child(args: argparse.Namespace) -> None:
    if args.child == "pandas":
        out = run_pandas(args.db, args.set)
    else:
        out = run_engine(args.db, args.child, args.set, args.keep)
    out["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))


def cli_run(
    db: str, engine: str, tmp: str, fmt: str, *, core_only: bool = False
) -> dict[str, float]:
    """``convokit check`` in a fresh process, end to end (start, imports, the check,
    the output written to a file). ``core_only``: no plugin distribution loaded
    (``CONVOKIT_LOAD_PLUGINS=""``), as after the README's ``pip install .``."""
    policy = Path(tmp) / "first.toml"
    policy.write_text(
        f'[[commitment]]\nname = "first-reply"\nrule = "first_reply"\n'
        f'within = "{bench_check.LIMITS["first-reply"]}s"\n'
    )
    out = Path(tmp) / f"{engine}{'-core' if core_only else ''}.{fmt}"
    cmd = [
        sys.executable,
        "-c",
        "import resource, sys; from convokit_core._cli import main\n"
        "try:\n main()\n"
        "except SystemExit:\n pass\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, file=sys.stderr)",
        "--store", f"sqlite:///{db}", "check", "--policy", str(policy),
        "--as-of", bench_check.AS_OF.isoformat(), "--format", fmt, "--engine", engine,
        "-o", str(out),
    ]  # fmt: skip
    env = {**os.environ, "CONVOKIT_LOAD_PLUGINS": ""} if core_only else None
    return _process(cmd, env) | {"bytes": out.stat().st_size}


def _process(cmd: list[str], env: dict[str, str] | None = None) -> dict[str, float]:
    """Wall and CPU seconds of a child process, start to exit, and its peak RSS."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode not in (0, 1):
        sys.exit(f"{cmd[:3]} failed:\n{proc.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    # the child's own peak: the CLI prints it last on stderr, the pandas child in its JSON
    lines = (proc.stderr.strip().splitlines() or ["0"])[-1].split()
    try:
        peak = float(lines[-1])
    except ValueError:
        peak = float("nan")
    return {"seconds": wall, "cpu": cpu, "peak_mb": peak, "stdout": proc.stdout}  # type: ignore[dict-item]


def cli_section(db: str, tmp: str, repeat: int) -> bool:
    """One first_reply commitment through the CLI (table and JSON output) against the
    pandas script, both as fresh processes (process start included on both sides)."""
    print("== first through the CLI, process start included (fastest of the repeats)")
    best: dict[str, dict[str, Any]] = {}

    def keep(name: str, run: dict[str, Any]) -> None:
        if name not in best or run["seconds"] < best[name]["seconds"]:
            best[name] = run

    pandas_cmd = [sys.executable, __file__, "--child", "pandas", "--db", db, "--set", "first"]
    for _ in range(repeat):
        for fmt in ("table", "json"):
            for engine in ("columnar", "python"):
                keep(f"{engine} {fmt}", cli_run(db, engine, tmp, fmt))
            keep(f"columnar {fmt} core", cli_run(db, "columnar", tmp, fmt, core_only=True))
        run = _process(pandas_cmd)
        inner = json.loads(str(run["stdout"]).strip().splitlines()[-1])
        run["peak_mb"] = inner["peak_mb"]
        keep("pandas", run | {"inner": inner["seconds"], "inner_cpu": inner["cpu"]})
    pandas = best["pandas"]
    print(
        f"  {'pandas':16s} {pandas['seconds']:6.2f}s wall {pandas['cpu']:6.2f}s cpu "
        f"(script alone {pandas['inner']:.2f}s wall {pandas['inner_cpu']:.2f}s cpu)  "
        f"peak {pandas['peak_mb']:5.0f} MB"
    )
    for name, r in best.items():
        if name == "pandas":
            continue
        print(
            f"  {name:16s} {r['seconds']:6.2f}s wall {r['cpu']:6.2f}s cpu  "
            f"peak {r['peak_mb']:5.0f} MB  {int(r['bytes']):,} bytes; /pandas process "
            f"{r['seconds'] / pandas['seconds']:.2f}x wall, {r['cpu'] / pandas['cpu']:.2f}x cpu; "
            f"/pandas script {r['seconds'] / pandas['inner']:.2f}x wall"
        )
    same = all(
        (Path(tmp) / f"{name}.{fmt}").read_bytes() == (Path(tmp) / f"python.{fmt}").read_bytes()
        for fmt in ("table", "json")
        for name in ("columnar", "columnar-core")
    )
    print(f"  outputs byte-identical between the engines: {same}")
    return same


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", choices=("all", "failing"), default="all")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--db", help="reuse a database built by an earlier run")
    parser.add_argument("--cli", action="store_true")
    parser.add_argument("--child", choices=("columnar", "python", "pandas"))
    parser.add_argument("--set", choices=tuple(SETS), default="turns")
    parser.add_argument("--sets", default=",".join(SETS), help="comma-separated sets to run")
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    with tempfile.TemporaryDirectory() as tmp:
        db = args.db or os.path.join(tmp, "bench.db")
        if not args.db:
            t0 = time.perf_counter()
            sizes = bench_check.build(db, args.conversations, args.seed)
            print(
                f"generated {sizes['messages']:,} messages in {sizes['conversations']:,} "
                f"conversations in {time.perf_counter() - t0:.1f}s"
            )
        failed = False
        for which in args.sets.split(","):
            results: dict[str, dict[str, object]] = {}
            for _ in range(args.repeat):
                for side in ("columnar", "python", "pandas"):
                    cmd = [
                        sys.executable, __file__, "--child", side, "--db", db,
                        "--set", which, "--keep", args.keep,
                    ]  # fmt: skip
                    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
                    if proc.returncode != 0:
                        sys.exit(f"{side} failed:\n{proc.stderr}")
                    run = json.loads(proc.stdout.strip().splitlines()[-1])
                    best = results.get(side)
                    if best is None or run["seconds"] < best["seconds"]:  # type: ignore[operator]
                        results[side] = run
            print(f"== {which}: {', '.join(SETS[which])} (keep {args.keep})")
            for side, r in results.items():
                print(
                    f"  {side:9s} {r['seconds']:7.2f}s wall {r['cpu']:7.2f}s cpu  "
                    f"peak {r['peak_mb']:6.0f} MB  kept {r['kept']:,}"
                )
            col, py, pd_ = results["columnar"], results["python"], results["pandas"]
            for other, r in (("python", py), ("pandas", pd_)):
                print(
                    f"  columnar/{other}: {col['seconds'] / r['seconds']:.2f}x wall, "  # type: ignore[operator]
                    f"{col['cpu'] / r['cpu']:.2f}x cpu"  # type: ignore[operator]
                )
            same = col["counts"] == py["counts"] == pd_["counts"]
            identical = col["digest"] == py["digest"]
            print(f"  counts identical: {same}; findings identical (engines): {identical}")
            failed = failed or not (same and identical)
        if args.cli:
            failed = not cli_section(db, tmp, args.repeat) or failed
        if failed:
            sys.exit(1)


if __name__ == "__main__":
    main()
