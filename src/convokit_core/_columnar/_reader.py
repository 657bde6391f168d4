"""Whole conversations of a SQLite store as column batches, without a Python object per
message beyond what ``sqlite3`` returns.

Two streams in one read transaction, both in primary-key order: the per-conversation
message counts (``GROUP BY platform, conversation_id``, one row per conversation) and
the messages themselves as ``id, sent_at, flags`` where ``flags`` packs direction,
visibility and ``automated`` into one small integer computed by SQLite. Each
``fetchmany`` chunk becomes numpy columns; a batch ends at a conversation boundary.
Conversation records and status changes are merge-joined per conversation.

Measured on 1M messages (COLUMNAR-MEASURED.md): strings of direction and visibility
plus platform and conversation id per row, made into Arrow arrays, cost about twice as
much as the packed flags in numpy; the conversation id is not read per row at all.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
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


def _stream(con: sqlite3.Connection, sql: str, params: tuple[Any, ...]) -> Iterator[Any]:
    cursor = con.execute(sql, params)
    return chain.from_iterable(iter(lambda: cursor.fetchmany(5000), []))


def batches(
    con: sqlite3.Connection,
    *,
    as_of_us: int,
    kinds: Mapping[str, str],
    with_tags: bool,
    with_text: bool,
    with_channels: bool = False,
    batch_rows: int = _FETCH,
) -> Iterator[ConvBatch]:
    """Stream the conversations of ``con`` as of ``as_of_us`` in batches of about
    ``batch_rows`` messages (a conversation is never split). ``with_channels`` reads
    each message's own ``channel_id`` too (for channel-level rules)."""
    con.execute("BEGIN")  # one snapshot for every stream
    try:
        yield from _batches(con, as_of_us, kinds, with_tags, with_text, with_channels, batch_rows)
    finally:
        con.rollback()


def _batches(
    con: sqlite3.Connection,
    as_of_us: int,
    kinds: Mapping[str, str],
    with_tags: bool,
    with_text: bool,
    with_channels: bool,
    batch_rows: int,
) -> Iterator[ConvBatch]:
    extra = (
        (", tags" if with_tags else "")
        + (", text" if with_text else "")
        + (", channel_id" if with_channels else "")
    )
    at_text = 3 + with_tags
    at_channel = at_text + with_text
    params = (as_of_us,)
    messages = con.execute(
        f"SELECT id, sent_at, {_FLAGS}{extra} FROM messages WHERE sent_at <= ? "
        "ORDER BY platform, conversation_id, sent_at, id",
        params,
    )
    groups = _stream(
        con,
        "SELECT platform, conversation_id, count(*) FROM messages WHERE sent_at <= ? "
        "GROUP BY platform, conversation_id ORDER BY platform, conversation_id",
        params,
    )
    records = _stream(
        con,
        "SELECT platform, id, channel_id, stakeholder_id, owner_id, status, tags "
        "FROM conversations ORDER BY platform, id",
        (),
    )
    statuses = _stream(
        con,
        "SELECT platform, conversation_id, at, status FROM status_changes "
        "WHERE at <= ? ORDER BY platform, conversation_id, at, status",
        params,
    )
    later = _stream(
        con,
        "SELECT DISTINCT platform, conversation_id FROM status_changes WHERE at > ? "
        "ORDER BY platform, conversation_id",
        params,
    )
    record = next(records, None)
    status_row = next(statuses, None)
    later_row = next(later, None)
    # fetched chunks not yet in a batch: (ids, sent_at, flags, tags, texts, channels)
    pending: list[tuple[list[str], I64, npt.NDArray[np.int8], list[Any], list[Any], list[Any]]] = []
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
            rows = messages.fetchmany(_FETCH)
            if not rows:
                raise RuntimeError("the store changed while it was read")  # pragma: no cover
            cols = list(zip(*rows, strict=True))
            pending.append(
                (
                    list(cols[0]),
                    np.array(cols[1], dtype=np.int64),
                    np.array(cols[2], dtype=np.int8),
                    list(cols[3]) if with_tags else [],
                    list(cols[at_text]) if with_text else [],
                    list(cols[at_channel]) if with_channels else [],
                )
            )
            buffered += len(rows)
        ids = list(chain.from_iterable(p[0] for p in pending))
        at = np.concatenate([p[1] for p in pending])
        flags = np.concatenate([p[2] for p in pending])
        tags = list(chain.from_iterable(p[3] for p in pending))
        texts = list(chain.from_iterable(p[4] for p in pending))
        channels = list(chain.from_iterable(p[5] for p in pending))
        buffered -= need
        pending = (
            [
                (
                    ids[need:],
                    at[need:],
                    flags[need:],
                    tags[need:],
                    texts[need:],
                    channels[need:],
                )
            ]
            if buffered
            else []
        )
        batch.ids = ids[:need] if buffered else ids
        batch.at = at[:need]
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
        for k, key in enumerate(zip(batch.platform, batch.cid, strict=True)):
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
                channel, stakeholder = _derived(con, batch, k)
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


def _derived(con: sqlite3.Connection, batch: ConvBatch, k: int) -> tuple[Any, Any]:
    """Channel and stakeholder of a conversation without a record (as the python
    engine derives them: the first message's channel, the first inbound author)."""
    platform = batch.platform[k]
    lo, hi = int(batch.offsets[k]), int(batch.offsets[k + 1])
    row = con.execute(
        "SELECT channel_id FROM messages WHERE platform = ? AND id = ?",
        (platform, batch.ids[lo]),
    ).fetchone()
    channel = row[0] if row else None
    stakeholder = None
    inbound = np.flatnonzero((batch.flags[lo:hi] & (F_OUTBOUND | F_OTHER)) == 0)
    if len(inbound):
        row = con.execute(
            "SELECT author_id FROM messages WHERE platform = ? AND id = ?",
            (platform, batch.ids[lo + int(inbound[0])]),
        ).fetchone()
        stakeholder = row[0] if row else None
    return channel, stakeholder


def message_tags(raw: Any) -> Sequence[str]:
    """Tags of one stored message (JSON text), as the python engine reads them."""
    if not raw:
        return ()
    if isinstance(raw, str):
        value = json.loads(raw)
        return tuple(value) if isinstance(value, list) else ()
    return tuple(raw)
