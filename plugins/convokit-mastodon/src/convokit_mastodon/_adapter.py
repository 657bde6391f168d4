"""The Mastodon adapter: mentions with their whole threads, and our own statuses.

Two streams are walked forward in time with ``min_id`` (Mastodon answers "the page
immediately newer than this id", newest first, and its ``Link`` header's ``rel="prev"``
names the next page forward):

1. mentions of our account, ``GET /api/v1/notifications?types[]=mention``; each
   mentioned status brings its whole thread (``GET /api/v1/statuses/:id/context``);
2. our own statuses, ``GET /api/v1/accounts/:id/statuses`` (channel activity); a
   status that replies to someone brings its thread too.

The cursor is a small JSON object holding the high-water mark (``min_id``) of each
stream, so every page can be resumed after exactly. Status ids are unique only per
server, so every id is qualified: ``<status id>@<instance host>``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import quote

import attrs
import httpx

# Not re-exported from convokit_core yet (see the sync issue's notes).
from convokit_core import (
    Channel,
    Direction,
    HttpClient,
    HttpError,
    MalformedPayload,
    Message,
    Page,
    ResetStyle,
    RetryPolicy,
    Stakeholder,
    SyncContext,
    SyncError,
    Visibility,
    parse_datetime,
)

from ._config import MastodonConfig
from ._html import html_to_text

__all__ = ["PLATFORM", "MastodonAdapter", "MastodonCursor", "create"]

PLATFORM = "mastodon"
log = logging.getLogger("convokit.mastodon")


@attrs.frozen(kw_only=True)
class MastodonCursor:
    """Where a Mastodon source resumes: the newest id seen on each stream.

    Attributes:
        mentions: ``min_id`` for the next notifications request (``None``: from the start).
        statuses: ``min_id`` for the next own-statuses request (``None``: from the start).
    """

    mentions: str | None = None
    statuses: str | None = None

    def encode(self) -> str:
        """The opaque string the host stores."""
        return json.dumps(
            {"v": 1, "mentions": self.mentions, "statuses": self.statuses},
            separators=(",", ":"),
        )

    @classmethod
    def decode(cls, text: str | None) -> MastodonCursor:
        """Parse :meth:`encode`'s output (``None`` = start from the beginning)."""
        if text is None:
            return cls()
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        if (
            not isinstance(data, dict)
            or data.get("v") != 1
            or not all(
                data.get(k) is None or (isinstance(data.get(k), str) and data.get(k))
                for k in ("mentions", "statuses")
            )
        ):
            raise SyncError(
                f"stored cursor {text[:80]!r} is not a Mastodon cursor; reset the source's "
                "cursor to sync it from the beginning"
            )
        return cls(mentions=data.get("mentions"), statuses=data.get("statuses"))


