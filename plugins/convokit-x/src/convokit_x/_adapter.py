"""The X platform adapter: mentions with their threads, and our own posts."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from datetime import UTC, datetime
from typing import Any

import attrs
import httpx

from convokit_core import (
    Channel,
    Direction,
    HttpClient,
    MalformedPayload,
    Message,
    Page,
    ResetStyle,
    RetryPolicy,
    Stakeholder,
    SyncContext,
    SyncError,
    check_url_scheme,
)

from ._config import XConfig
from ._cursor import Position, State, decode, encode, newer
from ._mapping import (
    EXPANSIONS,
    PLATFORM,
    TWEET_FIELDS,
    USER_FIELDS,
    Listing,
    PartialError,
    Tweet,
    User,
    author_key,
    message_of,
    parse_listing,
    parse_user,
    stakeholder_of,
)

__all__ = ["MAX_RATE_LIMIT_WAIT", "MAX_THREAD_PAGES", "XAdapter", "create_adapter"]

logger = logging.getLogger("convokit.x")

MAX_RATE_LIMIT_WAIT = 16 * 60.0
"""The longest wait for an exhausted rate-limit window (X's windows are 15 minutes)."""
MAX_THREAD_PAGES = 50
"""Recent-search pages read per conversation in one sync (100 posts each)."""
SEARCH_MIN_RESULTS = 10
"""Recent search refuses ``max_results`` below 10."""

Sleep = Callable[[float], Awaitable[None]]


def create_adapter(config: XConfig, client: httpx.AsyncClient, context: SyncContext) -> XAdapter:
    """The factory registered for ``platform = "x"``."""
    return XAdapter(config, client, context)


@attrs.frozen(kw_only=True)
class _Gathered:
    """What one timeline page brought: its posts, their parents and threads, the users."""

    tweets: dict[str, Tweet]
    users: dict[str, User]


class XAdapter:
    """Fetches one X account's conversations (see the package README).

    Pages come first from the mentions timeline (each page with the conversation
    threads of its mentions, read by recent search), then from our own timeline (for
    our replies and channel activity). The cursor records a
    :class:`~convokit_x._cursor.Position` per timeline.

    Args:
        config: the source's keys.
        client: the host's HTTP client (never closed here).
        context: the sync context (team handles).
        policy: retries and their budget; by default one request may wait out a whole
            15-minute rate-limit window.
        sleep: awaited for rate-limit waits and retries (tests record instead of sleeping).
        clock: the current aware time, for ``x-rate-limit-reset``.
    """

    def __init__(
        self,
        config: XConfig,
        client: httpx.AsyncClient,
        context: SyncContext,
        *,
        policy: RetryPolicy | None = None,
        sleep: Sleep | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        check_url_scheme(config.api_url)
        self._config = config
        self._context = context.with_own_handles(config.account)
        self._clock = clock or (lambda: datetime.now(UTC))
        self._sleep = sleep
        self._http = HttpClient(
            client,
            base_url=config.api_url + "/",
            headers={"Accept": "application/json"},
            secret_headers={"Authorization": f"Bearer {config.bearer_token}"},
            policy=policy or RetryPolicy(budget=MAX_RATE_LIMIT_WAIT),
            reset_header="x-rate-limit-reset",
            reset_style=ResetStyle.EPOCH_SECONDS,
            sleep=sleep,
            clock=self._clock,
        )
        self._exhausted: dict[str, float] = {}
        self._me: User | None = None

    def __repr__(self) -> str:
        return f"<XAdapter @{self._config.account} via {self._config.api_url!r}>"

    # -- HTTP with X's rate-limit headers ------------------------------------------------

    async def _get(self, bucket: str, path: str, params: dict[str, Any]) -> Any:
        """GET ``path``; first wait out ``bucket``'s window if the last answer spent it."""
        reset = self._exhausted.pop(bucket, None)
        if reset is not None:
            wait = min(reset - self._clock().timestamp(), MAX_RATE_LIMIT_WAIT)
            if wait > 0:
                logger.info("X %s: rate limit spent; waiting %.0fs for its reset", bucket, wait)
                await (self._sleep or asyncio.sleep)(wait)
        response = await self._http.request("GET", path, params=params)
        self._note_limit(bucket, response)
        return self._http.json_of(response)

    def _note_limit(self, bucket: str, response: httpx.Response) -> None:
        remaining = response.headers.get("x-rate-limit-remaining")
        reset = response.headers.get("x-rate-limit-reset")
        if remaining is None or reset is None:
            return
        try:
            left, at = int(remaining), int(reset)
        except ValueError:
            logger.debug("X %s: unreadable rate-limit headers ignored", bucket)
            return
        if left <= 0:
            self._exhausted[bucket] = float(at)

    def _log_partial(self, where: str, errors: Iterable[PartialError]) -> None:
        shown = [self._http.scrub(e.describe()) for e in errors]
        if shown:
            logger.warning(
                "X %s: kept the page; %d item(s) it refers to could not be returned: %s",
                where,
                len(shown),
                "; ".join(shown),
            )

    # -- our account ---------------------------------------------------------------------

    async def _account(self) -> User:
        """Our user, looked up by username once per adapter."""
        if self._me is not None:
            return self._me
        name = self._config.account
        where = f"/2/users/by/username/{name}"
        found = parse_user(
            await self._get("users", f"2/users/by/username/{name}", {"user.fields": USER_FIELDS}),
            where,
        )
        if not isinstance(found, User):
            reasons = "; ".join(self._http.scrub(e.describe()) for e in found)
            raise SyncError(f"X account @{name} could not be resolved: {reasons}")
        if found.username.lower() != name.lower():
            raise MalformedPayload(f"{where}.data.username: not the account that was asked for")
        self._me = found
        return found

    # -- fetch ---------------------------------------------------------------------------

    async def fetch(self, cursor: str | None) -> AsyncIterator[Page]:
        """Yield pages after ``cursor`` (``None``: from the beginning)."""
        state = decode(cursor)
        me = await self._account()
        context = self._context.with_own_handles(me.username)
        channel = Channel(
            id=author_key(me.id),
            platform=PLATFORM,
            handle="@" + me.username,
            created_at=me.created_at,
        )
        delivered: set[str] = set()
        threads_read: set[str] = set()
        channel_sent = False

        def page(gathered: _Gathered, new_state: State) -> Page | None:
            nonlocal channel_sent
            messages: list[Message] = []
            people: dict[str, Stakeholder] = {}
            for tweet in gathered.tweets.values():
                if tweet.id in delivered or tweet.is_retweet:
                    continue
                delivered.add(tweet.id)
                user = gathered.users.get(tweet.author_id)
                username = user.username if user is not None else None
                ours = tweet.author_id == me.id or context.is_ours(username)
                messages.append(
                    message_of(
                        tweet,
                        username=username,
                        direction=Direction.OUTBOUND if ours else Direction.INBOUND,
                        automated=username is not None and username.lower() in self._config.bots,
                        channel_id=channel.id,
                    )
                )
                if user is not None and user.id != me.id:
                    people[user.id] = stakeholder_of(user)
            if not messages:
                return None
            channels: tuple[Channel, ...] = ()
            if not channel_sent:
                channel_sent = True
                channels = (channel,)
            # A mapping: mypy cannot type attrs' converter fields of Page from iterables.
            fields: dict[str, Any] = {
                "messages": tuple(messages),
                "stakeholders": tuple(people.values()),
                "channels": channels,
                "cursor": encode(new_state),
            }
            return Page(**fields)

        delivered_state = state
        for timeline in ("mentions", "tweets"):
            while True:
                position = state.mentions if timeline == "mentions" else state.own
                listing = await self._timeline(timeline, me.id, position)
                gathered = self._gather(listing, position)
                if timeline == "mentions" and self._config.threads:
                    await self._add_threads(gathered, threads_read)
                moved = position.after_page(_newest(listing), listing.next_token)
                if timeline == "mentions":
                    state = attrs.evolve(state, mentions=moved)
                else:
                    state = attrs.evolve(state, own=moved)
                built = page(gathered, state)
                if built is not None:
                    yield built
                    delivered_state = state
                if listing.next_token is None:
                    break
        if state != delivered_state:
            yield Page(cursor=encode(state))

    async def _timeline(self, timeline: str, user_id: str, position: Position) -> Listing:
        params: dict[str, Any] = {
            "max_results": self._config.page_size,
            "tweet.fields": TWEET_FIELDS,
            "expansions": EXPANSIONS,
            "user.fields": USER_FIELDS,
        }
        if position.since_id is not None:
            params["since_id"] = position.since_id
        if position.token is not None:
            params["pagination_token"] = position.token
        where = f"/2/users/{user_id}/{timeline}"
        listing = parse_listing(
            await self._get(timeline, f"2/users/{user_id}/{timeline}", params), where
        )
        if listing.next_token is not None and listing.next_token == position.token:
            raise MalformedPayload(
                f"{where}.meta.next_token: the same token again (the listing loops)"
            )
        self._log_partial(where, listing.errors)
        return listing

    @staticmethod
    def _gather(listing: Listing, position: Position) -> _Gathered:
        """The page's new posts plus the posts they answer (from ``includes.tweets``)."""
        tweets: dict[str, Tweet] = {}
        for tweet in listing.tweets:
            if not position.is_new(tweet.id):
                continue
            tweets[tweet.id] = tweet
            parent = tweet.in_reply_to
            if parent is not None and parent in listing.referenced:
                tweets.setdefault(parent, listing.referenced[parent])
        return _Gathered(tweets=tweets, users=dict(listing.users))

    async def _add_threads(self, gathered: _Gathered, threads_read: set[str]) -> None:
        """Add the conversations of the gathered posts, each read once per fetch."""
        conversations = sorted(
            {t.conversation_id for t in gathered.tweets.values() if not t.is_retweet},
            key=int,
        )
        for conversation_id in conversations:
            if conversation_id in threads_read:
                continue
            threads_read.add(conversation_id)
            async for listing in self._thread(conversation_id):
                gathered.users.update(listing.users)
                for tweet in listing.tweets:
                    gathered.tweets.setdefault(tweet.id, tweet)
                    parent = tweet.in_reply_to
                    if parent is not None and parent in listing.referenced:
                        gathered.tweets.setdefault(parent, listing.referenced[parent])

    async def _thread(self, conversation_id: str) -> AsyncIterator[Listing]:
        """The pages of ``conversation_id:ID`` in recent search (the last 7 days only)."""
        params: dict[str, Any] = {
            "query": f"conversation_id:{conversation_id}",
            "max_results": max(SEARCH_MIN_RESULTS, self._config.page_size),
            "tweet.fields": TWEET_FIELDS,
            "expansions": EXPANSIONS,
            "user.fields": USER_FIELDS,
        }
        where = f"/2/tweets/search/recent?query=conversation_id:{conversation_id}"
        token: str | None = None
        for _ in range(MAX_THREAD_PAGES):
            if token is not None:
                params["next_token"] = token
            listing = parse_listing(
                await self._get("search", "2/tweets/search/recent", params), where
            )
            self._log_partial(where, listing.errors)
            yield listing
            if listing.next_token is None:
                return
            if listing.next_token == token:
                raise MalformedPayload(f"{where}: meta.next_token repeats (the listing loops)")
            token = listing.next_token
        logger.warning(
            "X conversation %s: stopped after %d search pages; later replies are not read",
            conversation_id,
            MAX_THREAD_PAGES,
        )


def _newest(listing: Listing) -> str | None:
    """The newest post id of a page (``meta.newest_id``, else the largest in ``data``)."""
    newest = listing.newest_id
    for tweet in listing.tweets:
        newest = newer(newest, tweet.id)
    return newest
