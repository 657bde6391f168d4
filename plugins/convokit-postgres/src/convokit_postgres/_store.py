"""``postgresql://`` — the shared store for many workers and machines.

How it works:

- **Schema** versioned in ``convokit_schema`` and migrated on first use (see
  :mod:`convokit_postgres._schema`); add ``auto_migrate=false`` to the URL to require an
  explicit ``convokit store migrate`` instead.
- **Writes** are idempotent upserts (``INSERT … ON CONFLICT … DO UPDATE``, skipping rows
  that did not change). A batch and its cursor are one transaction. Large batches go
  through ``COPY`` (binary) into a temporary table and one ``INSERT … SELECT … ON
  CONFLICT``, sent in pipeline mode so the server merges while the caller prepares the
  next batch; small ones through a pipelined ``executemany``. Rows are deduplicated
  (last one wins) and written in key order, so concurrent writers take row locks in the
  same order and do not deadlock; :meth:`PostgresStore.write` still retries a
  transaction the server aborted as a deadlock or serialization failure.
- **Reads** stream through server-side (named) cursors in a read-only ``REPEATABLE
  READ`` transaction: memory holds one fetch of rows, and the three streams merged into
  conversations see one consistent snapshot.
- **Source locks** are session advisory locks (``pg_try_advisory_lock``) held on a
  connection of their own for as long as the lock is held; they are released when the
  holder exits or its connection drops, so a crashed worker never leaves a source
  locked.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import threading
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack, contextmanager, suppress
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final, TypeVar
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import attrs
import psycopg
from psycopg import sql
from psycopg.errors import DeadlockDetected, SerializationFailure
from psycopg.types.json import Jsonb

from convokit_core._errors import SourceLocked, StorageError
from convokit_core._model import (
    Batch,
    Channel,
    Conversation,
    Message,
    NotificationRecord,
    Stakeholder,
    StatusChange,
    SyncRun,
    TeamMember,
)
from convokit_core._storage._common import ClosingStore, merge_conversations, redact_url
from convokit_core._timeutil import from_micros

from ._schema import SCHEMA_VERSION, Migration, apply_migrations, current_version

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "MigrationReport",
    "PostgresStore",
    "migrate",
    "parse_postgres_url",
    "schema_version",
    "source_lock_key",
]

_Row = tuple[Any, ...]
_Conn = psycopg.Connection[tuple[Any, ...]]
T = TypeVar("T")

log = logging.getLogger("convokit.postgres")

COPY_THRESHOLD: Final = 256
"""Batches with at least this many rows of one kind are loaded with ``COPY``."""

FETCH_SIZE: Final = 2000
"""Rows fetched per round trip by streaming reads."""

_WRITE_RETRIES: Final = 3
_MAX_IDLE_READERS: Final = 4


@attrs.frozen(kw_only=True)
class _Table:
    """How one table is upserted."""

    name: str
    columns: tuple[str, ...]
    types: tuple[str, ...]
    """PostgreSQL type of each column (binary ``COPY`` needs them)."""
    key: tuple[str, ...]
    update: bool = True
    """``ON CONFLICT DO UPDATE`` (last write wins) rather than ``DO NOTHING``."""

    def conflict_clause(self) -> sql.Composed:
        key = sql.SQL(", ").join(map(sql.Identifier, self.key))
        rest = [c for c in self.columns if c not in self.key]
        if not self.update or not rest:
            return sql.SQL(" ON CONFLICT ({}) DO NOTHING").format(key)
        assignments = sql.SQL(", ").join(
            sql.SQL("{} = EXCLUDED.{}").format(sql.Identifier(c), sql.Identifier(c)) for c in rest
        )
        current = sql.SQL(", ").join(
            sql.SQL("{}.{}").format(sql.Identifier(self.name), sql.Identifier(c)) for c in rest
        )
        incoming = sql.SQL(", ").join(
            sql.SQL("EXCLUDED.{}").format(sql.Identifier(c)) for c in rest
        )
        return sql.SQL(
            " ON CONFLICT ({}) DO UPDATE SET {} WHERE ({}) IS DISTINCT FROM ({})"
        ).format(key, assignments, current, incoming)

    def insert_values(self) -> sql.Composed:
        return (
            sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
                sql.Identifier(self.name),
                sql.SQL(", ").join(map(sql.Identifier, self.columns)),
                sql.SQL(", ").join(sql.Placeholder() * len(self.columns)),
            )
            + self.conflict_clause()
        )

    @property
    def stage(self) -> str:
        return f"convokit_stage_{self.name}"

    def create_stage(self) -> sql.Composed:
        return sql.SQL(
            "CREATE TEMP TABLE IF NOT EXISTS {} (LIKE {} INCLUDING DEFAULTS) ON COMMIT DROP"
        ).format(sql.Identifier(self.stage), sql.Identifier(self.name))

    def copy_stage(self) -> sql.Composed:
        return sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(
            sql.Identifier(self.stage), sql.SQL(", ").join(map(sql.Identifier, self.columns))
        )

    def insert_from_stage(self) -> sql.Composed:
        cols = sql.SQL(", ").join(map(sql.Identifier, self.columns))
        return (
            sql.SQL("INSERT INTO {} ({}) SELECT {} FROM {} ORDER BY {}").format(
                sql.Identifier(self.name),
                cols,
                cols,
                sql.Identifier(self.stage),
                sql.SQL(", ").join(map(sql.Identifier, self.key)),
            )
            + self.conflict_clause()
        )

    def truncate_stage(self) -> sql.Composed:
        return sql.SQL("TRUNCATE {}").format(sql.Identifier(self.stage))


_MESSAGE_COLUMNS: Final = (
    "platform",
    "id",
    "conversation_id",
    "channel_id",
    "author_id",
    "direction",
    "sent_at",
    "in_reply_to",
    "text",
    "visibility",
    "automated",
    "tags",
    "url",
    "edited_at",
    "deleted",
)
_MESSAGES = _Table(
    name="messages",
    columns=_MESSAGE_COLUMNS,
    types=(
        "text",
        "text",
        "text",
        "text",
        "text",
        "text",
        "timestamptz",
        "text",
        "text",
        "text",
        "bool",
        "jsonb",
        "text",
        "timestamptz",
        "bool",
    ),
    key=("platform", "id"),
)
_CONVERSATIONS = _Table(
    name="conversations",
    columns=("platform", "id", "channel_id", "stakeholder_id", "owner_id", "status", "tags"),
    types=("text", "text", "text", "text", "text", "text", "jsonb"),
    key=("platform", "id"),
)
_STATUS_CHANGES = _Table(
    name="status_changes",
    columns=("platform", "conversation_id", "at", "status"),
    types=("text", "text", "timestamptz", "text"),
    key=("platform", "conversation_id", "at", "status"),
    update=False,
)
_STAKEHOLDERS = _Table(
    name="stakeholders",
    columns=("id", "kind", "display_name", "identities"),
    types=("text", "text", "text", "jsonb"),
    key=("id",),
)
_CHANNELS = _Table(
    name="channels",
    columns=("platform", "id", "handle", "created_at", "owner_team"),
    types=("text", "text", "text", "timestamptz", "text"),
    key=("platform", "id"),
)
_TEAM_MEMBERS = _Table(
    name="team_members",
    columns=("id", "name", "handles", "active_from", "active_until"),
    types=("text", "text", "jsonb", "timestamptz", "timestamptz"),
    key=("id",),
)
_CURSORS = _Table(
    name="cursors",
    columns=("source", "cursor", "updated_at"),
    types=("text", "text", "timestamptz"),
    key=("source",),
)

_SELECT_MESSAGES: Final = "SELECT " + ", ".join(_MESSAGE_COLUMNS) + " FROM messages"
_SELECT_CONVERSATIONS: Final = (
    "SELECT platform, id, channel_id, stakeholder_id, owner_id, status, tags FROM conversations"
)
_SELECT_STATUS: Final = "SELECT platform, conversation_id, at, status FROM status_changes"


# -- rows ----------------------------------------------------------------------------


def _tags(tags: Sequence[str]) -> Jsonb | None:
    return Jsonb(list(tags)) if tags else None


def _mapping(value: dict[str, str]) -> Jsonb:
    return Jsonb(dict(sorted(value.items())))


def _message_row(m: Message) -> _Row:
    return (
        m.platform,
        m.id,
        m.conversation_id,
        m.channel_id,
        m.author_id,
        m.direction.value,
        m.sent_at,
        m.in_reply_to,
        m.text,
        m.visibility.value,
        m.automated,
        _tags(m.tags),
        m.url,
        m.edited_at,
        m.deleted,
    )


def _message(row: _Row) -> Message:
    return Message(
        platform=row[0],
        id=row[1],
        conversation_id=row[2],
        channel_id=row[3],
        author_id=row[4],
        direction=row[5],
        sent_at=row[6],
        in_reply_to=row[7],
        text=row[8],
        visibility=row[9],
        automated=row[10],
        tags=row[11] or (),
        url=row[12],
        edited_at=row[13],
        deleted=row[14],
    )


def _conversation(row: _Row) -> Conversation:
    return Conversation(
        platform=row[0],
        id=row[1],
        channel_id=row[2],
        stakeholder_id=row[3],
        owner_id=row[4],
        status=row[5],
        tags=row[6] or (),
    )


def _status(row: _Row) -> StatusChange:
    return StatusChange(platform=row[0], conversation_id=row[1], at=row[2], status=row[3])


def _sorted_map(value: dict[str, str]) -> dict[str, str]:
    return dict(sorted(value.items()))


# -- URLs and keys -------------------------------------------------------------------


def parse_postgres_url(url: str) -> tuple[str, bool]:
    """Split a store URL into the libpq URL and the ``auto_migrate`` setting.

    ``postgresql://`` and ``postgres://`` URLs are libpq connection URIs; every libpq
    parameter (``sslmode``, ``options=-csearch_path%3Dconvokit`` …) passes through. The
    one parameter convokit reads itself, ``auto_migrate`` (``true`` by default), is
    removed. Raises :class:`StorageError` for another scheme or a bad value.
    """
    scheme = url.partition(":")[0].lower()
    if scheme not in ("postgresql", "postgres"):
        raise StorageError(f"not a postgresql:// URL: {redact_url(url)!r}")
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise StorageError(f"store URL {redact_url(url)!r} is malformed: {exc}") from None
    params = parse_qsl(parts.query, keep_blank_values=True)
    auto_migrate = True
    kept: list[tuple[str, str]] = []
    for name, value in params:
        if name == "auto_migrate":
            lowered = value.strip().lower()
            if lowered in ("1", "true", "yes", "on"):
                auto_migrate = True
            elif lowered in ("0", "false", "no", "off"):
                auto_migrate = False
            else:
                raise StorageError(
                    f"store URL {redact_url(url)!r}: auto_migrate must be true or false, "
                    f"found {value!r}"
                )
        else:
            kept.append((name, value))
    conninfo = urlunsplit(parts._replace(query=urlencode(kept, quote_via=quote)))
    return conninfo, auto_migrate


def _password(url: str) -> str | None:
    try:
        return urlsplit(url).password
    except ValueError:
        return None


def _connect_defaults(conninfo: str, connect_timeout: int) -> dict[str, Any]:
    """libpq parameters convokit sets unless the URL sets them itself."""
    given = {name for name, _ in parse_qsl(urlsplit(conninfo).query)}
    defaults: dict[str, Any] = {
        "application_name": "convokit",
        "connect_timeout": connect_timeout,
    }
    return {k: v for k, v in defaults.items() if k not in given}


def _with_params(conninfo: str, params: dict[str, Any]) -> str:
    """The libpq URI ``conninfo`` with ``params`` added to its query."""
    parts = urlsplit(conninfo)
    query = parse_qsl(parts.query, keep_blank_values=True)
    query += [(name, str(value)) for name, value in params.items()]
    return urlunsplit(parts._replace(query=urlencode(query, quote_via=quote)))


def source_lock_key(source: str) -> int:
    """The advisory-lock key (a signed 64-bit integer) that guards ``source``.

    Derived from SHA-256 of the source name, so it is the same in every process and on
    every machine; locks are scoped to one database.
    """
    digest = hashlib.sha256(b"convokit-source\x00" + source.encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def leader_lock_key(name: str, schema: str) -> int:
    """The advisory-lock key of the leadership ``name`` for the store in ``schema``."""
    digest = hashlib.sha256(
        b"convokit-leader\x00" + schema.encode() + b"\x00" + name.encode()
    ).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class LeaderLease:
    """Leadership held through a session advisory lock on a dedicated connection.

    The server releases the lock when that connection ends, so a process that dies or
    loses its connection loses leadership, and another can take it.
    """

    def __init__(self, conn: Any, key: int) -> None:
        self._conn = conn
        self._key = key

    def alive(self) -> bool:
        """Whether the lock is still held (the session still answers)."""
        if self._conn.closed or self._conn.broken:
            return False
        try:
            self._conn.execute("SELECT 1").fetchone()
        except psycopg.Error:
            return False
        return True

    def release(self) -> None:
        """Give leadership up (idempotent)."""
        if not self._conn.closed:
            with suppress(psycopg.Error):
                self._conn.execute("SELECT pg_advisory_unlock(%s)", (self._key,))
            self._conn.close()


# -- the store -----------------------------------------------------------------------


class _Merge:
    """The server-side merge of the last ``COPY``, left running in a pipeline.

    After a large batch is copied into its staging table, the ``INSERT … SELECT … ON
    CONFLICT`` that merges it is sent in pipeline mode and not waited for: the server
    merges while the caller prepares its next batch. Small upserts queue behind it in
    the same pipeline. :meth:`settle` waits for everything queued (and raises the first
    error, if any) before the next ``COPY`` and before commit.
    """

    def __init__(self, conn: _Conn) -> None:
        self._conn = conn
        self._pipeline: AbstractContextManager[psycopg.Pipeline] | None = None

    def start(self, statements: Sequence[sql.Composed]) -> None:
        """Send ``statements`` without waiting for their results."""
        self.settle()
        pipeline = self._conn.pipeline()
        pipeline.__enter__()
        self._pipeline = pipeline
        for statement in statements:
            self._conn.execute(statement)

    def settle(self) -> None:
        """Wait for the running merge; raises the server's error if it failed."""
        pipeline, self._pipeline = self._pipeline, None
        if pipeline is not None:
            pipeline.__exit__(None, None, None)

    def abandon(self) -> None:
        """Wait for the running merge, ignoring its outcome (the transaction is being
        rolled back anyway)."""
        with suppress(psycopg.Error):
            self.settle()


