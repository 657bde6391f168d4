"""Whole conversations of a SQLite store as column batches, without a Python object per
message beyond what ``sqlite3`` returns.

Two streams in one read transaction, both in primary-key order: the per-conversation
message counts (``GROUP BY platform, conversation_id``, one row per conversation) and
the messages themselves as ``id, sent_at, flags`` where ``flags`` packs direction,
visibility and ``automated`` into one small integer computed by SQLite. Each
``fetchmany`` chunk becomes numpy columns; a batch ends at a conversation boundary.
Conversation records and status changes are merge-joined per conversation.

Measured on 1M messages (docs/performance.md): strings of direction and visibility
plus platform and conversation id per row, made into Arrow arrays, cost about twice as
much as the packed flags in numpy; the conversation id is not read per row at all.

With ``adbc_driver_sqlite`` (a dependency) the message stream and the per-conversation
counts are read by the ADBC driver straight into Arrow record batches, with no Python
object per message beyond the id strings (0.55 s instead of 2.1 s for both streams over
988,114 messages). The conversations query then runs on a second connection, read
ahead on a thread of its own, so that SQLite steps the two scans on two cores; both
take their snapshot while the reader holds the store's write lock, so they see the
same one (:class:`AdbcReader`). When the lock cannot be had at once, or the store is
read-only, every stream runs on the one connection, in its one transaction. Without
the driver, the ``sqlite3`` streams above are used.
"""

from __future__ import annotations

import json
import logging
import operator
import sqlite3
from bisect import bisect_right
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from contextlib import contextmanager
from itertools import chain, islice
from typing import Any

import numpy as np
import numpy.typing as npt

from ._prefetch import prefetched

__all__ = ["F_AUTOMATED", "F_NOTE", "F_OTHER", "F_OUTBOUND", "F_PRIVATE", "ConvBatch", "batches"]

#: Bits of the ``flags`` column.
F_OUTBOUND = 1
F_OTHER = 2  # neither inbound nor outbound (internal)
F_NOTE = 4
F_PRIVATE = 8  # visibility is not public
F_AUTOMATED = 16

#: The flags of a message, computed by SQLite (one CASE per column measured about
#: 0.13 s per 1M messages cheaper than five comparisons; the same bits).
_FLAGS = (
    "CASE direction WHEN 'inbound' THEN 0 WHEN 'outbound' THEN 1 ELSE 2 END "
    "| CASE visibility WHEN 'public' THEN 0 WHEN 'note' THEN 12 ELSE 8 END "
    "| CASE automated WHEN 0 THEN 0 ELSE 16 END"
)
_FETCH = 65_536
#: Rows per Arrow record batch asked of the ADBC driver.
_ADBC_ROWS = 65_536

#: Rows per record batch of the conversations query when it runs on a connection of
#: its own (its rows are wide; smaller batches keep the two threads in step).
_CONVERSATION_ROWS = 8192

I64 = npt.NDArray[np.int64]
log = logging.getLogger("convokit.policy")


class ConvBatch:
    """Consecutive whole conversations: message columns plus one entry per conversation.

    Message columns (``at``, ``flags``, ``ids``, optional ``tags``/``texts``/``msg_channel``) are in
    ``(platform, conversation_id, sent_at, id)`` order; conversation ``k`` holds rows
    ``offsets[k]:offsets[k + 1]``.
    """

    __slots__ = (
        "at",
        "channel",
        "cid",
        "conv",
        "conv_tags",
        "flags",
        "history",
        "ids",
        "kinds",
        "msg_channel",
        "offsets",
        "owner",
        "platform",
        "stakeholder",
        "status",
        "tags",
        "texts",
    )

    def __init__(self) -> None:
        self.at: I64 = np.empty(0, np.int64)
        self.flags: npt.NDArray[np.int8] = np.empty(0, np.int8)
        self.ids: list[str] = []
        self.tags: list[Any] | None = None
        self.texts: list[Any] | None = None
        self.msg_channel: list[str | None] | None = None
        self.offsets: I64 = np.zeros(1, np.int64)
        self.conv: I64 = np.empty(0, np.int64)
        self.platform: list[str] = []
        self.cid: list[str] = []
        self.channel: list[str | None] = []
        self.stakeholder: list[str | None] = []
        self.owner: list[str | None] = []
        self.status: list[str] = []
        self.conv_tags: list[tuple[str, ...]] = []
        self.history: list[list[tuple[int, str]]] = []
        self.kinds: list[str | None] = []

    @property
    def n(self) -> int:
        return len(self.cid)


