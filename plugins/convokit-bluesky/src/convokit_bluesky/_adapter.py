"""The Bluesky platform adapter: mentions, replies, their threads, and our own posts."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

import attrs
import httpx

from convokit_core import (
    Channel,
    HttpError,
    MalformedPayload,
    Message,
    Page,
    RetryPolicy,
    Stakeholder,
    SyncContext,
    check_url_scheme,
)

from ._config import BlueskyConfig
from ._cursor import Position, State, decode, encode
from ._mapping import (
    PLATFORM,
    THREAD_VIEW_POST,
    PostRef,
    flatten_thread,
    message_from_post,
    parse_time,
    root_uri,
    stakeholder_from_author,
)
from ._session import Session, XrpcClient, xrpc_error

__all__ = ["BlueskyAdapter", "create_adapter"]

logger = logging.getLogger("convokit.bluesky")

LIST_NOTIFICATIONS = "app.bsky.notification.listNotifications"
GET_POST_THREAD = "app.bsky.feed.getPostThread"
GET_AUTHOR_FEED = "app.bsky.feed.getAuthorFeed"
GET_PROFILE = "app.bsky.actor.getProfile"

REASONS = ("mention", "reply")
"""Notification reasons that start or continue a conversation with us."""
THREAD_DEPTH = 1000
"""Replies below a thread's root to fetch (the lexicon's maximum)."""
REPOST = "app.bsky.feed.defs#reasonRepost"
POST_VIEW = "app.bsky.feed.defs#postView"


def create_adapter(
    config: BlueskyConfig, client: httpx.AsyncClient, context: SyncContext
) -> BlueskyAdapter:
    """The factory registered for ``platform = "bluesky"``."""
    return BlueskyAdapter(config, client, context)


@attrs.frozen(kw_only=True)
class _Scanned:
    """One listing page, reduced to what the scan needs."""

    fresh: list[tuple[datetime, PostRef]]
    """Items not delivered before, with their ``indexedAt`` (the scan's position key)."""
    next_cursor: str | None
    """Where the scan continues, or ``None`` when it is complete."""


class BlueskyAdapter:
    """Fetches one Bluesky account's conversations (see the package README).

    Pages come first from ``listNotifications`` (each page with the whole threads of
    its mentions and replies), then from ``getAuthorFeed`` (our posts, for channel
    activity). The cursor records a :class:`~convokit_bluesky._cursor.Position` per
    listing, so a later sync reads only what is new.
    """

    def __init__(
        self,
        config: BlueskyConfig,
        client: httpx.AsyncClient,
        context: SyncContext,
        *,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
    ) -> None:
        check_url_scheme(config.service)
        self._config = config
        self._context = context.with_own_handles(config.handle)
        self._xrpc = XrpcClient(
            client,
            service=config.service,
            identifier=config.handle,
            password=config.app_password,
            policy=policy,
            sleep=sleep,
        )

    def __repr__(self) -> str:
        return f"<BlueskyAdapter {self._config.handle!r} via {self._config.service!r}>"

    async def fetch(self, cursor: str | None) -> AsyncIterator[Page]:
        """Yield pages after ``cursor`` (``None``: from the beginning)."""
        state = decode(cursor)
        session = await self._xrpc.session()
        context = self._context.with_own_handles(session.handle)

        def is_ours(post: PostRef) -> bool:
            return post.author_did == session.did or context.is_ours(post.handle)

        channel: list[Channel] = []
        threads_read: set[str] = set()
        # What this run delivered (URI -> hash): a post reached again (our reply in a
        # thread already read, a parent we answered) is not yielded again unchanged.
        delivered: dict[str, int] = {}

        async def page(posts: Iterable[PostRef], new_state: State) -> Page:
            messages: dict[str, Message] = {}
            people: dict[str, Stakeholder] = {}
            for post in posts:
                message = message_from_post(post, is_ours=is_ours, channel_id=session.did)
                if delivered.get(post.uri) == hash(message):
                    continue
                delivered[post.uri] = hash(message)
                messages[post.uri] = message
                if not is_ours(post):
                    people[post.author_did] = stakeholder_from_author(post)
            channels: tuple[Channel, ...] = ()
            if messages and not channel:
                channel.append(await self._channel(session))
                channels = tuple(channel)
            # Passed as a mapping: mypy cannot type attrs' ``converter=tuple`` fields of
            # Page (it reports any iterable as incompatible with ``Iterable[_T_co]``).
            fields: dict[str, Any] = {
                "messages": tuple(messages.values()),
                "stakeholders": tuple(people.values()),
                "channels": channels,
                "cursor": encode(new_state),
            }
            return Page(**fields)

        # A page with nothing new is not yielded: its state rides on the next page, or
        # on one final cursor-only page.
        delivered_state = state
        while True:
            position = state.mentions
            scanned = await self._notifications(position)
            posts = await self._threads([post for _, post in scanned.fresh], threads_read)
            state = attrs.evolve(state, mentions=self._advance(position, scanned))
            built = await page(posts, state)
            if len(built):
                yield built
                delivered_state = state
            if scanned.next_cursor is None:
                break

        while True:
            position = state.own_posts
            scanned, posts = await self._own_posts(position, session)
            state = attrs.evolve(state, own_posts=self._advance(position, scanned))
            built = await page(posts, state)
            if len(built):
                yield built
                delivered_state = state
            if scanned.next_cursor is None:
                break
        if state != delivered_state:
            yield await page((), state)

    @staticmethod
    def _advance(position: Position, scanned: _Scanned) -> Position:
        seen = [(when, post.uri) for when, post in scanned.fresh]
        return position.seen(seen).advanced(scanned.next_cursor)

    def _params(self, position: Position, **extra: Any) -> dict[str, Any]:
        params: dict[str, Any] = {"limit": self._config.page_size, **extra}
        if position.scan_cursor is not None:
            params["cursor"] = position.scan_cursor
        return params

    async def _notifications(self, position: Position) -> _Scanned:
        data = await self._xrpc.query(
            LIST_NOTIFICATIONS, self._params(position, reasons=list(REASONS))
        )
        items = _list_field(data, "notifications", LIST_NOTIFICATIONS)
        fresh: list[tuple[datetime, PostRef]] = []
        behind = False
        for index, item in enumerate(items):
            where = f"{LIST_NOTIFICATIONS}.notifications[{index}]"
            note = _mapping(item, where)
            post = PostRef.from_view(note, where=where)
            when = post.indexed_at
            behind = behind or position.is_behind(when)
            # The server filters by reason; an older server may not, so check again.
            if note.get("reason") in REASONS and position.is_new(when, post.uri):
                fresh.append((when, post))
        return _Scanned(fresh=fresh, next_cursor=_next_cursor(data, items, behind))

    async def _threads(self, notified: list[PostRef], threads_read: set[str]) -> list[PostRef]:
        """The notified posts plus every readable post of their threads.

        A thread already read during this fetch (``threads_read``, updated here) is not
        read again: an earlier page of this run delivered it.
        """
        by_root: dict[str, list[PostRef]] = {}
        for post in notified:
            by_root.setdefault(root_uri(post), []).append(post)
        posts: dict[str, PostRef] = {post.uri: post for post in notified}
        for root, members in by_root.items():
            if root in threads_read:
                continue
            threads_read.add(root)
            thread = await self._thread(root, parent_height=0)
            if thread is None:
                # The root is gone (deleted or blocked): read upwards from each member.
                for member in members:
                    found = await self._thread(member.uri, parent_height=THREAD_DEPTH)
                    for post in found or ():
                        posts[post.uri] = post
                continue
            for post in thread:
                posts[post.uri] = post
        return list(posts.values())

    async def _thread(self, uri: str, *, parent_height: int) -> list[PostRef] | None:
        """The readable posts of the thread at ``uri``, or ``None`` if ``uri`` is unreadable."""
        try:
            data = await self._xrpc.query(
                GET_POST_THREAD, {"uri": uri, "depth": THREAD_DEPTH, "parentHeight": parent_height}
            )
        except HttpError as exc:
            if exc.status == 400 and xrpc_error(exc) == "NotFound":
                logger.debug("thread %s not found (deleted)", uri)
                return None
            raise
        thread = _mapping(data, GET_POST_THREAD).get("thread")
        top = _mapping(thread, f"{GET_POST_THREAD}.thread")
        if top.get("$type") != THREAD_VIEW_POST:
            logger.debug("thread %s is %s", uri, top.get("$type"))
            return None
        return list(flatten_thread(top, where=f"{GET_POST_THREAD}.thread"))

    async def _own_posts(
        self, position: Position, session: Session
    ) -> tuple[_Scanned, list[PostRef]]:
        data = await self._xrpc.query(
            GET_AUTHOR_FEED,
            self._params(position, actor=session.did, filter="posts_with_replies"),
        )
        items = _list_field(data, "feed", GET_AUTHOR_FEED)
        fresh: list[tuple[datetime, PostRef]] = []
        context: dict[str, PostRef] = {}
        behind = False
        for index, item in enumerate(items):
            where = f"{GET_AUTHOR_FEED}.feed[{index}]"
            entry = _mapping(item, where)
            reason = entry.get("reason")
            if reason is not None:
                # A repost (or pin) of someone's post: not our words, but it does take a
                # place in the listing, which is sorted by the repost's time.
                reason_obj = _mapping(reason, f"{where}.reason")
                when = parse_time(reason_obj.get("indexedAt"))
                if when is None:
                    raise MalformedPayload(f"{where}.reason.indexedAt: expected a timestamp")
                behind = behind or position.is_behind(when)
                continue
            post = PostRef.from_view(entry.get("post"), where=f"{where}.post")
            when = post.indexed_at
            behind = behind or position.is_behind(when)
            if not position.is_new(when, post.uri):
                continue
            fresh.append((when, post))
            reply = entry.get("reply")
            if reply is not None:
                # The posts we answered, when they are still readable.
                for key in ("parent", "root"):
                    ref = _mapping(reply, f"{where}.reply").get(key)
                    if _is_post_view(ref):
                        other = PostRef.from_view(ref, where=f"{where}.reply.{key}")
                        context[other.uri] = other
        posts = {post.uri: post for _, post in fresh}
        for uri, other in context.items():
            posts.setdefault(uri, other)
        scanned = _Scanned(fresh=fresh, next_cursor=_next_cursor(data, items, behind))
        return scanned, list(posts.values())

    async def _channel(self, session: Session) -> Channel:
        """Our account as a channel, with its creation time from the profile."""
        profile = _mapping(await self._xrpc.query(GET_PROFILE, {"actor": session.did}), GET_PROFILE)
        if profile.get("did") != session.did:
            raise MalformedPayload(
                f"{GET_PROFILE}: expected the profile of {session.did}, found did "
                f"{profile.get('did')!r}"
            )
        return Channel(
            id=session.did,
            platform=PLATFORM,
            handle=session.handle,
            created_at=parse_time(profile.get("createdAt")),
        )


def _mapping(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise MalformedPayload(f"{where}: expected an object, found {type(value).__name__}")
    return value


def _list_field(data: object, key: str, where: str) -> list[Any]:
    items = _mapping(data, where).get(key)
    if not isinstance(items, list):
        raise MalformedPayload(f"{where}.{key}: expected a list, found {type(items).__name__}")
    return items


def _next_cursor(data: object, items: list[Any], behind: bool) -> str | None:
    """The API cursor of the next page, or ``None`` when the scan is complete."""
    if behind or not items:
        return None
    value = _mapping(data, "response").get("cursor")
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise MalformedPayload(f"cursor: expected a string, found {type(value).__name__}")
    return value


def _is_post_view(value: object) -> bool:
    """Whether a ``reply.parent``/``reply.root`` member is a readable ``postView``."""
    if not isinstance(value, Mapping):
        return False
    kind = value.get("$type", POST_VIEW)
    return kind == POST_VIEW and "author" in value and "record" in value
