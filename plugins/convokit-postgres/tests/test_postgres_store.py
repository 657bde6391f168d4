"""Behaviour specific to the PostgreSQL backend: URLs, schema, write paths, reads, locks."""

from __future__ import annotations

import logging
import subprocess
import sys
import threading
import time
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from _pg_support import with_params

import convokit_postgres
from convokit_core import (
    Batch,
    Channel,
    Conversation,
    Message,
    PluginManager,
    SourceLocked,
    Stakeholder,
    StatusChange,
    StorageError,
    SyncRun,
    TeamMember,
    open_store,
)
from convokit_core.testing import sample_message
from convokit_postgres import SCHEMA_VERSION, PostgresStore, migrate, source_lock_key
from convokit_postgres import _store as store_module
from convokit_postgres._store import COPY_THRESHOLD, FETCH_SIZE, parse_postgres_url

T0 = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)
HERE = Path(__file__).parent

Admin = psycopg.Connection[tuple[Any, ...]]


@pytest.fixture
def store(pg_url: str) -> Iterator[PostgresStore]:
    backend = PostgresStore(pg_url)
    yield backend
    backend.close()


# -- URLs and registration -------------------------------------------------------------


def test_both_schemes_are_registered_through_the_plugin_entry_point(pg_url: str) -> None:
    manager = PluginManager()
    assert {"postgresql", "postgres"} <= set(manager.storage.names())
    assert manager.storage["postgresql"].plugin == "postgres"
    alias = "postgres" + pg_url[len("postgresql") :]
    for url in (pg_url, alias):
        backend = open_store(url, plugins=manager)
        try:
            assert isinstance(backend, PostgresStore)
            assert backend.schema_version == SCHEMA_VERSION
        finally:
            backend.close()


def test_url_hides_the_password(pg_url: str) -> None:
    secret_url = pg_url.replace("postgresql://postgres@", "postgresql://postgres:hunter2@")
    with PostgresStore(secret_url) as backend:  # the test server trusts any password
        assert "hunter2" not in backend.url
        assert backend.url.startswith("postgresql://postgres:***@")
        assert "hunter2" not in repr(backend)


def test_connection_errors_are_storage_errors_without_the_password() -> None:
    url = "postgresql://convokit:hunter2@127.0.0.1:1/convokit"
    with pytest.raises(StorageError) as info:
        PostgresStore(url, connect_timeout=2)
    assert "cannot connect" in str(info.value)
    assert "hunter2" not in str(info.value)
    assert "***" in str(info.value)
    assert isinstance(info.value.__cause__, psycopg.OperationalError)


def test_parse_url_keeps_libpq_parameters_and_reads_auto_migrate() -> None:
    conninfo, auto = parse_postgres_url(
        "postgres://u@h/db?sslmode=disable&auto_migrate=false&options=-csearch_path%3Da%20b"
    )
    assert conninfo == "postgres://u@h/db?sslmode=disable&options=-csearch_path%3Da%20b"
    assert auto is False
    assert parse_postgres_url("postgresql://h/db") == ("postgresql://h/db", True)
    with pytest.raises(StorageError, match="auto_migrate must be true or false"):
        parse_postgres_url("postgresql://h/db?auto_migrate=maybe")
    with pytest.raises(StorageError, match="not a postgresql"):
        parse_postgres_url("sqlite:///x.db")


def test_lock_keys_are_stable_and_distinct() -> None:
    assert source_lock_key("mastodon-main") == source_lock_key("mastodon-main")
    keys = {source_lock_key(f"source-{i}") for i in range(10_000)}
    assert len(keys) == 10_000
    assert all(-(2**63) <= k < 2**63 for k in keys)


def test_public_api_is_exported_lazily() -> None:
    assert set(convokit_postgres.__all__) <= set(dir(convokit_postgres))
    with pytest.raises(AttributeError):
        _ = convokit_postgres.not_there  # type: ignore[attr-defined]


# -- schema and migrations -------------------------------------------------------------


def test_first_use_migrates_and_records_the_version(store: PostgresStore, pg_admin: Admin) -> None:
    rows = pg_admin.execute("SELECT version, description FROM convokit_schema").fetchall()
    assert rows == [(m.version, m.description) for m in convokit_postgres.MIGRATIONS]
    assert store.schema_version == SCHEMA_VERSION