class AdbcReader:
    """One read snapshot of a SQLite file through the ADBC driver (its low-level API:
    the DB-API module would import pandas). Every query started by one :meth:`start`
    sees the same snapshot; :meth:`close` ends it.

    :meth:`start` runs each query after the first on a connection of its own, so that
    SQLite steps them on different cores, when it can hold them to one snapshot: the
    file is immutable, or a connection opened on ``writable`` takes the write lock
    (``BEGIN IMMEDIATE``, without waiting) while every query takes its snapshot, and
    drops it at once. No commit can land between two of those snapshots. When another
    writer holds the lock, or there is no ``writable`` URI (a read-only store), every
    query runs on the first connection, in its one transaction.

    The lock is SQLite's own, taken through this driver's SQLite: a connection of the
    ``sqlite3`` module in this process (another copy of SQLite) neither sees it nor
    takes part in it."""

    def __init__(
        self, database: str, uri: bool, *, writable: str | None = None, immutable: bool = False
    ) -> None:
        import adbc_driver_sqlite

        if not uri:
            import os
            from urllib.parse import quote

            database = f"file:{quote(os.path.abspath(database))}?mode=ro"
        self._db = adbc_driver_sqlite.connect(database)
        self._cons: list[Any] = []
        self._writable = writable
        self._immutable = immutable
        self._statements: list[Any] = []
        self._con = self._connection()

    def _connection(self) -> Any:
        import adbc_driver_manager

        con = adbc_driver_manager.AdbcConnection(self._db)
        self._cons.append(con)
        con.set_autocommit(False)  # a transaction: one snapshot for every query on it
        return con

    def query(self, sql: str) -> Iterator[Any]:
        """The result of ``sql`` as Arrow record batches, on the first connection."""
        return self._execute(self._con, sql, _ADBC_ROWS)

    def _execute(self, con: Any, sql: str, rows: int) -> Iterator[Any]:
        import adbc_driver_manager
        import pyarrow as pa

        statement = adbc_driver_manager.AdbcStatement(con)
        self._statements.append(statement)
        statement.set_options(**{"adbc.sqlite.query.batch_rows": str(rows)})
        statement.set_sql_query(sql)
        # SQLite steps the statement here (the first batch): its snapshot is taken now
        # and kept while it runs.
        stream, _ = statement.execute_query()
        return iter(pa.RecordBatchReader._import_from_c(stream.address))

    def start(
        self, first: Sequence[str], apart: Sequence[tuple[str, int]]
    ) -> tuple[list[Iterator[Any]], list[Iterator[Any]], bool]:
        """Start the queries ``first`` on the first connection and the queries
        ``apart`` (each with its rows per batch) on connections of their own when they
        can be held to one snapshot, else on the first connection as well. Returns
        their record-batch streams and whether ``apart`` got connections of their own."""
        with self._held() as held:
            streams = [self.query(sql) for sql in first]
            _hook("first started")
            others = [
                self._execute(self._connection() if held else self._con, sql, rows)
                for sql, rows in apart
            ]
        _hook("started")
        return streams, others, held

    @contextmanager
    def _held(self) -> Iterator[bool]:
        """Whether the queries started in this block see one snapshot on any number of
        connections: the write lock is held (or the file cannot change) until it ends."""
        if self._immutable:
            yield True
            return
        if self._writable is None:
            yield False
            return
        import adbc_driver_manager
        import adbc_driver_sqlite

        try:
            db = adbc_driver_sqlite.connect(self._writable)
        except adbc_driver_manager.Error as exc:  # pragma: no cover - opened read-only already
            log.debug("columnar reader: %s; every query on one connection", exc)
            yield False
            return
        con = adbc_driver_manager.AdbcConnection(db)
        held = False
        try:
            try:
                _run(con, "PRAGMA busy_timeout = 0")
                _run(con, "BEGIN IMMEDIATE")
                held = True
            except adbc_driver_manager.Error as exc:
                log.debug(
                    "columnar reader: the write lock is taken (%s); every query on one connection",
                    exc,
                )
            yield held
        finally:
            if held:
                _run(con, "ROLLBACK")
            con.close()
            db.close()

    def close(self) -> None:
        for statement in self._statements:
            statement.close()
        self._statements = []
        for con in self._cons:
            con.rollback()
            con.close()
        self._cons = []
        self._db.close()


