"""The Facebook and Instagram adapters.

Both read *surfaces* in passes (see :mod:`._cursor`):

- Facebook ``posts``: ``/{page-id}/feed`` (or ``/posts``), newest first; each post is
  a conversation and its comments
  (``/{post-id}/comments?filter=stream&order=chronological``, replies included with
  their ``parent``) are its messages;
- Facebook ``messenger``: ``/{page-id}/conversations?platform=messenger``, most recently
  updated first, then ``/{conversation-id}/messages`` (newest first) of each
  conversation updated since it was last read;
- Instagram ``media``: ``/{ig-user-id}/media``, each medium with its comments and their
  embedded ``replies`` (more replies via ``/{comment-id}/replies``);
- Instagram ``direct``: ``/{ig-user-id}/conversations?platform=instagram``, then
  messages as for Messenger.

Graph ids are unique across Meta (``{page}_{post}``, ``{post}_{comment}``, numeric
Instagram ids), so they are used as they are; ``platform`` tells the two apart.
"""

from __future__ import annotations

import abc
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any, Final

import attrs
import httpx

from convokit_core import (
    Channel,
    Direction,
    HttpClient,
    MalformedPayload,
    Message,
    Page,
    RetryPolicy,
    Stakeholder,
    SyncContext,
    SyncError,
    Visibility,
)

from ._config import FacebookConfig, InstagramConfig
from ._cursor import State, SurfaceState, child_key, key_order
from ._graph import GraphApi, next_after, parse_graph_time, recording_client

__all__ = [
    "FACEBOOK",
    "INSTAGRAM",
    "UNKNOWN_AUTHOR",
    "FacebookAdapter",
    "InstagramAdapter",
    "create_facebook",
    "create_instagram",
]

FACEBOOK: Final = "facebook"
INSTAGRAM: Final = "instagram"
UNKNOWN_AUTHOR: Final = "unknown"
"""The author id suffix (``facebook:unknown``) of a message whose ``from`` Meta withheld."""

log = logging.getLogger("convokit.meta")

_FB_POST_FIELDS: Final = "id,message,created_time,from,permalink_url"
_FB_COMMENT_FIELDS: Final = "id,from,message,created_time,parent"
_DM_FIELDS: Final = "id,from,to,message,created_time"
_IG_MEDIA_FIELDS: Final = "id,caption,timestamp,username,permalink"
_IG_REPLY_FIELDS: Final = "id,text,timestamp,username"
_IG_COMMENT_FIELDS: Final = f"id,text,timestamp,username,replies{{{_IG_REPLY_FIELDS}}}"

Mapped = tuple[Message, Stakeholder | None]