class _Writer:
    """The :class:`~convokit_core.protocols.BatchWriter` of one open transaction."""

    def __init__(self, store: PostgresStore, conn: _Conn) -> None:
        self._store = store
        self._conn = conn
        self._merge = _Merge(conn)

    def write(self, batch: Batch) -> None:
        """Upsert ``batch`` inside the open transaction.

        A database error may surface here or, for the last large batch, at the next
        write or at commit; either way the whole transaction is rolled back.
        """
        self._store._guard("write", lambda: _write_batch(self._conn, batch, self._merge))

    def set_cursor(self, source: str, cursor: str) -> None:
        """Record ``source``'s ``cursor`` inside the open transaction."""
        row = (source, cursor, datetime.now(UTC))
        self._store._guard("set cursor", lambda: _upsert(self._conn, _CURSORS, [row], self._merge))

    def _settle(self) -> None:
        self._store._guard("write", self._merge.settle)

    def _abandon(self) -> None:
        self._merge.abandon()


def _upsert(conn: _Conn, table: _Table, rows: Sequence[_Row], merge: _Merge) -> None:
    """Upsert ``rows`` (already unique by key and sorted by key) into ``table``.

    Small sets go through a pipelined ``executemany`` (queued behind a running merge
    without waiting for it); large ones are copied into a staging table and merged in
    the background (see :class:`_Merge`).
    """
    if not rows:
        return
    if len(rows) < COPY_THRESHOLD:
        with conn.cursor() as cur:  # joins the running merge's pipeline, if any
            cur.executemany(table.insert_values(), rows)
        return
    merge.settle()  # COPY cannot run in pipeline mode
    with conn.cursor() as cur:
        cur.execute(table.create_stage())
        with cur.copy(table.copy_stage()) as copy:
            copy.set_types(list(table.types))
            for row in rows:
                copy.write_row(row)
    merge.start([table.insert_from_stage(), table.truncate_stage()])