def test_identifier_columns_sort_bytewise(store: PostgresStore, pg_admin: Admin) -> None:
    collations = pg_admin.execute(
        "SELECT a.attname, c.collname FROM pg_attribute a JOIN pg_collation c "
        "ON c.oid = a.attcollation WHERE a.attrelid = 'messages'::regclass "
        "AND a.attname IN ('platform', 'id', 'conversation_id')"
    ).fetchall()
    assert sorted(collations) == [("conversation_id", "C"), ("id", "C"), ("platform", "C")]
    ids = ["a", "B", "é", "Z", "ä", "10", "9", "_", "~", "日本", "a b", "A"]
    store.write(Batch(messages=[sample_message(i, i) for i in ids]))
    assert [c.id for c in store.iter_conversations()] == sorted(ids)


def test_auto_migrate_false_refuses_an_unmigrated_database(pg_url: str) -> None:
    strict = with_params(pg_url, auto_migrate="false")
    with pytest.raises(StorageError, match="store migrate"):
        PostgresStore(strict)
    report = migrate(strict)
    assert (report.before, report.after) == (0, SCHEMA_VERSION)
    assert [m.version for m in report.applied] == list(range(1, SCHEMA_VERSION + 1))
    again = migrate(strict)
    assert again.applied == ()
    with PostgresStore(strict) as backend:
        backend.write(Batch(messages=[sample_message("m1")]))
        assert backend.counts()["messages"] == 1


def test_a_newer_schema_is_refused(store: PostgresStore, pg_url: str, pg_admin: Admin) -> None:
    pg_admin.execute(
        "INSERT INTO convokit_schema (version, description) VALUES (%s, 'from the future')",
        (SCHEMA_VERSION + 1,),
    )
    with pytest.raises(StorageError, match="newer than this convokit-postgres"):
        PostgresStore(pg_url)
    with pytest.raises(StorageError, match="newer than this convokit-postgres"):
        migrate(pg_url)


def test_concurrent_first_use_migrates_once(pg_url: str, pg_admin: Admin) -> None:
    errors: list[BaseException] = []

    def open_one() -> None:
        try:
            PostgresStore(pg_url).close()
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=open_one) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert pg_admin.execute("SELECT count(*) FROM convokit_schema").fetchone() == (SCHEMA_VERSION,)


# -- writing ---------------------------------------------------------------------------


def _messages(n: int, *, text: str = "hello", prefix: str = "m") -> list[Message]:
    return [
        sample_message(
            f"{prefix}{i:06d}",
            f"c{i // 4:05d}",
            minutes=i,
            direction="inbound" if i % 2 == 0 else "outbound",
            text=text,
            tags=("complaint",) if i % 7 == 0 else (),
        )
        for i in range(n)
    ]