def _run(con: Any, sql: str) -> None:
    import adbc_driver_manager

    statement = adbc_driver_manager.AdbcStatement(con)
    try:
        statement.set_sql_query(sql)
        statement.execute_update()
    finally:
        statement.close()


StatusChunk = tuple[list[tuple[str, str]], list[int], list[str]]
"""Fetched status changes: ``(platform, conversation_id)`` keys, instants, statuses."""


def _status_chunks(stream: Iterator[Any]) -> Iterator[StatusChunk]:
    for batch in stream:
        platform, cid, at, status = (column.to_pylist() for column in batch.columns)
        yield list(zip(platform, cid, strict=True)), at, status


def _sqlite3_status_chunks(con: sqlite3.Connection, sql: str) -> Iterator[StatusChunk]:
    cursor = con.execute(sql)
    for rows in iter(lambda: cursor.fetchmany(_FETCH), []):
        platform, cid, at, status = zip(*rows, strict=True)
        yield list(zip(platform, cid, strict=True)), list(at), list(status)


#: Called with ``"first started"`` (the snapshot still held) and ``"started"`` by
#: :meth:`AdbcReader.start`: tests act at those points.
HOOK: Callable[[str], None] | None = None


def _hook(point: str) -> None:
    if HOOK is not None:
        HOOK(point)


def adbc_reader(
    database: str, uri: bool, *, writable: str | None = None, immutable: bool = False
) -> AdbcReader | None:
    """An :class:`AdbcReader`, or ``None`` when the driver is not installed."""
    try:
        return AdbcReader(database, uri, writable=writable, immutable=immutable)
    except ImportError:  # pragma: no cover - a dependency; the sqlite3 streams remain
        return None


Chunk = tuple[list[str], I64, npt.NDArray[np.int8], list[Any], list[Any], list[Any]]
"""Fetched messages: ids, sent_at, flags, tags, texts, own channels (empty lists for
columns not read)."""
_OPTIONAL = ("tags", "text", "channel_id")
#: One row per conversation with a message by ``as_of``, in store order: its message
#: count, its record (if any), the derived channel and stakeholder of a conversation
#: without a record (the first message's channel, the first inbound message's author,
#: as the python engine derives them) and whether it has status changes after as_of.
#: No ORDER BY: SQLite would sort the whole result in a temporary B-tree before its
#: first row (0.42 s before the first of 100,000 conversations instead of 0.04 s). The
#: groups come out of the scan of the messages' primary key in its order, which
#: ``_in_order`` checks as they arrive.
_CONVERSATIONS = (
    "SELECT g.platform, g.conversation_id, g.n, c.id IS NOT NULL, c.channel_id, "
    "c.stakeholder_id, c.owner_id, c.status, c.tags, "
    "CASE WHEN c.id IS NULL THEN (SELECT x.channel_id FROM messages x "
    "WHERE x.platform = g.platform AND x.conversation_id = g.conversation_id "
    "AND x.sent_at <= {as_of} ORDER BY x.sent_at, x.id LIMIT 1) END, "
    "CASE WHEN c.id IS NULL THEN (SELECT x.author_id FROM messages x "
    "WHERE x.platform = g.platform AND x.conversation_id = g.conversation_id "
    "AND x.sent_at <= {as_of} AND x.direction = 'inbound' ORDER BY x.sent_at, x.id "
    "LIMIT 1) END, "
    "{later} "
    "FROM (SELECT platform, conversation_id, count(*) AS n FROM messages "
    "WHERE sent_at <= {as_of} GROUP BY platform, conversation_id) g "
    "LEFT JOIN conversations c ON c.platform = g.platform AND c.id = g.conversation_id"
)