def _unique_sorted(rows: Iterable[_Row], width: int) -> list[_Row]:
    """``rows`` with one row per key (the first ``width`` columns; last wins), by key."""
    by_key: dict[tuple[Any, ...], _Row] = {}
    for row in rows:
        by_key[row[:width]] = row
    return [by_key[k] for k in sorted(by_key)]


def _write_batch(conn: _Conn, batch: Batch, merge: _Merge) -> None:
    """Upsert every record of ``batch`` on ``conn`` (inside the caller's transaction).

    Tables are written in a fixed order and rows in key order, so concurrent writers
    lock rows in the same order.
    """
    messages = batch.all_messages()
    if messages:
        _upsert(conn, _MESSAGES, _unique_sorted(map(_message_row, messages), 2), merge)
    rows: Iterable[_Row]
    if batch.conversations:
        rows = (
            (
                c.platform,
                c.id,
                c.channel_id,
                c.stakeholder_id,
                c.owner_id,
                c.status.value,
                _tags(c.tags),
            )
            for c in batch.conversations
        )
        _upsert(conn, _CONVERSATIONS, _unique_sorted(rows, 2), merge)
    changes = batch.all_status_changes()
    if changes:
        rows = ((s.platform, s.conversation_id, s.at, s.status.value) for s in changes)
        _upsert(conn, _STATUS_CHANGES, _unique_sorted(rows, 4), merge)
    if batch.stakeholders:
        rows = (
            (s.id, s.kind.value, s.display_name, _mapping(s.identities)) for s in batch.stakeholders
        )
        _upsert(conn, _STAKEHOLDERS, _unique_sorted(rows, 1), merge)
    if batch.channels:
        rows = ((c.platform, c.id, c.handle, c.created_at, c.owner_team) for c in batch.channels)
        _upsert(conn, _CHANNELS, _unique_sorted(rows, 2), merge)
    if batch.team_members:
        rows = (
            (t.id, t.name, _mapping(t.handles), t.active_from, t.active_until)
            for t in batch.team_members
        )
        _upsert(conn, _TEAM_MEMBERS, _unique_sorted(rows, 1), merge)


