"""The Discourse adapter: topics of chosen categories and topics we are mentioned in.

Listings, newest first (see :mod:`._cursor` for how scans stop at the watermark):

1. each configured category, ``GET /c/{slug}/{id}.json?page=N`` (30 topics a page,
   ordered by ``bumped_at``; pinned topics sit on top whatever their age and never stop
   a scan), each category being a :class:`~convokit_core.Channel`;
2. our mentions, ``GET /user_actions.json?username=…&filter=7&offset=N``.

Every topic found is read whole: ``GET /t/{id}.json`` gives the first chunk of
``post_stream.posts`` and every post id in ``post_stream.stream``; the rest come from
``GET /t/{id}/posts.json?post_ids[]=…``, 20 ids a request. ``reply_to_post_number`` is
a position in the topic, so it is mapped to that post's id.

Post ids are site-wide and topic ids too, but only per forum: every id is qualified with
the forum's host and path. Rate limits answer 429 with ``Retry-After``; the body is plain
text (the request tracker) or JSON with ``extras.wait_seconds`` (the controller limiter),
which is honoured when the header is missing.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import quote

import attrs
import httpx

from convokit_core import (
    Channel,
    ConvokitError,
    Direction,
    HttpClient,
    HttpError,
    MalformedPayload,
    Message,
    Page,
    RetryPolicy,
    Stakeholder,
    SyncContext,
    SyncError,
    Visibility,
    parse_datetime,
)

from ._config import DiscourseConfig
from ._cursor import Position, State, decode, encode
from ._html import html_to_text

__all__ = ["CHUNK", "PLATFORM", "DiscourseAdapter", "create"]

PLATFORM = "discourse"
CHUNK = 20
"""Post ids per ``/t/{id}/posts.json`` request (Discourse's own chunk size)."""
log = logging.getLogger("convokit.discourse")

_REGULAR, _MODERATOR_ACTION, _SMALL_ACTION, _WHISPER = 1, 2, 3, 4


def _short(value: Any) -> str:
    """What a payload held, for an error message: short scalars as they are, else their
    shape (a long string could be a credential echoed back; it is never quoted)."""
    if value is None:
        return "null"
    if isinstance(value, bool | int | float):
        return repr(value)
    if isinstance(value, str):
        return repr(value) if len(value) <= 32 else f"a string of {len(value)} characters"
    if isinstance(value, dict):
        keys = ", ".join(repr(str(k)[:20]) for k in list(value)[:5])
        return f"an object with keys {keys}" if keys else "an empty object"
    if isinstance(value, list):
        return f"an array of {len(value)} items"
    return type(value).__name__


def _dict(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise MalformedPayload(f"{what}: expected a JSON object, found {_short(value)}")
    return value


def _list(value: Any, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise MalformedPayload(f"{what}: expected a JSON array, found {_short(value)}")
    return value


def _int_id(data: Mapping[str, Any], key: str, what: str) -> str:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        raise MalformedPayload(f"{what}: expected an integer {key!r}, found {_short(value)}")
    return str(value)


def _time(data: Mapping[str, Any], key: str, what: str) -> datetime:
    value = data.get(key)
    try:
        if not isinstance(value, str):
            raise ValueError(key)
        return parse_datetime(value)
    except ValueError:
        raise MalformedPayload(
            f"{what}: expected a timestamp {key!r}, found {_short(value)}"
        ) from None


def _str(data: Mapping[str, Any], key: str, what: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise MalformedPayload(f"{what}: expected a string {key!r}, found {_short(value)}")
    return value


class _HttpClient(HttpClient):
    """The shared helper, also honouring a 429's JSON ``extras.wait_seconds``.

    Discourse sends ``Retry-After`` with both of its 429 shapes; a proxy that drops
    the header leaves only the JSON body's wait, which is then used instead.
    """

    def _server_wait(self, response: httpx.Response) -> float | None:
        wait = super()._server_wait(response)
        if wait is not None or response.status_code != 429:
            return wait
        try:
            body = json.loads(response.content)
        except (ValueError, UnicodeDecodeError):
            return None  # the plain-text shape
        extras = body.get("extras") if isinstance(body, dict) else None
        seconds = extras.get("wait_seconds") if isinstance(extras, dict) else None
        if isinstance(seconds, int | float) and not isinstance(seconds, bool) and seconds >= 0:
            return float(seconds)
        return None


@attrs.frozen(kw_only=True)
class _Category:
    id: str
    slug_path: str
    name: str | None


class DiscourseAdapter:
    """Fetches the configured categories and mentions of one forum. Built by :func:`create`."""

    def __init__(
        self,
        config: DiscourseConfig,
        client: httpx.AsyncClient,
        context: SyncContext,
        *,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
    ) -> None:
        self.config = config
        ours = [u for u in (config.our_username, *config.usernames) if u]
        self.context = context.with_own_handles(*ours) if ours else context
        headers = {"Accept": "application/json"}
        secret_headers: dict[str, str] = {}
        if config.api_key is not None and config.api_username is not None:
            # The key is the secret (never sent to another origin, scrubbed from every
            # message); the username it acts as is not.
            secret_headers = {"Api-Key": config.api_key}
            headers["Api-Username"] = config.api_username
        self.http = _HttpClient(
            client,
            base_url=config.forum + "/",
            headers=headers,
            secret_headers=secret_headers,
            policy=policy or RetryPolicy(),
            sleep=sleep,
        )

    def __repr__(self) -> str:
        who = f" as {self.config.api_username}" if self.config.api_username else ""
        return f"<DiscourseAdapter {self.config.forum}{who}>"

    # -- ids -------------------------------------------------------------------------------

    def post_id(self, raw: str) -> str:
        """A post's message id: ``forum.example.com/p/1234``."""
        return f"{self.config.site_key}/p/{raw}"

    def topic_id(self, raw: str) -> str:
        """A topic's conversation id: ``forum.example.com/t/42``."""
        return f"{self.config.site_key}/t/{raw}"

    def category_id(self, raw: str) -> str:
        """A category's channel id: ``forum.example.com/c/7``."""
        return f"{self.config.site_key}/c/{raw}"

    def user_id(self, raw: str) -> str:
        """A user's author id: ``discourse:forum.example.com/u/17``."""
        return f"{PLATFORM}:{self.config.site_key}/u/{raw}"

    # -- errors ----------------------------------------------------------------------------

    def _clean(self, exc: ConvokitError) -> ConvokitError:
        message = str(exc)
        cleaned = self.http.scrub(message)
        if cleaned == message:
            return exc
        if isinstance(exc, HttpError):
            return HttpError(cleaned, status=exc.status, url=exc.url)
        return type(exc)(cleaned)

    # -- categories ------------------------------------------------------------------------

    async def _categories(self) -> list[_Category]:
        """The configured categories, resolved through ``/site.json``."""
        if not self.config.categories:
            return []
        site = _dict(await self.http.get_json("site.json"), "site.json")
        by_id: dict[str, dict[str, Any]] = {}
        for item in _list(site.get("categories"), "site.json categories"):
            category = _dict(item, "site.json category")
            by_id[_int_id(category, "id", "category")] = category
        paths: dict[str, str] = {}
        for cid, category in by_id.items():
            slug = _str(category, "slug", f"category {cid}")
            parent = category.get("parent_category_id")
            parent_slug = by_id.get(str(parent), {}).get("slug") if parent is not None else None
            paths[cid] = f"{parent_slug}/{slug}" if isinstance(parent_slug, str) else slug
        out: list[_Category] = []
        for wanted in self.config.categories:
            if wanted.isdigit():
                match = [cid for cid in by_id if cid == wanted.lstrip("0")]
            else:
                match = [cid for cid, path in paths.items() if path.lower() == wanted]
                if not match:
                    match = [
                        cid for cid, path in paths.items() if path.rsplit("/", 1)[-1] == wanted
                    ]
            if len(match) != 1:
                problem = "no category" if not match else "more than one category"
                raise SyncError(
                    f"'categories': {problem} {wanted!r} on {self.config.forum} (use the "
                    "'parent/child' slug or the category id)"
                )
            name = by_id[match[0]].get("name")
            out.append(
                _Category(
                    id=match[0],
                    slug_path=paths[match[0]],
                    name=name if isinstance(name, str) else None,
                )
            )
        return out

    # -- topics and posts --------------------------------------------------------------

    async def _topic(self, raw_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
        """A topic and all its posts (``None`` if it is gone or not readable)."""
        try:
            data = await self.http.get_json(f"t/{quote(raw_id, safe='')}.json")
        except HttpError as exc:
            if exc.status in (403, 404, 410):
                log.info("topic %s is not readable (HTTP %s); skipped", raw_id, exc.status)
                return None
            raise
        topic = _dict(data, f"topic {raw_id}")
        stream_data = _dict(topic.get("post_stream"), f"topic {raw_id}: post_stream")
        posts = [
            _dict(p, f"topic {raw_id}: post")
            for p in _list(stream_data.get("posts"), f"topic {raw_id}: post_stream.posts")
        ]
        stream = _list(stream_data.get("stream", []), f"topic {raw_id}: post_stream.stream")
        have = {_int_id(p, "id", f"topic {raw_id}: post") for p in posts}
        missing: list[str] = []
        for item in stream:
            if isinstance(item, bool) or not isinstance(item, int):
                raise MalformedPayload(f"topic {raw_id}: post_stream.stream holds {_short(item)}")
            if str(item) not in have:
                missing.append(str(item))
                have.add(str(item))
        for start in range(0, len(missing), CHUNK):
            chunk = missing[start : start + CHUNK]
            more = await self.http.get_json(
                f"t/{quote(raw_id, safe='')}/posts.json", params={"post_ids[]": chunk}
            )
            more_stream = _dict(_dict(more, f"topic {raw_id} posts").get("post_stream"), "posts")
            posts += [
                _dict(p, f"topic {raw_id}: post")
                for p in _list(more_stream.get("posts"), f"topic {raw_id}: posts")
            ]
        return topic, posts

    def _is_ours(self, post: Mapping[str, Any], username: str) -> bool:
        if self.context.is_ours(username) or self.context.is_ours(
            f"{username}@{self.config.site_key}"
        ):
            return True
        return self.config.staff_are_ours and any(
            post.get(flag) is True for flag in ("staff", "admin", "moderator")
        )

    def _messages(
        self,
        topic: Mapping[str, Any],
        posts: list[dict[str, Any]],
        channel: str | None,
    ) -> tuple[list[Message], list[Stakeholder]]:
        raw_topic = _int_id(topic, "id", "topic")
        slug = topic.get("slug") if isinstance(topic.get("slug"), str) else "-"
        private = topic.get("archetype") == "private_message"
        numbers: dict[int, str] = {}
        for post in posts:
            number = post.get("post_number")
            if isinstance(number, bool) or not isinstance(number, int):
                raise MalformedPayload(f"topic {raw_topic}: post without an integer post_number")
            numbers[number] = _int_id(post, "id", f"topic {raw_topic}: post")
        first = numbers[min(numbers)] if numbers else None
        messages: list[Message] = []
        people: list[Stakeholder] = []
        for post in sorted(posts, key=lambda p: int(p["post_number"])):
            raw = _int_id(post, "id", "post")
            what = f"post {raw}"
            post_type = post.get("post_type", _REGULAR)
            if post_type == _SMALL_ACTION:
                continue  # "closed the topic", "pinned": not something anyone said
            username = _str(post, "username", what)
            user = post.get("user_id")
            if isinstance(user, bool) or not isinstance(user, int):
                raise MalformedPayload(f"{what}: expected an integer 'user_id'")
            cooked = post.get("cooked")
            if cooked is not None and not isinstance(cooked, str):
                raise MalformedPayload(f"{what}: expected HTML 'cooked'")
            text = html_to_text(cooked) if cooked else str(post.get("raw") or "")
            reply_to = post.get("reply_to_post_number")
            number = int(post["post_number"])
            in_reply_to: str | None
            if isinstance(reply_to, int) and not isinstance(reply_to, bool):
                target = numbers.get(reply_to, first)
                in_reply_to = self.post_id(target) if target and target != raw else None
            elif reply_to is None:
                in_reply_to = self.post_id(first) if first and first != raw else None
            else:
                raise MalformedPayload(f"{what}: 'reply_to_post_number' is {_short(reply_to)}")
            ours = self._is_ours(post, username)
            whisper = post_type == _WHISPER
            direction = (
                Direction.INTERNAL if whisper else Direction.OUTBOUND if ours else Direction.INBOUND
            )
            visibility = (
                Visibility.NOTE if whisper else Visibility.PRIVATE if private else Visibility.PUBLIC
            )
            sent = _time(post, "created_at", what)
            edited = None
            version = post.get("version")
            if isinstance(version, int) and version > 1 and post.get("updated_at"):
                edited = _time(post, "updated_at", what)
            deleted = post.get("deleted_at") is not None or post.get("user_deleted") is True
            messages.append(
                Message(
                    id=self.post_id(raw),
                    platform=PLATFORM,
                    conversation_id=self.topic_id(raw_topic),
                    channel_id=channel,
                    author_id=self.user_id(str(user)),
                    direction=direction,
                    sent_at=sent,
                    in_reply_to=in_reply_to,
                    text=text,
                    visibility=visibility,
                    automated=user <= 0,  # system (-1), discobot (-2)
                    url=f"{self.config.forum}/t/{slug}/{raw_topic}/{number}",
                    edited_at=edited if edited is not None and edited > sent else None,
                    deleted=deleted,
                )
            )
            if not ours and user > 0:
                name = post.get("name")
                people.append(
                    Stakeholder(
                        id=self.user_id(str(user)),
                        display_name=name if isinstance(name, str) and name else username,
                        identities={PLATFORM: f"{username}@{self.config.site_key}"},
                    )
                )
        return messages, people

    # -- fetch -----------------------------------------------------------------------------

    async def fetch(self, cursor: str | None) -> AsyncIterator[Page]:
        """Yield a page per listing page that brought new topics (categories, then mentions)."""
        error: ConvokitError | None = None
        try:
            async for page in self._fetch(cursor):
                yield page
        except ConvokitError as exc:
            cleaned = self._clean(exc)
            if cleaned is exc:
                raise
            error = cleaned
        if error is not None:
            raise error  # outside the handler: the original is not chained

    async def _fetch(self, cursor: str | None) -> AsyncIterator[Page]:
        state = decode(cursor)
        categories = await self._categories()
        channels = [
            Channel(
                id=self.category_id(c.id),
                platform=PLATFORM,
                handle=f"{self.config.site_key}/c/{c.slug_path}",
            )
            for c in categories
            if c.id not in state.categories
        ]
        for c in categories:
            if c.id not in state.categories:
                state = attrs.evolve(state, categories={**state.categories, c.id: Position()})
        configured = {c.id: self.category_id(c.id) for c in categories}
        done: set[str] = set()  # topics read in this run
        pending: tuple[list[Message], list[Stakeholder]] | None = None
        async for messages, people, new_state in self._pages(state, categories, configured, done):
            if messages:
                if pending is not None:
                    yield self._page(pending, channels, state)
                    channels = []
                pending = (messages, people)
            state = new_state
        if pending is not None:
            yield self._page(pending, channels, state)
        elif channels:
            yield Page(channels=tuple(channels), cursor=encode(state))

    @staticmethod
    def _page(
        records: tuple[list[Message], list[Stakeholder]], channels: list[Channel], state: State
    ) -> Page:
        messages, people = records
        return Page(
            messages=tuple({m.id: m for m in messages}.values()),
            stakeholders=tuple({p.id: p for p in people}.values()),
            channels=tuple(channels),
            cursor=encode(state),
        )

    async def _read_topics(
        self,
        found: Iterable[tuple[str, str | None]],
        configured: Mapping[str, str],
        done: set[str],
    ) -> tuple[list[Message], list[Stakeholder]]:
        messages: list[Message] = []
        people: list[Stakeholder] = []
        for raw_topic, channel in found:
            if raw_topic in done:
                continue
            done.add(raw_topic)
            read = await self._topic(raw_topic)
            if read is None:
                continue
            topic, posts = read
            category = topic.get("category_id")
            own = configured.get(str(category)) if category is not None else None
            got, who = self._messages(topic, posts, own or channel)
            messages += got
            people += who
        return messages, people

    async def _pages(
        self,
        state: State,
        categories: list[_Category],
        configured: Mapping[str, str],
        done: set[str],
    ) -> AsyncIterator[tuple[list[Message], list[Stakeholder], State]]:
        for category in categories:
            position = state.categories[category.id]
            page = position.scan.next if position.scan else 0
            path = f"c/{quote(category.slug_path, safe='/')}/{category.id}.json"
            while True:
                data = _dict(
                    await self.http.get_json(path, params={"page": page}), f"{path} page {page}"
                )
                listing = _dict(data.get("topic_list"), f"{path}: topic_list")
                topics = _list(listing.get("topics"), f"{path}: topic_list.topics")
                behind = False
                found: list[tuple[datetime, str]] = []
                for item in topics:
                    topic = _dict(item, f"{path}: topic")
                    raw = _int_id(topic, "id", "topic")
                    bumped = _time(topic, "bumped_at", f"topic {raw}")
                    if topic.get("pinned") is not True and position.is_behind(bumped):
                        behind = True
                        break
                    if position.is_new(bumped, raw):
                        found.append((bumped, raw))
                messages, people = await self._read_topics(
                    [(raw, configured[category.id]) for _, raw in found], configured, done
                )
                position = position.seen(found)
                more = listing.get("more_topics_url")
                last = behind or not topics or not more
                position = position.advanced(None if last else page + 1)
                state = attrs.evolve(state, categories={**state.categories, category.id: position})
                yield messages, people, state
                if last:
                    break
                page += 1
        username = self.config.our_username
        if not (self.config.mentions and username):
            return
        position = state.mentions
        offset = position.scan.next if position.scan else 0
        while True:
            data = _dict(
                await self.http.get_json(
                    "user_actions.json",
                    params={"username": username, "filter": 7, "offset": offset},
                ),
                "user_actions.json",
            )
            actions = _list(data.get("user_actions"), "user_actions.json: user_actions")
            behind = False
            found_mentions: list[tuple[datetime, str]] = []
            topics_of: list[str] = []
            for item in actions:
                action = _dict(item, "user action")
                post = _int_id(action, "post_id", "user action")
                when = _time(action, "created_at", f"mention in post {post}")
                if position.is_behind(when):
                    behind = True
                    break
                if position.is_new(when, post):
                    found_mentions.append((when, post))
                    topics_of.append(_int_id(action, "topic_id", f"mention in post {post}"))
            messages, people = await self._read_topics(
                [(t, None) for t in topics_of], configured, done
            )
            position = position.seen(found_mentions)
            last = behind or not actions
            position = position.advanced(None if last else offset + len(actions))
            state = attrs.evolve(state, mentions=position)
            yield messages, people, state
            if last:
                break
            offset += len(actions)


def create(
    config: DiscourseConfig, client: httpx.AsyncClient, context: SyncContext
) -> DiscourseAdapter:
    """The factory registered for ``platform = "discourse"``."""
    return DiscourseAdapter(config, client, context)
