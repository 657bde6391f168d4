"""The columnar engine's input: Arrow tables of whole conversations, read with ``COPY``.

Implements the core's ``columnar_tables`` contract (``convokit_core._columnar._arrow``).
Two streams, both ordered by ``(platform, conversation_id)``: one row per conversation
(its message count, record, derived channel and stakeholder, status history) and the
messages. Each runs on a connection of its own; the second imports the first one's
snapshot (``pg_export_snapshot`` / ``SET TRANSACTION SNAPSHOT``), so both read one
consistent state in ``REPEATABLE READ``. The server does the work per row (the
``as_of`` filter, the order, the packed flags, microseconds since the epoch). A batch
takes conversation rows in blocks, then exactly as many message rows as those
conversations hold. Memory holds one batch.

Two transfers, the same tables:

- ``adbc`` (when ``adbc_driver_postgresql`` is installed): binary ``COPY`` decoded into
  Arrow record batches in C++, no Python object per row;
- ``csv``: ``COPY … (FORMAT csv)`` through psycopg, blocks of rows parsed by
  ``pyarrow.csv`` (the server sends one ``CopyData`` message per row, so ``n`` messages
  are ``n`` rows; psycopg still handles each message in Python).

Measured (benchmarks/bench_columnar.py): a per-batch keyset pagination of both queries
on one connection cost more than the two whole streams (index range scans that visit
the heap row by row, and a count pass over the messages per page).
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Callable, Generator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from datetime import datetime
from itertools import islice
from typing import Any, Protocol

import psycopg
import pyarrow as pa
import pyarrow.csv as pacsv
from psycopg import sql

from convokit_core._columnar._arrow import CONVERSATION_COLUMNS, message_columns

__all__ = ["columnar_tables"]

_Conn = psycopg.Connection[tuple[Any, ...]]


def _micros(column: str) -> str:
    """``column`` (``timestamptz``) as microseconds since the epoch, exactly."""
    return f"(extract(epoch FROM {column}) * 1000000)::int8"


_FLAGS = (
    "((direction = 'outbound')::int + 2 * (direction NOT IN ('inbound', 'outbound'))::int"
    " + 4 * (visibility = 'note')::int + 8 * (visibility <> 'public')::int"
    " + 16 * automated::int)"
)
_FIRST = """
    (SELECT m.{column} FROM messages m
     WHERE m.platform = g.platform AND m.conversation_id = g.conversation_id
       AND m.sent_at <= {{as_of}}{also}
     ORDER BY m.sent_at, m.id LIMIT 1)
"""
_CONVERSATIONS = f"""
    SELECT g.platform, g.conversation_id, g.n AS messages, c.id IS NOT NULL AS record,
        c.channel_id, c.stakeholder_id, c.owner_id, c.status, c.tags::text AS tags,
        CASE WHEN c.id IS NULL THEN {_FIRST.format(column="channel_id", also="")}
        END AS first_channel_id,
        CASE WHEN c.id IS NULL THEN {
    _FIRST.format(column="author_id", also=" AND m.direction = 'inbound'")
} END AS first_inbound_author,
        h.history::text AS history, l.conversation_id IS NOT NULL AS later
    FROM (SELECT platform, conversation_id, count(*) AS n FROM messages
          WHERE sent_at <= {{as_of}} GROUP BY platform, conversation_id) AS g
    LEFT JOIN conversations c ON c.platform = g.platform AND c.id = g.conversation_id
    LEFT JOIN (
        SELECT platform, conversation_id, json_agg(
            json_build_array({_micros("at")}, status) ORDER BY at, status) AS history
        FROM status_changes WHERE at <= {{as_of}} GROUP BY platform, conversation_id
    ) AS h ON h.platform = g.platform AND h.conversation_id = g.conversation_id
    LEFT JOIN (
        SELECT DISTINCT platform, conversation_id FROM status_changes WHERE at > {{as_of}}
    ) AS l ON l.platform = g.platform AND l.conversation_id = g.conversation_id
    ORDER BY g.platform, g.conversation_id
"""
_MESSAGES = """
    SELECT id, {at}, {flags} AS flags{extra} FROM messages
    WHERE sent_at <= {{as_of}}
    ORDER BY platform, conversation_id, sent_at, id
