"""Helpers shared by storage backends: assembling conversations, URL redaction."""

from __future__ import annotations

import abc
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from types import TracebackType
from typing import Any, Self, TypeVar
from urllib.parse import urlsplit, urlunsplit

from .._errors import SourceLocked
from .._model import Conversation, ConversationStatus, Direction, Message, StatusChange

__all__ = [
    "ClosingStore",
    "InProcessLocks",
    "assemble",
    "in_window",
    "merge_conversations",
    "redact_url",
]


def redact_url(url: str) -> str:
    """``url`` with any password replaced by ``***``."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc[-1]}"))


def in_window(at: datetime, since: datetime | None, until: datetime | None) -> bool:
    return (since is None or at >= since) and (until is None or at < until)


def assemble(
    *,
    platform: str,
    id: str,
    record: Conversation | None,
    messages: Iterable[Message],
    history: Iterable[StatusChange],
) -> Conversation:
    """One conversation from its stored record (or none) plus messages and history.

    Without a record the conversation is derived: stakeholder = author of the first
    inbound message, channel = channel of the first message, status = the latest status
    change, else ``open``.
    """
    msgs = tuple(messages)
    changes = tuple(history)
    if record is not None:
        return Conversation(
            id=record.id,
            platform=record.platform,
            channel_id=record.channel_id,
            stakeholder_id=record.stakeholder_id,
            owner_id=record.owner_id,
            status=record.status,
            tags=record.tags,
            status_history=changes,
            messages=msgs,
        )
    ordered = sorted(msgs, key=lambda m: (m.sent_at, m.id))
    stakeholder = next((m.author_id for m in ordered if m.direction is Direction.INBOUND), None)
    channel = ordered[0].channel_id if ordered else None
    status = ConversationStatus.OPEN
    if changes:
        status = max(changes, key=lambda s: (s.at, s.status)).status
    return Conversation(
        id=id,
        platform=platform,
        channel_id=channel,
        stakeholder_id=stakeholder,
        status=status,
        status_history=changes,
        messages=ordered,
    )


class InProcessLocks:
    """Per-source locks for backends that live in one process."""

    def __init__(self) -> None:
        self._held: set[str] = set()
        self._guard = threading.Lock()

    @contextmanager
    def hold(self, source: str) -> Iterator[None]:
        with self._guard:
            if source in self._held:
                raise SourceLocked(f"source {source!r} is being synced by another worker")
            self._held.add(source)
        try:
            yield
        finally:
            with self._guard:
                self._held.discard(source)


Row = TypeVar("Row", bound=Sequence[Any])


def merge_conversations(
    messages: Iterator[Row],
    records: Iterator[Row],
    statuses: Iterator[Row],
    *,
    to_message: Callable[[Row], Message],
    to_conversation: Callable[[Row], Conversation],
    to_status: Callable[[Row], StatusChange],
    include_empty: bool,
) -> Iterator[Conversation]:
    """Merge three row streams ordered by (platform, conversation id) into conversations.

    Message rows carry ``(platform, id, conversation_id, …)``, conversation rows
    ``(platform, id, …)`` and status rows ``(platform, conversation_id, …)``; the
    ``to_*`` functions build records from rows. Memory holds one conversation at a time.
    ``include_empty`` keeps stored conversations that have no message in the streams.
    """
    m = next(messages, None)
    r = next(records, None)
    s = next(statuses, None)
    while m is not None or r is not None:
        candidates = []
        if m is not None:
            candidates.append((m[0], m[2]))
        if r is not None:
            candidates.append((r[0], r[1]))
        key = min(candidates)
        group: list[Message] = []
        while m is not None and (m[0], m[2]) == key:
            group.append(to_message(m))
            m = next(messages, None)
        record = None
        if r is not None and (r[0], r[1]) == key:
            record = to_conversation(r)
            r = next(records, None)
        while s is not None and (s[0], s[1]) < key:
            s = next(statuses, None)
        history: list[StatusChange] = []
        while s is not None and (s[0], s[1]) == key:
            history.append(to_status(s))
            s = next(statuses, None)
        if group or include_empty:
            yield assemble(
                platform=key[0], id=key[1], record=record, messages=group, history=history
            )


class ClosingStore(abc.ABC):
    """Base of the stores: a context manager that closes the store on exit, and a repr
    naming the class and the (password-free) URL. Subclasses provide ``url`` and
    ``close()``."""

    @property
    @abc.abstractmethod
    def url(self) -> str:
        """The store's URL with any password removed."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release connections; the store is unusable afterwards."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.url}>"
