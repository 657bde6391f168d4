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
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from functools import partial
from itertools import chain
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

_FLAGS = (
    "(direction = 'outbound') + 2 * (direction NOT IN ('inbound', 'outbound')) "
    "+ 4 * (visibility = 'note') + 8 * (visibility <> 'public') + 16 * (automated <> 0)"
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
#: Channel and stakeholder of each conversation without a record, as the python engine
#: derives them: the first message's channel, the first inbound message's author.
_DERIVED = (
    "SELECT m.platform, m.conversation_id, "
    "(SELECT x.channel_id FROM messages x WHERE x.platform = m.platform "
    "AND x.conversation_id = m.conversation_id AND x.sent_at <= {as_of} "
    "ORDER BY x.sent_at, x.id LIMIT 1), "
    "(SELECT x.author_id FROM messages x WHERE x.platform = m.platform "
    "AND x.conversation_id = m.conversation_id AND x.sent_at <= {as_of} "
    "AND x.direction = 'inbound' ORDER BY x.sent_at, x.id LIMIT 1) "
    "FROM (SELECT DISTINCT platform, conversation_id FROM messages "
    "WHERE sent_at <= {as_of}) m "
    "LEFT JOIN conversations c ON c.platform = m.platform AND c.id = m.conversation_id "
    "WHERE c.id IS NULL ORDER BY m.platform, m.conversation_id"
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
) -> Iterator[ConvBatch]:
    """Stream the conversations of ``con`` (a ``sqlite3`` connection, or an
    :class:`AdbcReader`) as of ``as_of_us`` in batches of about ``batch_rows``
    messages (a conversation is never split). ``with_channels`` reads each message's
    own ``channel_id`` too (for channel-level rules)."""
    if isinstance(con, sqlite3.Connection):
        con.execute("BEGIN")  # one snapshot for every stream
        try:
            yield from _batches(
                con, as_of_us, kinds, with_tags, with_text, with_channels, batch_rows
            )
        finally:
            con.rollback()
    else:  # an AdbcReader is one transaction already
        yield from _batches(con, as_of_us, kinds, with_tags, with_text, with_channels, batch_rows)


def _batches(
    con: sqlite3.Connection | AdbcReader,
    as_of_us: int,
    kinds: Mapping[str, str],
    with_tags: bool,
    with_text: bool,
    with_channels: bool,
    batch_rows: int,
) -> Iterator[ConvBatch]:
    wanted = [("tags", with_tags), ("text", with_text), ("channel_id", with_channels)]
    extra = [name for name, on in wanted if on]
    at = {name: 3 + i for i, name in enumerate(extra)}
    as_of = int(as_of_us)  # an int, written into the SQL (ADBC binds no parameters here)
    message_sql = (
        f"SELECT id, sent_at, {_FLAGS}{''.join(', ' + e for e in extra)} FROM messages "
        f"WHERE sent_at <= {as_of} ORDER BY platform, conversation_id, sent_at, id"
    )
    if isinstance(con, AdbcReader):
        chunks = _adbc_chunks(con, message_sql, at)
        stream: Any = con.rows
    else:
        chunks = _sqlite3_chunks(con, message_sql, at)
        stream = partial(_stream, con)
    groups = stream(
        f"SELECT platform, conversation_id, count(*) FROM messages WHERE sent_at <= {as_of} "
        "GROUP BY platform, conversation_id ORDER BY platform, conversation_id"
    )
    records = stream(
        "SELECT platform, id, channel_id, stakeholder_id, owner_id, status, tags "
        "FROM conversations ORDER BY platform, id"
    )
    statuses = stream(
        "SELECT platform, conversation_id, at, status FROM status_changes "
        f"WHERE at <= {as_of} ORDER BY platform, conversation_id, at, status"
    )
    later = stream(
        f"SELECT DISTINCT platform, conversation_id FROM status_changes WHERE at > {as_of} "
        "ORDER BY platform, conversation_id"
    )
    derived = stream(_DERIVED.format(as_of=as_of))
    derived_row = next(derived, None)
    record = next(records, None)
    status_row = next(statuses, None)
    later_row = next(later, None)
    pending: list[Chunk] = []  # fetched chunks not yet in a batch
    buffered = 0
    group = next(groups, None)
    while group is not None:
        batch = ConvBatch()
        counts: list[int] = []
        need = 0
        while group is not None and (need < batch_rows or not counts):
            batch.platform.append(group[0])
            batch.cid.append(group[1])
            counts.append(group[2])
            need += group[2]
            group = next(groups, None)
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
        batch.offsets = np.zeros(len(counts) + 1, np.int64)
        np.cumsum(counts, out=batch.offsets[1:])
        batch.conv = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
        for key in zip(batch.platform, batch.cid, strict=True):
            while record is not None and (record[0], record[1]) < key:
                record = next(records, None)
            history: list[tuple[int, str]] = []
            while status_row is not None and (status_row[0], status_row[1]) < key:
                status_row = next(statuses, None)
            while status_row is not None and (status_row[0], status_row[1]) == key:
                history.append((status_row[2], status_row[3]))
                status_row = next(statuses, None)
            while later_row is not None and (later_row[0], later_row[1]) < key:
                later_row = next(later, None)
            has_later = later_row is not None and (later_row[0], later_row[1]) == key
            if record is not None and (record[0], record[1]) == key:
                channel, stakeholder, owner, stored = record[2], record[3], record[4], record[5]
                conv_tags: tuple[str, ...] = tuple(json.loads(record[6])) if record[6] else ()
            else:
                while derived_row is not None and (derived_row[0], derived_row[1]) < key:
                    derived_row = next(derived, None)
                if derived_row is None or (derived_row[0], derived_row[1]) != key:
                    raise RuntimeError("the store changed while it was read")  # pragma: no cover
                channel, stakeholder = derived_row[2], derived_row[3]
                owner, stored, conv_tags = None, "open", ()
            batch.channel.append(channel)
            batch.stakeholder.append(stakeholder)
            batch.owner.append(owner)
            batch.conv_tags.append(conv_tags)
            batch.history.append(history)
            if history:
                batch.status.append(history[-1][1])
            elif has_later:
                batch.status.append("open")
            else:
                batch.status.append(stored)
            batch.kinds.append(kinds.get(stakeholder) if stakeholder else None)
        yield batch


def message_tags(raw: Any) -> Sequence[str]:
    """Tags of one stored message (JSON text), as the python engine reads them."""
    if not raw:
        return ()
    if isinstance(raw, str):
        value = json.loads(raw)
        return tuple(value) if isinstance(value, list) else ()
    return tuple(raw)
