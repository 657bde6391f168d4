"""GitHub payloads (issues, issue comments, issue events) as convokit records.

Every shape check raises :class:`~convokit_core.MalformedPayload` naming the item and
the field, never ``KeyError``/``TypeError``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import attrs

from convokit_core import (
    Conversation,
    ConversationStatus,
    Direction,
    MalformedPayload,
    Message,
    Stakeholder,
    StatusChange,
    SyncContext,
    Visibility,
)

__all__ = [
    "PLATFORM",
    "Author",
    "IssueRecords",
    "Mapper",
    "as_dict",
    "as_list",
    "events_history",
    "item_id",
    "time_of",
]

PLATFORM = "github"
GHOST = "ghost"  # GitHub's stand-in for a deleted account


def kind_of(value: Any) -> str:
    """What a JSON value is, without its content (which may echo a secret)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, dict):
        return f"an object with keys {', '.join(sorted(map(str, value))[:5])}"[:120]
    return {str: "a string", int: "a number", float: "a number", list: "an array"}.get(
        type(value), type(value).__name__
    )


def as_dict(value: Any, what: str) -> dict[str, Any]:
    """``value`` if it is a JSON object, else ``MalformedPayload``."""
    if not isinstance(value, dict):
        raise MalformedPayload(f"{what}: expected a JSON object, found {kind_of(value)}")
    return value


def as_list(value: Any, what: str) -> list[Any]:
    """``value`` if it is a JSON array, else ``MalformedPayload``."""
    if not isinstance(value, list):
        raise MalformedPayload(f"{what}: expected a JSON array, found {kind_of(value)}")
    return value