#: Whether a conversation has status changes after ``as_of`` (the last column).
_LATER = (
    "EXISTS (SELECT 1 FROM status_changes s WHERE s.platform = g.platform "
    "AND s.conversation_id = g.conversation_id AND s.at > {as_of})"
)


def _sqlite3_chunks(con: sqlite3.Connection, sql: str, at: dict[str, int]) -> Iterator[Chunk]:
    cursor = con.execute(sql)
    while True:
        rows = cursor.fetchmany(_FETCH)
        if not rows:
            return
        cols = list(zip(*rows, strict=True))
        tags, texts, channels = (list(cols[at[n]]) if n in at else [] for n in _OPTIONAL)
        yield (
            list(cols[0]),
            np.array(cols[1], dtype=np.int64),
            np.array(cols[2], dtype=np.int8),
            tags,
            texts,
            channels,
        )


def _ints(array: Any) -> I64:
    """An Arrow integer array without nulls as int64 numpy, read from its buffer
    (``Array.to_numpy`` would import pandas)."""
    if array.null_count:  # pragma: no cover - the columns read are NOT NULL
        raise RuntimeError("a NOT NULL column came back with nulls")
    width = array.type.bit_width // 8
    dtype = np.dtype(f"<i{width}")
    values = np.frombuffer(
        array.buffers()[1], dtype=dtype, count=len(array), offset=array.offset * width
    )
    return values.astype(np.int64, copy=False)


def _adbc_chunks(stream: Iterator[Any], at: dict[str, int]) -> Iterator[Chunk]:
    for batch in stream:
        cols = batch.columns
        tags, texts, channels = (cols[at[n]].to_pylist() if n in at else [] for n in _OPTIONAL)
        yield (
            cols[0].to_pylist(),
            _ints(cols[1]),
            _ints(cols[2]).astype(np.int8),
            tags,
            texts,
            channels,
        )


def batches(
    con: sqlite3.Connection | AdbcReader,
    *,
    as_of_us: int,
    kinds: Mapping[str, str],
    with_tags: bool,
    with_text: bool,
    with_channels: bool = False,
    batch_rows: int = _FETCH,
    with_statuses: bool = True,
) -> Iterator[ConvBatch]:
    """Stream the conversations of ``con`` (a ``sqlite3`` connection, or an
    :class:`AdbcReader`) as of ``as_of_us`` in batches of about ``batch_rows``
    messages (a conversation is never split). ``with_channels`` reads each message's
    own ``channel_id`` too (for channel-level rules). Without ``with_statuses`` the
    status changes are not read: ``status`` and ``history`` stay empty (for rules that
    do not read them, :func:`._rules.uses_statuses`)."""
    if isinstance(con, sqlite3.Connection):
        con.execute("BEGIN")  # one snapshot for every stream
        try:
            yield from _batches(
                con, as_of_us, kinds, with_tags, with_text, with_channels, batch_rows, with_statuses
            )
        finally:
            con.rollback()
    else:  # an AdbcReader is one transaction already
        yield from _batches(
            con, as_of_us, kinds, with_tags, with_text, with_channels, batch_rows, with_statuses
        )


