"""The Reddit adapter: our inbox with the whole threads involved, and our own activity.

Five listings are walked, newest first, each page resumable (see ``_cursor``):

1. ``/message/mentions`` — comments that mention ``u/<username>``;
2. ``/message/comments`` — replies to our comments;
3. ``/message/selfreply`` — replies to our posts;
4. ``/user/<username>/comments`` — our own comments (channel activity);
5. ``/user/<username>/submitted`` — our own posts (channel activity).

Every post involved brings its whole thread, ``GET /comments/<post id>``: a two-element
array ``[Listing(the t3 post), Listing(t1 comments)]`` whose comments nest through
``replies`` (a Listing, or ``""`` when there are none). ``kind: "more"`` stubs are
expanded with ``GET /api/morechildren`` (up to 100 ids a call); a stub with no ids
("continue this thread") is fetched as ``GET /comments/<post id>?comment=<parent>``.
A listing ends when ``after`` is null **or repeats** (Reddit has been seen handing the
same ``after`` back, which would otherwise loop forever).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx

from convokit_core import (
    Channel,
    ConvokitError,
    HttpError,
    MalformedPayload,
    Message,
    Page,
    RetryPolicy,
    Stakeholder,
    SyncContext,
    SyncError,
)

from ._api import RedditApi
from ._config import RedditConfig, reddit_name
from ._cursor import STREAMS, Mark, RedditCursor, StreamState
from ._mapping import (
    PLATFORM,
    Mapper,
    Thing,
    article_of,
    as_listing,
    as_thing,
    created,
    epoch,
    fullname,
)

__all__ = ["PLATFORM", "RedditAdapter", "create"]

log = logging.getLogger("convokit.reddit")

MORECHILDREN_BATCH = 100
"""``/api/morechildren`` takes at most 100 comment ids per call."""
THREAD_LIMIT = 500
"""Comments asked for per thread request (Reddit sends fewer and ``more`` stubs)."""

_INBOX = frozenset({"mentions", "comment_replies", "post_replies"})


def _version() -> str:
    from . import __version__

    return __version__


class RedditAdapter:
    """Fetches one Reddit account's conversations. Built by :func:`create`.

    Args:
        config: the source's configuration.
        client: the host's HTTP client.
        context: who is ours (the account itself is added).
        policy: retries and timeouts (default: the helper's).
        sleep: awaited for rate-limit waits and retries (tests record them instead).
        clock: the current aware time, for token expiry.
    """

    def __init__(
        self,
        config: RedditConfig,
        client: httpx.AsyncClient,
        context: SyncContext,
        *,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.config = config
        self.context = context.with_own_handles(config.channel_id)
        ours = frozenset(
            reddit_name(h) for h in self.context.team_handles | self.context.own_handles
        )
        self.mapper = Mapper(config, lambda name: name in ours)
        self.api = RedditApi(
            config,
            client,
            user_agent=config.effective_user_agent(_version()),
            policy=policy,
            sleep=sleep,
            clock=clock,
        )
        self._threads: set[str] = set()
        self._yielded: set[str] = set()

    def __repr__(self) -> str:
        return f"<RedditAdapter u/{self.config.username} on {self.config.api_url}>"

    # -- the run -------------------------------------------------------------------------

    async def fetch(self, cursor: str | None) -> AsyncIterator[Page]:
        """Yield pages of every listing (with their threads), resumable after each.

        Errors are re-raised with every credential and token removed from their text.
        """
        state = RedditCursor.decode(cursor)
        pages = self._pages(state)
        while True:
            failure: ConvokitError | None = None
            try:
                page = await anext(pages)
            except StopAsyncIteration:
                return
            except ConvokitError as exc:
                failure = self.api.rescrub(exc)
            if failure is not None:
                await pages.aclose()
                raise failure
            yield page

    async def _pages(self, state: RedditCursor) -> AsyncGenerator[Page, None]:
        self._threads = set()
        self._yielded = set()
        committed = state
        channels = await self._channels(state)
        state = state.with_channels(frozenset(c.id for c in channels))
        for stream in STREAMS:
            async for (messages, people), after in self._walk(stream, state):
                state = after
                fields: dict[str, Any] = {
                    "messages": messages,
                    "stakeholders": people,
                    "channels": channels,
                    "cursor": state.encode(),
                }
                page = Page(**fields)
                if not len(page):
                    continue  # nothing new here: its cursor rides on the next page
                yield page
                committed, channels = state, []
        if state != committed or channels:
            fields = {"channels": channels, "cursor": state.encode()}
            yield Page(**fields)

    # -- channels ------------------------------------------------------------------------

    async def _channels(self, state: RedditCursor) -> list[Channel]:
        """Channel records for our account and subreddits not recorded yet."""
        wanted = [(self.config.channel_id, f"/user/{quote(self.config.username)}/about", "t2")]
        wanted += [(f"r/{s}", f"/r/{quote(s)}/about", "t5") for s in self.config.subreddits]
        out: list[Channel] = []
        for channel_id, path, kind in wanted:
            if channel_id in state.channels:
                continue
            try:
                data = await self.api.get(path)
            except HttpError as exc:
                if exc.status in (403, 404):
                    raise SyncError(
                        f"{channel_id} cannot be read on Reddit (HTTP {exc.status}): check "
                        "the name, and that the account may see it"
                    ) from None
                raise
            thing = as_thing(data, path)
            if thing.kind != kind:
                raise MalformedPayload(f"{path}: expected a {kind} thing, found {thing.kind!r}")
            when = epoch(thing.data.get("created_utc"), "created_utc", path)
            out.append(
                Channel(id=channel_id, platform=PLATFORM, handle=channel_id, created_at=when)
            )
        return out

    # -- listings ------------------------------------------------------------------------

    def _path(self, stream: str) -> str:
        user = quote(self.config.username)
        return {
            "mentions": "/message/mentions",
            "comment_replies": "/message/comments",
            "post_replies": "/message/selfreply",
            "comments": f"/user/{user}/comments",
            "posts": f"/user/{user}/submitted",
        }[stream]

    async def _walk(
        self, stream: str, state: RedditCursor
    ) -> AsyncIterator[tuple[tuple[list[Message], list[Stakeholder]], RedditCursor]]:
        """Each page of one listing as its records and the cursor after it."""
        start = state.stream(stream)
        path = self._path(stream)
        after, top = start.after, start.top
        seen_afters: set[str] = set()
        while True:
            params: dict[str, Any] = {"limit": self.config.page_size}
            if stream in ("comments", "posts"):
                params["sort"] = "new"
            if after:
                params["after"] = after
            items, next_after = as_listing(await self.api.get(path, params), path)
            if not items and after is not None and after == start.after and not seen_afters:
                # The item the stored cursor pages after is gone (deleted), and Reddit
                # answers an empty page for an unknown anchor: walk again from the top.
                # The watermark still stops the walk; records seen twice are upserts.
                log.info("%s: the 'after' anchor %s is gone; restarting this pass", path, after)
                after = None
                seen_afters.add(start.after)
                continue
            fresh: list[Thing] = []
            reached = False
            for index, item in enumerate(items):
                what = f"{path}: item {index}"
                mark: Mark = (created(item.data, what), fullname(item.data, "name", what, ("t",)))
                pinned = item.data.get("pinned") is True or item.data.get("stickied") is True
                if start.reached(mark):
                    if pinned:
                        continue  # a pinned old post shown first does not end the pass
                    reached = True
                    break
                fresh.append(item)
                if top is None or mark > top:
                    top = mark  # the newest item of this pass, pinned or not
            repeated = next_after is not None and (next_after == after or next_after in seen_afters)
            if repeated:
                log.warning("%s answered the same 'after' (%s) again; stopping", path, next_after)
            done = reached or repeated or next_after is None or not items
            if done:
                stream_state = StreamState(mark=top or start.mark)
            else:
                stream_state = StreamState(mark=start.mark, after=next_after, top=top)
            state = state.with_stream(stream, stream_state)
            records = await self._records(stream, fresh)
            yield records, state
            if done or next_after is None:
                return
            seen_afters.add(next_after)
            after = next_after

    async def _records(
        self, stream: str, items: list[Thing]
    ) -> tuple[list[Message], list[Stakeholder]]:
        """The messages of ``items`` and of the threads they involve, not yet yielded."""
        messages: dict[str, Message] = {}
        people: dict[str, Stakeholder] = {}
        wanted: list[str] = []
        chosen: list[Thing] = []
        for index, item in enumerate(items):
            if item.kind not in ("t1", "t3") or item.data.get("was_comment") is False:
                continue  # a private message (t4) or another kind of thing
            chosen.append(item)
            what = f"{stream}: item {index}"
            article = (
                fullname(item.data, "name", what, ("t3_",))
                if item.kind == "t3"
                else article_of(item.data, what)
            )
            follow = stream in _INBOX or self.config.own_threads
            if follow and article not in self._threads and article not in wanted:
                wanted.append(article)
        for article in wanted:
            self._threads.add(article)
            thread = await self._thread(article)
            # Every message of a thread belongs to the channel of its post.
            channel = self.mapper.channel_of(thread[0].data) if thread else None
            for thing in thread:
                message, person = self.mapper.message(thing, conversation=article, channel=channel)
                messages[message.id] = message
                if person is not None:
                    people[person.id] = person
        for item in chosen:
            message, person = self.mapper.message(item)
            if message.id not in messages:  # not (or no longer) in its thread
                messages[message.id] = message
                if person is not None:
                    people[person.id] = person
        new = [m for m in messages.values() if m.id not in self._yielded]
        self._yielded.update(m.id for m in new)
        authors = {m.author_id for m in new}
        # Only the authors of what is new: a page with no new message stays empty.
        return new, [p for p in people.values() if p.id in authors]

    # -- threads -------------------------------------------------------------------------

    async def _thread(self, article: str) -> list[Thing]:
        """The post, then every comment, of thread ``article`` (a ``t3_`` fullname).

        Empty when the thread cannot be read (HTTP 403 or 404).
        """
        article_id = article.removeprefix("t3_")
        path = f"/comments/{quote(article_id)}"
        try:
            data = await self.api.get(path, {"limit": THREAD_LIMIT})
        except HttpError as exc:
            if exc.status not in (403, 404):
                raise
            log.warning(
                "thread %s cannot be read (HTTP %s: private, quarantined or gone); "
                "keeping only the listed messages",
                article,
                exc.status,
            )
            return []
        post, comments = self._two_listings(data, path)
        if post.kind != "t3" or post.data.get("name") != article:
            raise MalformedPayload(f"{path}: the first listing does not hold post {article}")
        things: dict[str, Thing] = {article: post}
        more: list[str] = []
        cut: list[str] = []
        self._collect(comments, things, more, cut, path)
        asked: set[str] = set()
        continued: set[str] = set()
        while more or cut:
            if more:
                batch = [i for i in dict.fromkeys(more) if i not in asked][:MORECHILDREN_BATCH]
                more = [i for i in more if i not in batch and i not in asked]
                if not batch:
                    continue
                asked.update(batch)
                found = await self._more_children(article, batch)
                self._collect(found, things, more, cut, "/api/morechildren")
            else:
                parent = cut.pop(0)
                if parent in continued or not parent.startswith("t1_"):
                    continue
                continued.add(parent)
                sub = f"{path}?comment={parent}"
                data = await self.api.get(
                    path, {"comment": parent.removeprefix("t1_"), "limit": THREAD_LIMIT}
                )
                _, below = self._two_listings(data, sub)
                self._collect(below, things, more, cut, sub)
        return list(things.values())

    @staticmethod
    def _two_listings(data: Any, path: str) -> tuple[Thing, list[Thing]]:
        if not isinstance(data, list) or len(data) != 2:
            raise MalformedPayload(
                f"{path}: expected a two-element array [post listing, comment listing]"
            )
        posts, _ = as_listing(data[0], f"{path}: post listing")
        if len(posts) != 1:
            raise MalformedPayload(f"{path}: the post listing must hold exactly one post")
        comments, _ = as_listing(data[1], f"{path}: comment listing")
        return posts[0], comments

    def _collect(
        self,
        children: list[Thing],
        things: dict[str, Thing],
        more: list[str],
        cut: list[str],
        where: str,
    ) -> None:
        """Add comments (walking ``replies``) to ``things``; note ``more`` stubs."""
        stack = list(reversed(children))
        while stack:
            thing = stack.pop()
            data = thing.data
            if thing.kind == "t1":
                name = fullname(data, "name", f"{where}: comment", ("t1_",))
                things[name] = thing
                replies = data.get("replies")
                if replies in ("", None):
                    continue  # Reddit sends "" for a comment without replies
                below, _ = as_listing(replies, f"{where}: replies of {name}")
                stack.extend(reversed(below))
            elif thing.kind == "more":
                ids = data.get("children")
                if not isinstance(ids, list) or not all(isinstance(i, str) and i for i in ids):
                    raise MalformedPayload(f"{where}: a 'more' stub needs a 'children' id list")
                if ids:
                    more.extend(i if i.startswith("t1_") else f"t1_{i}" for i in ids)
                else:  # "continue this thread": the replies of parent_id are cut off here
                    cut.append(fullname(data, "parent_id", f"{where}: more stub", ("t1_", "t3_")))
            else:
                raise MalformedPayload(f"{where}: unexpected {thing.kind!r} among comments")

    async def _more_children(self, article: str, ids: list[str]) -> list[Thing]:
        """Comments ``ids`` of ``article`` (and their replies), via ``/api/morechildren``."""
        path = "/api/morechildren"
        data = await self.api.get(
            path,
            {
                "api_type": "json",
                "link_id": article,
                "children": ",".join(i.removeprefix("t1_") for i in ids),
                "limit_children": "false",
            },
        )
        body = data.get("json") if isinstance(data, dict) else None
        if not isinstance(body, dict):
            raise MalformedPayload(f"{path}: expected {{'json': {{...}}}}")
        errors = body.get("errors", [])
        if errors:
            raise SyncError(f"{path} for {article} failed: {str(errors)[:200]}")
        inner = body.get("data")
        things = inner.get("things") if isinstance(inner, dict) else None
        if not isinstance(things, list):
            raise MalformedPayload(f"{path}: expected json.data.things to be an array")
        return [as_thing(t, f"{path}: thing {n}") for n, t in enumerate(things)]


def create(config: RedditConfig, client: httpx.AsyncClient, context: SyncContext) -> RedditAdapter:
    """The factory registered for ``platform = "reddit"``."""
    return RedditAdapter(config, client, context)
