"""Structural types (``typing.Protocol``) that the core works on.

An embedding application may pass its own objects — ORM rows, dataclasses — wherever
these are expected, as long as they have the attributes below. The attrs classes
exported from :mod:`convokit_core` (``Message``, ``Conversation`` …) are the reference
implementations. Datetimes must be timezone-aware; ids are strings; enum-valued
attributes may be the plain strings (``"inbound"``, ``"open"`` …).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from types import TracebackType
from typing import Any, Protocol, Self, TextIO, runtime_checkable

from ._model import (
    Batch,
    Channel,
    Conversation,
    Message,
    NotificationRecord,
    Page,
    Stakeholder,
    StatusChange,
    SyncRun,
    TeamMember,
)

__all__ = [
    "BatchWriter",
    "Classifier",
    "CommitmentLike",
    "ConversationLike",
    "MessageLike",
    "NotificationLedger",
    "Notifier",
    "PlatformAdapter",
    "Reporter",
    "RuleLike",
    "StakeholderLike",
    "StatusChangeLike",
    "StorageBackend",
    "TeamMemberLike",
]


@runtime_checkable
class MessageLike(Protocol):
    """What the core reads from a message."""

    @property
    def id(self) -> str: ...
    @property
    def platform(self) -> str: ...
    @property
    def conversation_id(self) -> str: ...
    @property
    def author_id(self) -> str: ...
    @property
    def direction(self) -> str: ...
    @property
    def sent_at(self) -> datetime: ...
    @property
    def in_reply_to(self) -> str | None: ...
    @property
    def visibility(self) -> str: ...
    @property
    def automated(self) -> bool: ...
    @property
    def tags(self) -> Sequence[str]: ...


@runtime_checkable
class StatusChangeLike(Protocol):
    """A conversation entered ``status`` at ``at``."""

    @property
    def status(self) -> str: ...
    @property
    def at(self) -> datetime: ...


@runtime_checkable
class ConversationLike(Protocol):
    """What the core reads from a conversation (messages in ``(sent_at, id)`` order)."""

    @property
    def id(self) -> str: ...
    @property
    def platform(self) -> str: ...
    @property
    def channel_id(self) -> str | None: ...
    @property
    def stakeholder_id(self) -> str | None: ...
    @property
    def owner_id(self) -> str | None: ...
    @property
    def status(self) -> str: ...
    @property
    def tags(self) -> Sequence[str]: ...
    @property
    def status_history(self) -> Sequence[StatusChangeLike]: ...
    @property
    def messages(self) -> Sequence[MessageLike]: ...


@runtime_checkable
class StakeholderLike(Protocol):
    """What the core reads from a stakeholder."""

    @property
    def id(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def identities(self) -> Mapping[str, str]: ...


@runtime_checkable
class TeamMemberLike(Protocol):
    """What the core reads from a team member."""

    @property
    def id(self) -> str: ...
    @property
    def handles(self) -> Mapping[str, str]: ...
    @property
    def active_from(self) -> datetime | None: ...
    @property
    def active_until(self) -> datetime | None: ...


class BatchWriter(Protocol):
    """Writes inside one open transaction of a store (see ``StorageBackend.transaction``)."""

    def write(self, batch: Batch) -> None:
        """Upsert the batch's records (same ``(platform, id)`` twice = one record)."""

    def set_cursor(self, source: str, cursor: str) -> None:
        """Record the sync cursor of ``source`` in the same transaction."""


