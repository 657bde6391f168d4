"""``check`` with five commitments over generated support traffic in SQLite, against a
hand-written pandas script computing the same findings (DESIGN §9).

Target (issue 14): at most 0.3 times the pandas script, peak RSS ≤ 300 MB, at 1M messages / 100k
conversations; convokit runs with ``--engine`` (default auto: the columnar engine here).
Each side runs in its own fresh subprocess on the same database (so peak RSS is its own);
both print their per-status counts, which must be identical.

    python benchmarks/bench_check.py [--conversations 100000] [--keep all|failing]

Each side runs ``--repeat`` times (alternating, default 2) and its fastest run counts, so
a burst of load on a shared machine does not decide the ratio.

``--keep failing`` keeps only breached/at-risk findings in the report (what a CI job
asks for with ``--only breached,at_risk``); ``all`` keeps every finding object.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta

AS_OF = datetime(2024, 4, 15, tzinfo=UTC)
LIMITS = {
    "first-reply": 3600,
    "next-reply": 4 * 3600,
    "max-silence": 2 * 3600,
    "complaint-ack": 1800,
    "complaint-resolve": 2 * 86400,
    "resolution": 3 * 86400,
}
STATUSES = ("breached", "at_risk", "pending", "paused", "met", "not_applicable")


def build(path: str, conversations: int, seed: int) -> dict[str, int]:
    from convokit_core import open_store
    from convokit_core.testing._generate import HistorySpec, _team, generate_rows

    store = open_store(f"sqlite:///{path}")
    store.close()
    spec = HistorySpec(conversations=conversations, seed=seed)
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode = WAL")
    con.execute("PRAGMA synchronous = OFF")
    n_msg = 0
    msgs: list[tuple[object, ...]] = []
    convs: list[tuple[object, ...]] = []
    stats: list[tuple[object, ...]] = []

    def flush() -> None:
        con.executemany("INSERT INTO messages VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", msgs)
        con.executemany("INSERT INTO conversations VALUES (?,?,?,?,?,?,?)", convs)
        con.executemany("INSERT OR IGNORE INTO status_changes VALUES (?,?,?,?)", stats)
        msgs.clear()
        convs.clear()
        stats.clear()

    con.execute("BEGIN")
    for g in generate_rows(spec):
        msgs.extend(g.messages)
        convs.append(g.conversation)
        stats.extend(g.status_changes)
        n_msg += len(g.messages)
        if len(msgs) > 50_000:
            flush()
    flush()
    for m in _team(spec):
        con.execute(
            "INSERT INTO team_members VALUES (?,?,?,?,?)",
            (m.id, m.name, json.dumps(m.handles), None, None),
        )
    con.execute("COMMIT")
    con.close()
    return {"messages": n_msg, "conversations": conversations}


def commitments() -> list[object]:
    from convokit_core._policy._evaluate import Commitment
    from convokit_core._policy._rules import (
        first_reply,
        follow_up,
        max_silence,
        next_reply,
        resolution_within,
    )

    return [
        Commitment(name="first-reply", rule=first_reply(LIMITS["first-reply"])),
        Commitment(name="next-reply", rule=next_reply(LIMITS["next-reply"])),
        Commitment(name="max-silence", rule=max_silence(LIMITS["max-silence"])),
        Commitment(
            name="complaints",
            rule=follow_up(
                ["complaint"],
                acknowledge_within=LIMITS["complaint-ack"],
                resolve_within=LIMITS["complaint-resolve"],
            ),
        ),
        Commitment(name="resolution", rule=resolution_within(LIMITS["resolution"])),
    ]


def run_convokit(path: str, keep: str, engine: str = "auto") -> dict[str, object]:
    from convokit_core import check, open_store

    store = open_store(f"sqlite:///{path}")
    only = None if keep == "all" else {"breached", "at_risk"}
    t0 = time.perf_counter()
    c0 = time.process_time()
    report = check(
        store,
        commitments(),  # type: ignore[arg-type]
        as_of=AS_OF,
        only=only,
        classifiers=[],
        engine=engine,
    )
    seconds = time.perf_counter() - t0
    cpu = time.process_time() - c0
    store.close()
    return {
        "seconds": seconds,
        "cpu": cpu,
        "kept": len(report.findings),
        "counts": {c.name: {s: c.counts.get(s, 0) for s in STATUSES} for c in report.commitments},
    }


def run_pandas(path: str) -> dict[str, object]:
    import numpy as np
    import pandas as pd

    t0 = time.perf_counter()
    c0 = time.process_time()
    as_of = int((AS_OF - datetime(1970, 1, 1, tzinfo=UTC)) / timedelta(microseconds=1))
    con = sqlite3.connect(path)
    m = pd.read_sql_query(
        "SELECT conversation_id AS conv, id, sent_at AS at, direction, visibility, automated, "
        "tags FROM messages WHERE sent_at <= ? ORDER BY platform, conversation_id, sent_at, id",
        con,
        params=(as_of,),
    )
    convs = pd.read_sql_query("SELECT id AS conv, status, tags FROM conversations", con)
    sc = pd.read_sql_query(
        "SELECT conversation_id AS conv, at, status FROM status_changes WHERE at <= ? "
        "ORDER BY conversation_id, at, status",
        con,
        params=(as_of,),
    )
    con.close()
    all_convs = m["conv"].unique()
    n_convs = len(all_convs)
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
    findings: dict[str, pd.DataFrame] = {}
    first = turns[turns["turn"] == 1]
    first_status = clock(first["at"], first["stop"], LIMITS["first-reply"])
    result["first-reply"] = counts(first_status, n_convs - len(first))
    findings["first-reply"] = first.assign(status=first_status)
    later = turns[turns["turn"] >= 2]
    later_status = clock(later["at"], later["stop"], LIMITS["next-reply"])
    with_later = later["conv"].nunique()
    result["next-reply"] = counts(later_status, n_convs - with_later)
    findings["next-reply"] = later.assign(status=later_status)
    all_status = clock(turns["at"], turns["stop"], LIMITS["max-silence"])
    result["max-silence"] = counts(all_status, n_convs - turns["conv"].nunique())
    findings["max-silence"] = turns.assign(status=all_status)

    # resolution instants: status current at t in resolved/closed, else next change to it
    resolved = {"resolved", "closed"}
    sc = sc.sort_values(["at"], kind="stable")
    no_hist = convs[~convs["conv"].isin(sc["conv"]) & (convs["status"] != "open")]
    if len(no_hist):
        last_at = m.groupby("conv", sort=False)["at"].max()
        extra = pd.DataFrame(
            {
                "conv": no_hist["conv"],
                "at": no_hist["conv"].map(last_at),
                "status": no_hist["status"],
            }
        ).dropna()
        sc = pd.concat([sc, extra.astype({"at": "int64"})]).sort_values("at", kind="stable")

    def resolution_at(points: pd.DataFrame) -> pd.Series:
        """points: conv, at → first instant >= at when the status is resolved/closed."""
        p = points[["conv", "at"]].copy()
        p["_i"] = np.arange(len(p))
        p = p.sort_values("at", kind="stable")
        cur = pd.merge_asof(p, sc, on="at", by="conv", direction="backward")
        res = sc[sc["status"].isin(resolved)].rename(columns={"at": "res_at"})
        res["at"] = res["res_at"]
        nxt = pd.merge_asof(
            p, res[["conv", "at", "res_at"]], on="at", by="conv", direction="forward"
        )
        out = np.where(
            cur["status"].isin(resolved).to_numpy(), p["at"].to_numpy(), nxt["res_at"].to_numpy()
        )
        series = pd.Series(out, index=p["_i"].to_numpy()).sort_index()
        return pd.Series(series.to_numpy(), index=points.index)

    # follow_up: tagged stakeholder messages (message tags, or conversation tag → first one)
    ev_s = ev[ev["kind"] == 0]
    tagged_msg = ev_s["tags"].fillna("").str.contains('"complaint"', regex=False)
    conv_tagged = set(
        convs.loc[convs["tags"].fillna("").str.contains('"complaint"', regex=False), "conv"]
    )
    first_s = ~ev_s.duplicated("conv")
    tagged = ev_s[tagged_msg | (first_s & ev_s["conv"].isin(conv_tagged))]
    r_at = pd.Series(np.where(ev["kind"] == 1, ev["at"], np.nan), index=ev.index)
    next_r = r_at.groupby(ev["conv"], sort=False).bfill()
    ack_stop = next_r.loc[tagged.index]
    ack = clock(tagged["at"], ack_stop, LIMITS["complaint-ack"])
    res_stop = resolution_at(tagged)
    res = clock(tagged["at"], res_stop, LIMITS["complaint-resolve"])
    rank = {"breached": 0, "at_risk": 1, "pending": 2, "paused": 3, "met": 4}
    ack_rank = ack.map(rank)
    res_rank = res.map(rank)
    fu = pd.Series(np.where(res_rank < ack_rank, res, ack), index=tagged.index)
    result["complaints"] = counts(fu, n_convs - tagged["conv"].nunique())
    findings["complaints"] = tagged.assign(status=fu)

    first_msg = ev_s[first_s]
    stop = resolution_at(first_msg)
    rs = clock(first_msg["at"], stop, LIMITS["resolution"])
    result["resolution"] = counts(rs, n_convs - len(first_msg))
    findings["resolution"] = first_msg.assign(status=rs)
    seconds = time.perf_counter() - t0
    cpu = time.process_time() - c0
    return {
        "seconds": seconds,
        "cpu": cpu,
        "kept": int(sum(len(f) for f in findings.values())),
        "counts": result,
    }


def child(args: argparse.Namespace) -> None:
    if args.child == "convokit":
        out = run_convokit(args.db, args.keep, args.engine)
    else:
        out = run_pandas(args.db)
    out["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", choices=("all", "failing"), default="all")
    parser.add_argument(
        "--repeat", type=int, default=2, help="runs per side, alternating; the fastest counts"
    )
    parser.add_argument("--child", choices=("convokit", "pandas"))
    parser.add_argument(
        "--engine", default="auto", help="convokit's engine (auto picks columnar here)"
    )
    parser.add_argument("--db")
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    with tempfile.TemporaryDirectory() as tmp:
        db = os.path.join(tmp, "bench.db")
        t0 = time.perf_counter()
        sizes = build(db, args.conversations, args.seed)
        print(
            f"generated {sizes['messages']:,} messages in {sizes['conversations']:,} "
            f"conversations in {time.perf_counter() - t0:.1f}s"
        )
        results: dict[str, dict[str, object]] = {}
        for _ in range(args.repeat):
            for side in ("convokit", "pandas"):
                cmd = [
                    sys.executable, __file__, "--child", side, "--db", db, "--keep", args.keep,
                    "--engine", args.engine,
                ]  # fmt: skip
                proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
                if proc.returncode != 0:
                    sys.exit(f"{side} failed:\n{proc.stderr}")
                run = json.loads(proc.stdout.strip().splitlines()[-1])
                best = results.get(side)
                if best is None or run["seconds"] < best["seconds"]:  # type: ignore[operator]
                    results[side] = run
        ours, theirs = results["convokit"], results["pandas"]
        for side, r in results.items():
            print(
                f"{side:9s} {r['seconds']:7.2f}s wall {r['cpu']:7.2f}s cpu  "
                f"peak {r['peak_mb']:6.0f} MB  findings kept {r['kept']:,}"
            )
        print(
            f"ratio pandas/convokit: {theirs['seconds'] / ours['seconds']:.2f}x wall, "
            f"{theirs['cpu'] / ours['cpu']:.2f}x cpu"
        )
        same = ours["counts"] == theirs["counts"]
        print("counts identical:", same)
        for name, counts in ours["counts"].items():
            print(f"  {name:12s} {counts}")
            if not same and counts != theirs["counts"].get(name):
                print(f"  {'(pandas)':12s} {theirs['counts'].get(name)}")
        if not same:
            sys.exit(1)


if __name__ == "__main__":
    main()
