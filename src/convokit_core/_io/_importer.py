"""Streaming, all-or-nothing import of interchange records into a store."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from itertools import count
from operator import itemgetter
from typing import Any

import attrs

from .._cancel import checkpoint
from .._errors import InputError, InvalidRecord
from .._gc import gc_paused
from .._model import (
    Batch,
    Channel,
    Conversation,
    Message,
    Stakeholder,
    StatusChange,
    TeamMember,
)
from .._timeutil import to_micros
from ..protocols import StorageBackend
from ._records import (
    message_from_values,
    message_values,
    parse_message,
    parse_record,
    parse_status,
    record_type,
    well_formed_message_row,
    well_formed_message_rows,
)

__all__ = ["ImportResult", "ObjectBlock", "import_records"]

_PENDING = "\x00pending"


class ObjectBlock(list[Any]):
    """Decoded objects of consecutive input lines, as one item: ``(number of the first
    line, block)``. A reader yields one where it can tell that every object is flat
    JSON (``read_jsonl_blocks``); the importer first tries the block a column at a time
    as well-formed messages, else takes its objects one by one, numbered on from the
    first line."""

    __slots__ = ()


@attrs.frozen(kw_only=True)
class ImportResult:
    """What an import wrote and what it skipped.

    Attributes:
        counts: records written per type (``message``, ``conversation`` …).
        derived_conversations: conversations named from reply chains.
        skipped: the invalid records left out (only with ``skip_invalid``).
    """

    counts: dict[str, int]
    derived_conversations: int = 0
    skipped: tuple[InvalidRecord, ...] = ()

    @property
    def total(self) -> int:
        return sum(self.counts.values())


class _Buffers:
    def __init__(self) -> None:
        self.rows: list[tuple[Any, ...]] = []
        self.messages: list[Message] = []
        self.conversations: list[Conversation] = []
        self.status: list[StatusChange] = []
        self.stakeholders: list[Stakeholder] = []
        self.channels: list[Channel] = []
        self.team: list[TeamMember] = []

    def __len__(self) -> int:
        return (
            len(self.rows)
            + len(self.messages)
            + len(self.conversations)
            + len(self.status)
            + len(self.stakeholders)
            + len(self.channels)
            + len(self.team)
        )

    def take_rows(self) -> list[tuple[Any, ...]]:
        rows = self.rows[:]
        self.rows.clear()
        return rows

    def take(self) -> Batch:
        batch = Batch(
            messages=self.messages,
            conversations=self.conversations,
            status_changes=self.status,
            stakeholders=self.stakeholders,
            channels=self.channels,
            team_members=self.team,
        )
        self.messages = []
        self.conversations = []
        self.status = []
        self.stakeholders = []
        self.channels = []
        self.team = []
        return batch


@gc_paused()  # see gc_paused: a third of a 1M-message import went to the collector
def import_records(
    store: StorageBackend,
    items: Iterable[tuple[Any, Any]],
    *,
    source: str,
    skip_invalid: bool = False,
    batch_size: int = 5_000,
) -> ImportResult:
    """Validate and write ``items`` — ``(line number, decoded JSON object)`` pairs, where
    the object may instead be an :class:`InvalidRecord` for a line that did not decode.
    A location may also be a ``(source, number, unit)`` tuple, for inputs made of
    several files (a Parquet dataset: ``(file, row, "row")``).

    The whole input is validated. Unless ``skip_invalid``, any invalid record makes the
    import raise :class:`InputError` listing every bad record, and nothing is written
    (it all happens in one transaction). Messages without ``conversation`` join the
    conversation of the message they reply to; the root of a reply chain (the topmost
    message present in the input) names it. Status records without ``platform`` take the
    input's only platform.
    """
    errors: list[InvalidRecord] = []
    counts = dict.fromkeys(
        ("message", "conversation", "status", "stakeholder", "channel", "team_member"), 0
    )
    conversation_of: dict[tuple[str, str], str] = {}
    pending: dict[tuple[str, str], tuple[int, Message]] = {}
    pending_status: list[tuple[int, Any]] = []
    platforms: set[str] = set()
    buffers = _Buffers()

    def flush(tx: Any, *, force: bool = False) -> None:
        if len(buffers) >= batch_size or (force and len(buffers)):
            rows = buffers.take_rows()
            batch = buffers.take()
            if skip_invalid or not errors:
                if rows:
                    tx.write_message_rows(rows)
                tx.write(batch)

    with store.transaction() as tx:
        # Backends that take pre-built message rows (SQLite) skip the Message objects.
        fast_rows = hasattr(tx, "write_message_rows")
        # Stores that can look up written messages (SQLite) are asked for the parents of
        # conversation-less messages at the end; others need the map kept in memory.
        lookup = getattr(tx, "lookup_conversations", None)
        track = lookup is None
        rows = buffers.rows
        # The common, well-formed message goes straight to its row; anything else (and
        # every invalid record) takes the full way below, which reports it.
        fast_row = well_formed_message_row if fast_rows else _no_row
        add_platform = platforms.add
        fast_count = 0

        def take(block: ObjectBlock) -> bool:
            """Whether the block went in whole, as well-formed message rows."""
            nonlocal fast_count
            checkpoint()  # (a block is one item of ``checkpointed``)
            block_rows = well_formed_message_rows(block) if fast_rows else None
            if block_rows is None:
                return False
            if track:
                conversation_of.update(
                    zip(map(_key, block_rows), map(_third, block_rows), strict=True)
                )
            platforms.update(map(_first, block_rows))
            fast_count += len(block_rows)
            rows.extend(block_rows)
            if len(rows) >= batch_size:
                flush(tx)
            return True

        for line, obj in _unblocked(items, take):
            row = fast_row(obj)
            if row is not None:
                if track:
                    conversation_of[(row[0], row[1])] = row[2]
                add_platform(row[0])
                fast_count += 1
                rows.append(row)
                if len(rows) >= batch_size:
                    flush(tx)
                continue
            try:
                if isinstance(obj, InvalidRecord):
                    raise obj
                kind = record_type(obj)
                if kind == "message" and obj.get("conversation"):
                    values = message_values(obj)
                    if track:
                        conversation_of[(values[0], values[1])] = values[2]
                    platforms.add(values[0])
                    counts["message"] += 1
                    if fast_rows:
                        rows.append(_row(values))
                        if len(rows) >= batch_size:
                            flush(tx)
                    else:
                        buffers.messages.append(message_from_values(values))
                        if len(buffers.messages) >= batch_size:
                            flush(tx)
                    continue
                if kind == "message":
                    msg = parse_message(obj, conversation=_PENDING)
                    pending[(msg.platform, msg.id)] = (line, msg)
                    platforms.add(msg.platform)
                    continue
                if kind == "status" and not obj.get("platform"):
                    parse_status(obj, platform=_PENDING)
                    pending_status.append((line, obj))
                    continue
                record = parse_record(obj)
            except InvalidRecord as exc:
                errors.append(_located(exc, source, line))
                continue
            if isinstance(record, Message):
                if track:
                    conversation_of[(record.platform, record.id)] = record.conversation_id
                platforms.add(record.platform)
                buffers.messages.append(record)
            elif isinstance(record, Conversation):
                platforms.add(record.platform)
                buffers.conversations.append(record)
            elif isinstance(record, StatusChange):
                buffers.status.append(record)
            elif isinstance(record, Stakeholder):
                buffers.stakeholders.append(record)
            elif isinstance(record, Channel):
                buffers.channels.append(record)
            else:
                buffers.team.append(record)
            counts[kind] += 1
            flush(tx)

        counts["message"] += fast_count
        if lookup is not None and pending:
            flush(tx, force=True)
            parents = {
                (key[0], msg.in_reply_to)
                for key, (_, msg) in pending.items()
                if msg.in_reply_to is not None and (key[0], msg.in_reply_to) not in pending
            }
            conversation_of = lookup(parents)
        derived, written = _resolve_pending(pending, conversation_of, buffers, errors, source)
        counts["message"] += written
        only_platform = next(iter(platforms)) if len(platforms) == 1 else None
        for line, obj in pending_status:
            try:
                buffers.status.append(parse_status(obj, platform=only_platform))
                counts["status"] += 1
            except InvalidRecord as exc:
                errors.append(_located(exc, source, line))
        flush(tx, force=True)
        if errors and not skip_invalid:
            errors.sort(key=_error_order)
            raise InputError(errors)
    errors.sort(key=_error_order)
    return ImportResult(counts=counts, derived_conversations=derived, skipped=tuple(errors))


def _located(exc: InvalidRecord, source: str, line: Any) -> InvalidRecord:
    if type(line) is tuple:
        return exc.located(source=line[0], line=line[1], unit=line[2])
    return exc.located(source=source, line=line)


def _error_order(error: InvalidRecord) -> tuple[str, int]:
    return (error.source or "", error.line or 0)


_first = itemgetter(0)
_key = itemgetter(0, 1)
_third = itemgetter(2)


def _unblocked(
    items: Iterable[tuple[Any, Any]], take: Callable[[ObjectBlock], bool]
) -> Iterator[tuple[Any, Any]]:
    """``items`` with every :class:`ObjectBlock` that ``take`` does not take as its
    objects, one by one, numbered on from the block's line."""
    for item in items:
        block = item[1]
        if type(block) is ObjectBlock:
            if not take(block):
                yield from zip(count(item[0]), block)
        else:
            yield item


