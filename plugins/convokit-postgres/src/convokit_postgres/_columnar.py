"""The columnar engine's input: Arrow tables of whole conversations, read with ``COPY``.

Implements the core's ``columnar_tables`` contract (``convokit_core._columnar._arrow``).
Everything is read in the caller's read-only ``REPEATABLE READ`` transaction, so every
query sees one snapshot. The server does the work per row — the ``as_of`` filter, the
order, the packed flags, microseconds since the epoch — and the client never builds a
Python object per row: each query's ``COPY … TO STDOUT (FORMAT csv)`` output is parsed
by ``pyarrow.csv`` straight into columns.

Conversations are read in pages of at most ``batch_rows // 8`` (keyset pagination on
``(platform, conversation_id)``, one ``GroupAggregate`` over the
``messages_by_conversation`` index); a batch takes conversations until it holds at least
``batch_rows`` messages, then the messages of exactly that key range are copied. Memory
holds one batch.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

import psycopg
import pyarrow as pa
import pyarrow.csv as pacsv

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
_AFTER = ' AND (platform, conversation_id) > (%s COLLATE "C", %s COLLATE "C")'
_GROUPS = """
    SELECT platform, conversation_id, count(*) AS n FROM messages
    WHERE sent_at <= %s{after}
    GROUP BY platform, conversation_id ORDER BY platform, conversation_id LIMIT %s
"""
_FIRST = """
    (SELECT m.{column} FROM messages m
     WHERE m.platform = g.platform AND m.conversation_id = g.conversation_id
       AND m.sent_at <= %s{also}
     ORDER BY m.sent_at, m.id LIMIT 1)
"""
_CONVERSATIONS = f"""
    SELECT g.platform, g.conversation_id, g.n, c.id IS NOT NULL,
        c.channel_id, c.stakeholder_id, c.owner_id, c.status, c.tags::text,
        CASE WHEN c.id IS NULL THEN {_FIRST.format(column="channel_id", also="")} END,
        CASE WHEN c.id IS NULL THEN {
    _FIRST.format(column="author_id", also=" AND m.direction = 'inbound'")
} END,
        (SELECT json_agg(json_build_array({_micros("s.at")}, s.status) ORDER BY s.at, s.status)
         FROM status_changes s
         WHERE s.platform = g.platform AND s.conversation_id = g.conversation_id
           AND s.at <= %s),
        EXISTS (SELECT 1 FROM status_changes s
                WHERE s.platform = g.platform AND s.conversation_id = g.conversation_id
                  AND s.at > %s)
    FROM ({{groups}}) AS g
    LEFT JOIN conversations c ON c.platform = g.platform AND c.id = g.conversation_id
    ORDER BY g.platform, g.conversation_id
"""
_MESSAGES = """
    SELECT id, {at}, {flags}{extra} FROM messages
    WHERE (platform, conversation_id) >= (%s COLLATE "C", %s COLLATE "C")
      AND (platform, conversation_id) <= (%s COLLATE "C", %s COLLATE "C")
      AND sent_at <= %s
    ORDER BY platform, conversation_id, sent_at, id
"""

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


def _copy_table(
    conn: _Conn, query: str, params: Sequence[Any], types: dict[str, pa.DataType]
) -> pa.Table:
    """The rows of ``query`` as an Arrow table with columns ``types`` (in order)."""
    buffer = io.BytesIO()
    with conn.cursor() as cur, cur.copy(f"COPY ({query}) TO STDOUT (FORMAT csv)", params) as copy:
        for chunk in copy:
            buffer.write(chunk)
    names = list(types)
    if not buffer.tell():
        return pa.table({name: pa.array([], type=kind) for name, kind in types.items()})
    return pacsv.read_csv(
        pa.py_buffer(buffer.getbuffer()),
        read_options=pacsv.ReadOptions(column_names=names, block_size=1 << 24, use_threads=False),
        parse_options=pacsv.ParseOptions(newlines_in_values=True),
        convert_options=pacsv.ConvertOptions(column_types=types, **_CONVERT),
    )


def columnar_tables(
    conn: _Conn,
    *,
    as_of: datetime,
    with_tags: bool,
    with_text: bool,
    batch_rows: int,
) -> Iterator[tuple[pa.Table, pa.Table]]:
    """``(conversations, messages)`` pairs of whole conversations as of ``as_of`` (see
    the module docstring), read on ``conn``'s open transaction."""
    page_size = max(1, batch_rows // 8)
    names = message_columns(with_tags=with_tags, with_text=with_text)
    message_types = {name: _MESSAGE_TYPES[name] for name in names}
    extra = (", tags::text" if with_tags else "") + (", text" if with_text else "")
    messages_query = _MESSAGES.format(at=_micros("sent_at"), flags=_FLAGS, extra=extra)
    first_page = _CONVERSATIONS.format(groups=_GROUPS.format(after=""))
    next_page = _CONVERSATIONS.format(groups=_GROUPS.format(after=_AFTER))
    pending: pa.Table | None = None
    last: tuple[str, str] | None = None
    exhausted = False
    while True:
        held = 0 if pending is None else _total(pending)
        while not exhausted and held < batch_rows:
            if last is None:
                query, keys = first_page, [as_of, page_size]
            else:
                query, keys = next_page, [as_of, *last, page_size]
            page = _copy_table(conn, query, _params(as_of, keys), _CONVERSATION_TYPES)
            exhausted = page.num_rows < page_size
            if page.num_rows:
                last = (page.column(0)[-1].as_py(), page.column(1)[-1].as_py())
                held += _total(page)
                pending = page if pending is None else pa.concat_tables([pending, page])
        if pending is None or not pending.num_rows:
            return
        counts = pending.column("messages").to_numpy()
        reached = (counts.cumsum() >= batch_rows).nonzero()[0]
        take = int(reached[0]) + 1 if len(reached) else pending.num_rows
        head, pending = pending.slice(0, take), pending.slice(take)
        lo = (head.column(0)[0].as_py(), head.column(1)[0].as_py())
        hi = (head.column(0)[-1].as_py(), head.column(1)[-1].as_py())
        messages = _copy_table(conn, messages_query, [*lo, *hi, as_of], message_types)
        yield head, messages


def _total(conversations: pa.Table) -> int:
    """How many messages ``conversations`` hold."""
    return int(conversations.column("messages").to_numpy().sum())


def _params(as_of: datetime, keys: list[Any]) -> list[Any]:
    """Parameters of a conversation page: the two ``_FIRST`` subqueries, the history
    bounds, then the groups' own (``as_of``, the keyset bound if any, the limit)."""
    return [as_of, as_of, as_of, as_of, *keys]
