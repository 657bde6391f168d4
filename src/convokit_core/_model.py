"""Reference implementation of the domain model (DESIGN §3).

Every class is an attrs class: frozen, slotted, keyword-only. Timestamps must be
timezone-aware and are normalised to UTC; a naive datetime raises ``ValueError``.
Identifiers are opaque, non-empty strings. A record is identified by ``(platform, id)``
(stakeholders and team members, which span platforms, by ``id`` alone).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import attrs

from ._timeutil import require_aware

__all__ = [
    "Batch",
    "Channel",
    "Conversation",
    "ConversationStatus",
    "Direction",
    "Message",
    "NotificationRecord",
    "Page",
    "Stakeholder",
    "StakeholderKind",
    "StatusChange",
    "SyncRun",
    "TeamMember",
    "Visibility",
]


class Direction(enum.StrEnum):
    """Who a message is from, seen from the organisation."""

    INBOUND = "inbound"
    """From a stakeholder."""
    OUTBOUND = "outbound"
    """From the organisation (a team member or one of our channel accounts)."""
    INTERNAL = "internal"
    """An internal note, never seen by the stakeholder."""


class Visibility(enum.StrEnum):
    """Who can see a message."""

    PUBLIC = "public"
    PRIVATE = "private"
    """A direct message."""
    NOTE = "note"
    """An internal note."""


class ConversationStatus(enum.StrEnum):
    """Where a conversation stands."""

    OPEN = "open"
    PENDING = "pending"
    """Waiting on the stakeholder (clocks may pause)."""
    RESOLVED = "resolved"
    CLOSED = "closed"


class StakeholderKind(enum.StrEnum):
    """What kind of person or organisation a stakeholder is to us."""

    CUSTOMER = "customer"
    PROSPECT = "prospect"
    PARTNER = "partner"
    EMPLOYEE = "employee"
    MEDIA = "media"
    INFLUENCER = "influencer"
    COMMUNITY = "community"
    UNKNOWN = "unknown"


def _nonempty_id(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, str) or not value:
        raise ValueError(
            f"{type(instance).__name__}.{attribute.name} must be a non-empty string id, "
            f"got {value!r}"
        )


def _optional_id(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is not None:
        _nonempty_id(instance, attribute, value)


def _aware(value: datetime) -> datetime:
    return require_aware(value)


def _aware_opt(value: datetime | None) -> datetime | None:
    return None if value is None else require_aware(value)


def _tags(value: Iterable[str]) -> tuple[str, ...]:
    if isinstance(value, str):
        raise TypeError(f"tags must be a sequence of strings, got the string {value!r}")
    out = tuple(value)
    for tag in out:
        if not isinstance(tag, str) or not tag:
            raise ValueError(f"every tag must be a non-empty string, got {tag!r}")
    return out


def _str_map(value: Mapping[str, str]) -> dict[str, str]:
    out = dict(value)
    for key, val in out.items():
        if not isinstance(key, str) or not isinstance(val, str):
            raise ValueError(f"expected a mapping of strings, got {key!r}: {val!r}")
    return out


@attrs.frozen(kw_only=True)
class Message:
    """One message in a conversation."""

    id: str = attrs.field(validator=_nonempty_id)
    platform: str = attrs.field(validator=_nonempty_id)
    conversation_id: str = attrs.field(validator=_nonempty_id)
    author_id: str = attrs.field(validator=_nonempty_id)
    direction: Direction = attrs.field(converter=Direction)
    sent_at: datetime = attrs.field(converter=_aware)
    channel_id: str | None = attrs.field(default=None, validator=_optional_id)
    in_reply_to: str | None = attrs.field(default=None, validator=_optional_id)
    text: str = ""
    visibility: Visibility = attrs.field(default=Visibility.PUBLIC, converter=Visibility)
    automated: bool = False
    """Sent by a bot or an auto-responder; by default never counts as a reply."""
    tags: tuple[str, ...] = attrs.field(default=(), converter=_tags)
    url: str | None = None
    edited_at: datetime | None = attrs.field(default=None, converter=_aware_opt)
    deleted: bool = False


@attrs.frozen(kw_only=True)
class StatusChange:
    """A conversation entered ``status`` at ``at``."""

    platform: str = attrs.field(validator=_nonempty_id)
    conversation_id: str = attrs.field(validator=_nonempty_id)
    status: ConversationStatus = attrs.field(converter=ConversationStatus)
    at: datetime = attrs.field(converter=_aware)


def _history(value: Iterable[StatusChange]) -> tuple[StatusChange, ...]:
    return tuple(sorted(value, key=lambda s: (s.at, s.status)))


def _ordered_messages(value: Iterable[Message]) -> tuple[Message, ...]:
    return tuple(sorted(value, key=lambda m: (m.sent_at, m.id)))


@attrs.frozen(kw_only=True)
class Conversation:
    """A conversation with one stakeholder, its status history and its messages.

    ``messages`` are kept in ``(sent_at, id)`` order and ``status_history`` in time
    order, whatever order they were given in.
    """

    id: str = attrs.field(validator=_nonempty_id)
    platform: str = attrs.field(validator=_nonempty_id)
    channel_id: str | None = attrs.field(default=None, validator=_optional_id)
    stakeholder_id: str | None = attrs.field(default=None, validator=_optional_id)
    owner_id: str | None = attrs.field(default=None, validator=_optional_id)
    status: ConversationStatus = attrs.field(
        default=ConversationStatus.OPEN, converter=ConversationStatus
    )
    tags: tuple[str, ...] = attrs.field(default=(), converter=_tags)
    status_history: tuple[StatusChange, ...] = attrs.field(default=(), converter=_history)
    messages: tuple[Message, ...] = attrs.field(default=(), converter=_ordered_messages)


@attrs.frozen(kw_only=True)
class Stakeholder:
    """A person or organisation we talk to, possibly on several platforms."""

    id: str = attrs.field(validator=_nonempty_id)
    kind: StakeholderKind = attrs.field(default=StakeholderKind.UNKNOWN, converter=StakeholderKind)
    display_name: str | None = None
    identities: dict[str, str] = attrs.field(factory=dict, converter=_str_map)
    """Handle per platform: ``{"mastodon": "@ana@example.social"}``."""


@attrs.frozen(kw_only=True)
class Channel:
    """One of our own presences: an account, a blog, a subreddit, a repository."""

    id: str = attrs.field(validator=_nonempty_id)
    platform: str = attrs.field(validator=_nonempty_id)
    handle: str | None = None
    created_at: datetime | None = attrs.field(default=None, converter=_aware_opt)
    owner_team: str | None = None


@attrs.frozen(kw_only=True)
class TeamMember:
    """Someone who speaks for the organisation, and when they did."""

    id: str = attrs.field(validator=_nonempty_id)
    name: str | None = None
    handles: dict[str, str] = attrs.field(factory=dict, converter=_str_map)
    """Handle per platform; outbound messages are recognised by these."""
    active_from: datetime | None = attrs.field(default=None, converter=_aware_opt)
    active_until: datetime | None = attrs.field(default=None, converter=_aware_opt)

    def is_active(self, at: datetime) -> bool:
        """Whether this member speaks for us at ``at``."""
        if self.active_from is not None and at < self.active_from:
            return False
        return self.active_until is None or at < self.active_until


def _messages(value: Iterable[Message]) -> tuple[Message, ...]:
    return tuple(value)


def _conversations(value: Iterable[Conversation]) -> tuple[Conversation, ...]:
    return tuple(value)


def _statuses(value: Iterable[StatusChange]) -> tuple[StatusChange, ...]:
    return tuple(value)


def _stakeholders(value: Iterable[Stakeholder]) -> tuple[Stakeholder, ...]:
    return tuple(value)


def _channels(value: Iterable[Channel]) -> tuple[Channel, ...]:
    return tuple(value)


def _team(value: Iterable[TeamMember]) -> tuple[TeamMember, ...]:
    return tuple(value)


@attrs.frozen(kw_only=True)
class Batch:
    """Records written to a store together, in one transaction.

    Any field may be empty. Writing is an idempotent upsert: the same ``(platform, id)``
    written twice is one record, the last write wins. A :class:`Conversation` in
    ``conversations`` is written with its ``messages`` and ``status_history``.
    """

    messages: tuple[Message, ...] = attrs.field(default=(), converter=_messages)
    conversations: tuple[Conversation, ...] = attrs.field(default=(), converter=_conversations)
    status_changes: tuple[StatusChange, ...] = attrs.field(default=(), converter=_statuses)
    stakeholders: tuple[Stakeholder, ...] = attrs.field(default=(), converter=_stakeholders)
    channels: tuple[Channel, ...] = attrs.field(default=(), converter=_channels)
    team_members: tuple[TeamMember, ...] = attrs.field(default=(), converter=_team)

    def __len__(self) -> int:
        return (
            len(self.messages)
            + len(self.conversations)
            + len(self.status_changes)
            + len(self.stakeholders)
            + len(self.channels)
            + len(self.team_members)
        )

    def all_messages(self) -> tuple[Message, ...]:
        """``messages`` plus the messages carried inside ``conversations``."""
        inner = tuple(m for c in self.conversations for m in c.messages)
        return self.messages + inner if inner else self.messages

    def all_status_changes(self) -> tuple[StatusChange, ...]:
        """``status_changes`` plus those carried inside ``conversations``."""
        inner = tuple(s for c in self.conversations for s in c.status_history)
        return self.status_changes + inner if inner else self.status_changes


@attrs.frozen(kw_only=True)
class Page(Batch):
    """What a platform adapter yields: records plus the cursor that resumes after them.

    The sync engine writes the records and the cursor in one transaction, so a crash
    re-fetches a page but never loses or duplicates one.
    """

    cursor: str


@attrs.frozen(kw_only=True)
class SyncRun:
    """What one sync of one source did, as recorded in the store."""

    source: str = attrs.field(validator=_nonempty_id)
    started_at: datetime = attrs.field(converter=_aware)
    finished_at: datetime = attrs.field(converter=_aware)
    pages: int = 0
    records: int = 0
    ok: bool = True
    error: str | None = None


@attrs.frozen(kw_only=True)
class NotificationRecord:
    """One entry of the notification ledger: a notification a notifier delivered (or,
    with ``sent=False``, one ``convokit watch --baseline`` marked as already known).

    ``(notifier, key)`` identifies an entry; writing the same pair again keeps one
    entry (the last write wins). ``key`` is the idempotency key, stable for
    ``(commitment, subject, event, deadline)``.
    """

    notifier: str = attrs.field(validator=_nonempty_id)
    key: str = attrs.field(validator=_nonempty_id)
    commitment: str
    subject: str
    event: str
    """``at_risk``, ``breached`` or ``recovered``."""
    deadline: datetime | None = attrs.field(default=None, converter=_aware_opt)
    recorded_at: datetime = attrs.field(converter=_aware)
    sent: bool = True