class PostgresStore(ClosingStore):
    """A convokit store in a PostgreSQL database (see the module docstring).

    Args:
        url: ``postgresql://user[:password]@host[:port]/dbname[?param=value…]`` or the
            same with ``postgres://``. libpq parameters pass through;
            ``auto_migrate=false`` makes opening fail on an out-of-date schema instead
            of migrating it.
        connect_timeout: seconds to wait for the server when the URL does not say.
        create: with ``False`` (read commands), a database that holds no convokit
            schema yet counts as a missing store: opening fails naming the URL instead
            of creating the tables. A database that does not exist fails either way.

    Safe to share between threads: writes are serialised on one connection, and each
    streaming read uses a connection of its own from a small idle pool.

    Raises:
        StorageError: the server cannot be reached, the schema is newer than this
            release, or (with ``auto_migrate=false``) it is out of date.
    """

    def __init__(self, url: str, *, connect_timeout: int = 10, create: bool = True) -> None:
        self._url = redact_url(url)
        conninfo, self._auto_migrate = parse_postgres_url(url)
        self._conninfo = conninfo
        self._secret = _password(url)
        self._connect_kwargs = _connect_defaults(conninfo, connect_timeout)
        self._write_lock = threading.RLock()
        self._pool_lock = threading.Lock()
        self._idle: list[_Conn] = []
        self._closed = False
        self._conn = self._connect(autocommit=True)
        try:
            self._prepare_schema(create=create)
        except BaseException:
            self._conn.close()
            raise

    # -- connections -----------------------------------------------------------------

    def _scrub(self, text: str) -> str:
        if self._secret:
            text = text.replace(self._secret, "***")
        return text

    def _error(self, what: str, exc: BaseException) -> StorageError:
        detail = self._scrub(str(exc).strip()) or type(exc).__name__
        return StorageError(f"store {self._url!r}: {what}: {detail}")

    def _guard(self, what: str, action: Callable[[], T]) -> T:
        """Run ``action``, wrapping database errors into :class:`StorageError`."""
        try:
            return action()
        except psycopg.Error as exc:
            raise self._error(what, exc) from exc

    def _connect(self, *, autocommit: bool) -> _Conn:
        try:
            conn = psycopg.connect(self._conninfo, autocommit=True, **self._connect_kwargs)
        except psycopg.Error as exc:
            raise self._error("cannot connect", exc) from exc
        try:
            conn.execute("SET TIME ZONE 'UTC'")
            if not autocommit:
                conn.autocommit = False
                conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
                conn.read_only = True
        except psycopg.Error as exc:
            conn.close()
            raise self._error("cannot set up the connection", exc) from exc
        return conn

    def _check_open(self) -> None:
        if self._closed:
            raise StorageError(f"store {self._url!r} is closed")

    def _writer_conn(self) -> _Conn:
        """The write connection, reconnected if the server dropped it (hold the lock)."""
        self._check_open()
        if self._conn.broken or self._conn.closed:
            self._conn = self._connect(autocommit=True)
        return self._conn

    def _acquire_reader(self) -> _Conn:
        self._check_open()
        with self._pool_lock:
            while self._idle:
                conn = self._idle.pop()
                if not conn.closed and not conn.broken:
                    return conn
        return self._connect(autocommit=False)

    def _release_reader(self, conn: _Conn) -> None:
        try:
            if not conn.closed and not conn.broken:
                conn.rollback()
        except psycopg.Error:
            conn.close()
            return
        with self._pool_lock:
            if self._closed or conn.closed or len(self._idle) >= _MAX_IDLE_READERS:
                conn.close()
            else:
                self._idle.append(conn)

    @contextmanager
    def _reader(self) -> Iterator[_Conn]:
        conn = self._acquire_reader()
        try:
            yield conn
        finally:
            self._release_reader(conn)

    def _prepare_schema(self, *, create: bool = True) -> None:
        with self._write_lock:
            conn = self._conn
            version = self._guard("cannot read the schema version", lambda: current_version(conn))
            if version == SCHEMA_VERSION:
                return
            if version == 0 and not create:
                raise StorageError(
                    f"store {self._url!r} holds no convokit store yet (the database has no "
                    "convokit schema); read commands never create a store: check the URL, "
                    "or create it with `convokit store migrate`, `convokit import` or "
                    "`convokit sync`"
                )
            if version > SCHEMA_VERSION:
                raise StorageError(
                    f"store {self._url!r} has schema version {version}, newer than this "
                    f"convokit-postgres understands ({SCHEMA_VERSION}); upgrade convokit-postgres"
                )
            if not self._auto_migrate:
                raise StorageError(
                    f"store {self._url!r} has schema version {version}, this release needs "
                    f"{SCHEMA_VERSION}; run `convokit --store URL store migrate` "
                    "(or drop auto_migrate=false from the URL)"
                )
            try:
                for step in apply_migrations(conn):
                    log.info(
                        "store %s: applied migration %d (%s)",
                        self._url,
                        step.version,
                        step.description,
                    )
            except ValueError as exc:
                raise StorageError(f"store {self._url!r}: {exc}") from None
            except psycopg.Error as exc:
                raise self._error("migration failed", exc) from exc

    # -- properties and lifecycle ----------------------------------------------------

    @property
    def url(self) -> str:
        """The store URL with any password replaced by ``***``."""
        return self._url

    @property
    def schema_version(self) -> int:
        """The schema version recorded in the database."""
        with self._reader() as conn:
            return self._guard("cannot read the schema version", lambda: current_version(conn))

    def close(self) -> None:
        """Close every connection; the store is unusable afterwards. Idempotent.

        Source locks still held are released when their own connections close.
        """
        with self._write_lock, self._pool_lock:
            if self._closed:
                return
            self._closed = True
            idle, self._idle = self._idle, []
            for conn in [self._conn, *idle]:
                conn.close()

    # -- writing ---------------------------------------------------------------------

    @contextmanager
    def _transaction(self) -> Iterator[_Writer]:
        with self._write_lock:
            conn = self._writer_conn()
            try:
                with conn.transaction():
                    writer = _Writer(self, conn)
                    try:
                        yield writer
                    except BaseException:
                        writer._abandon()
                        raise
                    writer._settle()
            except psycopg.Error as exc:
                if isinstance(exc, psycopg.OperationalError):
                    # The session is gone or in an unknown state (a terminated backend
                    # can also surface as "another command is already in progress"):
                    # drop it, so the next write opens a fresh one.
                    with contextlib.suppress(psycopg.Error):
                        conn.close()
                raise self._error("transaction failed", exc) from exc

    def transaction(self) -> AbstractContextManager[_Writer]:
        """One transaction spanning several writes: all committed on exit, or none.

        An exception inside the block rolls everything back and propagates; database
        errors are raised as :class:`StorageError`.
        """
        return self._transaction()

    def write(self, batch: Batch, *, source: str | None = None, cursor: str | None = None) -> None:
        """Upsert ``batch`` and, when both are given, ``source``'s ``cursor``, atomically.

        A transaction the server aborts as a deadlock or serialization failure is
        retried (the write is idempotent) up to three times in all.
        """
        for attempt in range(1, _WRITE_RETRIES + 1):
            try:
                with self.transaction() as tx:
                    tx.write(batch)
                    if source is not None and cursor is not None:
                        tx.set_cursor(source, cursor)
                return
            except StorageError as exc:
                retryable = isinstance(exc.__cause__, DeadlockDetected | SerializationFailure)
                if not retryable or attempt == _WRITE_RETRIES:
                    raise
                log.info("store %s: retrying a write the server aborted: %s", self._url, exc)

    def get_cursor(self, source: str) -> str | None:
        """The last committed cursor of ``source``, or ``None``."""
        with self._reader() as conn:
            row = self._guard(
                "cannot read a cursor",
                lambda: conn.execute(
                    "SELECT cursor FROM cursors WHERE source = %s", (source,)
                ).fetchone(),
            )
        return None if row is None else str(row[0])

    @contextmanager
    def _lock_source(self, source: str) -> Iterator[None]:
        self._check_open()
        key = source_lock_key(source)
        conn = self._connect(autocommit=True)
        try:
            row = self._guard(
                "cannot take the source lock",
                lambda: conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone(),
            )
            if row is None or not row[0]:
                raise SourceLocked(f"source {source!r} is being synced by another worker")
            try:
                yield
            finally:
                # closing the session below releases the lock as well
                with suppress(psycopg.Error):
                    conn.execute("SELECT pg_advisory_unlock(%s)", (key,))
        finally:
            conn.close()

    def lock_source(self, source: str) -> AbstractContextManager[None]:
        """Hold the exclusive right to sync ``source`` across every process and machine
        using this database; raises :class:`SourceLocked` if another holder has it.

        The lock is a session advisory lock on a dedicated connection; it is released
        on exit, or by the server when that connection is lost.
        """
        return self._lock_source(source)

    def acquire_leadership(self, name: str) -> LeaderLease | None:
        """Take the leadership ``name`` (e.g. ``"watch"``) of this store, or ``None`` when
        another process holds it: ``pg_try_advisory_lock`` on a dedicated session."""
        self._check_open()
        conn = self._connect(autocommit=True)
        try:
            row = self._guard(
                "cannot read the current schema",
                lambda: conn.execute("SELECT current_schema()").fetchone(),
            )
            key = leader_lock_key(name, str(row[0] if row else ""))
            got = self._guard(
                "cannot take the leadership lock",
                lambda: conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone(),
            )
        except BaseException:
            conn.close()
            raise
        if got is None or not got[0]:
            conn.close()
            return None
        return LeaderLease(conn, key)

    def record_sync_run(self, run: SyncRun) -> None:
        """Append ``run`` to the store's sync log."""
        with self._write_lock:
            conn = self._writer_conn()
            self._guard(
                "cannot record a sync run",
                lambda: conn.execute(
                    "INSERT INTO sync_runs (source, started_at, finished_at, pages, records, "
                    "ok, error) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                    (
                        run.source,
                        run.started_at,
                        run.finished_at,
                        run.pages,
                        run.records,
                        run.ok,
                        run.error,
                    ),
                ),
            )

    def record_notifications(self, entries: Sequence[NotificationRecord]) -> None:
        """Upsert notification ledger entries by ``(notifier, key)`` in one transaction."""
        rows = [
            (
                e.notifier,
                e.key,
                e.commitment,
                e.subject,
                e.event,
                e.deadline,
                e.recorded_at,
                e.sent,
            )
            for e in entries
        ]
        if not rows:
            return
        with self._write_lock:
            conn = self._writer_conn()

            def run() -> None:
                with conn.transaction(), conn.cursor() as cur:
                    cur.executemany(
                        "INSERT INTO notifications (notifier, key, commitment, subject, event, "
                        "deadline, recorded_at, sent) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) "
                        "ON CONFLICT (notifier, key) DO UPDATE SET commitment = "
                        "EXCLUDED.commitment, subject = EXCLUDED.subject, event = "
                        "EXCLUDED.event, deadline = EXCLUDED.deadline, recorded_at = "
                        "EXCLUDED.recorded_at, sent = EXCLUDED.sent",
                        rows,
                    )

            self._guard("cannot record notifications", run)

    def iter_notifications(self, notifier: str | None = None) -> Iterator[NotificationRecord]:
        """Notification ledger entries ordered by ``(notifier, key)``."""
        query = (
            "SELECT notifier, key, commitment, subject, event, deadline, recorded_at, sent "
            "FROM notifications"
        )
        params: tuple[Any, ...] = ()
        if notifier is not None:
            query += " WHERE notifier = %s"
            params = (notifier,)
        query += " ORDER BY notifier, key"
        for row in self._query(query, params):
            yield NotificationRecord(
                notifier=row[0],
                key=row[1],
                commitment=row[2],
                subject=row[3],
                event=row[4],
                deadline=row[5],
                recorded_at=row[6],
                sent=row[7],
            )

    # -- reading ---------------------------------------------------------------------

    def _stream(
        self, conn: _Conn, name: str, query: str, params: Sequence[Any] = ()
    ) -> Generator[_Row, None, None]:
        """Rows of ``query`` through a server-side cursor on ``conn``'s transaction."""
        try:
            cur = conn.cursor(name=name, binary=True)
            cur.itersize = FETCH_SIZE
            cur.execute(query.encode(), params)
        except psycopg.Error as exc:
            raise self._error("read failed", exc) from exc
        try:
            while True:
                try:
                    chunk = cur.fetchmany(FETCH_SIZE)
                except psycopg.Error as exc:
                    raise self._error("read failed", exc) from exc
                if not chunk:
                    return
                yield from chunk
        finally:
            if not conn.closed and not conn.broken:
                with suppress(psycopg.Error):
                    cur.close()

    def _query(self, query: str, params: Sequence[Any] = ()) -> Iterator[_Row]:
        """Stream ``query``'s rows on a reader connection of its own."""
        with self._reader() as conn:
            yield from self._stream(conn, "convokit_read", query, params)

    @staticmethod
    def _window(since: datetime | None, until: datetime | None) -> tuple[list[str], list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        if since is not None:
            clauses.append("sent_at >= %s")
            params.append(since)
        if until is not None:
            clauses.append("sent_at < %s")
            params.append(until)
        return clauses, params

    @staticmethod
    def _where(clauses: Sequence[str]) -> str:
        return f" WHERE {' AND '.join(clauses)}" if clauses else ""

    def iter_conversations(
        self,
        *,
        platform: str | None = None,
        channel: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Iterator[Conversation]:
        """Stream conversations ordered by ``(platform, id)``, with their messages.

        Messages are limited to ``since <= sent_at < until``; when either bound is
        given, a conversation with no message left is skipped, and status changes at or
        after ``until`` are left out. A conversation with messages but no stored record
        is derived (see :func:`convokit_core._storage._common.assemble`). ``channel``
        keeps conversations whose (stored or derived) channel is ``channel``. All three
        underlying streams read one snapshot of the database.
        """
        windowed = since is not None or until is not None
        m_where, m_params = self._window(since, until)
        c_where: list[str] = []
        c_params: list[Any] = []
        if platform is not None:
            m_where.append("platform = %s")
            m_params.append(platform)
            c_where.append("platform = %s")
            c_params.append(platform)
        s_where = list(c_where)
        s_params = list(c_params)
        if until is not None:
            s_where.append("at < %s")
            s_params.append(until)
        with self._reader() as conn:
            messages = self._stream(
                conn,
                "convokit_messages",
                _SELECT_MESSAGES
                + self._where(m_where)
                + " ORDER BY platform, conversation_id, sent_at, id",
                m_params,
            )
            records = self._stream(
                conn,
                "convokit_conversations",
                _SELECT_CONVERSATIONS + self._where(c_where) + " ORDER BY platform, id",
                c_params,
            )
            statuses = self._stream(
                conn,
                "convokit_status",
                _SELECT_STATUS
                + self._where(s_where)
                + " ORDER BY platform, conversation_id, at, status",
                s_params,
            )
            try:
                for conv in _merge(messages, records, statuses, include_empty=not windowed):
                    if channel is None or conv.channel_id == channel:
                        yield conv
            finally:
                for stream in (messages, records, statuses):
                    stream.close()

    def columnar_tables(
        self,
        *,
        as_of_us: int,
        with_tags: bool,
        with_text: bool,
        batch_rows: int,
        with_channels: bool = False,
        transfer: str = "auto",
    ) -> Iterator[tuple[pa.Table, pa.Table]]:
        """Whole conversations as of ``as_of_us`` as Arrow tables, for the columnar
        engine (the contract of ``convokit_core._columnar._arrow``): two ``COPY``
        streams on two connections sharing one snapshot, decoded by ADBC when
        ``adbc_driver_postgresql`` is installed, else by ``pyarrow.csv`` (``transfer``:
        ``"auto"``, ``"adbc"``, ``"csv"``; see :mod:`convokit_postgres._columnar`)."""
        from ._columnar import _adbc, columnar_tables

        dbapi = _adbc()
        errors: tuple[type[BaseException], ...] = (psycopg.Error,)
        if dbapi is not None:
            errors += (dbapi.Error,)
        with ExitStack() as stack:

            def open_connection(adbc: bool) -> Any:
                if not adbc:
                    return stack.enter_context(self._reader())
                assert dbapi is not None
                self._check_open()
                uri = _with_params(self._conninfo, self._connect_kwargs)
                try:
                    conn = dbapi.connect(uri)
                except dbapi.Error as exc:
                    raise self._error("cannot connect", exc) from exc
                stack.callback(conn.close)
                return conn

            tables = columnar_tables(
                open_connection,
                as_of=from_micros(as_of_us),
                with_tags=with_tags,
                with_text=with_text,
                with_channels=with_channels,
                batch_rows=batch_rows,
                transfer=transfer,
            )
            try:
                while True:
                    try:
                        pair = next(tables)
                    except StopIteration:
                        return
                    except errors as exc:
                        raise self._error("read failed", exc) from exc
                    yield pair
            finally:
                tables.close()

    def get_conversation(self, platform: str, id: str) -> Conversation | None:
        """One assembled conversation (stored or derived), or ``None``."""
        key = (platform, id)

        def load(conn: _Conn) -> tuple[list[_Row], list[_Row], list[_Row]]:
            with conn.cursor(binary=True) as cur:
                messages = cur.execute(
                    _SELECT_MESSAGES + " WHERE platform = %s AND conversation_id = %s "
                    "ORDER BY sent_at, id",
                    key,
                ).fetchall()
                records = cur.execute(
                    _SELECT_CONVERSATIONS + " WHERE platform = %s AND id = %s", key
                ).fetchall()
                statuses = cur.execute(
                    _SELECT_STATUS + " WHERE platform = %s AND conversation_id = %s "
                    "ORDER BY at, status",
                    key,
                ).fetchall()
            return messages, records, statuses

        with self._reader() as conn:
            m, r, s = self._guard("read failed", lambda: load(conn))
        return next(_merge(iter(m), iter(r), iter(s), include_empty=True), None)

    def iter_messages(
        self,
        *,
        platform: str | None = None,
        channel: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Iterator[Message]:
        """Stream messages ordered by ``(platform, conversation_id, sent_at, id)``."""
        clauses, params = self._window(since, until)
        if platform is not None:
            clauses.append("platform = %s")
            params.append(platform)
        if channel is not None:
            clauses.append("channel_id = %s")
            params.append(channel)
        query = (
            _SELECT_MESSAGES
            + self._where(clauses)
            + " ORDER BY platform, conversation_id, sent_at, id"
        )
        for row in self._query(query, params):
            yield _message(row)

    def iter_conversation_records(self) -> Iterator[Conversation]:
        """Stored conversation records only (no messages, no history), by key."""
        for row in self._query(_SELECT_CONVERSATIONS + " ORDER BY platform, id"):
            yield _conversation(row)

    def iter_status_changes(self) -> Iterator[StatusChange]:
        """Every status change ordered by ``(platform, conversation_id, at, status)``."""
        query = _SELECT_STATUS + " ORDER BY platform, conversation_id, at, status"
        for row in self._query(query):
            yield _status(row)

    def iter_stakeholders(self) -> Iterator[Stakeholder]:
        """Every stakeholder ordered by id."""
        query = "SELECT id, kind, display_name, identities FROM stakeholders ORDER BY id"
        for row in self._query(query):
            yield Stakeholder(
                id=row[0], kind=row[1], display_name=row[2], identities=_sorted_map(row[3])
            )

    def iter_channels(self) -> Iterator[Channel]:
        """Every channel ordered by ``(platform, id)``."""
        query = (
            "SELECT platform, id, handle, created_at, owner_team FROM channels "
            "ORDER BY platform, id"
        )
        for row in self._query(query):
            yield Channel(
                platform=row[0], id=row[1], handle=row[2], created_at=row[3], owner_team=row[4]
            )

    def iter_team_members(self) -> Iterator[TeamMember]:
        """Every team member ordered by id."""
        query = "SELECT id, name, handles, active_from, active_until FROM team_members ORDER BY id"
        for row in self._query(query):
            yield TeamMember(
                id=row[0],
                name=row[1],
                handles=_sorted_map(row[2]),
                active_from=row[3],
                active_until=row[4],
            )

    def iter_sync_runs(self, source: str | None = None) -> Iterator[SyncRun]:
        """Recorded sync runs, newest first (by start, then by insertion)."""
        query = "SELECT source, started_at, finished_at, pages, records, ok, error FROM sync_runs"
        params: tuple[Any, ...] = ()
        if source is not None:
            query += " WHERE source = %s"
            params = (source,)
        query += " ORDER BY started_at DESC, seq DESC"
        for row in self._query(query, params):
            yield SyncRun(
                source=row[0],
                started_at=row[1],
                finished_at=row[2],
                pages=row[3],
                records=row[4],
                ok=row[5],
                error=row[6],
            )

    def latest_message_at(self) -> datetime | None:
        """When the newest stored message was sent (``None`` without messages)."""
        with self._reader() as conn:
            row = self._guard(
                "cannot read the newest message",
                lambda: conn.execute("SELECT max(sent_at) FROM messages").fetchone(),
            )
        value = None if row is None else row[0]
        return value if isinstance(value, datetime) else None

    def counts(self) -> dict[str, int]:
        """Number of records per kind; ``conversations`` counts stored and derived ones."""
        query = """
            SELECT
                (SELECT count(*) FROM messages),
                (SELECT count(*) FROM (
                    SELECT platform, conversation_id FROM messages
                    UNION SELECT platform, id FROM conversations) AS keys),
                (SELECT count(*) FROM status_changes),
                (SELECT count(*) FROM stakeholders),
                (SELECT count(*) FROM channels),
                (SELECT count(*) FROM team_members)
        """
        with self._reader() as conn:
            row = self._guard("cannot count", lambda: conn.execute(query).fetchone())
        assert row is not None
        names = (
            "messages",
            "conversations",
            "status_changes",
            "stakeholders",
            "channels",
            "team_members",
        )
        return {name: int(value) for name, value in zip(names, row, strict=True)}


def _merge(
    messages: Iterator[_Row],
    records: Iterator[_Row],
    statuses: Iterator[_Row],
    *,
    include_empty: bool,
) -> Iterator[Conversation]:
    """Merge three streams ordered by (platform, conversation id) into conversations."""
    return merge_conversations(
        messages,
        records,
        statuses,
        to_message=_message,
        to_conversation=_conversation,
        to_status=_status,
        include_empty=include_empty,
    )


@attrs.frozen(kw_only=True)
class MigrationReport:
    """What :func:`migrate` found and did."""

    url: str
    """The store URL, password removed."""
    before: int
    """Schema version found."""
    after: int
    """Schema version now (:data:`~convokit_postgres.SCHEMA_VERSION` after success)."""
    applied: tuple[Migration, ...]
    """The migrations this call applied, in order (empty when already current)."""


@contextmanager
def _direct(
    url: str, connect_timeout: int
) -> Iterator[tuple[_Conn, Callable[[str, BaseException], StorageError]]]:
    """An autocommit connection to ``url`` (libpq parameters only) and a function that
    words a database error as a :class:`StorageError` without the password."""
    shown = redact_url(url)
    conninfo, _ = parse_postgres_url(url)
    secret = _password(url)

    def error(what: str, exc: BaseException) -> StorageError:
        detail = str(exc).strip() or type(exc).__name__
        if secret:
            detail = detail.replace(secret, "***")
        return StorageError(f"store {shown!r}: {what}: {detail}")

    try:
        conn = psycopg.connect(
            conninfo, autocommit=True, **_connect_defaults(conninfo, connect_timeout)
        )
    except psycopg.Error as exc:
        raise error("cannot connect", exc) from exc
    try:
        yield conn, error
    finally:
        conn.close()


def schema_version(url: str, *, connect_timeout: int = 10) -> int:
    """The schema version of the database at ``url`` (0 if never migrated), read
    without migrating anything."""
    with _direct(url, connect_timeout) as (conn, error):
        try:
            return current_version(conn)
        except psycopg.Error as exc:
            raise error("cannot read the schema version", exc) from exc


def migrate(url: str, *, connect_timeout: int = 10) -> MigrationReport:
    """Bring the schema of the database at ``url`` up to date, whatever ``auto_migrate``
    says; safe to run while workers are connected and from several places at once.

    Raises:
        StorageError: the server cannot be reached, a migration failed (it is rolled
            back; earlier ones stay applied), or the schema is newer than this release.
    """
    with _direct(url, connect_timeout) as (conn, error):
        try:
            before = current_version(conn)
            applied = apply_migrations(conn)
            after = current_version(conn)
        except ValueError as exc:
            raise StorageError(f"store {redact_url(url)!r}: {exc}") from None
        except psycopg.Error as exc:
            raise error("migration failed", exc) from exc
    return MigrationReport(url=redact_url(url), before=before, after=after, applied=tuple(applied))
