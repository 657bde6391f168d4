"""``memory:`` — a store that lives in this process and vanishes with it."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime
from typing import Any

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
from ..hookspecs import hookimpl
from ._common import ClosingStore, InProcessLocks, assemble, in_window

__all__ = ["MemoryStore"]

_Key = tuple[str, str]


class _Writer:
    def __init__(self) -> None:
        self.batches: list[Batch] = []
        self.cursors: dict[str, str] = {}

    def write(self, batch: Batch) -> None:
        self.batches.append(batch)

    def set_cursor(self, source: str, cursor: str) -> None:
        self.cursors[source] = cursor


class MemoryStore(ClosingStore):
    """A thread-safe in-memory store; good for tests and short-lived scripts."""

    def __init__(self, url: str = "memory:") -> None:
        self._url = url
        self._lock = threading.RLock()
        self._messages: dict[_Key, Message] = {}
        self._by_conversation: dict[_Key, set[str]] = {}
        self._conversations: dict[_Key, Conversation] = {}
        self._status: dict[tuple[str, str, datetime, str], StatusChange] = {}
        self._stakeholders: dict[str, Stakeholder] = {}
        self._channels: dict[_Key, Channel] = {}
        self._team: dict[str, TeamMember] = {}
        self._cursors: dict[str, str] = {}
        self._runs: list[SyncRun] = []
        self._ledger: dict[tuple[str, str], NotificationRecord] = {}
        self._locks = InProcessLocks()
        self._closed = False

    @property
    def url(self) -> str:
        return self._url

    # -- writing ---------------------------------------------------------------------

    def _apply(self, batch: Batch) -> None:
        for m in batch.all_messages():
            key = (m.platform, m.id)
            old = self._messages.get(key)
            if old is not None and old.conversation_id != m.conversation_id:
                self._by_conversation[(old.platform, old.conversation_id)].discard(old.id)
            self._messages[key] = m
            self._by_conversation.setdefault((m.platform, m.conversation_id), set()).add(m.id)
        for c in batch.conversations:
            self._conversations[(c.platform, c.id)] = Conversation(
                id=c.id,
                platform=c.platform,
                channel_id=c.channel_id,
                stakeholder_id=c.stakeholder_id,
                owner_id=c.owner_id,
                status=c.status,
                tags=c.tags,
            )
        for s in batch.all_status_changes():
            self._status[(s.platform, s.conversation_id, s.at, s.status)] = s
        for h in batch.stakeholders:
            self._stakeholders[h.id] = h
        for ch in batch.channels:
            self._channels[(ch.platform, ch.id)] = ch
        for t in batch.team_members:
            self._team[t.id] = t

    def write(self, batch: Batch, *, source: str | None = None, cursor: str | None = None) -> None:
        with self.transaction() as tx:
            tx.write(batch)
            if source is not None and cursor is not None:
                tx.set_cursor(source, cursor)

    @contextmanager
    def _transaction(self) -> Iterator[_Writer]:
        writer = _Writer()
        yield writer
        with self._lock:
            for batch in writer.batches:
                self._apply(batch)
            self._cursors.update(writer.cursors)

    def transaction(self) -> AbstractContextManager[_Writer]:
        return self._transaction()

    def get_cursor(self, source: str) -> str | None:
        return self._cursors.get(source)

    def lock_source(self, source: str) -> AbstractContextManager[None]:
        return self._locks.hold(source)

    def record_sync_run(self, run: SyncRun) -> None:
        with self._lock:
            self._runs.append(run)

    def iter_sync_runs(self, source: str | None = None) -> Iterator[SyncRun]:
        runs = sorted(self._runs, key=lambda r: r.started_at, reverse=True)
        return iter([r for r in runs if source is None or r.source == source])

    def record_notifications(self, entries: Sequence[NotificationRecord]) -> None:
        with self._lock:
            for entry in entries:
                self._ledger[(entry.notifier, entry.key)] = entry

    def iter_notifications(self, notifier: str | None = None) -> Iterator[NotificationRecord]:
        with self._lock:
            found = [e for k, e in sorted(self._ledger.items()) if notifier in (None, k[0])]
        return iter(found)

    # -- reading ---------------------------------------------------------------------

    def _assemble(
        self, key: _Key, since: datetime | None, until: datetime | None
    ) -> Conversation | None:
        ids = self._by_conversation.get(key, ())
        msgs = [self._messages[(key[0], i)] for i in ids]
        if since is not None or until is not None:
            msgs = [m for m in msgs if in_window(m.sent_at, since, until)]
            if not msgs:
                return None
        history = [
            s
            for (p, c, _, _), s in self._status.items()
            if p == key[0] and c == key[1] and (until is None or s.at < until)
        ]
        return assemble(
            platform=key[0],
            id=key[1],
            record=self._conversations.get(key),
            messages=msgs,
            history=history,
        )

    def iter_conversations(
        self,
        *,
        platform: str | None = None,
        channel: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Iterator[Conversation]:
        with self._lock:
            keys = sorted(
                {k for k, ids in self._by_conversation.items() if ids} | set(self._conversations)
            )
        for key in keys:
            if platform is not None and key[0] != platform:
                continue
            with self._lock:
                conv = self._assemble(key, since, until)
            if conv is None or (channel is not None and conv.channel_id != channel):
                continue
            yield conv

    def get_conversation(self, platform: str, id: str) -> Conversation | None:
        key = (platform, id)
        with self._lock:
            if key not in self._conversations and not self._by_conversation.get(key):
                return None
            return self._assemble(key, None, None)

    def iter_messages(
        self,
        *,
        platform: str | None = None,
        channel: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Iterator[Message]:
        with self._lock:
            msgs = [
                m
                for m in self._messages.values()
                if (platform is None or m.platform == platform)
                and (channel is None or m.channel_id == channel)
                and in_window(m.sent_at, since, until)
            ]
        msgs.sort(key=lambda m: (m.platform, m.conversation_id, m.sent_at, m.id))
        return iter(msgs)

    def iter_conversation_records(self) -> Iterator[Conversation]:
        with self._lock:
            return iter([self._conversations[k] for k in sorted(self._conversations)])

    def iter_status_changes(self) -> Iterator[StatusChange]:
        with self._lock:
            return iter([self._status[k] for k in sorted(self._status)])

    def iter_stakeholders(self) -> Iterator[Stakeholder]:
        with self._lock:
            return iter([self._stakeholders[k] for k in sorted(self._stakeholders)])

    def iter_channels(self) -> Iterator[Channel]:
        with self._lock:
            return iter([self._channels[k] for k in sorted(self._channels)])

    def iter_team_members(self) -> Iterator[TeamMember]:
        with self._lock:
            return iter([self._team[k] for k in sorted(self._team)])

    def latest_message_at(self) -> datetime | None:
        with self._lock:
            return max((m.sent_at for m in self._messages.values()), default=None)

    def counts(self) -> dict[str, int]:
        with self._lock:
            conversations = {k for k, ids in self._by_conversation.items() if ids}
            conversations |= set(self._conversations)
            return {
                "messages": len(self._messages),
                "conversations": len(conversations),
                "status_changes": len(self._status),
                "stakeholders": len(self._stakeholders),
                "channels": len(self._channels),
                "team_members": len(self._team),
            }

    def close(self) -> None:
        self._closed = True


def _open(url: str) -> Any:
    return MemoryStore(url)


@hookimpl
def register_storage(register: Any) -> None:
    register("memory", _open, description="in-process store, gone when the process ends")