class StorageBackend(Protocol):
    """A store of conversations. Register one with the ``register_storage`` hook.

    Writes are idempotent upserts; a batch and its cursor are committed together or not
    at all. Reads stream: no method may load the whole store into memory.
    Run ``convokit_core.testing.StorageConformance`` against an implementation.
    """

    @property
    def url(self) -> str:
        """The store's URL with any password removed."""

    def write(self, batch: Batch, *, source: str | None = None, cursor: str | None = None) -> None:
        """Write ``batch`` and, when given, ``source``'s ``cursor`` in one transaction."""

    def transaction(self) -> AbstractContextManager[BatchWriter]:
        """One transaction spanning several writes: all committed on exit, or none."""

    def get_cursor(self, source: str) -> str | None:
        """The last committed cursor of ``source``, or ``None``."""

    def lock_source(self, source: str) -> AbstractContextManager[None]:
        """Hold the exclusive right to sync ``source`` (raises ``SourceLocked`` if taken)."""

    def iter_conversations(
        self,
        *,
        platform: str | None = None,
        channel: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Iterator[Conversation]:
        """Stream conversations, ordered by ``(platform, id)``, with their messages.

        Messages are limited to ``since <= sent_at < until``; a conversation with no
        message left is skipped when either bound is given. A conversation that has
        messages but no stored record is derived: stakeholder = author of its first
        inbound message, channel = channel of its first message, status ``open``.
        """

    def get_conversation(self, platform: str, id: str) -> Conversation | None:
        """One assembled conversation, or ``None``."""

    def iter_messages(
        self,
        *,
        platform: str | None = None,
        channel: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Iterator[Message]:
        """Stream messages ordered by ``(platform, conversation_id, sent_at, id)``."""

    def iter_conversation_records(self) -> Iterator[Conversation]:
        """Stored conversation records only (no messages, no history), by key."""

    def iter_status_changes(self) -> Iterator[StatusChange]:
        """Every status change ordered by ``(platform, conversation_id, at, status)``."""

    def iter_stakeholders(self) -> Iterator[Stakeholder]:
        """Every stakeholder ordered by id."""

    def iter_channels(self) -> Iterator[Channel]:
        """Every channel ordered by ``(platform, id)``."""

    def iter_team_members(self) -> Iterator[TeamMember]:
        """Every team member ordered by id."""

    def record_sync_run(self, run: SyncRun) -> None:
        """Append a sync run to the store's log."""

    def iter_sync_runs(self, source: str | None = None) -> Iterator[SyncRun]:
        """Recorded sync runs, newest first."""

    def latest_message_at(self) -> datetime | None:
        """When the newest stored message was sent (``None`` without messages); one
        cheap query (``MAX(sent_at)``). ``convokit check --as-of latest`` uses it; the
        core scans ``iter_messages`` once for a backend that lacks it."""

    def counts(self) -> dict[str, int]:
        """Number of records per kind: messages, conversations (stored and derived),
        status_changes, stakeholders, channels, team_members."""

    def close(self) -> None:
        """Release connections; the store is unusable afterwards."""

    def __enter__(self) -> Self:
        """A store is a context manager that closes itself on exit."""

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None: ...


@runtime_checkable
class NotificationLedger(Protocol):
    """The optional storage extension ``convokit watch`` needs: the notification ledger.

    The built-in backends and ``convokit-postgres`` implement it; a backend without it
    cannot be watched (``convokit watch`` says so).
    """

    def record_notifications(self, entries: Sequence[NotificationRecord]) -> None:
        """Write ``entries`` in one transaction; an entry with the ``(notifier, key)`` of
        an existing one replaces it."""

    def iter_notifications(self, notifier: str | None = None) -> Iterator[NotificationRecord]:
        """Every ledger entry (of ``notifier``, when given), ordered by
        ``(notifier, key)``."""


class PlatformAdapter(Protocol):
    """Fetches one source's records from a platform, page by page.

    ``fetch(cursor)`` yields :class:`~convokit_core.Page` objects in order; each page's
    ``cursor`` is opaque to the host and, passed back to ``fetch``, resumes right after
    that page. ``cursor=None`` starts from the beginning. HTTP goes through the
    ``httpx.AsyncClient`` the host handed to the adapter's factory.
    """

    def fetch(self, cursor: str | None) -> AsyncIterator[Page]:
        """Yield pages after ``cursor``."""
        ...


# -- commitments (appended by the policy package) ----------------------------------------


@runtime_checkable
class RuleLike(Protocol):
    """What the evaluator calls on a rule. Subclass ``convokit_core.Rule`` to get
    composition (``&``, ``|``, ``.where``, ``.unless``) and labels for free.

    A conversation-level rule (``level == "conversation"``) implements ``evaluate``:
    given a thread (one conversation as of ``as_of``) and a rule context (``as_of_us``,
    ``calendar``, ``counting``, ``clock(...)``, ``outcome(...)``), it returns outcomes
    (tuples in the field order of ``convokit_core.Outcome``); an empty list means the
    conversation is out of the rule's scope. A channel-level rule (``level ==
    "channel"``) implements ``observe`` for each thread and ``finish`` once, returning
    ``(platform, channel, outcome)`` triples.
    """

    @property
    def name(self) -> str: ...
    @property
    def level(self) -> str: ...
    def label(self) -> str: ...
    def uses_tags(self) -> bool: ...
    def evaluate(self, thread: Any, ctx: Any) -> Sequence[tuple[Any, ...]]: ...
    def observe(self, thread: Any, ctx: Any) -> None: ...
    def finish(self, ctx: Any) -> Sequence[tuple[str, str, tuple[Any, ...]]]: ...


@runtime_checkable
class CommitmentLike(Protocol):
    """A named promise: a rule measured on a calendar (``convokit_core.Commitment``)."""

    @property
    def name(self) -> str: ...
    @property
    def promise(self) -> str: ...
    @property
    def rule(self) -> RuleLike: ...
    @property
    def severity(self) -> str: ...


class Classifier(Protocol):
    """Tags texts (``complaint``, ``question`` …); called once per batch of messages,
    returning one collection of tags per text. Register with ``register_classifiers``."""

    def __call__(self, texts: Sequence[str], /) -> Sequence[Collection[str]]: ...


class Reporter(Protocol):
    """Writes a ``convokit_core.CheckReport`` to a text stream; register with
    ``register_reporters`` to add a ``convokit check --format``."""

    def __call__(self, report: Any, stream: TextIO, /) -> None: ...


from ._watch._settings import Notifier  # noqa: E402 - re-exported: what notifier kinds build
