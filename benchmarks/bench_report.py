"""``convokit report --html`` on a generated store, against ``convokit check`` of the
same policy on the same store in the same run (the baseline).

Target (issue: reports people read): a 1M-message store reports in under 30 s, and the
page stays small enough to open comfortably.

    python benchmarks/bench_report.py [--conversations 100000]

Each command runs in its own subprocess; the fastest of ``--repeat`` runs counts.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench_check import build

CLI = [sys.executable, "-c", "import sys; from convokit_core._cli import main; sys.exit(main())"]
AS_OF = "2024-04-15T00:00:00Z"


def timed(args: list[str]) -> float:
    started = time.perf_counter()
    result = subprocess.run([*CLI, *args], capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if result.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(args)} failed:\n{result.stderr}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    from convokit_core.testing import DEMO_POLICY

    with tempfile.TemporaryDirectory(prefix="bench-report-") as tmp:
        db = os.path.join(tmp, "store.db")
        counts = build(db, args.conversations, args.seed)
        policy = Path(tmp) / "policy.toml"
        policy.write_text(DEMO_POLICY, encoding="utf-8")
        out = Path(tmp) / "report.html"
        store = ["--store", f"sqlite:///{db}", "-q"]
        check_args = [
            *store,
            "check",
            "--policy",
            str(policy),
            "--as-of",
            AS_OF,
            "--format",
            "json",
            "--fail-on",
            "never",
        ]
        report_args = [
            *store,
            "report",
            "--html",
            str(out),
            "--policy",
            str(policy),
            "--as-of",
            AS_OF,
        ]
        check_s = min(timed(check_args) for _ in range(args.repeat))
        report_s = min(timed(report_args) for _ in range(args.repeat))
        size = out.stat().st_size
    print(f"messages: {counts['messages']:,}  conversations: {args.conversations:,}")
    print(f"check --format json: {check_s:.1f} s (baseline)")
    print(f"report --html:       {report_s:.1f} s ({report_s / check_s:.2f}x check)  target < 30 s")
    print(f"page size:           {size / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
