"""The YouTube adapter: comment threads on our channel, our uploads as channel activity.

Requests (YouTube Data API v3, below ``api_url``):

1. ``GET channels?part=snippet,contentDetails&id=CHANNEL``: our channel (a
   :class:`~convokit_core.Channel` record) and its uploads playlist;
2. ``GET playlistItems?part=snippet,contentDetails,status&playlistId=UPLOADS``: our
   uploads, newest first, each an outbound message on our channel (channel activity);
3. ``GET commentThreads?part=snippet,replies&allThreadsRelatedToChannelId=CHANNEL&order=time``:
   every comment thread on our videos, newest first. A thread (its top-level comment
   and the replies to it) is a conversation;
4. ``GET comments?part=snippet&parentId=THREAD``: all replies of a thread whose
   ``totalReplyCount`` is larger than the replies the thread embeds (at most five).

Quota: ``403`` with reason ``quotaExceeded`` fails the source at once with a message
saying when the quota resets; ``rateLimitExceeded`` / ``userRateLimitExceeded`` (403)
are retried with exponential backoff; 429 and 5xx are retried by the shared helper.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

import attrs
import httpx

from convokit_core import (
    Channel,
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
    html_to_text,
    parse_datetime,
)

from ._config import YouTubeConfig
from ._cursor import State, decode, encode

__all__ = ["PLATFORM", "QuotaExceeded", "YouTubeAdapter", "create"]

PLATFORM = "youtube"
log = logging.getLogger("convokit.youtube")

UPLOADS_PAGE_SIZE = 50  # playlistItems' maxResults limit
_RATE_LIMIT_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded"})
_QUOTA_REASONS = frozenset({"quotaExceeded", "dailyLimitExceeded"})
_TAG = re.compile(r"<br\s*/?>|<[^>]*>", re.IGNORECASE)


class QuotaExceeded(SyncError):
    """The project's daily YouTube Data API quota is spent: not worth retrying today."""


def _short(value: Any) -> str:
    """What a payload held, for an error message: short scalars as they are, else their
    shape (a long string could be a credential echoed back; it is never quoted)."""
    if value is None:
        return "null"
    if isinstance(value, bool | int | float):
        return repr(value)
    if isinstance(value, str):
        return repr(value) if len(value) <= 24 else f"a string of {len(value)} characters"
    if isinstance(value, dict):
        return "an object"
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