def _batches(
    con: sqlite3.Connection | AdbcReader,
    as_of_us: int,
    kinds: Mapping[str, str],
    with_tags: bool,
    with_text: bool,
    with_channels: bool,
    batch_rows: int,
    with_statuses: bool,
) -> Iterator[ConvBatch]:
    wanted = [("tags", with_tags), ("text", with_text), ("channel_id", with_channels)]
    extra = [name for name, on in wanted if on]
    at = {name: 3 + i for i, name in enumerate(extra)}
    as_of = int(as_of_us)  # an int, written into the SQL (ADBC binds no parameters here)
    message_sql = (
        f"SELECT id, sent_at, {_FLAGS}{''.join(', ' + e for e in extra)} FROM messages "
        f"WHERE sent_at <= {as_of} ORDER BY platform, conversation_id, sent_at, id"
    )
    later = _LATER.format(as_of=as_of) if with_statuses else "0"
    conversation_sql = _CONVERSATIONS.format(as_of=as_of, later=later)
    status_sql = (
        "SELECT platform, conversation_id, at, status FROM status_changes "
        f"WHERE at <= {as_of} ORDER BY platform, conversation_id, at, status"
    )
    if isinstance(con, AdbcReader):
        first = [message_sql, status_sql] if with_statuses else [message_sql]
        streams, (conversation_stream,), apart = con.start(
            first, [(conversation_sql, _CONVERSATION_ROWS)]
        )
        chunks = _adbc_chunks(streams[0], at)
        ordered = _in_order(
            [column.to_pylist() for column in batch.columns] for batch in conversation_stream
        )
        # on a connection of its own, SQLite steps it on another core, ahead of us
        conversations = (
            prefetched(lambda: ordered, depth=1, name="convokit-columnar-conversations")
            if apart
            else ordered
        )
        statuses = _status_chunks(streams[1]) if with_statuses else iter(())
    else:
        chunks = _sqlite3_chunks(con, message_sql, at)
        cursor = con.execute(conversation_sql)
        conversations = _in_order(
            [list(column) for column in zip(*rows, strict=True)]
            for rows in iter(lambda: cursor.fetchmany(_FETCH), [])
        )
        statuses = _sqlite3_status_chunks(con, status_sql) if with_statuses else iter(())
    try:
        yield from _merged(
            chunks,
            conversations,
            statuses,
            kinds=kinds,
            with_tags=with_tags,
            with_text=with_text,
            with_channels=with_channels,
            batch_rows=batch_rows,
            with_statuses=with_statuses,
        )
    finally:
        conversations.close()  # a reader thread of its own, if any, is joined