def _dict(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise MalformedPayload(f"{what}: expected a JSON object, found {type(value).__name__}")
    return value


def _id(data: Mapping[str, Any], key: str, what: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value or len(value) > 200:
        raise MalformedPayload(
            f"{what}: expected a string id {key!r}, found {type(value).__name__}"
        )
    return value


def _text(data: Mapping[str, Any], key: str, what: str) -> str:
    value = data.get(key, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise MalformedPayload(f"{what}: expected {key!r} to be text, found {type(value).__name__}")
    return value


def _opt_str(data: Mapping[str, Any], key: str, what: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise MalformedPayload(f"{what}: expected {key!r} to be a string")
    return value or None


def _person(data: Mapping[str, Any], what: str) -> tuple[str, str | None] | None:
    """``(id, name)`` of a ``from`` object; ``None`` when Meta withheld it (privacy)."""
    value = data.get("from")
    if value is None:
        return None
    person = _dict(value, f"{what}: from")
    name = _opt_str(person, "name", what) or _opt_str(person, "username", what)
    return _id(person, "id", f"{what}: from"), name


class _Run:
    """One ``fetch``: the evolving state, the ids already yielded, pending records."""

    def __init__(self, state: State) -> None:
        self.state = state
        self.yielded: set[str] = set()
        self.last_cursor: str | None = None
        self.channels: list[Channel] = []

    def page(self, mapped: list[Mapped]) -> Page | None:
        messages: dict[str, Message] = {}
        people: dict[str, Stakeholder] = {}
        for message, person in mapped:
            if message.id in self.yielded or message.id in messages:
                continue
            messages[message.id] = message
            if person is not None:
                people[person.id] = person
        cursor = self.state.encode()
        if not messages and not self.channels:
            return None
        self.yielded |= set(messages)
        page = Page(
            messages=tuple(messages.values()),
            stakeholders=tuple(people.values()),
            channels=tuple(self.channels),
            cursor=cursor,
        )
        self.channels = []
        self.last_cursor = cursor
        return page


class _MetaAdapter(abc.ABC):
    """What both adapters share: HTTP, the pass over a surface, direct messages."""

    platform: str = ""
    _config: FacebookConfig | InstagramConfig

    def __init__(
        self,
        config: FacebookConfig | InstagramConfig,
        client: httpx.AsyncClient,
        context: SyncContext,
        *,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        policy: RetryPolicy | None = None,
    ) -> None:
        self._config = config
        self.base_context = context
        self.context = context
        wrapped, recorder = recording_client(client)
        self.http = HttpClient(
            wrapped,
            base_url=config.graph_url,
            headers={"Accept": "application/json"},
            secret_headers={"Authorization": f"Bearer {config.access_token}"},
            policy=policy
            or RetryPolicy(max_retries=config.max_retries, budget=config.retry_budget),
            sleep=sleep,
        )
        self.api = GraphApi(
            self.http,
            recorder,
            budget=config.retry_budget,
            max_retries=config.max_retries,
            slow_down_at=config.slow_down_at,
            max_pause=config.max_pause,
            sleep=sleep,
        )
        self.account = ""

    def person_id(self, handle: str) -> str:
        """``facebook:<id>`` / ``instagram:<username>``: unique across platforms."""
        return f"{self.platform}:{handle}"

    def channel_id(self) -> str:
        return f"{self.platform}:{self.account}"

    # -- the pass over one surface --------------------------------------------------------

    async def _pass(
        self,
        run: _Run,
        surface: str,
        roots: AsyncIterator[list[dict[str, Any]]],
        time_key: str,
        read: Callable[
            [dict[str, Any], datetime, tuple[datetime, str | None] | None, datetime | None],
            Awaitable[tuple[list[Mapped], str | None]],
        ],
        *,
        updated: bool,
    ) -> AsyncIterator[Page]:
        """Roots newest first down to the horizon; ``read`` gives each root's new messages.

        Roots below the horizon are skipped; the listing stops after a whole page of
        them (one page more than strictly needed, so a root out of order, such as an
        old pinned post listed first, does not end the pass).

        ``updated``: roots are listed by an update time (conversations), so a root whose
        time did not move since it was read has nothing new and is not read again.
        """
        config = self._config
        ss = run.state.surfaces.get(surface, SurfaceState())
        if ss.watermark is not None:
            horizon: datetime | None = ss.watermark - config.lookback
        else:
            horizon = config.since
        newest = ss.watermark
        seen = dict(ss.seen)
        async for items in roots:
            below = 0
            for raw in items:
                what = f"{self.platform} {surface} item"
                root_id = _id(raw, "id", what)
                at = parse_graph_time(raw.get(time_key), f"{what} {root_id}: {time_key}")
                if horizon is not None and at < horizon:
                    # Skipped, not the end: an old pinned post can come first.
                    below += 1
                    continue
                newest = at if newest is None or at > newest else newest
                entry = seen.get(root_id)
                if updated and entry is not None and at <= entry[0]:
                    continue
                mapped, newest_child = await read(raw, at, entry, horizon)
                known = entry[1] if entry is not None else None
                if known is not None and (
                    newest_child is None or key_order(newest_child) < key_order(known)
                ):
                    newest_child = known
                seen[root_id] = (at, newest_child)
                run.state = run.state.with_surface(
                    surface, SurfaceState(watermark=ss.watermark, seen=dict(seen))
                )
                page = run.page(mapped)
                if page is not None:
                    yield page
            if items and below == len(items):
                break  # a whole page below the horizon: the rest is older still
        if newest is not None:
            floor = newest - config.lookback
            seen = {k: v for k, v in seen.items() if v[0] >= floor}
        run.state = run.state.with_surface(surface, SurfaceState(watermark=newest, seen=seen))

    @staticmethod
    def _is_new(at: datetime, item_id: str, known: str | None, floor: datetime | None) -> bool:
        if known is not None:
            return (at, item_id) > key_order(known)
        return floor is None or at >= floor

    # -- direct messages (Messenger and Instagram) ---------------------------------------

    def _dm_is_ours(self, sender: tuple[str, str | None]) -> bool:
        return sender[0] == self.account or self.context.is_ours(sender[0])

    async def _read_dm(
        self,
        conversation: dict[str, Any],
        at: datetime,
        entry: tuple[datetime, str | None] | None,
        floor: datetime | None,
    ) -> tuple[list[Mapped], str | None]:
        conv_id = _id(conversation, "id", f"{self.platform} conversation")
        known = entry[1] if entry is not None else None
        out: list[Mapped] = []
        newest: str | None = None
        params: dict[str, str | int] = {"fields": _DM_FIELDS, "limit": self._config.page_size}
        async for items in self.api.pages(f"{conv_id}/messages", params, "conversation messages"):
            reached = False
            for raw in items:
                what = f"{self.platform} message in conversation {conv_id}"
                msg_id = _id(raw, "id", what)
                sent = parse_graph_time(raw.get("created_time"), f"{what}: created_time")
                key = child_key(sent, msg_id)
                if newest is None or key_order(key) > key_order(newest):
                    newest = key
                if not self._is_new(sent, msg_id, known, floor):
                    reached = True
                    continue
                out.append(self._dm(raw, conv_id, msg_id, sent, what))
            if reached:  # newest first: the rest of the conversation was read before
                break
        return out, newest

    def _dm(
        self, raw: Mapping[str, Any], conv_id: str, msg_id: str, sent: datetime, what: str
    ) -> Mapped:
        sender = _person(raw, what)
        to = raw.get("to")
        if to is not None:
            _dict(to, f"{what}: to")
        ours = sender is not None and self._dm_is_ours(sender)
        handle = self._dm_handle(sender) if sender is not None else UNKNOWN_AUTHOR
        message = Message(
            id=msg_id,
            platform=self.platform,
            conversation_id=conv_id,
            channel_id=self.channel_id(),
            author_id=self.person_id(handle),
            direction=Direction.OUTBOUND if ours else Direction.INBOUND,
            sent_at=sent,
            text=_text(raw, "message", what),
            visibility=Visibility.PRIVATE,
        )
        person = None
        if sender is not None and not ours:
            person = Stakeholder(
                id=message.author_id, display_name=sender[1], identities={self.platform: handle}
            )
        return message, person

    def _dm_handle(self, sender: tuple[str, str | None]) -> str:
        return sender[0]

    async def _conversations(
        self, run: _Run, surface: str, platform: str, node: str
    ) -> AsyncIterator[Page]:
        params: dict[str, str | int] = {
            "platform": platform,
            "fields": "id,updated_time",
            "limit": self._config.page_size,
        }
        roots = self.api.pages(f"{node}/conversations", params, "conversations")
        async for page in self._pass(
            run, surface, roots, "updated_time", self._read_dm, updated=True
        ):
            yield page

    # -- fetch ---------------------------------------------------------------------------

    @abc.abstractmethod
    async def _account(self) -> Channel:
        """Read our Page / account (checks the token) and return its Channel record."""

    @abc.abstractmethod
    def _surfaces(self, run: _Run) -> list[AsyncIterator[Page]]:
        """The passes over the configured surfaces, in config order."""

    async def fetch(self, cursor: str | None) -> AsyncIterator[Page]:
        """Yield pages for every configured surface, each with the cursor after it.

        Errors Meta reports raise :class:`~convokit_meta.MetaApiError` (or
        :class:`~convokit_meta.MetaThrottled`); a payload of the wrong shape raises
        :class:`~convokit_core.MalformedPayload`, with any secret scrubbed.
        """
        try:
            async for page in self._fetch(cursor):
                yield page
        except MalformedPayload as exc:
            raise MalformedPayload(self.http.scrub(str(exc))) from None

    async def _fetch(self, cursor: str | None) -> AsyncIterator[Page]:
        state = State.decode(cursor, platform=self.platform)
        channel = await self._account()
        if state.account is not None and state.account != self.account:
            raise SyncError(
                f"the stored cursor belongs to {self.platform} account {state.account}, but "
                f"this source reads {self.account}; use another source name for another "
                "account, or reset this source's cursor"
            )
        run = _Run(attrs.evolve(state, account=self.account))
        if state.account is None:
            run.channels = [channel]
        for surface in self._surfaces(run):
            async for page in surface:
                yield page
        final = run.state.encode()
        if final != (run.last_cursor or cursor):
            yield Page(channels=tuple(run.channels), cursor=final)


class FacebookAdapter(_MetaAdapter):
    """A Facebook Page: posts with their comments, and Messenger conversations."""

    platform = FACEBOOK
    _config: FacebookConfig

    def __init__(
        self,
        config: FacebookConfig,
        client: httpx.AsyncClient,
        context: SyncContext,
        *,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        policy: RetryPolicy | None = None,
    ) -> None:
        super().__init__(config, client, context, sleep=sleep, policy=policy)
        self.config = config
        self.account = config.page_id
        self.page_name: str | None = None

    def __repr__(self) -> str:
        return f"<FacebookAdapter page {self.config.page_id} {list(self.config.surfaces)}>"

    def is_ours(self, person: tuple[str, str | None] | None) -> bool:
        """The Page itself, or a ``[[team]]`` member (by app-scoped user id)."""
        if person is None:
            return False
        return person[0] == self.account or self.context.is_ours(person[0])

    async def _account(self) -> Channel:
        data = await self.api.get(self.account, {"fields": "id,name"}, "page")
        if _id(data, "id", "Graph page") != self.account:
            raise MalformedPayload("Graph page: the answer is about another object")
        self.page_name = _opt_str(data, "name", "Graph page")
        self.context = self.base_context.with_own_handles(self.account)
        return Channel(id=self.channel_id(), platform=FACEBOOK, handle=self.page_name)

    def _surfaces(self, run: _Run) -> list[AsyncIterator[Page]]:
        out: list[AsyncIterator[Page]] = []
        for surface in self.config.surfaces:
            if surface == "posts":
                params: dict[str, str | int] = {
                    "fields": _FB_POST_FIELDS,
                    "limit": self.config.page_size,
                }
                roots = self.api.pages(f"{self.account}/{self.config.post_edge}", params, "posts")
                out.append(
                    self._pass(run, surface, roots, "created_time", self._read_post, updated=False)
                )
            else:
                out.append(self._conversations(run, surface, "messenger", self.account))
        return out

    def _mapped(
        self,
        raw: Mapping[str, Any],
        item_id: str,
        sent: datetime,
        post_id: str,
        in_reply_to: str | None,
        text: str,
        what: str,
        url: str | None = None,
        absent_is_ours: bool = False,
    ) -> Mapped:
        sender = _person(raw, what)
        ours = self.is_ours(sender) or (sender is None and absent_is_ours)
        handle = sender[0] if sender is not None else (self.account if ours else UNKNOWN_AUTHOR)
        message = Message(
            id=item_id,
            platform=FACEBOOK,
            conversation_id=post_id,
            channel_id=self.channel_id(),
            author_id=self.person_id(handle),
            direction=Direction.OUTBOUND if ours else Direction.INBOUND,
            sent_at=sent,
            in_reply_to=in_reply_to,
            text=text,
            url=url,
        )
        person = None
        if sender is not None and not ours:
            person = Stakeholder(
                id=message.author_id, display_name=sender[1], identities={FACEBOOK: sender[0]}
            )
        return message, person

    async def _read_post(
        self,
        post: dict[str, Any],
        at: datetime,
        entry: tuple[datetime, str | None] | None,
        floor: datetime | None,
    ) -> tuple[list[Mapped], str | None]:
        post_id = _id(post, "id", "facebook post")
        what = f"facebook post {post_id}"
        out: list[Mapped] = []
        if entry is None:
            out.append(
                self._mapped(
                    post,
                    post_id,
                    at,
                    post_id,
                    None,
                    _text(post, "message", what),
                    what,
                    url=_opt_str(post, "permalink_url", what),
                    absent_is_ours=self.config.post_edge == "posts",
                )
            )
        known = entry[1] if entry is not None else None
        newest: str | None = None
        params: dict[str, str | int] = {
            "filter": "stream",
            "order": "chronological",
            "fields": _FB_COMMENT_FIELDS,
            "limit": self.config.page_size,
        }
        async for items in self.api.pages(f"{post_id}/comments", params, "comments"):
            for raw in items:
                cwhat = f"facebook comment on post {post_id}"
                comment_id = _id(raw, "id", cwhat)
                sent = parse_graph_time(raw.get("created_time"), f"{cwhat}: created_time")
                key = child_key(sent, comment_id)
                if newest is None or key_order(key) > key_order(newest):
                    newest = key
                if known is not None and key_order(key) <= key_order(known):
                    continue
                parent = raw.get("parent")
                parent_id = (
                    _id(_dict(parent, f"{cwhat}: parent"), "id", f"{cwhat}: parent")
                    if parent is not None
                    else post_id
                )
                out.append(
                    self._mapped(
                        raw,
                        comment_id,
                        sent,
                        post_id,
                        parent_id,
                        _text(raw, "message", cwhat),
                        cwhat,
                    )
                )
        return out, newest


class InstagramAdapter(_MetaAdapter):
    """An Instagram professional account: media with comments and replies, and DMs."""

    platform = INSTAGRAM
    _config: InstagramConfig

    def __init__(
        self,
        config: InstagramConfig,
        client: httpx.AsyncClient,
        context: SyncContext,
        *,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        policy: RetryPolicy | None = None,
    ) -> None:
        super().__init__(config, client, context, sleep=sleep, policy=policy)
        self.config = config
        self.account = config.ig_user_id
        self.username: str | None = None

    def __repr__(self) -> str:
        return f"<InstagramAdapter account {self.config.ig_user_id} {list(self.config.surfaces)}>"

    def is_ours_username(self, username: str | None) -> bool:
        """Our account's username, or a ``[[team]]`` handle (case-insensitive)."""
        if not username:
            return False
        if self.username and username.lower() == self.username.lower():
            return True
        return self.context.is_ours(username)

    def _dm_is_ours(self, sender: tuple[str, str | None]) -> bool:
        return (
            sender[0] == self.account
            or self.is_ours_username(sender[1])
            or self.context.is_ours(sender[0])
        )

    def _dm_handle(self, sender: tuple[str, str | None]) -> str:
        return sender[1].lower() if sender[1] else sender[0]

    async def _account(self) -> Channel:
        data = await self.api.get(self.account, {"fields": "id,username"}, "instagram account")
        if _id(data, "id", "Graph instagram account") != self.account:
            raise MalformedPayload("Graph instagram account: the answer is about another object")
        self.username = _opt_str(data, "username", "Graph instagram account")
        handles = [self.account] + ([self.username] if self.username else [])
        self.context = self.base_context.with_own_handles(*handles)
        handle = f"@{self.username}" if self.username else None
        return Channel(id=self.channel_id(), platform=INSTAGRAM, handle=handle)

    def _surfaces(self, run: _Run) -> list[AsyncIterator[Page]]:
        out: list[AsyncIterator[Page]] = []
        for surface in self.config.surfaces:
            if surface == "media":
                params: dict[str, str | int] = {
                    "fields": _IG_MEDIA_FIELDS,
                    "limit": self.config.page_size,
                }
                roots = self.api.pages(f"{self.account}/media", params, "media")
                out.append(
                    self._pass(run, surface, roots, "timestamp", self._read_media, updated=False)
                )
            else:
                node = self.config.page_id or self.account
                out.append(self._conversations(run, surface, "instagram", node))
        return out

    def _mapped(
        self,
        raw: Mapping[str, Any],
        item_id: str,
        sent: datetime,
        media_id: str,
        in_reply_to: str | None,
        text: str,
        what: str,
        *,
        url: str | None = None,
        ours: bool = False,
    ) -> Mapped:
        username = _opt_str(raw, "username", what)
        ours = ours or self.is_ours_username(username)
        handle = username.lower() if username else UNKNOWN_AUTHOR
        if ours and not username:
            handle = (self.username or self.account).lower()
        message = Message(
            id=item_id,
            platform=INSTAGRAM,
            conversation_id=media_id,
            channel_id=self.channel_id(),
            author_id=self.person_id(handle),
            direction=Direction.OUTBOUND if ours else Direction.INBOUND,
            sent_at=sent,
            in_reply_to=in_reply_to,
            text=text,
            url=url,
        )
        person = None
        if username and not ours:
            person = Stakeholder(
                id=message.author_id, display_name=username, identities={INSTAGRAM: username}
            )
        return message, person

    async def _read_media(
        self,
        media: dict[str, Any],
        at: datetime,
        entry: tuple[datetime, str | None] | None,
        floor: datetime | None,
    ) -> tuple[list[Mapped], str | None]:
        media_id = _id(media, "id", "instagram media")
        what = f"instagram media {media_id}"
        out: list[Mapped] = []
        if entry is None:
            out.append(
                self._mapped(
                    media,
                    media_id,
                    at,
                    media_id,
                    None,
                    _text(media, "caption", what),
                    what,
                    url=_opt_str(media, "permalink", what),
                    ours=True,
                )
            )
        known = entry[1] if entry is not None else None
        newest: list[str | None] = [None]

        def take(raw: Mapping[str, Any], parent: str, cwhat: str) -> None:
            item_id = _id(raw, "id", cwhat)
            sent = parse_graph_time(raw.get("timestamp"), f"{cwhat}: timestamp")
            key = child_key(sent, item_id)
            if newest[0] is None or key_order(key) > key_order(newest[0]):
                newest[0] = key
            if known is not None and key_order(key) <= key_order(known):
                return
            out.append(
                self._mapped(raw, item_id, sent, media_id, parent, _text(raw, "text", cwhat), cwhat)
            )

        params: dict[str, str | int] = {
            "fields": _IG_COMMENT_FIELDS,
            "limit": self.config.page_size,
        }
        async for items in self.api.pages(f"{media_id}/comments", params, "comments"):
            for raw in items:
                cwhat = f"instagram comment on media {media_id}"
                take(raw, media_id, cwhat)
                comment_id = _id(raw, "id", cwhat)
                replies = raw.get("replies")
                if replies is None:
                    continue
                replies = _dict(replies, f"{cwhat}: replies")
                listed = replies.get("data", [])
                if not isinstance(listed, list):
                    raise MalformedPayload(f"{cwhat}: 'replies.data' is not a list")
                rwhat = f"instagram reply to comment {comment_id}"
                for reply in listed:
                    take(_dict(reply, rwhat), comment_id, rwhat)
                after = next_after(replies, "replies")
                if after is None:
                    continue
                more: dict[str, str | int] = {
                    "fields": _IG_REPLY_FIELDS,
                    "limit": self.config.page_size,
                }
                async for extra in self.api.pages(
                    f"{comment_id}/replies", more, "replies", after=after
                ):
                    for reply in extra:
                        take(reply, comment_id, rwhat)
        return out, newest[0]


def create_facebook(
    config: FacebookConfig, client: httpx.AsyncClient, context: SyncContext
) -> FacebookAdapter:
    """The factory registered for ``platform = "facebook"``."""
    return FacebookAdapter(config, client, context)


def create_instagram(
    config: InstagramConfig, client: httpx.AsyncClient, context: SyncContext
) -> InstagramAdapter:
    """The factory registered for ``platform = "instagram"``."""
    return InstagramAdapter(config, client, context)