def _str(data: Mapping[str, Any], key: str, what: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise MalformedPayload(
            f"{what}: expected a non-empty string {key!r}, found {kind_of(value)}"
        )
    return value


def _opt_str(data: Mapping[str, Any], key: str, what: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise MalformedPayload(
            f"{what}: expected {key!r} to be a string or null, found {kind_of(value)}"
        )
    return value


def item_id(data: Mapping[str, Any], key: str, what: str) -> str:
    """An id GitHub sends as a JSON number (or string), as an opaque string."""
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int | str) or value == "":
        raise MalformedPayload(f"{what}: expected an id {key!r}, found {kind_of(value)}")
    return str(value)


def time_of(data: Mapping[str, Any], key: str, what: str) -> datetime:
    """A GitHub timestamp (``2026-03-02T09:00:00Z``) as an aware UTC datetime.

    GitHub documents its times as UTC; a value without an offset is read as UTC.
    """
    text = _str(data, key, what)
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise MalformedPayload(f"{what}: {key!r} is not an ISO 8601 timestamp") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _opt_time(data: Mapping[str, Any], key: str, what: str) -> datetime | None:
    return None if data.get(key) is None else time_of(data, key, what)


@attrs.frozen(kw_only=True)
class Author:
    """Who wrote an issue or a comment, and how we read them."""

    login: str
    stakeholder_id: str
    outbound: bool
    bot: bool


@attrs.frozen(kw_only=True)
class IssueRecords:
    """What one issue (or pull request) gives: its first message and its conversation."""

    message: Message
    conversation: Conversation
    stakeholder: Stakeholder | None


class Mapper:
    """Turns one repository's payloads into records.

    Args:
        repo_key: the repository's id prefix (``owner/repo``, lower-cased; with the host
            on an Enterprise Server) and its channel id.
        context: knows our own and our team's handles.
        maintainers: ``author_association`` values that count as ours.
    """

    def __init__(self, repo_key: str, context: SyncContext, maintainers: Sequence[str]) -> None:
        self.repo_key = repo_key
        self.context = context
        self.maintainers = frozenset(maintainers)

    # -- ids -----------------------------------------------------------------------------

    def issue_id(self, number: str) -> str:
        """``owner/repo#123``: the issue's first message and its conversation."""
        return f"{self.repo_key}#{number}"

    def comment_id(self, number: str, comment: str) -> str:
        """``owner/repo#123/comments/456``."""
        return f"{self.repo_key}#{number}/comments/{comment}"

    # -- people --------------------------------------------------------------------------

    def author(self, item: Mapping[str, Any], what: str) -> Author:
        """The author of an issue or comment (a deleted account is ``ghost``)."""
        raw = item.get("user")
        kind: Any = "User"
        if raw is None:
            login = GHOST
        else:
            user = as_dict(raw, f"{what}: user")
            login = _str(user, "login", f"{what}: user")
            kind = user.get("type")
        association = item.get("author_association")
        if association is not None and not isinstance(association, str):
            raise MalformedPayload(
                f"{what}: expected 'author_association' to be a string, "
                f"found {kind_of(association)}"
            )
        outbound = (association or "").upper() in self.maintainers or self.context.is_ours(login)
        bot = kind == "Bot" or login.lower().endswith("[bot]")
        return Author(login=login, stakeholder_id=f"github:{login}", outbound=outbound, bot=bot)

    @staticmethod
    def stakeholder(author: Author) -> Stakeholder | None:
        """A stakeholder record for an inbound author (none for our own people)."""
        if author.outbound:
            return None
        return Stakeholder(
            id=author.stakeholder_id,
            display_name=author.login,
            identities={PLATFORM: author.login},
        )

    # -- records -------------------------------------------------------------------------

    @staticmethod
    def is_pull_request(issue: Mapping[str, Any]) -> bool:
        """Every pull request is also an issue; it carries a ``pull_request`` object."""
        return issue.get("pull_request") is not None

    def issue(
        self, issue: Mapping[str, Any], history: Sequence[tuple[str, datetime]] | None = None
    ) -> IssueRecords:
        """An issue (or pull request) as its first message and its conversation.

        ``history`` is the issue's ``closed``/``reopened`` events (``(event, at)``, with
        ``closed:<state_reason>``), when they were fetched; otherwise the history is
        derived from ``created_at``, ``state``, ``state_reason`` and ``closed_at``.
        """
        number = item_id(issue, "number", "issue")
        what = f"issue {self.repo_key}#{number}"
        title = _str(issue, "title", what)
        body = _opt_str(issue, "body", what) or ""
        author = self.author(issue, what)
        created = time_of(issue, "created_at", what)
        time_of(issue, "updated_at", what)
        state = _str(issue, "state", what)
        if state not in ("open", "closed"):
            raise MalformedPayload(f"{what}: expected 'state' to be open or closed")
        pull = issue.get("pull_request")
        merged = None
        if pull is not None:
            merged = _opt_time(as_dict(pull, f"{what}: pull_request"), "merged_at", what)
        reason = _opt_str(issue, "state_reason", what)
        labels = []
        for label in as_list(issue.get("labels", []), f"{what}: labels"):
            name = label if isinstance(label, str) else as_dict(label, f"{what}: label").get("name")
            if isinstance(name, str) and name.strip():
                labels.append(name.strip())
        conversation_id = self.issue_id(number)
        message = Message(
            id=conversation_id,
            platform=PLATFORM,
            conversation_id=conversation_id,
            channel_id=self.repo_key,
            author_id=author.stakeholder_id,
            direction=Direction.OUTBOUND if author.outbound else Direction.INBOUND,
            sent_at=created,
            text=f"{title}\n\n{body}".strip(),
            visibility=Visibility.PUBLIC,
            automated=author.bot,
            url=_opt_str(issue, "html_url", what),
        )
        changes = [(ConversationStatus.OPEN, created)]
        if history is not None:
            for event, at in history:
                kind, _, event_reason = event.partition(":")
                if kind == "reopened":
                    changes.append((ConversationStatus.OPEN, at))
                elif kind == "closed":
                    changes.append((_closed_status(event_reason or None, None), at))
        elif state == "closed":
            closed = _opt_time(issue, "closed_at", what) or time_of(issue, "updated_at", what)
            changes.append((_closed_status(reason, merged if pull is not None else None), closed))
        if state == "open":
            status = ConversationStatus.OPEN
        else:
            status = _closed_status(reason, merged if pull is not None else None)
        conversation = Conversation(
            id=conversation_id,
            platform=PLATFORM,
            channel_id=self.repo_key,
            stakeholder_id=None if author.outbound else author.stakeholder_id,
            status=status,
            tags=tuple(dict.fromkeys([*labels, *(["pull_request"] if pull is not None else [])])),
            status_history=tuple(
                StatusChange(platform=PLATFORM, conversation_id=conversation_id, status=s, at=at)
                for s, at in changes
            ),
        )
        return IssueRecords(
            message=message, conversation=conversation, stakeholder=self.stakeholder(author)
        )

    def comment_number(self, comment: Mapping[str, Any], what: str) -> str:
        """The issue number a comment belongs to (from its ``issue_url``)."""
        url = _str(comment, "issue_url", what)
        number = url.rstrip("/").rpartition("/")[2]
        if not number.isdigit():
            raise MalformedPayload(f"{what}: 'issue_url' does not end with an issue number")
        return number

    @staticmethod
    def comment_on_pull_request(comment: Mapping[str, Any]) -> bool:
        """A comment's ``html_url`` is ``…/pull/N#issuecomment-…`` on a pull request."""
        url = comment.get("html_url")
        return isinstance(url, str) and "/pull/" in url

    def comment(self, comment: Mapping[str, Any]) -> tuple[Message, Stakeholder | None]:
        """An issue comment as a message answering the issue's first message."""
        comment_id = item_id(comment, "id", "issue comment")
        what = f"issue comment {comment_id}"
        number = self.comment_number(comment, what)
        author = self.author(comment, what)
        created = time_of(comment, "created_at", what)
        updated = time_of(comment, "updated_at", what)
        conversation_id = self.issue_id(number)
        message = Message(
            id=self.comment_id(number, comment_id),
            platform=PLATFORM,
            conversation_id=conversation_id,
            channel_id=self.repo_key,
            author_id=author.stakeholder_id,
            direction=Direction.OUTBOUND if author.outbound else Direction.INBOUND,
            sent_at=created,
            in_reply_to=conversation_id,
            text=_opt_str(comment, "body", what) or "",
            visibility=Visibility.PUBLIC,
            automated=author.bot,
            url=_opt_str(comment, "html_url", what),
            edited_at=updated if updated > created else None,
        )
        return message, self.stakeholder(author)


def _closed_status(reason: str | None, merged: datetime | None) -> ConversationStatus:
    """``completed`` issues and merged pull requests are resolved; the rest closed."""
    if reason == "completed" or merged is not None:
        return ConversationStatus.RESOLVED
    return ConversationStatus.CLOSED


def events_history(events: Sequence[Any], what: str) -> list[tuple[str, datetime]]:
    """``closed``/``reopened``/``merged`` issue events as ``(event[:state_reason], at)``.

    In time order; a ``merged`` event counts as ``closed:completed``.
    """
    out: list[tuple[str, datetime]] = []
    for raw in events:
        event = as_dict(raw, f"{what}: event")
        kind = event.get("event")
        if kind not in ("closed", "reopened", "merged"):
            continue
        at = time_of(event, "created_at", f"{what}: event")
        reason = "completed" if kind == "merged" else event.get("state_reason")
        if kind == "reopened":
            label = "reopened"
        else:
            label = f"closed:{reason}" if isinstance(reason, str) else "closed"
        out.append((label, at))
    return sorted(out, key=lambda e: e[1])
