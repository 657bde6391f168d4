"""Arrow tables from a store as :class:`~._reader.ConvBatch`\\ es: the contract a store
that is not SQLite offers to feed the columnar engine.

A store offering it has a method

    ``columnar_tables(*, as_of_us, with_tags, with_text, with_channels, batch_rows)``
    ``-> Iterator[tuple[pyarrow.Table, pyarrow.Table]]``

yielding pairs ``(conversations, messages)`` of consecutive whole conversations, about
``batch_rows`` messages a pair, every pair read in one snapshot of the store. The store
does the transfer (the filter on ``as_of``, the order, the packed flags); this module
decides what a conversation's channel, stakeholder and status are, exactly as
:func:`._reader.batches` does for SQLite, so the rule lives in one place.

``conversations`` — one row per conversation with at least one message sent at or
before ``as_of``, ordered by ``(platform, conversation_id)``:

=========================  ============  ==================================================
``platform``               string
``conversation_id``        string
``messages``               int64         its messages sent at or before ``as_of``
``record``                 bool          a conversation record is stored
``channel_id``             string/null   the record's (ignored without a record)
``stakeholder_id``         string/null   the record's (ignored without a record)
``owner_id``               string/null   the record's (ignored without a record)
``status``                 string/null   the record's stored status
``tags``                   string/null   the record's tags, a JSON array
``first_channel_id``       string/null   channel of its first message (read only
                                         without a record)
``first_inbound_author``   string/null   author of its first inbound message (read only
                                         without a record)
``history``                string/null   JSON array of ``[at_us, status]``, the status
                                         changes at or before ``as_of`` by ``(at, status)``
``later``                  bool          a status change after ``as_of`` exists
=========================  ============  ==================================================

"First" is by ``(sent_at, id)`` among the messages sent at or before ``as_of``.

``messages`` — the messages of those conversations sent at or before ``as_of``, ordered
by ``(platform, conversation_id, sent_at, id)``: ``id`` (string), ``sent_at`` (int64,
microseconds since the epoch), ``flags`` (int8, the bits of :data:`._reader.F_OUTBOUND`
…), and with ``with_tags`` a ``tags`` column (string/null, a JSON array), with
``with_text`` a ``text`` column (string), with ``with_channels`` a ``channel_id`` column
(string/null, the message's own channel: channel-level rules read it).

Why Arrow tables and not ``ConvBatch``: a store only moves columns (no Python object per
message on its side, whatever driver it uses), ``ConvBatch`` stays private to the core,
and the per-conversation rules are not copied into every store.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from ._reader import ConvBatch

if TYPE_CHECKING:  # pyarrow costs about 0.4 s to import; a SQLite run never needs it
    import pyarrow as pa

__all__ = [
    "CONVERSATION_COLUMNS",
    "ColumnarTables",
    "conv_batches",
    "message_columns",
    "store_batches",
]

#: Columns of the ``conversations`` table, in order.
CONVERSATION_COLUMNS = (
    "platform",
    "conversation_id",
    "messages",
    "record",
    "channel_id",
    "stakeholder_id",
    "owner_id",
    "status",
    "tags",
    "first_channel_id",
    "first_inbound_author",
    "history",
    "later",
)


def message_columns(
    *, with_tags: bool, with_text: bool, with_channels: bool = False
) -> tuple[str, ...]:
    """Columns of the ``messages`` table, in order."""
    return (
        ("id", "sent_at", "flags")
        + (("tags",) if with_tags else ())
        + (("text",) if with_text else ())
        + (("channel_id",) if with_channels else ())
    )


@runtime_checkable
class ColumnarTables(Protocol):
    """A store that hands the columnar engine Arrow tables (see the module docstring)."""

    def columnar_tables(
        self,
        *,
        as_of_us: int,
        with_tags: bool,
        with_text: bool,
        with_channels: bool,
        batch_rows: int,
    ) -> Iterator[tuple[pa.Table, pa.Table]]: ...


def store_batches(
    store: ColumnarTables,
    *,
    as_of_us: int,
    kinds: Mapping[str, str],
    with_tags: bool,
    with_text: bool,
    with_channels: bool = False,
    batch_rows: int,
) -> Iterator[ConvBatch]:
    """:func:`._reader.batches` for a store offering :class:`ColumnarTables`."""
    tables = store.columnar_tables(
        as_of_us=as_of_us,
        with_tags=with_tags,
        with_text=with_text,
        with_channels=with_channels,
        batch_rows=batch_rows,
    )
    return conv_batches(
        tables, kinds=kinds, with_tags=with_tags, with_text=with_text, with_channels=with_channels
    )


def conv_batches(
    tables: Iterable[tuple[pa.Table, pa.Table]],
    *,
    kinds: Mapping[str, str],
    with_tags: bool,
    with_text: bool,
    with_channels: bool = False,
) -> Iterator[ConvBatch]:
    """One :class:`ConvBatch` per ``(conversations, messages)`` pair."""
    for conversations, messages in tables:
        yield _batch(conversations, messages, kinds, with_tags, with_text, with_channels)


def _column(table: pa.Table, name: str) -> list[Any]:
    return table.column(name).to_pylist()  # type: ignore[no-any-return]


def _batch(
    conversations: pa.Table,
    messages: pa.Table,
    kinds: Mapping[str, str],
    with_tags: bool,
    with_text: bool,
    with_channels: bool = False,
) -> ConvBatch:
    counts = conversations.column("messages").to_numpy().astype(np.int64, copy=False)
    if int(counts.sum()) != messages.num_rows or not bool((counts > 0).all()):
        raise RuntimeError(
            f"the store sent {messages.num_rows} messages for conversations that hold "
            f"{int(counts.sum())}"
        )
    batch = ConvBatch()
    batch.at = messages.column("sent_at").to_numpy().astype(np.int64, copy=False)
    batch.flags = messages.column("flags").to_numpy().astype(np.int8, copy=False)
    batch.ids = _column(messages, "id")
    if with_tags:
        batch.tags = _column(messages, "tags")
    if with_text:
        batch.texts = _column(messages, "text")
    if with_channels:
        batch.msg_channel = _column(messages, "channel_id")
    batch.offsets = np.zeros(len(counts) + 1, np.int64)
    np.cumsum(counts, out=batch.offsets[1:])
    batch.conv = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
    batch.platform = _column(conversations, "platform")
    batch.cid = _column(conversations, "conversation_id")
    columns = [_column(conversations, name) for name in CONVERSATION_COLUMNS[3:]]
    for record, channel, stakeholder, owner, stored, tags, first, inbound, raw, later in zip(
        *columns, strict=True
    ):
        if record:
            conv_tags: tuple[str, ...] = tuple(json.loads(tags)) if tags else ()
        else:
            channel, stakeholder, owner, stored, conv_tags = first, inbound, None, "open", ()
        history = [(int(at), str(status)) for at, status in json.loads(raw)] if raw else []
        batch.channel.append(channel)
        batch.stakeholder.append(stakeholder)
        batch.owner.append(owner)
        batch.conv_tags.append(conv_tags)
        batch.history.append(history)
        if history:
            batch.status.append(history[-1][1])
        elif later:
            batch.status.append("open")
        else:
            batch.status.append(stored)
        batch.kinds.append(kinds.get(stakeholder) if stakeholder else None)
    return batch
