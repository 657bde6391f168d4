"""The Zendesk adapter: the incremental ticket export, ticket comments and audits.

One export page (``/api/v2/incremental/tickets/cursor.json``) becomes one
:class:`~convokit_core.Page`: for each ticket on it, its comments
(``/tickets/{id}/comments.json``, cursor-paged) become messages, its audits
(``/tickets/{id}/audits.json``) its status history, and the ticket itself a
:class:`~convokit_core.Conversation`. The page's cursor is the export's
``after_cursor``, so a sync resumes right after the last complete export page, and the
next sync asks the export only for tickets updated since.

Export requests are paced to ``export_requests_per_minute`` (Zendesk allows 10) with
the injected clock and sleep, before Zendesk has to answer 429; a 429 that comes anyway
is retried after its ``Retry-After`` by the shared HTTP helper.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from datetime import datetime
from typing import Any, Final

import attrs
import httpx

from convokit_core import (
    Channel,
    Conversation,
    ConversationStatus,
    Direction,
    HttpClient,
    HttpError,
    MalformedPayload,
    Message,
    Page,
    RetryPolicy,
    Stakeholder,
    StakeholderKind,
    StatusChange,
    SyncContext,
    Visibility,
)

from ._config import ZendeskConfig
from ._cursor import State, valid_export_cursor
from ._payload import (
    as_bool,
    as_id,
    as_list,
    as_object,
    as_opt_str,
    as_required_id,
    as_str,
    as_time,
)

__all__ = [
    "AUTOMATED_CHANNELS",
    "PLATFORM",
    "ExportPacer",
    "ZendeskAdapter",
    "create",
    "map_status",
]

log = logging.getLogger("convokit.zendesk")

PLATFORM: Final = "zendesk"
EXPORT_PATH: Final = "api/v2/incremental/tickets/cursor.json"

AUTOMATED_CHANNELS: Final = frozenset({"rule", "system"})
"""``via.channel`` values of comments written by triggers, automations and Zendesk itself
(channels starting with ``answer_bot`` are automated too)."""

_AGENT_ROLES: Final = frozenset({"agent", "admin"})
_SYSTEM_USER: Final = "-1"  # Zendesk's own author id on system comments
_USERS_PER_LOOKUP: Final = 100

_STATUSES: Final = {
    "new": ConversationStatus.OPEN,
    "open": ConversationStatus.OPEN,
    "pending": ConversationStatus.PENDING,
    "solved": ConversationStatus.RESOLVED,
    "closed": ConversationStatus.CLOSED,
    "deleted": ConversationStatus.CLOSED,
}


def map_status(status: str, *, hold_status: str = "open") -> ConversationStatus | None:
    """A Zendesk ticket status as a convokit status (``None`` for an unknown one).

    ``new`` and ``open`` are open; ``pending`` (waiting on the requester) is pending;
    ``hold`` (waiting on a third party) is ``hold_status``; ``solved`` is resolved;
    ``closed`` and ``deleted`` (in the export) are closed.
    """
    if status == "hold":
        return ConversationStatus(hold_status)
    return _STATUSES.get(status)


async def _default_sleep(seconds: float) -> None:
    await asyncio.sleep(seconds)


class ExportPacer:
    """Keeps export requests within ``per_minute`` in any 60-second window.

    Args:
        per_minute: the most requests any 60 seconds may hold.
        clock: monotonic seconds (default :func:`time.monotonic`).
        sleep: awaited to wait (default :func:`asyncio.sleep`); tests record it.
    """

    def __init__(
        self,
        per_minute: int,
        *,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
    ) -> None:
        self.per_minute = per_minute
        self._clock = clock or time.monotonic
        self._sleep = sleep or _default_sleep
        self._sent: collections.deque[float] = collections.deque()

    async def wait(self) -> None:
        """Return when one more request fits in the window, and count it."""
        now = self._clock()
        while self._sent and self._sent[0] <= now - 60.0:
            self._sent.popleft()
        if len(self._sent) >= self.per_minute:
            delay = self._sent[0] + 60.0 - now
            log.info("pacing the ticket export: waiting %.1fs", delay)
            await self._sleep(delay)
            now = max(self._clock(), self._sent[0] + 60.0)
            self._sent.popleft()
        self._sent.append(now)


@attrs.frozen(kw_only=True)
class _User:
    id: str
    role: str
    name: str | None
    email: str | None

    @property
    def handle(self) -> str:
        return self.email.lower() if self.email else self.id


def _parse_user(value: Any, where: str) -> _User:
    data = as_object(value, where)
    user_id = as_required_id(data, "id", where)
    return _User(
        id=user_id,
        role=as_str(data, "role", f"{where} (user {user_id})"),
        name=as_opt_str(data, "name", f"{where} (user {user_id})"),
        email=as_opt_str(data, "email", f"{where} (user {user_id})"),
    )


class ZendeskAdapter:
    """Reads one Zendesk account; built by :func:`create`, driven by :meth:`fetch`.

    ``sleep`` (default :func:`asyncio.sleep`) is awaited for pacing the export and
    between retries; ``clock`` (monotonic seconds) drives the pacing. Tests pass both
    so that waits are recorded, not slept.
    """

    def __init__(
        self,
        config: ZendeskConfig,
        client: httpx.AsyncClient,
        context: SyncContext,
        *,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.config = config
        if config.oauth_token is not None:
            auth = f"Bearer {config.oauth_token}"
        else:
            pair = f"{config.email}/token:{config.api_token}"
            auth = "Basic " + base64.b64encode(pair.encode()).decode("ascii")
        self.http = HttpClient(
            client,
            base_url=config.api_root + "/",
            headers={"Accept": "application/json"},
            secret_headers={"Authorization": auth},
            policy=policy
            or RetryPolicy(max_retries=config.max_retries, budget=config.retry_budget),
            sleep=sleep,
        )
        self.pacer = ExportPacer(config.export_requests_per_minute, clock=clock, sleep=sleep)
        self.context = context.with_own_handles(config.email) if config.email else context
        self.instance = config.instance
        self._users: dict[str, _User] = {}

    def __repr__(self) -> str:
        return f"<ZendeskAdapter instance={self.instance!r} api={self.config.api_root!r}>"

    # -- ids -----------------------------------------------------------------------------

    def user_key(self, user_id: str) -> str:
        """The stakeholder / author id of a Zendesk user (unique across platforms)."""
        return f"zendesk:{self.instance}/users/{user_id}"

    def ticket_key(self, ticket_id: str) -> str:
        """The conversation id of a ticket."""
        return f"{self.instance}/tickets/{ticket_id}"

    def comment_key(self, comment_id: str) -> str:
        """The message id of a comment."""
        return f"{self.instance}/comments/{comment_id}"

    def is_ours(self, user: _User | None, user_id: str) -> bool:
        """Agents and admins, the token's own agent, and ``[[team]]`` handles."""
        if user_id == _SYSTEM_USER:
            return True
        if user is None:
            return False
        return user.role in _AGENT_ROLES or self.context.is_ours(user.handle)

    # -- users ---------------------------------------------------------------------------

    def _remember_users(self, data: dict[str, Any], where: str) -> None:
        if data.get("users") is None:
            return
        for index, item in enumerate(as_list(data, "users", where)):
            user = _parse_user(item, f"{where} users[{index}]")
            self._users[user.id] = user

    async def _load_users(self, ids: Iterable[str]) -> None:
        missing = sorted({i for i in ids if i not in self._users and i != _SYSTEM_USER}, key=int)
        for start in range(0, len(missing), _USERS_PER_LOOKUP):
            chunk = missing[start : start + _USERS_PER_LOOKUP]
            where = "users/show_many.json"
            data = as_object(
                await self.http.get_json(
                    "api/v2/users/show_many.json", params={"ids": ",".join(chunk)}
                ),
                where,
            )
            for index, item in enumerate(as_list(data, "users", where)):
                user = _parse_user(item, f"{where} users[{index}]")
                self._users[user.id] = user

    # -- paged per-ticket lists ----------------------------------------------------------

    async def _paged(self, path: str, key: str, params: dict[str, str]) -> list[Any]:
        """Every item of a cursor-paged list (``page[size]``, ``meta.has_more``)."""
        items: list[Any] = []
        query = {**params, "page[size]": str(self.config.comments_page_size)}
        while True:
            data = as_object(await self.http.get_json(path, params=query), path)
            self._remember_users(data, path)
            items.extend(as_list(data, key, path))
            meta = as_object(data.get("meta"), f"{path} meta")
            if not as_bool(meta, "has_more", f"{path} meta"):
                return items
            after = meta.get("after_cursor")
            if not isinstance(after, str) or not valid_export_cursor(after):
                raise MalformedPayload(f"{path}: meta.has_more is true but no meta.after_cursor")
            if after == query.get("page[after]"):
                raise MalformedPayload(f"{path}: meta.after_cursor did not move on")
            query = {**query, "page[after]": after}

    # -- mapping -------------------------------------------------------------------------

    def _messages(self, ticket_id: str, comments: list[Any]) -> list[Message]:
        conversation = self.ticket_key(ticket_id)
        url = f"{self.config.api_root}/agent/tickets/{ticket_id}"
        rows: list[tuple[datetime, int, dict[str, Any], str]] = []
        for index, item in enumerate(comments):
            where = f"ticket {ticket_id} comments[{index}]"
            data = as_object(item, where)
            raw_id = as_required_id(data, "id", where)
            rows.append((as_time(data, "created_at", where), int(raw_id), data, where))
        rows.sort(key=lambda r: (r[0], r[1]))
        out: list[Message] = []
        last_public: str | None = None
        for sent_at, comment_id, data, where in rows:
            author = as_required_id(data, "author_id", where)
            public = as_bool(data, "public", where)
            text = as_opt_str(data, "plain_body", where)
            if text is None:
                text = as_opt_str(data, "body", where) or ""
            via = data.get("via")
            channel = None
            if via is not None:
                channel = as_opt_str(as_object(via, f"{where} via"), "channel", f"{where} via")
            user = self._users.get(author)
            ours = self.is_ours(user, author)
            if public:
                direction = Direction.OUTBOUND if ours else Direction.INBOUND
            else:
                direction = Direction.INTERNAL if ours else Direction.INBOUND
            automated = author == _SYSTEM_USER or (
                channel is not None
                and (channel in AUTOMATED_CHANNELS or channel.startswith("answer_bot"))
            )
            key = self.comment_key(str(comment_id))
            out.append(
                Message(
                    id=key,
                    platform=PLATFORM,
                    conversation_id=conversation,
                    channel_id=self.instance,
                    author_id=self.user_key(author),
                    direction=direction,
                    sent_at=sent_at,
                    in_reply_to=last_public,
                    text=text,
                    visibility=Visibility.PUBLIC if public else Visibility.NOTE,
                    automated=automated,
                    tags=(f"via:{channel}",) if channel else (),
                    url=url,
                )
            )
            if public:
                last_public = key
        return out

    def _history(self, ticket_id: str, audits: list[Any]) -> list[StatusChange]:
        conversation = self.ticket_key(ticket_id)
        found: list[tuple[datetime, int, int, str]] = []
        for index, item in enumerate(audits):
            where = f"ticket {ticket_id} audits[{index}]"
            data = as_object(item, where)
            at = as_time(data, "created_at", where)
            audit_id = as_required_id(data, "id", where)
            for number, raw in enumerate(as_list(data, "events", where)):
                event = as_object(raw, f"{where} events[{number}]")
                if event.get("type") not in ("Create", "Change"):
                    continue
                if event.get("field_name") != "status":
                    continue
                value = as_str(event, "value", f"{where} events[{number}]")
                found.append((at, int(audit_id), number, value))
        found.sort()
        changes: list[StatusChange] = []
        for at, _audit, _number, value in found:
            status = map_status(value, hold_status=self.config.hold_status)
            if status is None:
                log.warning("ticket %s: unknown status in its audits, ignored", ticket_id)
                continue
            if changes and changes[-1].status is status:
                continue
            changes.append(
                StatusChange(platform=PLATFORM, conversation_id=conversation, status=status, at=at)
            )
        return changes

    def _stakeholder(self, user_id: str) -> Stakeholder | None:
        user = self._users.get(user_id)
        if user is None or self.is_ours(user, user_id):
            return None
        return Stakeholder(
            id=self.user_key(user_id),
            kind=StakeholderKind.CUSTOMER,
            display_name=user.name,
            identities={PLATFORM: user.handle},
        )

    # -- the sync ------------------------------------------------------------------------

    async def _ticket(
        self, data: dict[str, Any], ticket_id: str, updated: datetime, where: str
    ) -> tuple[Conversation, list[Message], set[str]]:
        """A ticket's conversation, its messages, and the user ids of its people."""
        where = f"{where} (ticket {ticket_id})"
        status_text = as_str(data, "status", where)
        status = map_status(status_text, hold_status=self.config.hold_status)
        if status is None:
            raise MalformedPayload(f"{where}: 'status' is not a Zendesk ticket status")
        requester = as_id(data, "requester_id", where, optional=True)
        assignee = as_id(data, "assignee_id", where, optional=True)
        tags_raw = data.get("tags") or []
        if not isinstance(tags_raw, list) or not all(isinstance(t, str) and t for t in tags_raw):
            raise MalformedPayload(f"{where}: 'tags' is not an array of strings")
        via = data.get("via")
        if via is not None:
            channel = as_opt_str(as_object(via, f"{where} via"), "channel", f"{where} via")
            if channel:
                tags_raw = [*tags_raw, f"via:{channel}"]
        conversation = self.ticket_key(ticket_id)
        messages: list[Message] = []
        history: list[StatusChange] = []
        comments: list[Any] = []
        deleted = status_text == "deleted"
        if not deleted:
            try:
                comments = await self._paged(
                    f"api/v2/tickets/{ticket_id}/comments.json", "comments", {"include": "users"}
                )
                audits = (
                    await self._paged(f"api/v2/tickets/{ticket_id}/audits.json", "audits", {})
                    if self.config.status_history
                    else []
                )
            except HttpError as exc:
                if exc.status != 404:
                    raise
                # Deleted between the export and now: what the export said stands.
                log.info("ticket %s is gone (404); recorded as closed", ticket_id)
                deleted = True
                comments = []
            else:
                authors = [as_id(as_object(c, where), "author_id", where) for c in comments]
                await self._load_users(u for u in (*authors, requester, assignee) if u is not None)
                messages = self._messages(ticket_id, comments)
                history = self._history(ticket_id, audits)
        if deleted:
            status = ConversationStatus.CLOSED
        if not history or history[-1].status is not status:
            history.append(
                StatusChange(
                    platform=PLATFORM, conversation_id=conversation, status=status, at=updated
                )
            )
        people = {as_id(as_object(c, where), "author_id", where) or _SYSTEM_USER for c in comments}
        if requester is not None:
            people.add(requester)
        record = Conversation(
            id=conversation,
            platform=PLATFORM,
            channel_id=self.instance,
            stakeholder_id=self.user_key(requester) if requester else None,
            owner_id=self.user_key(assignee) if assignee else None,
            status=status,
            tags=tuple(dict.fromkeys(tags_raw)),
            status_history=history,
        )
        return record, messages, people

    async def fetch(self, cursor: str | None) -> AsyncIterator[Page]:
        """Yield one page per export page that holds something new, each with the
        cursor that resumes after it; then, if the export cursor moved on since the
        last page yielded, a last page carrying only that cursor."""
        start = self.config.start_time
        state = State.decode(
            cursor,
            instance=self.instance,
            start_time=int(start.timestamp()) if start is not None else 0,
        )
        delivered = cursor
        seen_messages: set[str] = set()
        seen_tickets: dict[str, datetime] = {}
        seen_people: set[str] = set()
        channel_sent = False
        while True:
            params: dict[str, str] = {"per_page": str(self.config.page_size), "include": "users"}
            if state.after is not None:
                params["cursor"] = state.after
            else:
                params["start_time"] = str(state.start_time)
            await self.pacer.wait()
            data = as_object(await self.http.get_json(EXPORT_PATH, params=params), "export")
            tickets = as_list(data, "tickets", "export")
            end = as_bool(data, "end_of_stream", "export")
            after = data.get("after_cursor")
            if after is not None and not valid_export_cursor(after):
                raise MalformedPayload("export: 'after_cursor' is not a cursor")
            if after is None and not end:
                raise MalformedPayload("export: no 'after_cursor' although end_of_stream is false")
            self._remember_users(data, "export")
            conversations: list[Conversation] = []
            messages: list[Message] = []
            people: list[Stakeholder] = []
            for index, raw in enumerate(tickets):
                where = f"export tickets[{index}]"
                ticket = as_object(raw, where)
                ticket_id = as_required_id(ticket, "id", where)
                updated = as_time(ticket, "updated_at", where)
                before = seen_tickets.get(ticket_id)
                if before is not None and before >= updated:
                    continue  # the same version again (overlapping export pages)
                record, found, users = await self._ticket(ticket, ticket_id, updated, where)
                seen_tickets[ticket_id] = updated
                conversations.append(record)
                for message in found:
                    if message.id not in seen_messages:
                        seen_messages.add(message.id)
                        messages.append(message)
                for user_id in sorted(users - seen_people, key=int):
                    stakeholder = self._stakeholder(user_id)
                    if stakeholder is not None:
                        seen_people.add(user_id)
                        people.append(stakeholder)
            state = attrs.evolve(state, after=after if after is not None else state.after)
            encoded = state.encode()
            if conversations or messages:
                channels = []
                if not channel_sent:
                    channels.append(
                        Channel(id=self.instance, platform=PLATFORM, handle=self.instance)
                    )
                    channel_sent = True
                yield Page(
                    messages=messages,
                    conversations=conversations,
                    stakeholders=people,
                    channels=channels,
                    cursor=encoded,
                )
                delivered = encoded
            if end:
                break
        if delivered != state.encode():
            yield Page(cursor=state.encode())


def create(
    config: ZendeskConfig, client: httpx.AsyncClient, context: SyncContext
) -> ZendeskAdapter:
    """The factory registered for ``platform = "zendesk"`` (no I/O)."""
    return ZendeskAdapter(config, client, context)
