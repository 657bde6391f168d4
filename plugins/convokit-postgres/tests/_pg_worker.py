"""Worker processes for the concurrency tests (run as a script, not collected).

Usage:
    _pg_worker.py hold URL SOURCE
        take SOURCE's lock, print "locked", then wait until killed.
    _pg_worker.py sync URL WORKER PAGES PER_PAGE
        sync source "source-WORKER": PAGES pages of PER_PAGE messages, each page written
        with its cursor; every page is delivered twice (at-least-once, as after a crash);
        every page also upserts the stakeholders and channels all workers share.
    _pg_worker.py contend URL WORKER ROUNDS SOURCE...
        ROUNDS times, try each SOURCE's lock; when taken, log the holding interval in the
        lock_log table and write a page for that source; print how many were taken.
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime, timedelta

from convokit_core import Batch, Channel, Message, SourceLocked, Stakeholder
from convokit_postgres import PostgresStore

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def hold(url: str, source: str) -> None:
    store = PostgresStore(url)
    with store.lock_source(source):
        print("locked", flush=True)
        time.sleep(3600)


def page(worker: int, number: int, per_page: int) -> Batch:
    msgs = [
        Message(
            id=f"w{worker}-p{number}-m{i}",
            platform="test",
            conversation_id=f"w{worker}-c{(number * per_page + i) // 5}",
            author_id=f"person-{i % 7}",
            direction="inbound" if i % 3 else "outbound",
            sent_at=T0 + timedelta(seconds=number * per_page + i),
            channel_id=f"channel-{i % 3}",
            text=f"page {number} message {i}",
        )
        for i in range(per_page)
    ]
    shared_people = [Stakeholder(id=f"person-{i}", kind="customer") for i in range(7)]
    shared_channels = [Channel(id=f"channel-{i}", platform="test") for i in range(3)]
    return Batch(messages=msgs, stakeholders=shared_people, channels=shared_channels)


def sync(url: str, worker: int, pages: int, per_page: int) -> None:
    source = f"source-{worker}"
    with PostgresStore(url) as store, store.lock_source(source):
        for number in range(pages):
            batch = page(worker, number, per_page)
            store.write(batch, source=source, cursor=f"page-{number}")
            store.write(batch, source=source, cursor=f"page-{number}")
    print("done", flush=True)


def contend(url: str, worker: int, rounds: int, sources: list[str]) -> None:
    taken = 0
    with PostgresStore(url) as store:
        for round_number in range(rounds):
            for source in sources:
                try:
                    with store.lock_source(source):
                        with store.transaction() as tx:
                            tx.write(page(worker, round_number, 20))
                        # The interval is measured by the server's clock.
                        with store._write_lock:
                            conn = store._writer_conn()
                            started = conn.execute("SELECT clock_timestamp()").fetchone()
                            time.sleep(0.02)
                            conn.execute(
                                "INSERT INTO lock_log (source, worker, started, finished) "
                                "VALUES (%s, %s, %s, clock_timestamp())",
                                (source, worker, started[0] if started else None),
                            )
                        taken += 1
                except SourceLocked:
                    continue
    print(taken, flush=True)


def main(argv: list[str]) -> None:
    mode, url = argv[0], argv[1]
    if mode == "hold":
        hold(url, argv[2])
    elif mode == "sync":
        sync(url, int(argv[2]), int(argv[3]), int(argv[4]))
    elif mode == "contend":
        contend(url, int(argv[2]), int(argv[3]), argv[4:])
    else:
        raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
