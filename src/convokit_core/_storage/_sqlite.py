"""``sqlite:///path.db`` — the embedded default store.

WAL journal, a busy timeout, every write in a ``BEGIN IMMEDIATE`` transaction, schema
versioned with ``PRAGMA user_version`` and migrated on open, upserts by key, streaming
reads conversation by conversation (a merge of three ordered cursors, so memory holds
one conversation at a time). Messages are stored clustered by conversation (the table's
key is ``(platform, conversation_id, sent_at, id)``, with a unique index on
``(platform, id)`` for upserts), so reading a conversation is a sequential scan.

Concurrent first opens are safe: the migration takes the write lock (``BEGIN
IMMEDIATE``) before it reads ``user_version`` and re-checks it there, so one process
creates the schema and the others find it. ``sqlite:///path.db?mode=ro`` opens a store
read-only; a store whose file or directory is not writable is opened read-only too when
the command only reads, and any write to it is one :class:`StorageError`.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from functools import lru_cache
from itertools import chain
from pathlib import Path
from typing import Any

from .._errors import SourceLocked, StorageError
from .._model import (
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
from .._timeutil import from_micros, to_micros
from ..hookspecs import hookimpl
from ._common import ClosingStore, InProcessLocks, merge_conversations

__all__ = ["SCHEMA_VERSION", "SQLiteStore"]

_MIGRATIONS: tuple[str, ...] = (
    # 1: initial schema
    """
    CREATE TABLE messages (
        platform TEXT NOT NULL,
        id TEXT NOT NULL,
        conversation_id TEXT NOT NULL,
        channel_id TEXT,
        author_id TEXT NOT NULL,
        direction TEXT NOT NULL,
        sent_at INTEGER NOT NULL,
        in_reply_to TEXT,
        text TEXT NOT NULL,
        visibility TEXT NOT NULL,
        automated INTEGER NOT NULL,
        tags TEXT,
        url TEXT,
        edited_at INTEGER,
        deleted INTEGER NOT NULL,
        PRIMARY KEY (platform, conversation_id, sent_at, id)
    ) WITHOUT ROWID;
    CREATE UNIQUE INDEX messages_by_id ON messages (platform, id);
    CREATE TABLE conversations (
        platform TEXT NOT NULL,
        id TEXT NOT NULL,
        channel_id TEXT,
        stakeholder_id TEXT,
        owner_id TEXT,
        status TEXT NOT NULL,
        tags TEXT,
        PRIMARY KEY (platform, id)
    ) WITHOUT ROWID;
    CREATE TABLE status_changes (
        platform TEXT NOT NULL,
        conversation_id TEXT NOT NULL,
        at INTEGER NOT NULL,
        status TEXT NOT NULL,
        PRIMARY KEY (platform, conversation_id, at, status)
    ) WITHOUT ROWID;
    CREATE TABLE stakeholders (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        display_name TEXT,
        identities TEXT NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE channels (
        platform TEXT NOT NULL,
        id TEXT NOT NULL,
        handle TEXT,
        created_at INTEGER,
        owner_team TEXT,
        PRIMARY KEY (platform, id)
    ) WITHOUT ROWID;
    CREATE TABLE team_members (
        id TEXT PRIMARY KEY,
        name TEXT,
        handles TEXT NOT NULL,
        active_from INTEGER,
        active_until INTEGER
    ) WITHOUT ROWID;
    CREATE TABLE cursors (
        source TEXT PRIMARY KEY,
        cursor TEXT NOT NULL,
        updated_at INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE sync_runs (
        source TEXT NOT NULL,
        started_at INTEGER NOT NULL,
        finished_at INTEGER NOT NULL,
        pages INTEGER NOT NULL,
        records INTEGER NOT NULL,
        ok INTEGER NOT NULL,
        error TEXT
    );
    CREATE INDEX sync_runs_by_time ON sync_runs (started_at);
    """,
    # 2: the notification ledger of ``convokit watch``
    """
    CREATE TABLE notifications (
        notifier TEXT NOT NULL,
        key TEXT NOT NULL,
        commitment TEXT NOT NULL,
        subject TEXT NOT NULL,
        event TEXT NOT NULL,
        deadline INTEGER,
        recorded_at INTEGER NOT NULL,
        sent INTEGER NOT NULL,
        PRIMARY KEY (notifier, key)
    ) WITHOUT ROWID;
    """,
)
SCHEMA_VERSION = len(_MIGRATIONS)

_MESSAGE_COLUMNS = (
    "platform, id, conversation_id, channel_id, author_id, direction, sent_at, in_reply_to, "
    "text, visibility, automated, tags, url, edited_at, deleted"
)
_UPSERT_MESSAGE = (
    f"INSERT INTO messages ({_MESSAGE_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) "
    "ON CONFLICT (platform, id) DO UPDATE SET conversation_id=excluded.conversation_id, "
    "channel_id=excluded.channel_id, author_id=excluded.author_id, "
    "direction=excluded.direction, sent_at=excluded.sent_at, "
    "in_reply_to=excluded.in_reply_to, text=excluded.text, visibility=excluded.visibility, "
    "automated=excluded.automated, tags=excluded.tags, url=excluded.url, "
    "edited_at=excluded.edited_at, deleted=excluded.deleted"
)
_INSERT_MESSAGE = (
    f"INSERT INTO messages ({_MESSAGE_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
)
_MESSAGE_WIDTH = 15  # columns of a messages row


@lru_cache(maxsize=8)
def _insert_messages_sql(count: int) -> str:
    """A plain ``INSERT`` of ``count`` messages rows in one statement."""
    values = "(" + ",".join("?" * _MESSAGE_WIDTH) + ")"
    return f"INSERT INTO messages ({_MESSAGE_COLUMNS}) VALUES " + ",".join([values] * count)


def _chain(rows: Sequence[tuple[Any, ...]]) -> list[Any]:
    """The values of ``rows``, one after another (the parameters of a multi-row
    ``INSERT``)."""
    return list(chain.from_iterable(rows))


_UPSERT_CONVERSATION = (
    "INSERT INTO conversations VALUES (?,?,?,?,?,?,?) ON CONFLICT (platform, id) DO UPDATE SET "
    "channel_id=excluded.channel_id, stakeholder_id=excluded.stakeholder_id, "
    "owner_id=excluded.owner_id, status=excluded.status, tags=excluded.tags"
)
_UPSERT_STATUS = "INSERT OR IGNORE INTO status_changes VALUES (?,?,?,?)"
_UPSERT_STAKEHOLDER = (
    "INSERT INTO stakeholders VALUES (?,?,?,?) ON CONFLICT (id) DO UPDATE SET "
    "kind=excluded.kind, display_name=excluded.display_name, identities=excluded.identities"
)
_UPSERT_CHANNEL = (
    "INSERT INTO channels VALUES (?,?,?,?,?) ON CONFLICT (platform, id) DO UPDATE SET "
    "handle=excluded.handle, created_at=excluded.created_at, owner_team=excluded.owner_team"
)
_UPSERT_TEAM = (
    "INSERT INTO team_members VALUES (?,?,?,?,?) ON CONFLICT (id) DO UPDATE SET "
    "name=excluded.name, handles=excluded.handles, active_from=excluded.active_from, "
    "active_until=excluded.active_until"
)
_UPSERT_CURSOR = (
    "INSERT INTO cursors VALUES (?,?,?) ON CONFLICT (source) DO UPDATE SET "
    "cursor=excluded.cursor, updated_at=excluded.updated_at"
)


def _micros_opt(value: datetime | None) -> int | None:
    return None if value is None else to_micros(value)


def _dt_opt(value: int | None) -> datetime | None:
    return None if value is None else from_micros(value)


def _tags_text(tags: Sequence[str]) -> str | None:
    return json.dumps(list(tags), ensure_ascii=False) if tags else None


def message_row(m: Message) -> tuple[Any, ...]:
    """The ``messages`` row of a message (column order of ``_MESSAGE_COLUMNS``)."""
    return (
        m.platform,
        m.id,
        m.conversation_id,
        m.channel_id,
        m.author_id,
        m.direction.value,
        to_micros(m.sent_at),
        m.in_reply_to,
        m.text,
        m.visibility.value,
        1 if m.automated else 0,
        _tags_text(m.tags),
        m.url,
        _micros_opt(m.edited_at),
        1 if m.deleted else 0,
    )


def message_from_row(row: Sequence[Any]) -> Message:
    """The :class:`Message` of a ``messages`` row (inverse of :func:`message_row`)."""
    return Message(
        platform=row[0],
        id=row[1],
        conversation_id=row[2],
        channel_id=row[3],
        author_id=row[4],
        direction=row[5],
        sent_at=from_micros(row[6]),
        in_reply_to=row[7],
        text=row[8],
        visibility=row[9],
        automated=bool(row[10]),
        tags=json.loads(row[11]) if row[11] else (),
        url=row[12],
        edited_at=_dt_opt(row[13]),
        deleted=bool(row[14]),
    )


def _conversation(row: Sequence[Any]) -> Conversation:
    return Conversation(
        platform=row[0],
        id=row[1],
        channel_id=row[2],
        stakeholder_id=row[3],
        owner_id=row[4],
        status=row[5],
        tags=json.loads(row[6]) if row[6] else (),
    )


def _status(row: Sequence[Any]) -> StatusChange:
    return StatusChange(
        platform=row[0], conversation_id=row[1], at=from_micros(row[2]), status=row[3]
    )


def parse_sqlite_url(url: str) -> str:
    """The database path of a ``sqlite:`` URL (``:memory:`` for an in-memory one).

    A query string (``?mode=ro``) is not part of the path; see :func:`sqlite_url_options`.
    """
    return _parse(url)[0]


def sqlite_url_options(url: str) -> dict[str, str]:
    """The query parameters of a ``sqlite:`` URL; only ``mode=ro`` (open read-only) and
    ``mode=rw`` (the default) are known."""
    return _parse(url)[1]


def _parse(url: str) -> tuple[str, dict[str, str]]:
    if not url.lower().startswith("sqlite:"):
        raise StorageError(f"not a sqlite: URL: {url!r}")
    rest = url[len("sqlite:") :]
    rest, _, query = rest.partition("?")
    if rest.startswith("///"):
        path = rest[3:]
    elif rest.startswith("//"):
        raise StorageError(
            f"store URL {url!r}: use sqlite:///relative/path.db or sqlite:////absolute/path.db"
        )
    else:
        path = rest
    if not path:
        raise StorageError(f"store URL {url!r} names no database file")
    options: dict[str, str] = {}
    for item in filter(None, query.split("&")):
        name, eq, value = item.partition("=")
        if name != "mode" or not eq or value not in ("ro", "rw"):
            raise StorageError(
                f"store URL {url!r}: unknown parameter {item!r}; expected mode=ro or mode=rw"
            )
        options[name] = value
    return path, options


@contextmanager
def _switch_lock(path: str) -> Iterator[None]:
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _is_readonly_error(exc: BaseException) -> bool:
    """Whether ``exc`` says the database (or the directory its journal files live in)
    cannot be written: SQLITE_READONLY, or SQLITE_CANTOPEN for a file that exists."""
    code = getattr(exc, "sqlite_errorcode", None)
    primary = None if code is None else code & 0xFF
    return primary in (sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN) or (
        "readonly database" in str(exc)
    )


class _Writer:
    #: Rows per multi-row ``INSERT`` of :meth:`write_message_rows` (at most this many,
    #: and within the connection's limit on bound parameters).
    rows_per_insert = 500

    def __init__(self, store: SQLiteStore) -> None:
        self._store = store
        self._plain_insert = True
        self._per_insert = 0  # rows per multi-row INSERT, set by the first message rows

    def write(self, batch: Batch) -> None:
        self._store._write_rows(batch)

    def lookup_conversations(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], str]:
        """The conversation of each stored ``(platform, message id)`` found, as this
        transaction sees it (the importer's way to derive conversations without keeping
        every message id in memory)."""
        found: dict[tuple[str, str], str] = {}
        by_platform: dict[str, list[str]] = {}
        for platform, id_ in keys:
            by_platform.setdefault(platform, []).append(id_)
        con = self._store._con
        for platform, ids in by_platform.items():
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                marks = ",".join("?" * len(chunk))
                for id_, conversation in con.execute(
                    f"SELECT id, conversation_id FROM messages "
                    f"WHERE platform = ? AND id IN ({marks})",
                    (platform, *chunk),
                ):
                    found[(platform, id_)] = conversation
        return found

    def write_message_rows(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """Upsert pre-built ``messages`` rows (column order of :func:`message_row`);
        the fast path of the importer.

        Rows go in with a plain ``INSERT`` (cheaper than the upsert), several hundred
        rows to a statement (``INSERT … VALUES (…), (…), …``: one statement's overhead
        and one bind call for all of them), the rest of the batch one statement per row.
        When a row meets one with its key, its statement fails as a whole (SQLite undoes
        that statement's rows), and the whole batch is written again with the upsert, in
        order, as is every later batch of the transaction. Upserting the rows already
        inserted again writes the values they have, so the result is the upsert's, row
        for row.
        """
        con = self._store._con
        if self._plain_insert:
            per = self._per_insert
            if not per:
                limit = con.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
                per = self._per_insert = max(min(self.rows_per_insert, limit // _MESSAGE_WIDTH), 1)
            whole = len(rows) - len(rows) % per
            try:
                sql = _insert_messages_sql(per)
                size = per * _MESSAGE_WIDTH
                for start in range(0, whole, per):
                    values = _chain(rows[start : start + per])
                    if len(values) != size:
                        raise ValueError(f"messages rows have {_MESSAGE_WIDTH} values each")
                    con.execute(sql, values)
                if whole < len(rows):
                    con.executemany(_INSERT_MESSAGE, rows[whole:])
                return
            except sqlite3.IntegrityError:
                self._plain_insert = False
        con.executemany(_UPSERT_MESSAGE, rows)

    def set_cursor(self, source: str, cursor: str) -> None:
        self._store._con.execute(
            _UPSERT_CURSOR, (source, cursor, to_micros(datetime.now().astimezone()))
        )


class SQLiteStore(ClosingStore):
    """The embedded default store (see the module docstring)."""

    def __init__(self, url: str, *, busy_timeout: float = 30.0, create: bool = True) -> None:
        self._url = url
        self._path, options = _parse(url)
        self._memory = self._path == ":memory:"
        self._read_only = options.get("mode") == "ro"
        self._immutable = False
        self._lock = threading.RLock()
        self._locks = InProcessLocks()
        self._busy_timeout = busy_timeout
        if not self._memory:
            parent = Path(self._path).parent
            if not parent.exists():
                raise StorageError(f"store {url!r}: directory {str(parent)!r} does not exist")
            missing = not Path(self._path).exists()
            if (not create or self._read_only) and missing:
                raise StorageError(
                    f"store {url!r} does not exist (no file {self._path!r}); read commands "
                    "never create a store: check the URL, or create it with `convokit "
                    "import` or `convokit sync`"
                )
            if not create and Path(self._path).stat().st_size == 0:
                raise self._empty()
        try:
            self._open(create=create)
        except sqlite3.DatabaseError as exc:
            if _is_readonly_error(exc):
                raise StorageError(
                    f"store {url!r} is read-only (the file or its directory is not "
                    f"writable): cannot {'create or migrate' if create else 'open'} it: {exc}"
                ) from exc
            raise StorageError(f"store {url!r}: cannot open database: {exc}") from exc

    def _open(self, *, create: bool) -> None:
        if self._read_only:
            self._con = self._connect(read_only=True)
        else:
            try:
                self._con = self._connect()
            except sqlite3.DatabaseError as exc:
                if create or not _is_readonly_error(exc):
                    raise
                # A read command on a store it may not write: read it read-only.
                self._con = self._connect(read_only=True)
                self._read_only = True
        if (not create or self._read_only) and not self._memory:
            version = self._con.execute("PRAGMA user_version").fetchone()[0]
            if version == 0:
                self._con.close()
                raise self._empty()
            if self._read_only and version != SCHEMA_VERSION:
                self._con.close()
                if version > SCHEMA_VERSION:
                    self._too_new(version)
                raise StorageError(
                    f"store {self._url!r} has schema version {version} and is opened "
                    f"read-only; open it writable once to migrate it to {SCHEMA_VERSION}"
                )
        if not self._read_only:
            self._migrate()

    def _empty(self) -> StorageError:
        return StorageError(
            f"store {self._url!r} is an empty database, not a convokit store yet; read "
            "commands never create a store: check the URL, or create it with `convokit "
            "import` or `convokit sync`"
        )

    def _too_new(self, version: int) -> None:
        raise StorageError(
            f"store {self._url!r} has schema version {version}, newer than this "
            f"convokit-core understands ({SCHEMA_VERSION}); upgrade convokit-core"
        )

    def _database(self, *, read_only: bool) -> tuple[str, bool]:
        """What ``sqlite3.connect`` gets: the path, or a read-only ``file:`` URI."""
        if not read_only or self._memory:
            return self._path, False
        uri = self._file_uri("ro")
        if self._immutable:
            uri += "&immutable=1"
        return uri, True

    def _file_uri(self, mode: str) -> str:
        """The database file as a ``file:`` URI opened with ``mode`` (``ro``, or ``rw``:
        writable, never created)."""
        from urllib.parse import quote

        return f"file:{quote(os.path.abspath(self._path))}?mode={mode}"

    def connect_reader(self) -> sqlite3.Connection:
        """A new connection for streaming reads (read-only when the store is)."""
        database, uri = self._database(read_only=self._read_only)
        return sqlite3.connect(
            database, uri=uri, timeout=self._busy_timeout, check_same_thread=False
        )

    def _connect(self, *, read_only: bool = False) -> sqlite3.Connection:
        database, uri = self._database(read_only=read_only)
        con = sqlite3.connect(
            database,
            uri=uri,
            timeout=self._busy_timeout,
            isolation_level=None,
            check_same_thread=False,
        )
        try:
            con.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout * 1000)}")
            if read_only:
                try:
                    con.execute("PRAGMA user_version").fetchone()
                except sqlite3.DatabaseError as exc:
                    # A WAL store in a directory we may not write has no shared-memory
                    # file to read through; with no WAL file left (the last writer
                    # checkpointed it) the database file alone is the whole store.
                    wal = Path(f"{self._path}-wal")
                    if self._immutable or not _is_readonly_error(exc) or wal.exists():
                        raise
                    con.close()
                    self._immutable = True
                    return self._connect(read_only=True)
                return con
            if not self._memory:
                mode = con.execute("PRAGMA journal_mode").fetchone()[0]
                if str(mode).lower() != "wal":
                    # Switching a fresh file to WAL needs an exclusive lock, and two
                    # connections trying at once get "database is locked" without
                    # waiting; an flock on the file (separate from SQLite's own
                    # locks) lets them take turns.
                    with _switch_lock(self._path):
                        con.execute("PRAGMA journal_mode = WAL")
            con.execute("PRAGMA synchronous = NORMAL")
            con.execute("PRAGMA cache_size = -65536")
        except BaseException:
            con.close()
            raise
        return con

    def _migrate(self) -> None:
        with self._lock:
            version = self._con.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                self._too_new(version)
            if version == SCHEMA_VERSION:
                return
            # Take the write lock first, then read the version again: another process
            # may have migrated between our read and our lock.
            self._con.execute("BEGIN IMMEDIATE")
            try:
                version = self._con.execute("PRAGMA user_version").fetchone()[0]
                if version > SCHEMA_VERSION:
                    self._too_new(version)
                for number in range(version, SCHEMA_VERSION):
                    for statement in _MIGRATIONS[number].split(";"):
                        if statement.strip():
                            self._con.execute(statement)
                    self._con.execute(f"PRAGMA user_version = {number + 1}")
                self._con.execute("COMMIT")
            except BaseException:
                if self._con.in_transaction:
                    self._con.execute("ROLLBACK")
                raise

    @property
    def read_only(self) -> bool:
        """Whether this store was opened read-only (``?mode=ro``, or a read command on a
        store it may not write)."""
        return self._read_only

    def _write_error(self, what: str, exc: sqlite3.DatabaseError) -> StorageError:
        if self._read_only or _is_readonly_error(exc):
            return StorageError(
                f"store {self._url!r} is read-only (opened with mode=ro, or the file or its "
                f"directory is not writable): cannot write: {exc}"
            )
        return StorageError(f"store {self._url!r}: {what}: {exc}")

    @property
    def url(self) -> str:
        return self._url

    @property
    def path(self) -> str:
        """The database file (``:memory:`` for an in-memory store)."""
        return self._path

    @property
    def schema_version(self) -> int:
        return int(self._con.execute("PRAGMA user_version").fetchone()[0])

    # -- writing ---------------------------------------------------------------------

    def _write_rows(self, batch: Batch) -> None:
        con = self._con
        messages = batch.all_messages()
        if messages:
            con.executemany(_UPSERT_MESSAGE, map(message_row, messages))
        if batch.conversations:
            con.executemany(
                _UPSERT_CONVERSATION,
                (
                    (
                        c.platform,
                        c.id,
                        c.channel_id,
                        c.stakeholder_id,
                        c.owner_id,
                        c.status.value,
                        _tags_text(c.tags),
                    )
                    for c in batch.conversations
                ),
            )
        changes = batch.all_status_changes()
        if changes:
            con.executemany(
                _UPSERT_STATUS,
                ((s.platform, s.conversation_id, to_micros(s.at), s.status.value) for s in changes),
            )
        if batch.stakeholders:
            con.executemany(
                _UPSERT_STAKEHOLDER,
                (
                    (
                        s.id,
                        s.kind.value,
                        s.display_name,
                        json.dumps(s.identities, ensure_ascii=False, sort_keys=True),
                    )
                    for s in batch.stakeholders
                ),
            )
        if batch.channels:
            con.executemany(
                _UPSERT_CHANNEL,
                (
                    (c.platform, c.id, c.handle, _micros_opt(c.created_at), c.owner_team)
                    for c in batch.channels
                ),
            )
        if batch.team_members:
            con.executemany(
                _UPSERT_TEAM,
                (
                    (
                        t.id,
                        t.name,
                        json.dumps(t.handles, ensure_ascii=False, sort_keys=True),
                        _micros_opt(t.active_from),
                        _micros_opt(t.active_until),
                    )
                    for t in batch.team_members
                ),
            )

    @contextmanager
    def _transaction(self) -> Iterator[_Writer]:
        with self._lock:
            try:
                self._con.execute("BEGIN IMMEDIATE")
            except sqlite3.DatabaseError as exc:
                raise self._write_error("cannot start a write", exc) from exc
            try:
                yield _Writer(self)
            except BaseException as exc:
                if self._con.in_transaction:
                    self._con.execute("ROLLBACK")
                if isinstance(exc, sqlite3.DatabaseError):
                    raise self._write_error("write failed", exc) from exc
                raise
            try:
                self._con.execute("COMMIT")
            except sqlite3.DatabaseError as exc:
                if self._con.in_transaction:
                    self._con.execute("ROLLBACK")
                raise self._write_error("commit failed", exc) from exc

    def transaction(self) -> AbstractContextManager[_Writer]:
        return self._transaction()

    def write(self, batch: Batch, *, source: str | None = None, cursor: str | None = None) -> None:
        with self.transaction() as tx:
            tx.write(batch)
            if source is not None and cursor is not None:
                tx.set_cursor(source, cursor)

    def get_cursor(self, source: str) -> str | None:
        with self._lock:
            row = self._con.execute(
                "SELECT cursor FROM cursors WHERE source = ?", (source,)
            ).fetchone()
        return None if row is None else str(row[0])

    @contextmanager
    def _lock_source(self, source: str) -> Iterator[None]:
        with self._locks.hold(source):
            if self._memory:
                yield
                return
            digest = hashlib.sha256(source.encode()).hexdigest()[:16]
            lock_path = f"{self._path}.lock-{digest}"
            try:
                fd = os.open(lock_path, os.O_CREAT | os.O_RDWR, 0o644)
            except OSError as exc:
                raise StorageError(
                    f"store {self._url!r}: cannot create the sync lock file {lock_path!r}: "
                    f"{exc.strerror}"
                ) from None
            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    raise SourceLocked(
                        f"source {source!r} is being synced by another process"
                    ) from None
                try:
                    yield
                finally:
                    fcntl.flock(fd, fcntl.LOCK_UN)
            finally:
                os.close(fd)

    def lock_source(self, source: str) -> AbstractContextManager[None]:
        return self._lock_source(source)

    def record_sync_run(self, run: SyncRun) -> None:
        row = (
            run.source,
            to_micros(run.started_at),
            to_micros(run.finished_at),
            run.pages,
            run.records,
            1 if run.ok else 0,
            run.error,
        )
        with self._lock:
            try:
                self._con.execute("INSERT INTO sync_runs VALUES (?,?,?,?,?,?,?)", row)
            except sqlite3.DatabaseError as exc:
                raise self._write_error("cannot record the sync run", exc) from exc

    def iter_sync_runs(self, source: str | None = None) -> Iterator[SyncRun]:
        sql = "SELECT * FROM sync_runs"
        params: tuple[Any, ...] = ()
        if source is not None:
            sql += " WHERE source = ?"
            params = (source,)
        sql += " ORDER BY started_at DESC, rowid DESC"
        for row in self._read(sql, params):
            yield SyncRun(
                source=row[0],
                started_at=from_micros(row[1]),
                finished_at=from_micros(row[2]),
                pages=row[3],
                records=row[4],
                ok=bool(row[5]),
                error=row[6],
            )

    def record_notifications(self, entries: Sequence[NotificationRecord]) -> None:
        rows = [
            (
                e.notifier,
                e.key,
                e.commitment,
                e.subject,
                e.event,
                _micros_opt(e.deadline),
                to_micros(e.recorded_at),
                1 if e.sent else 0,
            )
            for e in entries
        ]
        if not rows:
            return
        with self._transaction():
            self._con.executemany(
                "INSERT OR REPLACE INTO notifications VALUES (?,?,?,?,?,?,?,?)", rows
            )

    def iter_notifications(self, notifier: str | None = None) -> Iterator[NotificationRecord]:
        sql = "SELECT * FROM notifications"
        params: tuple[Any, ...] = ()
        if notifier is not None:
            sql += " WHERE notifier = ?"
            params = (notifier,)
        sql += " ORDER BY notifier, key"
        for row in self._read(sql, params):
            yield NotificationRecord(
                notifier=row[0],
                key=row[1],
                commitment=row[2],
                subject=row[3],
                event=row[4],
                deadline=None if row[5] is None else from_micros(row[5]),
                recorded_at=from_micros(row[6]),
                sent=bool(row[7]),
            )

    # -- reading ---------------------------------------------------------------------

    def _read(self, sql: str, params: Sequence[Any] = ()) -> Iterator[tuple[Any, ...]]:
        """Stream ``sql``'s rows on a connection of its own (WAL readers never block
        the writer); in-memory stores read on their single connection."""
        if self._memory:
            with self._lock:
                rows = self._con.execute(sql, params).fetchall()
            yield from rows
            return
        con = self.connect_reader()
        try:
            cursor = con.execute(sql, params)
            while True:
                chunk = cursor.fetchmany(2000)
                if not chunk:
                    break
                yield from chunk
        finally:
            con.close()

    @staticmethod
    def _window(
        alias: str, since: datetime | None, until: datetime | None
    ) -> tuple[str, list[Any]]:
        clauses, params = [], []
        if since is not None:
            clauses.append(f"{alias}.sent_at >= ?")
            params.append(to_micros(since))
        if until is not None:
            clauses.append(f"{alias}.sent_at < ?")
            params.append(to_micros(until))
        return " AND ".join(clauses), params

    def iter_conversations(
        self,
        *,
        platform: str | None = None,
        channel: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Iterator[Conversation]:
        windowed = since is not None or until is not None
        m_where, m_params = self._window("m", since, until)
        c_where: list[str] = []
        c_params: list[Any] = []
        if platform is not None:
            m_where = " AND ".join(filter(None, [m_where, "m.platform = ?"]))
            m_params.append(platform)
            c_where.append("platform = ?")
            c_params.append(platform)
        messages = self._read(
            f"SELECT {_MESSAGE_COLUMNS} FROM messages m"
            + (f" WHERE {m_where}" if m_where else "")
            + " ORDER BY platform, conversation_id, sent_at, id",
            m_params,
        )
        records = self._read(
            "SELECT * FROM conversations"
            + (f" WHERE {' AND '.join(c_where)}" if c_where else "")
            + " ORDER BY platform, id",
            c_params,
        )
        s_params: list[Any] = list(c_params)
        s_where = list(c_where)
        if until is not None:
            s_where.append("at < ?")
            s_params.append(to_micros(until))
        statuses = self._read(
            "SELECT * FROM status_changes"
            + (f" WHERE {' AND '.join(s_where)}" if s_where else "")
            + " ORDER BY platform, conversation_id, at, status",
            s_params,
        )
        for conv in _merge(messages, records, statuses, include_empty=not windowed):
            if channel is None or conv.channel_id == channel:
                yield conv

    def get_conversation(self, platform: str, id: str) -> Conversation | None:
        messages = self._read(
            f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE platform = ? AND conversation_id = ? "
            "ORDER BY sent_at, id",
            (platform, id),
        )
        records = self._read(
            "SELECT * FROM conversations WHERE platform = ? AND id = ?", (platform, id)
        )
        statuses = self._read(
            "SELECT * FROM status_changes WHERE platform = ? AND conversation_id = ? "
            "ORDER BY at, status",
            (platform, id),
        )
        return next(_merge(messages, records, statuses, include_empty=True), None)

    def iter_messages(
        self,
        *,
        platform: str | None = None,
        channel: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Iterator[Message]:
        where, params = self._window("m", since, until)
        clauses = [where] if where else []
        if platform is not None:
            clauses.append("m.platform = ?")
            params.append(platform)
        if channel is not None:
            clauses.append("m.channel_id = ?")
            params.append(channel)
        sql = f"SELECT {_MESSAGE_COLUMNS} FROM messages m"
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        sql += " ORDER BY platform, conversation_id, sent_at, id"
        return map(message_from_row, self._read(sql, params))

    def iter_conversation_records(self) -> Iterator[Conversation]:
        return map(_conversation, self._read("SELECT * FROM conversations ORDER BY platform, id"))

    def iter_status_changes(self) -> Iterator[StatusChange]:
        return map(
            _status,
            self._read(
                "SELECT * FROM status_changes ORDER BY platform, conversation_id, at, status"
            ),
        )

    def iter_stakeholders(self) -> Iterator[Stakeholder]:
        for row in self._read("SELECT * FROM stakeholders ORDER BY id"):
            yield Stakeholder(
                id=row[0], kind=row[1], display_name=row[2], identities=json.loads(row[3])
            )

    def iter_channels(self) -> Iterator[Channel]:
        for row in self._read("SELECT * FROM channels ORDER BY platform, id"):
            yield Channel(
                platform=row[0],
                id=row[1],
                handle=row[2],
                created_at=_dt_opt(row[3]),
                owner_team=row[4],
            )

    def iter_team_members(self) -> Iterator[TeamMember]:
        for row in self._read("SELECT * FROM team_members ORDER BY id"):
            yield TeamMember(
                id=row[0],
                name=row[1],
                handles=json.loads(row[2]),
                active_from=_dt_opt(row[3]),
                active_until=_dt_opt(row[4]),
            )

    def latest_message_at(self) -> datetime | None:
        with self._lock:
            row = self._con.execute("SELECT max(sent_at) FROM messages").fetchone()
        return None if row is None or row[0] is None else from_micros(row[0])

    def counts(self) -> dict[str, int]:
        with self._lock:
            con = self._con

            def one(sql: str) -> int:
                return int(con.execute(sql).fetchone()[0])

            return {
                "messages": one("SELECT count(*) FROM messages"),
                "conversations": one(
                    "SELECT count(*) FROM (SELECT platform, conversation_id FROM messages "
                    "UNION SELECT platform, id FROM conversations)"
                ),
                "status_changes": one("SELECT count(*) FROM status_changes"),
                "stakeholders": one("SELECT count(*) FROM stakeholders"),
                "channels": one("SELECT count(*) FROM channels"),
                "team_members": one("SELECT count(*) FROM team_members"),
            }

    def close(self) -> None:
        with self._lock:
            self._con.close()


def _merge(
    messages: Iterator[tuple[Any, ...]],
    records: Iterator[tuple[Any, ...]],
    statuses: Iterator[tuple[Any, ...]],
    *,
    include_empty: bool,
) -> Iterator[Conversation]:
    return merge_conversations(
        messages,
        records,
        statuses,
        to_message=message_from_row,
        to_conversation=_conversation,
        to_status=_status,
        include_empty=include_empty,
    )


def _open(url: str, *, create: bool = True) -> Any:
    return SQLiteStore(url, create=create)


@hookimpl
def register_storage(register: Any) -> None:
    register("sqlite", _open, description="embedded SQLite database (the default)")