def _no_row(obj: Any) -> None:
    return None


def _row(v: tuple[Any, ...]) -> tuple[Any, ...]:
    """A :func:`message_values` tuple as a ``messages`` table row."""
    return (
        v[0], v[1], v[2], v[3], v[4], v[5], to_micros(v[6]), v[7], v[8], v[9],
        1 if v[10] else 0, json.dumps(list(v[11]), ensure_ascii=False) if v[11] else None,
        v[12], None if v[13] is None else to_micros(v[13]), 1 if v[14] else 0,
    )  # fmt: skip


def _resolve_pending(
    pending: dict[tuple[str, str], tuple[int, Message]],
    conversation_of: dict[tuple[str, str], str],
    buffers: _Buffers,
    errors: list[InvalidRecord],
    source: str,
) -> tuple[int, int]:
    """Name the conversation of every message that had none, from its reply chain."""
    resolved: dict[tuple[str, str], str] = {}
    for key in pending:
        if key in resolved:
            continue
        chain: list[tuple[str, str]] = []
        seen: set[tuple[str, str]] = set()
        current = key
        conversation: str | None = None
        while True:
            if current in resolved:
                conversation = resolved[current]
                break
            if current in seen:
                break  # a reply cycle
            seen.add(current)
            chain.append(current)
            parent_id = pending[current][1].in_reply_to
            if parent_id is None:
                conversation = current[1]
                break
            parent = (current[0], parent_id)
            if parent in conversation_of:
                conversation = conversation_of[parent]
                break
            if parent not in pending:
                conversation = current[1]  # the chain's root is not in the input
                break
            current = parent
        if conversation is None:
            for k in chain:
                line = pending[k][0]
                loop = InvalidRecord(
                    "reply chain loops back on itself; give the messages a conversation",
                    field="in_reply_to",
                )
                errors.append(_located(loop, source, line))
                resolved[k] = ""
            continue
        for k in chain:
            resolved[k] = conversation
    names: set[tuple[str, str]] = set()
    written = 0
    for key, (_, msg) in pending.items():
        conversation = resolved[key]
        if not conversation:
            continue
        names.add((key[0], conversation))
        buffers.messages.append(attrs.evolve(msg, conversation_id=conversation))
        written += 1
    return len(names), written