@pytest.mark.parametrize("n", [COPY_THRESHOLD - 1, COPY_THRESHOLD, 3 * COPY_THRESHOLD])
def test_both_write_paths_upsert_alike(store: PostgresStore, n: int) -> None:
    """Small batches go through executemany, large ones through COPY; both deduplicate
    (last wins) and overwrite earlier versions."""
    first = _messages(n, text="v1")
    store.write(Batch(messages=first))
    second = _messages(n, text="v2")
    store.write(Batch(messages=[*second[: n // 2], *second[: n // 2]]))  # duplicates inside
    got = list(store.iter_messages())
    assert len(got) == n
    assert [m.text for m in got].count("v2") == n // 2
    expected = sorted(
        [*second[: n // 2], *first[n // 2 :]],
        key=lambda m: (m.platform, m.conversation_id, m.sent_at, m.id),
    )
    assert got == expected


def test_every_record_kind_goes_through_copy(store: PostgresStore) -> None:
    n = COPY_THRESHOLD + 5
    stakeholders = [
        Stakeholder(id=f"s{i}", kind="customer", identities={"b": f"@s{i}", "a": str(i)})
        for i in range(n)
    ]
    channels = [Channel(id=f"ch{i}", platform="test", created_at=T0) for i in range(n)]
    team = [TeamMember(id=f"t{i}", handles={"test": f"@t{i}"}, active_from=T0) for i in range(n)]
    records = [Conversation(id=f"c{i}", platform="test", tags=("vip",)) for i in range(n)]
    changes = [
        StatusChange(platform="test", conversation_id=f"c{i}", status="pending", at=T0)
        for i in range(n)
    ]
    batch = Batch(
        stakeholders=stakeholders,
        channels=channels,
        team_members=team,
        conversations=records,
        status_changes=changes,
    )
    store.write(batch)
    store.write(batch)
    assert list(store.iter_stakeholders()) == sorted(stakeholders, key=lambda s: s.id)
    assert list(store.iter_channels()) == sorted(channels, key=lambda c: c.id)
    assert list(store.iter_team_members()) == sorted(team, key=lambda t: t.id)
    assert list(store.iter_conversation_records()) == sorted(records, key=lambda c: c.id)
    assert list(store.iter_status_changes()) == sorted(changes, key=lambda s: s.conversation_id)
    assert store.counts() == {
        "messages": 0,
        "conversations": n,
        "status_changes": n,
        "stakeholders": n,
        "channels": n,
        "team_members": n,
    }


def test_rewriting_an_unchanged_row_leaves_it_alone(store: PostgresStore, pg_admin: Admin) -> None:
    store.write(Batch(messages=[sample_message("m1"), sample_message("m2")]))
    before = dict(pg_admin.execute("SELECT id, xmin::text FROM messages").fetchall())
    store.write(Batch(messages=[sample_message("m1"), sample_message("m2", text="changed")]))
    after = dict(pg_admin.execute("SELECT id, xmin::text FROM messages").fetchall())
    assert after["m1"] == before["m1"]
    assert after["m2"] != before["m2"]


def test_timestamps_are_stored_exactly(store: PostgresStore, pg_admin: Admin) -> None:
    moments = [
        datetime(1, 1, 1, tzinfo=UTC),
        datetime(1969, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
        datetime(2024, 3, 31, 1, 59, 59, 123_456, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
    ]
    msgs = [sample_message(f"m{i}", sent_at=at, edited_at=at) for i, at in enumerate(moments)]
    store.write(Batch(messages=msgs))
    got = list(store.iter_messages())
    assert [(m.sent_at, m.edited_at) for m in got] == [(at, at) for at in moments]
    assert all(m.sent_at.tzinfo is UTC for m in got)
    # Whatever the session time zone, the stored instant is the same.
    pg_admin.execute("SET TIME ZONE 'America/New_York'")
    row = pg_admin.execute(
        "SELECT to_char(sent_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') "
        "FROM messages WHERE id = 'm2'"
    ).fetchone()
    assert row == ("2024-03-31 01:59:59.123456",)


def test_text_postgres_cannot_store_is_a_storage_error(store: PostgresStore) -> None:
    with pytest.raises(StorageError, match="write"):
        store.write(
            Batch(messages=[sample_message("m1", text="nul \x00 byte")]), source="s", cursor="1"
        )
    assert store.counts()["messages"] == 0
    assert store.get_cursor("s") is None
    store.write(Batch(messages=[sample_message("m1")]))  # the store is still usable
    assert store.counts()["messages"] == 1


@pytest.fixture
def forbidden(pg_admin: Admin) -> str:
    """A text the test schema refuses (a CHECK constraint the merge trips over)."""
    pg_admin.execute("ALTER TABLE messages ADD CONSTRAINT no_forbidden CHECK (text <> 'forbidden')")
    return "forbidden"


def _large_batch(bad_text: str | None = None, prefix: str = "m") -> Batch:
    msgs = _messages(COPY_THRESHOLD + 10, prefix=prefix)
    if bad_text is not None:
        msgs[-1] = sample_message(msgs[-1].id, msgs[-1].conversation_id, text=bad_text)
    return Batch(messages=msgs)


def test_a_failed_background_merge_fails_the_write(store: PostgresStore, forbidden: str) -> None:
    store.write(Batch(messages=[sample_message("m0")]), source="s", cursor="c0")
    with pytest.raises(StorageError, match="no_forbidden"):
        store.write(_large_batch(forbidden), source="s", cursor="c1")
    assert store.counts()["messages"] == 1
    assert store.get_cursor("s") == "c0"
    store.write(_large_batch(), source="s", cursor="c2")  # the store is still usable
    assert store.counts()["messages"] == COPY_THRESHOLD + 11
    assert store.get_cursor("s") == "c2"


def test_a_merge_error_surfaces_at_the_next_copy_of_the_transaction(
    store: PostgresStore, forbidden: str
) -> None:
    reached = []

    def run() -> None:
        with store.transaction() as tx:
            tx.write(_large_batch(forbidden))  # merged in the background
            # A small write is queued behind the merge — unless the merge has already
            # failed, in which case the error surfaces right here: both are fine.
            tx.write(Batch(messages=[sample_message("other")]))
            reached.append("small write")
            tx.write(_large_batch(prefix="n"))  # COPY waits for the merge: fails by here
            reached.append("second large write")
            tx.set_cursor("s", "never")

    with pytest.raises(StorageError, match="no_forbidden"):
        run()
    assert "second large write" not in reached
    assert store.counts()["messages"] == 0
    assert store.get_cursor("s") is None


def test_an_exception_in_the_block_wins_over_a_pending_merge(
    store: PostgresStore, forbidden: str
) -> None:
    class Boom(Exception):
        pass

    reached: list[bool] = []

    def run() -> None:
        with store.transaction() as tx:
            # On a loaded machine the background merge may already have failed, and the
            # write itself reports it; otherwise the merge is still pending at `raise`.
            tx.write(_large_batch(forbidden))
            reached.append(True)
            raise Boom

    try:
        run()
    except Boom:
        assert reached
    except StorageError:
        # Only the write may report the merge's failure: once the block raised, its own
        # exception must win over the pending merge's.
        assert not reached, "the pending merge's error replaced the block's exception"
    else:
        pytest.fail("the transaction did not fail")
    with store.transaction() as tx:  # the connection left pipeline mode cleanly
        tx.write(_large_batch(prefix="a"))
        tx.write(_large_batch(prefix="b"))
    assert store.counts()["messages"] == 2 * (COPY_THRESHOLD + 10)


def test_write_retries_a_deadlocked_transaction(
    store: PostgresStore, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    real = store_module._write_batch
    calls = []

    def deadlock_once(conn: Any, batch: Batch, merge: Any) -> None:
        calls.append(batch)
        real(conn, batch, merge)  # written, then rolled back with the failed attempt
        if len(calls) == 1:
            raise psycopg.errors.DeadlockDetected("deadlock detected")

    monkeypatch.setattr(store_module, "_write_batch", deadlock_once)
    with caplog.at_level(logging.INFO, logger="convokit.postgres"):
        store.write(Batch(messages=[sample_message("m1")]), source="s", cursor="c1")
    assert "retrying a write the server aborted: " in caplog.text
    assert "deadlock detected" in caplog.text
    assert len(calls) == 2
    assert store.counts()["messages"] == 1
    assert store.get_cursor("s") == "c1"


def test_other_errors_are_not_retried(
    store: PostgresStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []

    def broken(conn: Any, batch: Batch, merge: Any) -> None:
        calls.append(batch)
        raise psycopg.errors.UniqueViolation("duplicate key")

    monkeypatch.setattr(store_module, "_write_batch", broken)
    with pytest.raises(StorageError, match="duplicate key"):
        store.write(Batch(messages=[sample_message("m1")]))
    assert len(calls) == 1


def test_the_write_connection_is_reopened_after_the_server_drops_it(
    store: PostgresStore, pg_admin: Admin
) -> None:
    store.write(Batch(messages=[sample_message("m1")]))
    pids = [
        row[0]
        for row in pg_admin.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = 'convokit' "
            "AND pid <> pg_backend_pid() AND datname = current_database()"
        ).fetchall()
    ]
    pg_admin.execute("SELECT pg_terminate_backend(pid) FROM unnest(%s::int[]) AS pid", (pids,))
    # pg_terminate_backend only signals: wait until those sessions are really gone, so
    # the next write meets a dead connection (a bound for a hang, not a timing).
    deadline = time.monotonic() + 60
    while pg_admin.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s)", (pids,)
    ).fetchone()[0]:  # type: ignore[index]
        assert time.monotonic() < deadline, "terminated sessions never went away"
        time.sleep(0.01)
    with pytest.raises(StorageError):
        store.write(Batch(messages=[sample_message("m2")]))
    store.write(Batch(messages=[sample_message("m2")]))
    assert [m.id for m in store.iter_messages()] == ["m1", "m2"]


def test_threads_share_one_store(store: PostgresStore) -> None:
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        try:
            for page in range(10):
                msgs = [
                    sample_message(f"w{worker}-{page}-{i}", f"w{worker}", minutes=page * 10 + i)
                    for i in range(10)
                ]
                store.write(Batch(messages=msgs), source=f"w{worker}", cursor=str(page))
                assert sum(1 for _ in store.iter_messages(platform="test")) >= (page + 1) * 10
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert store.counts()["messages"] == 400
    assert [store.get_cursor(f"w{w}") for w in range(4)] == ["9"] * 4


def test_a_closed_store_refuses_work(pg_url: str) -> None:
    backend = PostgresStore(pg_url)
    backend.close()
    backend.close()  # idempotent
    with pytest.raises(StorageError, match="closed"):
        backend.write(Batch(messages=[sample_message("m1")]))
    with pytest.raises(StorageError, match="closed"):
        list(backend.iter_conversations())


# -- reading ---------------------------------------------------------------------------


def test_reads_stream_through_server_side_cursors(store: PostgresStore, pg_admin: Admin) -> None:
    store.write(Batch(messages=_messages(FETCH_SIZE + 10)))
    messages = store.iter_messages()
    next(messages)
    reading = pg_admin.execute(
        "SELECT state, query FROM pg_stat_activity WHERE application_name = 'convokit' "
        "AND datname = current_database() AND query LIKE 'FETCH%%'"
    ).fetchall()
    assert reading == [("idle in transaction", f'FETCH FORWARD {FETCH_SIZE} FROM "convokit_read"')]
    assert sum(1 for _ in messages) == FETCH_SIZE + 9
    messages.close()


def test_memory_stays_flat_while_streaming(store: PostgresStore) -> None:
    n = 24_000
    long_text = "x" * 200
    for start in range(0, n, 6_000):
        msgs = [
            sample_message(f"m{i:06d}", f"c{i // 6:05d}", minutes=i, text=long_text)
            for i in range(start, start + 6_000)
        ]
        store.write(Batch(messages=msgs))
    tracemalloc.start()
    try:
        seen = sum(len(c.messages) for c in store.iter_conversations())
        _, streaming_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        everything = list(store.iter_messages())
        _, loaded_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert seen == len(everything) == n
    assert streaming_peak < 8_000_000
    assert loaded_peak > 4 * streaming_peak


def test_iterations_see_one_snapshot(store: PostgresStore) -> None:
    store.write(Batch(messages=_messages(8)))
    conversations = store.iter_conversations()
    first = next(conversations)
    store.write(
        Batch(
            messages=[sample_message("late", "c00001", minutes=999)],
            status_changes=[
                StatusChange(platform="test", conversation_id="c00001", status="closed", at=T0)
            ],
        )
    )
    second = next(conversations)
    assert (first.id, second.id) == ("c00000", "c00001")
    assert [m.id for m in second.messages] == ["m000004", "m000005", "m000006", "m000007"]
    assert second.status_history == ()
    assert list(conversations) == []
    assert len(store.get_conversation("test", "c00001").messages) == 5  # type: ignore[union-attr]


def test_abandoned_iterations_return_their_connections(store: PostgresStore) -> None:
    store.write(Batch(messages=_messages(20)))
    for _ in range(12):
        it = store.iter_messages()
        next(it)
        it.close()
    assert len(store._idle) <= 4
    assert sum(1 for _ in store.iter_messages()) == 20


# -- source locks ----------------------------------------------------------------------


def _hold_lock_in_subprocess(url: str, source: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "_pg_worker.py"), "hold", url, source],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_source_lock_spans_processes_and_dies_with_its_holder(
    store: PostgresStore, pg_url: str
) -> None:
    holder = _hold_lock_in_subprocess(pg_url, "mastodon-main")
    try:
        with pytest.raises(SourceLocked, match="mastodon-main"), store.lock_source("mastodon-main"):
            pass
        with store.lock_source("reddit"):
            pass
    finally:
        holder.kill()
        holder.wait()
    deadline = time.monotonic() + 10
    while True:  # the server notices the dead session and releases its lock
        try:
            with store.lock_source("mastodon-main"):
                break
        except SourceLocked:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def test_source_lock_is_released_when_its_session_is_lost(
    store: PostgresStore, pg_admin: Admin
) -> None:
    with store.lock_source("s"):
        holders = pg_admin.execute(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted "
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        ).fetchall()
        assert len(holders) == 1
        pg_admin.execute("SELECT pg_terminate_backend(%s)", holders[0])
        deadline = time.monotonic() + 10
        while True:  # a crashed holder never blocks the source
            try:
                with store.lock_source("s"):
                    break
            except SourceLocked:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)


def test_loading_the_plugin_does_not_import_psycopg() -> None:
    """Every ``convokit`` start loads the plugin; only opening a store needs psycopg."""
    script = (
        "import sys\n"
        "from convokit_core import PluginManager\n"
        "manager = PluginManager()\n"
        "assert 'postgresql' in manager.storage\n"
        "print('psycopg' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "False"


def test_sync_runs_started_together_list_the_later_recorded_first(store: PostgresStore) -> None:
    for pages in (1, 2, 3):
        store.record_sync_run(
            SyncRun(
                source="s", started_at=T0, finished_at=T0 + timedelta(seconds=pages), pages=pages
            )
        )
    assert [r.pages for r in store.iter_sync_runs()] == [3, 2, 1]
    assert [r.pages for r in store.iter_sync_runs("other")] == []