"""

#: The conversation stream is wanted in key order: a GroupAggregate over the
#: messages_by_conversation index and merge joins stream it from the first row, where a
#: HashAggregate must first aggregate and sort every conversation (1M messages,
#: vacuumed: 0.55 s of server time instead of 0.95 s).
_STREAM_GROUPS = "SET LOCAL enable_hashagg = off"

_HINT = str(2 << 20)

_STRING = pa.string()
_CONVERSATION_TYPES = dict(
    zip(
        CONVERSATION_COLUMNS,
        (
            _STRING,
            _STRING,
            pa.int64(),
            pa.bool_(),
            *[_STRING] * 8,
            pa.bool_(),
        ),
        strict=True,
    )
)
_MESSAGE_TYPES = {
    "id": _STRING,
    "sent_at": pa.int64(),
    "flags": pa.int8(),
    "tags": _STRING,
    "text": _STRING,
    "channel_id": _STRING,
}
_CONVERT = {
    # PostgreSQL's CSV: NULL is an unquoted empty field, "" an empty string; no other
    # spelling means NULL (a message may well say "null" or "NaN").
    "null_values": [""],
    "strings_can_be_null": True,
    "quoted_strings_can_be_null": False,
    "true_values": ["t"],
    "false_values": ["f"],
}


class _Stream(Protocol):
    """The rows of one query, taken ``n`` at a time as Arrow tables."""

    def take(self, n: int) -> pa.Table: ...

    def done(self) -> bool: ...


class _CsvStream:
    """``COPY … (FORMAT csv)`` through psycopg, each block parsed by ``pyarrow.csv``.

    The server sends one ``CopyData`` message per row, so ``n`` messages are ``n``
    rows; psycopg still handles each message in Python (about a microsecond a row).
    """

    def __init__(
        self, stack: ExitStack, conn: _Conn, query: str, types: dict[str, pa.DataType]
    ) -> None:
        cur = stack.enter_context(conn.cursor())
        self._copy = stack.enter_context(cur.copy(f"COPY ({query}) TO STDOUT (FORMAT csv)"))
        self._rows = iter(self._copy)
        self._types = types

    def take(self, n: int) -> pa.Table:
        rows = [bytes(chunk) for chunk in islice(self._rows, n)]
        if not rows:
            return pa.table({name: pa.array([], type=t) for name, t in self._types.items()})
        return pacsv.read_csv(
            io.BytesIO(b"".join(rows)),
            read_options=pacsv.ReadOptions(column_names=list(self._types), block_size=1 << 26),
            parse_options=pacsv.ParseOptions(newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(column_types=self._types, **_CONVERT),
        )

    def done(self) -> bool:
        return next(self._rows, None) is None


class _ArrowStream:
    """Record batches of an ADBC cursor (binary ``COPY`` decoded in C++), re-cut into
    tables of ``n`` rows."""

    def __init__(self, reader: pa.RecordBatchReader, types: dict[str, pa.DataType]) -> None:
        self._reader = reader
        self._schema = pa.schema(list(types.items()))
        self._held: list[pa.RecordBatch] = []
        self._rows = 0
        self._end = False

    def _fill(self, n: int) -> None:
        while self._rows < n and not self._end:
            try:
                batch = self._reader.read_next_batch()
            except StopIteration:
                self._end = True
                return
            self._held.append(batch)
            self._rows += batch.num_rows

    def take(self, n: int) -> pa.Table:
        self._fill(n)
        table = pa.Table.from_batches(self._held, schema=self._reader.schema)
        head, rest = table.slice(0, n), table.slice(n)
        self._held = rest.to_batches()
        self._rows = rest.num_rows
        return head.cast(self._schema)

    def done(self) -> bool:
        self._fill(1)
        return self._rows == 0


def _adbc() -> Any:
    """The ``adbc_driver_postgresql`` DB-API module, or ``None`` when not installed."""
    import importlib

    try:  # an optional extra: imported by name, typed or not, present or not
        return importlib.import_module("adbc_driver_postgresql.dbapi")
    except ImportError:
        return None


def columnar_tables(
    open_connection: Callable[[bool], Any],
    *,
    as_of: datetime,
    with_tags: bool,
    with_text: bool,
    batch_rows: int,
    transfer: str = "auto",
    with_channels: bool = False,
) -> Generator[tuple[pa.Table, pa.Table], None, None]:
    """``(conversations, messages)`` pairs of whole conversations as of ``as_of`` (see
    the module docstring).

    ``open_connection(adbc)`` enters a context (on the caller's exit stack) and returns
    a read-only ``REPEATABLE READ`` connection with no transaction open: a psycopg one,
    or with ``adbc`` an ADBC DB-API one. ``transfer``: ``"adbc"``, ``"csv"`` or
    ``"auto"`` (ADBC when ``adbc_driver_postgresql`` is installed).
    """
    if transfer == "auto":
        transfer = "adbc" if _adbc() is not None else "csv"
    names = message_columns(with_tags=with_tags, with_text=with_text, with_channels=with_channels)
    message_types = {name: _MESSAGE_TYPES[name] for name in names}
    extra = (
        (", tags::text AS tags" if with_tags else "")
        + (", text" if with_text else "")
        + (", channel_id" if with_channels else "")
    )
    # ADBC decodes binary timestamps into Arrow microseconds exactly (cast to int64
    # client-side, in C++); as text, the server computes them (numeric, exact since 14)
    at = "sent_at" if transfer == "adbc" else _micros("sent_at")
    first = open_connection(False)  # psycopg: composes the queries, exports the snapshot
    literal = sql.Literal(as_of)
    groups_query = sql.SQL(_CONVERSATIONS).format(as_of=literal).as_string(first)
    messages_query = (
        sql.SQL(_MESSAGES.format(at=at, flags=_FLAGS, extra=extra))
        .format(as_of=literal)
        .as_string(first)
    )
    row = first.execute("SELECT pg_export_snapshot()").fetchone()
    assert row is not None
    snapshot = sql.Literal(str(row[0])).as_string(first)
    block = max(1, batch_rows // 8)
    with ExitStack() as stack:
        groups: _Stream
        messages: _Stream
        if transfer == "adbc":
            cursors = []
            for _ in range(2):
                cur = stack.enter_context(contextlib.closing(open_connection(True).cursor()))
                cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                cur.execute(f"SET TRANSACTION SNAPSHOT {snapshot}")
                cursors.append(cur)
            cursors[0].execute(_STREAM_GROUPS)
            # ADBC's execute waits for the first rows: start both queries at once, so the
            # server aggregates the conversations while it sorts the messages
            with ThreadPoolExecutor(2) as pool:
                started = [
                    pool.submit(_start, cur, query)
                    for cur, query in zip(cursors, (groups_query, messages_query), strict=True)
                ]
                readers = [future.result() for future in started]
            groups = _ArrowStream(readers[0], _CONVERSATION_TYPES)
            messages = _ArrowStream(readers[1], message_types)
        else:
            second = open_connection(False)
            second.execute(f"SET TRANSACTION SNAPSHOT {snapshot}")
            second.execute(_STREAM_GROUPS)
            groups = _CsvStream(stack, second, groups_query, _CONVERSATION_TYPES)
            messages = _CsvStream(stack, first, messages_query, message_types)
        pending: pa.Table | None = None
        exhausted = False
        while True:
            while not exhausted and (pending is None or _total(pending) < batch_rows):
                page = groups.take(block)
                exhausted = page.num_rows < block
                pending = page if pending is None else pa.concat_tables([pending, page])
            if pending is None or not pending.num_rows:
                break
            counts = pending.column("messages").to_numpy()
            reached = (counts.cumsum() >= batch_rows).nonzero()[0]
            take = int(reached[0]) + 1 if len(reached) else pending.num_rows
            head, pending = pending.slice(0, take), pending.slice(take)
            yield head, messages.take(_total(head))
        if not messages.done():
            raise RuntimeError("the store sent messages of no conversation")  # pragma: no cover


def _start(cursor: Any, query: str) -> pa.RecordBatchReader:
    # smaller record batches than the driver's 16 MB: the first arrives sooner, and
    # memory holds less
    cursor.adbc_statement.set_options(**{"adbc.postgresql.batch_size_hint_bytes": _HINT})
    cursor.execute(query)
    return cursor.fetch_record_batch()


def _total(conversations: pa.Table) -> int:
    """How many messages ``conversations`` hold."""
    return int(conversations.column("messages").to_numpy().sum())