def _str(data: Mapping[str, Any], key: str, what: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise MalformedPayload(f"{what}: expected a non-empty string {key!r}, found {value!r}")
    return value


def _opt_str(data: Mapping[str, Any], key: str, what: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise MalformedPayload(f"{what}: expected {key!r} to be a string or null, found {value!r}")
    return value or None


def _time(data: Mapping[str, Any], key: str, what: str) -> datetime:
    try:
        return parse_datetime(_str(data, key, what))
    except ValueError as exc:
        raise MalformedPayload(f"{what}: {key!r}: {exc}") from None


def _dict(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise MalformedPayload(f"{what}: expected a JSON object, found {str(value)[:80]!r}")
    return value


def _list(value: Any, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise MalformedPayload(f"{what}: expected a JSON array, found {str(value)[:80]!r}")
    return value


def _prev_link(response: httpx.Response) -> str | None:
    """The ``rel="prev"`` URL of a ``Link`` header (the next page forward in time)."""
    link = response.links.get("prev")
    return link.get("url") if link else None


class MastodonAdapter:
    """Fetches one account's conversations from one Mastodon server.

    Built by :func:`create`; the host calls :meth:`fetch`.
    """

    def __init__(
        self,
        config: MastodonConfig,
        client: httpx.AsyncClient,
        context: SyncContext,
        *,
        policy: RetryPolicy | None = None,
    ) -> None:
        self.config = config
        self.context = context.with_own_handles(config.full_handle)
        self.http = HttpClient(
            client,
            base_url=config.instance,
            headers={"Accept": "application/json"},
            secret_headers={"Authorization": f"Bearer {config.token}"},
            policy=policy or RetryPolicy(),
            reset_header="X-RateLimit-Reset",
            reset_style=ResetStyle.ISO_TIMESTAMP,
        )

    def __repr__(self) -> str:
        return f"<MastodonAdapter {self.config.full_handle} on {self.config.instance}>"

    # -- ids and records -----------------------------------------------------------------

    def qualify(self, status_id: str) -> str:
        """``<status id>@<instance host>``: unique across servers."""
        return f"{status_id}@{self.config.host}"

    def handle_of(self, account: Mapping[str, Any]) -> str:
        """``@user@domain`` for an Account entity (local accounts get our host)."""
        acct = _str(account, "acct", "account")
        if "@" not in acct:
            acct = f"{acct}@{self.config.host}"
        return "@" + acct

    def message(
        self, status: Mapping[str, Any], *, conversation: str, deleted: bool = False
    ) -> tuple[Message, Stakeholder | None]:
        """One Status entity as a message in ``conversation`` (a qualified root id)."""
        what = f"status {status.get('id')!r}"
        status_id = _str(status, "id", "status")
        account = _dict(status.get("account"), f"{what}: account")
        handle = self.handle_of(account)
        ours = self.context.is_ours(handle)
        visibility = (
            Visibility.PRIVATE if status.get("visibility") == "direct" else Visibility.PUBLIC
        )
        content = status.get("content")
        if not isinstance(content, str):
            raise MalformedPayload(f"{what}: expected HTML 'content', found {content!r}")
        text = html_to_text(content)
        spoiler = status.get("spoiler_text")
        if isinstance(spoiler, str) and spoiler.strip():
            text = f"CW: {spoiler.strip()}\n\n{text}"
        in_reply_to = _opt_str(status, "in_reply_to_id", what)
        edited = status.get("edited_at")
        message = Message(
            id=self.qualify(status_id),
            platform=PLATFORM,
            conversation_id=conversation,
            channel_id=self.channel_id,
            author_id=handle,
            direction=Direction.OUTBOUND if ours else Direction.INBOUND,
            sent_at=_time(status, "created_at", what),
            in_reply_to=self.qualify(in_reply_to) if in_reply_to else None,
            text=text,
            visibility=visibility,
            automated=account.get("bot") is True,
            url=_opt_str(status, "url", what) or _opt_str(status, "uri", what),
            edited_at=_time(status, "edited_at", what) if edited is not None else None,
            deleted=deleted,
        )
        stakeholder = None
        if not ours:
            display = account.get("display_name")
            stakeholder = Stakeholder(
                id=handle,
                display_name=display if isinstance(display, str) and display else None,
                identities={PLATFORM: handle},
            )
        return message, stakeholder

    @property
    def channel_id(self) -> str:
        """Our account as a channel: ``@user@domain``."""
        return "@" + self.config.full_handle

    # -- requests ------------------------------------------------------------------------

    async def lookup_account(self) -> dict[str, Any]:
        """Resolve the configured handle to an Account entity."""
        acct = self.config.account
        user, _, domain = acct.partition("@")
        if domain.lower() == self.config.host.lower():
            acct = user
        try:
            data = await self.http.get_json("/api/v1/accounts/lookup", params={"acct": acct})
        except HttpError as exc:
            if exc.status == 404:
                raise SyncError(
                    f"account @{self.config.account} was not found on {self.config.instance}"
                ) from None
            raise
        account = _dict(data, "accounts/lookup")
        _str(account, "id", "accounts/lookup")
        return account

    async def thread(
        self, status: Mapping[str, Any]
    ) -> tuple[str, list[tuple[dict[str, Any], bool]]]:
        """The qualified root id and every status of ``status``'s thread.

        Each status comes with whether it is known deleted: when the context request
        answers 404 the status itself was deleted meanwhile and is kept, marked deleted.
        """
        status_id = _str(status, "id", "status")
        try:
            data = await self.http.get_json(f"/api/v1/statuses/{quote(status_id, safe='')}/context")
        except HttpError as exc:
            if exc.status == 404:
                log.info("status %s was deleted; kept as deleted", status_id)
                return self.qualify(status_id), [(dict(status), True)]
            raise
        context = _dict(data, f"context of {status_id}")
        ancestors = [_dict(s, "ancestor") for s in _list(context.get("ancestors"), "ancestors")]
        descendants = [
            _dict(s, "descendant") for s in _list(context.get("descendants"), "descendants")
        ]
        root = ancestors[0] if ancestors else status
        statuses = [*ancestors, dict(status), *descendants]
        return self.qualify(_str(root, "id", "thread root")), [(s, False) for s in statuses]

    # -- the two streams -----------------------------------------------------------------

    async def fetch(self, cursor: str | None) -> AsyncIterator[Page]:
        """Yield pages of mentions (with threads), then of our own statuses."""
        state = MastodonCursor.decode(cursor)
        account = await self.lookup_account()
        account_id = _str(account, "id", "account")
        channel = Channel(
            id=self.channel_id,
            platform=PLATFORM,
            handle=self.channel_id,
            created_at=_time(account, "created_at", "account")
            if account.get("created_at")
            else None,
        )
        pending_channel: list[Channel] = [channel] if cursor is None else []
        # What this run delivered (id -> hash): a thread reached again through a later
        # mention or one of our replies is not yielded again unless it changed.
        delivered: dict[str, int] = {}
        last_cursor = cursor

        streams: list[tuple[str, str, dict[str, Any]]] = [
            (
                "mentions",
                "/api/v1/notifications",
                {"types[]": "mention", "limit": self.config.page_size},
            ),
            (
                "statuses",
                f"/api/v1/accounts/{quote(account_id, safe='')}/statuses",
                {"limit": self.config.page_size, "exclude_reblogs": "true"},
            ),
        ]
        for stream, path, base_params in streams:
            min_id = getattr(state, stream)
            url: str = path
            params: dict[str, Any] | None = {**base_params, "min_id": min_id or "0"}
            while True:
                response = await self.http.request("GET", url, params=params)
                items = _list(self.http.json_of(response), stream)
                if not items:
                    break
                if stream == "mentions":
                    messages, people = await self._mention_page(items)
                else:
                    messages, people = await self._status_page(items)
                newest = _str(_dict(items[0], stream), "id", stream)
                next_url = _prev_link(response)
                next_min = httpx.URL(next_url).params.get("min_id") if next_url else None
                state = attrs.evolve(state, **{stream: next_min or newest})
                fresh = [m for m in messages.values() if delivered.get(m.id) != hash(m)]
                delivered.update((m.id, hash(m)) for m in fresh)
                authors = {m.author_id for m in fresh}
                fields: dict[str, Any] = {
                    "messages": tuple(fresh),
                    "stakeholders": tuple(p for p in people.values() if p.id in authors),
                    "channels": tuple(pending_channel),
                    "cursor": state.encode(),
                }
                if fresh or pending_channel:
                    # A page with nothing new is not yielded; its cursor rides on the
                    # next page (or on the final cursor-only page below).
                    yield Page(**fields)
                    pending_channel = []
                    last_cursor = fields["cursor"]
                if next_url:
                    url, params = next_url, None
                else:
                    url, params = path, {**base_params, "min_id": getattr(state, stream)}
        if pending_channel or state.encode() != last_cursor:
            fields = {"channels": tuple(pending_channel), "cursor": state.encode()}
            yield Page(**fields)

    async def _mention_page(
        self, items: list[Any]
    ) -> tuple[dict[str, Message], dict[str, Stakeholder]]:
        messages: dict[str, Message] = {}
        people: dict[str, Stakeholder] = {}
        # Oldest first, so a thread mentioned twice in a page ends with its latest state.
        for item in reversed(items):
            notification = _dict(item, "notification")
            _str(notification, "id", "notification")
            if notification.get("type") != "mention":
                continue
            status = _dict(notification.get("status"), "mention notification's status")
            await self._add_thread(status, messages, people)
        return messages, people

    async def _status_page(
        self, items: list[Any]
    ) -> tuple[dict[str, Message], dict[str, Stakeholder]]:
        messages: dict[str, Message] = {}
        people: dict[str, Stakeholder] = {}
        for item in reversed(items):
            status = _dict(item, "status")
            if status.get("reblog") is not None:
                continue  # a boost is not something we said
            if status.get("in_reply_to_id") is not None:
                await self._add_thread(status, messages, people)
            else:
                message, person = self.message(
                    status, conversation=self.qualify(_str(status, "id", "status"))
                )
                messages[message.id] = message
                if person is not None:
                    people[person.id] = person
        return messages, people

    async def _add_thread(
        self,
        status: dict[str, Any],
        messages: dict[str, Message],
        people: dict[str, Stakeholder],
    ) -> None:
        root, statuses = await self.thread(status)
        for entry, deleted in statuses:
            message, person = self.message(entry, conversation=root, deleted=deleted)
            messages[message.id] = message
            if person is not None:
                people[person.id] = person


def create(
    config: MastodonConfig, client: httpx.AsyncClient, context: SyncContext
) -> MastodonAdapter:
    """The factory registered for ``platform = "mastodon"``."""
    return MastodonAdapter(config, client, context)