def _str(data: Mapping[str, Any], key: str, what: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise MalformedPayload(
            f"{what}: expected a non-empty string {key!r}, found {_short(value)}"
        )
    return value


def _opt_str(data: Mapping[str, Any], key: str, what: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise MalformedPayload(f"{what}: expected {key!r} to be a string, found {_short(value)}")
    return value


def _time(data: Mapping[str, Any], key: str, what: str) -> datetime:
    value = data.get(key)
    if not isinstance(value, str):
        raise MalformedPayload(f"{what}: expected an RFC 3339 time {key!r}, found {_short(value)}")
    try:
        return parse_datetime(value)
    except (TypeError, ValueError):
        raise MalformedPayload(
            f"{what}: expected an RFC 3339 time {key!r} with a zone, found {_short(value)}"
        ) from None


def _count(data: Mapping[str, Any], key: str, what: str) -> int:
    value = data.get(key, 0)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise MalformedPayload(f"{what}: expected a count {key!r}, found {_short(value)}")
    return value


def _key_time(moment: datetime) -> datetime:
    """Listing times are compared to the second (the cursor keeps seconds)."""
    return moment.replace(microsecond=0)


def _html_to_text(text: str) -> str:
    """``textDisplay`` (HTML) as plain text (the core's :func:`convokit_core.html_to_text`)."""
    return html_to_text(text)


def _google_error(response: httpx.Response) -> tuple[str | None, str]:
    """The first ``reason`` and the ``message`` of a Google API error body."""
    try:
        data = json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        return None, ""
    if not isinstance(data, dict) or not isinstance(data.get("error"), dict):
        return None, ""
    error = data["error"]
    message = error.get("message") if isinstance(error.get("message"), str) else ""
    reason: str | None = None
    details = error.get("errors")
    if isinstance(details, list):
        for item in details:
            if isinstance(item, dict) and isinstance(item.get("reason"), str):
                reason = item["reason"]
                break
    return reason, str(message)[:300]


class _GoogleHttpClient(HttpClient):
    """The shared helper, reading Google's nested error bodies.

    Google APIs answer ``{"error": {"code": 403, "message": "…", "errors": [{"reason":
    "quotaExceeded", …}]}}``; the helper's generic reader does not look inside
    ``error``. This subclass adds the message and the reason to the error text and
    remembers the reason of the last error answer, so the adapter can tell an exhausted
    daily quota (give up) from a rate limit (wait and retry).
    """

    last_reason: str | None = None

    def _describe(self, response: httpx.Response) -> str:
        reason, message = _google_error(response)
        self.last_reason = reason
        text = f"HTTP {response.status_code}"
        if response.reason_phrase:
            text += f" {response.reason_phrase}"
        if reason or message:
            text += ": " + (message or "")
            if reason:
                text += f" (reason {reason})"
            return self.scrub(text)
        return super()._describe(response)


def _default_sleep(seconds: float) -> Awaitable[None]:
    return asyncio.sleep(seconds)


class YouTubeAdapter:
    """Fetches one channel's uploads and comment threads. Built by :func:`create`."""

    def __init__(
        self,
        config: YouTubeConfig,
        client: httpx.AsyncClient,
        context: SyncContext,
        *,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
    ) -> None:
        self.config = config
        self.context = context.with_own_handles(config.channel_id)
        secret_headers: dict[str, str] = {}
        if config.api_key is not None:
            # Google's documented header form of the `key` system parameter: the key
            # never goes into a URL (proxy logs, error messages, httpx's debug log).
            secret_headers["X-Goog-Api-Key"] = config.api_key
        if config.oauth_token is not None:
            secret_headers["Authorization"] = f"Bearer {config.oauth_token}"
        self.http = _GoogleHttpClient(
            client,
            base_url=config.api_url,
            headers={"Accept": "application/json"},
            secret_headers=secret_headers,
            policy=policy or RetryPolicy(),
            sleep=sleep,
        )
        self._sleep = sleep or _default_sleep
        self._revisit = config.revisit

    def __repr__(self) -> str:
        auth = "api key" if self.config.api_key is not None else "oauth token"
        return f"<YouTubeAdapter channel {self.config.channel_id} ({auth})>"

    # -- ids -------------------------------------------------------------------------------

    @property
    def channel_id(self) -> str:
        """Our channel: uploads are its activity."""
        return self.config.channel_id

    @property
    def comments_channel_id(self) -> str:
        """Where comments are said (``UC…/comments``), apart from the uploads, so that
        only uploads count as the channel's activity."""
        return f"{self.config.channel_id}/comments"

    @staticmethod
    def video_message_id(video_id: str) -> str:
        """An upload's message id: ``video:VIDEO_ID``."""
        return f"video:{video_id}"

    @staticmethod
    def author_id(channel_id: str) -> str:
        """A commenter's author id: ``youtube:CHANNEL_ID``."""
        return f"{PLATFORM}:{channel_id}"

    # -- requests --------------------------------------------------------------------------

    async def _get(self, route: str, params: dict[str, Any]) -> dict[str, Any]:
        """``GET route`` with quota handling; the JSON object it answers."""
        attempt = 0
        while True:
            self.http.last_reason = None
            try:
                data = await self.http.get_json(route, params=params)
            except HttpError as exc:
                reason = self.http.last_reason
                if exc.status == 403 and reason in _QUOTA_REASONS:
                    raise QuotaExceeded(
                        f"YouTube Data API quota exhausted ({reason}) at {route}: the daily "
                        "quota resets at midnight Pacific Time; not retried. Sync again "
                        "after the reset, or ask Google for a larger quota."
                    ) from None
                if exc.status == 403 and reason in _RATE_LIMIT_REASONS:
                    if attempt < self.config.rate_limit_retries:
                        wait = float(2**attempt)
                        log.info(
                            "%s: %s; retry %d/%d in %.0fs",
                            route,
                            reason,
                            attempt + 1,
                            self.config.rate_limit_retries,
                            wait,
                        )
                        await self._sleep(wait)
                        attempt += 1
                        continue
                    raise SyncError(
                        f"{exc} — still rate limited after {attempt + 1} attempts"
                    ) from None
                raise
            return _dict(data, route)

    async def _pages(
        self, route: str, params: dict[str, Any], token: str | None
    ) -> tuple[list[Any], str | None]:
        query = dict(params)
        if token is not None:
            query["pageToken"] = token
        data = await self._get(route, query)
        items = _list(data.get("items"), f"{route}: items")
        next_token = _opt_str(data, "nextPageToken", route) or None
        return items, next_token

    # -- mapping ---------------------------------------------------------------------------

    def _channel(self, data: Mapping[str, Any]) -> tuple[Channel, str]:
        items = data.get("items")
        if items is None and isinstance(data.get("pageInfo"), dict):
            items = []
        items = _list(items, "channels: items")
        for raw in items:
            item = _dict(raw, "channel")
            if item.get("id") != self.config.channel_id:
                continue
            snippet = _dict(item.get("snippet"), "channel: snippet")
            details = _dict(item.get("contentDetails"), "channel: contentDetails")
            playlists = _dict(details.get("relatedPlaylists"), "channel: relatedPlaylists")
            uploads = _str(playlists, "uploads", "channel: relatedPlaylists")
            handle = _opt_str(snippet, "customUrl", "channel: snippet") or _opt_str(
                snippet, "title", "channel: snippet"
            )
            created = _time(snippet, "publishedAt", "channel: snippet")
            channel = Channel(
                id=self.channel_id, platform=PLATFORM, handle=handle or None, created_at=created
            )
            return channel, uploads
        raise SyncError(
            f"no YouTube channel with the id {self.config.channel_id} (check 'channel_id')"
        )

    def _upload(self, raw: Any) -> tuple[Message, tuple[datetime, str]] | None:
        item = _dict(raw, "playlist item")
        snippet = _dict(item.get("snippet"), "playlist item: snippet")
        details = _dict(item.get("contentDetails"), "playlist item: contentDetails")
        video = _str(details, "videoId", "playlist item: contentDetails")
        what = f"upload {video}"
        status = item.get("status")
        if status is not None:
            privacy = _opt_str(_dict(status, f"{what}: status"), "privacyStatus", what)
            if privacy == "private":
                return None
        if details.get("videoPublishedAt") is not None:
            sent = _time(details, "videoPublishedAt", what)
        else:
            sent = _time(snippet, "publishedAt", what)
        title = _opt_str(snippet, "title", what) or ""
        description = _opt_str(snippet, "description", what) or ""
        message = Message(
            id=self.video_message_id(video),
            platform=PLATFORM,
            conversation_id=self.video_message_id(video),
            channel_id=self.channel_id,
            author_id=self.author_id(self.config.channel_id),
            direction=Direction.OUTBOUND,
            sent_at=sent,
            text=f"{title}\n\n{description}".strip(),
            visibility=Visibility.PUBLIC,
            url=f"https://www.youtube.com/watch?v={video}",
        )
        return message, (_key_time(sent), message.id)

    def _comment(
        self, raw: Any, *, thread_id: str, video: str | None, top: bool
    ) -> tuple[Message, Stakeholder | None]:
        comment = _dict(raw, "comment")
        comment_id = _str(comment, "id", "comment")
        what = f"comment {comment_id}"
        snippet = _dict(comment.get("snippet"), f"{what}: snippet")
        text = _opt_str(snippet, "textOriginal", what)
        if text is None:
            # textOriginal is only guaranteed to the comment's author; fall back to the
            # HTML textDisplay.
            text = _html_to_text(_opt_str(snippet, "textDisplay", what) or "")
        name = _opt_str(snippet, "authorDisplayName", what) or ""
        author_channel: str | None = None
        if snippet.get("authorChannelId") is not None:
            author_channel = _str(
                _dict(snippet["authorChannelId"], f"{what}: authorChannelId"), "value", what
            )
        sent = _time(snippet, "publishedAt", what)
        updated = _time(snippet, "updatedAt", what) if "updatedAt" in snippet else None
        video = _opt_str(snippet, "videoId", what) or video
        parent: str | None = None
        if not top:
            parent = _opt_str(snippet, "parentId", what) or thread_id
        ours = self.context.is_ours(author_channel) or (
            name.startswith("@") and self.context.is_ours(name)
        )
        stakeholder: Stakeholder | None = None
        if author_channel is not None:
            author = self.author_id(author_channel)
            if not ours:
                stakeholder = Stakeholder(
                    id=author, display_name=name or None, identities={PLATFORM: author_channel}
                )
        else:
            # No authorChannelId (a deleted or legacy account): known by name only, and
            # never ours.
            author = f"{PLATFORM}:anonymous:{name.casefold()}" if name else f"{PLATFORM}:anonymous"
            stakeholder = Stakeholder(id=author, display_name=name or None)
        url = f"https://www.youtube.com/watch?v={video}&lc={comment_id}" if video else None
        message = Message(
            id=comment_id,
            platform=PLATFORM,
            conversation_id=thread_id,
            channel_id=self.comments_channel_id,
            author_id=author,
            direction=Direction.OUTBOUND if ours else Direction.INBOUND,
            sent_at=sent,
            in_reply_to=parent,
            text=text,
            visibility=Visibility.PUBLIC,
            url=url,
            edited_at=updated if updated is not None and updated > sent else None,
        )
        return message, stakeholder

    async def _thread(self, thread: Mapping[str, Any]) -> tuple[list[Message], list[Stakeholder]]:
        """Every message of a thread: the top-level comment and all its replies."""
        thread_id = _str(thread, "id", "comment thread")
        what = f"comment thread {thread_id}"
        snippet = _dict(thread.get("snippet"), f"{what}: snippet")
        video = _opt_str(snippet, "videoId", what)
        total = _count(snippet, "totalReplyCount", what)
        top_message, top_author = self._comment(
            snippet.get("topLevelComment"), thread_id=thread_id, video=video, top=True
        )
        messages = [top_message]
        people = [top_author] if top_author else []
        embedded: list[Any] = []
        if thread.get("replies") is not None:
            embedded = _list(
                _dict(thread["replies"], f"{what}: replies").get("comments", []),
                f"{what}: replies.comments",
            )
        replies = embedded
        if total > len(embedded):
            # A thread embeds at most five replies: read them all.
            replies = await self._all_replies(thread_id)
        for raw in replies:
            message, person = self._comment(raw, thread_id=thread_id, video=video, top=False)
            messages.append(message)
            if person:
                people.append(person)
        return messages, people

    async def _all_replies(self, thread_id: str) -> list[Any]:
        replies: list[Any] = []
        token: str | None = None
        while True:
            items, token = await self._pages(
                "comments",
                {
                    "part": "snippet",
                    "parentId": thread_id,
                    "maxResults": self.config.page_size,
                },
                token,
            )
            replies.extend(items)
            if token is None:
                return replies

    # -- the sync --------------------------------------------------------------------------

    async def fetch(self, cursor: str | None) -> AsyncIterator[Page]:
        """Yield pages of uploads, then of comment threads, after ``cursor``."""
        state = decode(cursor)
        last = cursor
        data = await self._get(
            "channels", {"part": "snippet,contentDetails", "id": self.config.channel_id}
        )
        channel, uploads_playlist = self._channel(data)
        pending_channel: list[Channel] = [channel]
        delivered: set[str] = set()

        def page(messages: list[Message], people: list[Stakeholder], new: State) -> Page:
            nonlocal pending_channel, last
            unique_people = {p.id: p for p in people}
            result = Page(
                messages=messages,
                stakeholders=tuple(unique_people.values()),
                channels=pending_channel,
                cursor=encode(new),
            )
            pending_channel = []
            last = result.cursor
            return result

        # 1. Our uploads: channel activity.
        uploads = state.uploads.start()
        while True:
            items, next_token = await self._pages(
                "playlistItems",
                {
                    "part": "snippet,contentDetails,status",
                    "playlistId": uploads_playlist,
                    "maxResults": UPLOADS_PAGE_SIZE,
                },
                uploads.token,
            )
            fresh: list[Message] = []
            keys: list[tuple[datetime, str]] = []
            reached = False
            for raw in items:
                mapped = self._upload(raw)
                if mapped is None:
                    continue
                message, key = mapped
                if uploads.beyond(key[0], timedelta(0)):
                    reached = True
                    break
                if uploads.is_old(*key) or uploads.in_pass(*key) or message.id in delivered:
                    continue
                delivered.add(message.id)
                fresh.append(message)
                keys.append(key)
            uploads = uploads.delivered(keys)
            if reached or next_token is None:
                uploads = uploads.completed(timedelta(0))
                state = State(uploads=uploads, threads=state.threads)
                if fresh:
                    yield page(fresh, [], state)
                # Otherwise the completed pass rides with the next page (or the final
                # cursor): no page without records mid-stream.
                break
            uploads = attrs.evolve(uploads, token=next_token)
            state = State(uploads=uploads, threads=state.threads)
            if fresh:
                yield page(fresh, [], state)

        # 2. Comment threads on our videos, newest first.
        threads = state.threads.start()
        while True:
            items, next_token = await self._pages(
                "commentThreads",
                {
                    "part": "snippet,replies",
                    "allThreadsRelatedToChannelId": self.config.channel_id,
                    "order": "time",
                    "maxResults": self.config.page_size,
                },
                threads.token,
            )
            messages: list[Message] = []
            people: list[Stakeholder] = []
            keys = []
            reached = False
            for raw in items:
                thread = _dict(raw, "comment thread")
                thread_id = _str(thread, "id", "comment thread")
                snippet = _dict(thread.get("snippet"), f"comment thread {thread_id}: snippet")
                top = _dict(snippet.get("topLevelComment"), f"comment thread {thread_id}")
                top_snippet = _dict(top.get("snippet"), f"comment thread {thread_id}")
                when = _key_time(_time(top_snippet, "publishedAt", f"comment {thread_id}"))
                total = _count(snippet, "totalReplyCount", f"comment thread {thread_id}")
                if threads.beyond(when, self._revisit):
                    reached = True
                    break
                new = not threads.is_old(when, thread_id) and not threads.in_pass(when, thread_id)
                known = threads.counts.get(thread_id)
                if not new and known is not None and known[1] == total:
                    continue  # nothing changed in this thread
                thread_messages, thread_people = await self._thread(thread)
                for message in thread_messages:
                    if message.id not in delivered:
                        delivered.add(message.id)
                        messages.append(message)
                people.extend(thread_people)
                threads = threads.counted(thread_id, when, total)
                if new:
                    keys.append((when, thread_id))
            threads = threads.delivered(keys)
            if reached or next_token is None:
                threads = threads.completed(self._revisit)
                state = State(uploads=state.uploads, threads=threads)
                if messages or encode(state) != last:
                    yield page(messages, people, state)
                return
            threads = attrs.evolve(threads, token=next_token)
            state = State(uploads=state.uploads, threads=threads)
            if messages:
                yield page(messages, people, state)


def create(
    config: YouTubeConfig, client: httpx.AsyncClient, context: SyncContext
) -> YouTubeAdapter:
    """The factory registered for ``platform = "youtube"``."""
    return YouTubeAdapter(config, client, context)
