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
988,114 messages). Every stream then runs on the one ADBC connection, in the one
transaction it opens. Without the driver, the ``sqlite3`` streams above are used.
"""

from __future__ import annotations

import json
import operator
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from itertools import chain, islice
from typing import Any

import numpy as np
import numpy.typing as npt

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

I64 = npt.NDArray[np.int64]


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


def _stream(con: Any, sql: str) -> Iterator[Any]:
    cursor = con.execute(sql)
    return chain.from_iterable(iter(lambda: cursor.fetchmany(5000), []))


class AdbcReader:
    """One read transaction on a SQLite file through the ADBC driver (its low-level
    API: the DB-API module would import pandas). Every query of one reader sees the
    same snapshot; :meth:`close` ends it."""

    def __init__(self, database: str, uri: bool) -> None:
        import adbc_driver_manager
        import adbc_driver_sqlite

        if not uri:
            import os
            from urllib.parse import quote

            database = f"file:{quote(os.path.abspath(database))}?mode=ro"
        self._db = adbc_driver_sqlite.connect(database)
        self._con = adbc_driver_manager.AdbcConnection(self._db)
        self._con.set_autocommit(False)  # a transaction: one snapshot for every query
        self._statements: list[Any] = []

    def query(self, sql: str) -> Iterator[Any]:
        """The result of ``sql`` as Arrow record batches."""
        import adbc_driver_manager
        import pyarrow as pa

        statement = adbc_driver_manager.AdbcStatement(self._con)
        self._statements.append(statement)
        statement.set_options(**{"adbc.sqlite.query.batch_rows": str(_ADBC_ROWS)})
        statement.set_sql_query(sql)
        stream, _ = statement.execute_query()
        return iter(pa.RecordBatchReader._import_from_c(stream.address))

    def rows(self, sql: str) -> Iterator[tuple[Any, ...]]:
        """The result of ``sql`` as tuples (converted a batch at a time)."""
        for batch in self.query(sql):
            yield from zip(*(column.to_pylist() for column in batch.columns), strict=True)

    def close(self) -> None:
        for statement in self._statements:
            statement.close()
        self._statements = []
        self._con.rollback()
        self._con.close()
        self._db.close()


def adbc_reader(database: str, uri: bool) -> AdbcReader | None:
    """An :class:`AdbcReader`, or ``None`` when the driver is not installed."""
    try:
        return AdbcReader(database, uri)
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
# No ORDER BY: SQLite would sort the whole result in a temporary B-tree before its
# first row (0.42 s before the first of 100,000 conversations instead of 0.04 s). The
# groups come out of the scan of the messages' primary key in its order, which
# ``_in_order`` checks as they arrive.


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


def _adbc_chunks(reader: AdbcReader, sql: str, at: dict[str, int]) -> Iterator[Chunk]:
    for batch in reader.query(sql):
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
        chunks = _adbc_chunks(con, message_sql, at)
        conversations = _in_order(
            [column.to_pylist() for column in batch.columns]
            for batch in con.query(conversation_sql)
        )
        statuses = con.rows(status_sql) if with_statuses else iter(())
    else:
        chunks = _sqlite3_chunks(con, message_sql, at)
        cursor = con.execute(conversation_sql)
        conversations = _in_order(
            [list(column) for column in zip(*rows, strict=True)]
            for rows in iter(lambda: cursor.fetchmany(_FETCH), [])
        )
        statuses = _stream(con, status_sql) if with_statuses else iter(())
    status_row = next(statuses, None)
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
        if status_row is not None and (status_row[0], status_row[1]) <= last:
            where = {key: k for k, key in enumerate(zip(platform, cid, strict=True))}
            while status_row is not None and (status_row[0], status_row[1]) <= last:
                k = where.get((status_row[0], status_row[1]))
                if k is not None:  # (changes of a conversation without messages: none)
                    histories[k].append((status_row[2], status_row[3]))
                status_row = next(statuses, None)
        batch.history = histories
        batch.status = [
            h[-1][1] if h else ("open" if later else (r if rec else "open"))
            for h, later, r, rec in zip(histories, has_later, r_status, has_record, strict=True)
        ]
        batch.kinds = [kinds.get(s) if s else None for s in batch.stakeholder]
        yield batch


def _in_order(columns: Iterator[list[list[Any]]]) -> Iterator[list[list[Any]]]:
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
