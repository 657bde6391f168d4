"""Several processes writing one database: nothing lost, nothing duplicated, and never
two writers on one source at a time."""

from __future__ import annotations

import itertools
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

from _pg_support import with_params

from convokit_postgres import PostgresStore

WORKER = Path(__file__).parent / "_pg_worker.py"
WORKERS = 4


def _run_all(commands: list[list[str]], timeout: float = 60) -> list[str]:
    procs = [
        subprocess.Popen(
            [sys.executable, str(WORKER), *cmd],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for cmd in commands
    ]
    outputs = []
    for proc in procs:
        out, err = proc.communicate(timeout=timeout)
        assert proc.returncode == 0, err
        outputs.append(out.strip())
    return outputs


def test_four_processes_syncing_different_sources_lose_and_duplicate_nothing(
    pg_url: str,
) -> None:
    pages, per_page = 12, 300  # 300 rows per page take the COPY path
    PostgresStore(pg_url).close()  # migrate first, so the workers race on data only
    outputs = _run_all(
        [["sync", pg_url, str(w), str(pages), str(per_page)] for w in range(WORKERS)]
    )
    assert outputs == ["done"] * WORKERS
    with PostgresStore(pg_url) as store:
        counts = store.counts()
        assert counts["messages"] == WORKERS * pages * per_page
        assert counts["conversations"] == WORKERS * pages * per_page // 5
        assert counts["stakeholders"] == 7
        assert counts["channels"] == 3
        for w in range(WORKERS):
            assert store.get_cursor(f"source-{w}") == f"page-{pages - 1}"
            ids = {m.id for m in store.iter_messages() if m.id.startswith(f"w{w}-")}
            expected = {f"w{w}-p{p}-m{i}" for p in range(pages) for i in range(per_page)}
            assert ids == expected
        assert sum(len(c.messages) for c in store.iter_conversations()) == counts["messages"]


def test_two_workers_never_hold_one_source_at_once(pg_url: str, pg_admin: Any) -> None:
    PostgresStore(pg_url).close()
    pg_admin.execute(
        "CREATE TABLE lock_log (source text, worker int, started timestamptz, finished timestamptz)"
    )
    sources = ["alpha", "beta"]
    outputs = _run_all([["contend", pg_url, str(w), "15", *sources] for w in range(WORKERS)])
    taken = sum(int(o) for o in outputs)
    log = pg_admin.execute(
        "SELECT source, worker, started, finished FROM lock_log ORDER BY started"
    ).fetchall()
    assert len(log) == taken
    assert taken >= len(sources)  # somebody got each source at least once
    by_source: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
    for row in log:
        by_source[row[0]].append(row)
    for source, intervals in by_source.items():
        for earlier, later in itertools.pairwise(intervals):
            assert earlier[3] <= later[2], f"{source}: workers {earlier[1]} and {later[1]} overlap"
    # Contention really happened: some attempts found the source taken.
    assert taken < WORKERS * 15 * len(sources)


def test_an_aborted_page_leaves_no_trace(pg_url: str) -> None:
    """A worker killed in the middle of a page: neither the page nor its cursor."""
    with PostgresStore(pg_url) as store:
        store.write(_page_batch(0), source="s", cursor="page-0")
    script = (
        "import os, sys\n"
        f"sys.path.insert(0, {str(WORKER.parent)!r})\n"
        "from _pg_worker import page\n"
        "from convokit_postgres import PostgresStore\n"
        f"store = PostgresStore({pg_url!r})\n"
        "with store.transaction() as tx:\n"
        "    tx.write(page(9, 1, 300))\n"
        "    tx.set_cursor('s', 'page-1')\n"
        "    os._exit(3)\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert proc.returncode == 3, proc.stderr
    with PostgresStore(pg_url) as store:
        assert store.get_cursor("s") == "page-0"
        assert store.counts()["messages"] == 300


def _page_batch(number: int) -> Any:
    sys.path.insert(0, str(WORKER.parent))
    try:
        from _pg_worker import page
    finally:
        sys.path.pop(0)
    return page(9, number, 300)


def test_readers_do_not_block_writers(pg_database: str, pg_schema: str) -> None:
    # Any lock wait longer than 2 s fails the write instead of hanging the test.
    url = with_params(pg_database, options=f"-csearch_path={pg_schema} -clock_timeout=2000")
    with PostgresStore(url) as store:
        store.write(_page_batch(0))
        conversations = store.iter_conversations()
        next(conversations)
        store.write(_page_batch(1), source="s", cursor="page-1")
        assert store.counts()["messages"] == 600
        assert sum(1 for _ in conversations) == 59  # the read's snapshot: page 0 only