def _merged(
    chunks: Iterator[Chunk],
    conversations: Iterator[list[list[Any]]],
    statuses: Iterator[StatusChunk],
    *,
    kinds: Mapping[str, str],
    with_tags: bool,
    with_text: bool,
    with_channels: bool,
    batch_rows: int,
    with_statuses: bool,
) -> Iterator[ConvBatch]:
    """Whole conversations of about ``batch_rows`` messages: the message chunks, the
    conversations and the status changes, all in primary-key order, merged."""
    # the fetched status changes: keys, instants and statuses, the first ``done`` merged
    status_keys: list[tuple[str, str]] = []
    status_at: list[int] = []
    status_name: list[str] = []
    done = 0
    pending: list[Chunk] = []  # fetched message chunks not yet in a batch
    buffered = 0
    waiting: list[list[Any]] = []  # fetched conversation columns not yet in a batch
    while True:
        # the conversations of this batch: whole ones, about batch_rows messages
        while not waiting or sum(waiting[2]) < batch_rows:
            more = next(conversations, None)
            if more is None:
                break
            waiting = more if not waiting else [a + b for a, b in zip(waiting, more, strict=True)]
        if not waiting or not waiting[0]:
            return
        counts_all = np.asarray(waiting[2], dtype=np.int64)
        take = int(np.searchsorted(np.cumsum(counts_all), batch_rows, side="left")) + 1
        take = min(take, len(counts_all))
        cols = [c[:take] for c in waiting]
        waiting = [c[take:] for c in waiting]
        platform, cid, counts, has_record, r_channel, r_stakeholder, r_owner, r_status = cols[:8]
        r_tags, d_channel, d_author, has_later = cols[8:]
        need = int(counts_all[:take].sum())
        batch = ConvBatch()
        batch.platform, batch.cid = platform, cid
        while buffered < need:
            chunk = next(chunks, None)
            if chunk is None:
                raise RuntimeError("the store changed while it was read")  # pragma: no cover
            pending.append(chunk)
            buffered += len(chunk[0])
        ids = list(chain.from_iterable(p[0] for p in pending))
        times = np.concatenate([p[1] for p in pending])
        flags = np.concatenate([p[2] for p in pending])
        tags = list(chain.from_iterable(p[3] for p in pending))
        texts = list(chain.from_iterable(p[4] for p in pending))
        channels = list(chain.from_iterable(p[5] for p in pending))
        buffered -= need
        pending = []
        if buffered:
            pending.append(
                (
                    ids[need:],
                    times[need:],
                    flags[need:],
                    tags[need:],
                    texts[need:],
                    channels[need:],
                )
            )
        batch.ids = ids[:need] if buffered else ids
        batch.at = times[:need]
        batch.flags = flags[:need]
        if with_tags:
            batch.tags = tags[:need]
        if with_text:
            batch.texts = texts[:need]
        if with_channels:
            batch.msg_channel = channels[:need]
        batch.offsets = np.zeros(take + 1, np.int64)
        np.cumsum(counts, out=batch.offsets[1:])
        batch.conv = np.repeat(np.arange(take, dtype=np.int64), counts)
        batch.channel = [
            r if h else d for h, r, d in zip(has_record, r_channel, d_channel, strict=True)
        ]
        batch.stakeholder = [
            r if h else d for h, r, d in zip(has_record, r_stakeholder, d_author, strict=True)
        ]
        batch.owner = [r if h else None for h, r in zip(has_record, r_owner, strict=True)]
        batch.conv_tags = [tuple(json.loads(t)) if t else () for t in r_tags]
        if not with_statuses:
            batch.kinds = [kinds.get(s) if s else None for s in batch.stakeholder]
            yield batch  # status and history left empty: nothing reads them
            continue
        histories: list[list[tuple[int, str]]] = [[] for _ in range(take)]
        last = (platform[-1], cid[-1])
        where: dict[tuple[str, str], int] | None = None
        while True:
            if done == len(status_keys):
                fetched = next(statuses, None)
                if fetched is None:
                    break
                status_keys, status_at, status_name = fetched
                done = 0
            cut = bisect_right(status_keys, last, lo=done)  # the changes of this batch
            if cut > done:
                if where is None:
                    where = {key: k for k, key in enumerate(zip(platform, cid, strict=True))}
                for key, at_, name in zip(
                    status_keys[done:cut], status_at[done:cut], status_name[done:cut], strict=True
                ):
                    k = where.get(key)
                    if k is not None:  # (changes of a conversation without messages: none)
                        histories[k].append((at_, name))
            done = cut
            if done < len(status_keys):  # the rest belongs to later conversations
                break
        batch.history = histories
        batch.status = [
            h[-1][1] if h else ("open" if later else (r if rec else "open"))
            for h, later, r, rec in zip(histories, has_later, r_status, has_record, strict=True)
        ]
        batch.kinds = [kinds.get(s) if s else None for s in batch.stakeholder]
        yield batch


def _in_order(columns: Iterator[list[list[Any]]]) -> Generator[list[list[Any]], None, None]:
    """``columns`` (platform and conversation id first), checked to be strictly
    increasing in ``(platform, conversation_id)``: the order of the message stream
    they are merged with. SQLite compares text as UTF-8 bytes, which orders as
    Python's code points."""
    last: tuple[str, str] | None = None
    for cols in columns:
        keys = list(zip(cols[0], cols[1], strict=True))
        if keys:
            if (last is not None and not last < keys[0]) or not all(
                map(operator.lt, keys, islice(keys, 1, None))
            ):
                raise RuntimeError(  # a query plan SQLite does not choose today
                    "SQLite returned the conversations out of primary-key order"
                )
            last = keys[-1]
        yield cols


def message_tags(raw: Any) -> Sequence[str]:
    """Tags of one stored message (JSON text), as the python engine reads them."""
    if not raw:
        return ()
    if isinstance(raw, str):
        value = json.loads(raw)
        return tuple(value) if isinstance(value, list) else ()
    return tuple(raw)
