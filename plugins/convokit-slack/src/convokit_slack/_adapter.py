"""The Slack adapter: watched channels, their threads, and who speaks for us.

For each configured channel (in config order):

1. **new parents**: ``conversations.history`` from the channel's watermark up, newest
   first, one page per request (``next_cursor``); each parent with replies brings its
   whole thread (``conversations.replies?channel=&ts=``) in the same page;
2. **look-back**: the parents of the ``thread_lookback`` window below the watermark are
   listed again, and a thread is re-read only when its ``latest_reply`` moved past the
   newest reply already stored (replies never show in ``conversations.history``, so
   this is how a reply to an older thread is noticed).

Message ids are ``<team id>/<channel id>/<ts>``: a ``ts`` is unique only per channel.
The ``ts`` is kept exactly as Slack sent it (``"1700000000.000100"``).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from datetime import UTC, datetime
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

from ._api import SlackApi, SlackApiError
from ._config import SlackConfig
from ._cursor import ChannelState, State
from ._text import mrkdwn_to_text
from ._ts import is_ts, ts_from_datetime, ts_key, ts_shift, ts_to_datetime

__all__ = ["PLATFORM", "SlackAdapter", "create"]

PLATFORM: Final = "slack"
log = logging.getLogger("convokit.slack")

CONTENT_SUBTYPES: Final = frozenset(
    {None, "bot_message", "thread_broadcast", "file_share", "me_message", "tombstone"}
)
"""Message subtypes kept; every other one (``channel_join``, ``channel_topic``,
``pinned_item``, …) is a system event, not something anyone said."""


@attrs.frozen(kw_only=True)
class ChannelInfo:
    """A watched conversation, as ``conversations.info`` / ``.list`` describe it."""

    id: str
    name: str | None
    private: bool
    created: datetime | None

    @property
    def label(self) -> str:
        """``C0123 (#support)`` for messages."""
        return f"channel {self.id}" + (f" (#{self.name})" if self.name else "")


def _dict(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise MalformedPayload(f"{what}: expected a JSON object, found {str(value)[:80]!r}")
    return value


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
        raise MalformedPayload(f"{what}: expected {key!r} to be a string, found {value!r}")
    return value or None


def _ts(data: Mapping[str, Any], key: str, what: str) -> str:
    value = data.get(key)
    if not is_ts(value):
        raise MalformedPayload(
            f"{what}: expected {key!r} to be a Slack ts string like '1700000000.000100', "
            f"found {value!r}"
        )
    assert isinstance(value, str)
    return value


def _opt_ts(data: Mapping[str, Any], key: str, what: str) -> str | None:
    return None if data.get(key) is None else _ts(data, key, what)


def _channel_info(data: Any, what: str) -> ChannelInfo:
    channel = _dict(data, what)
    created = channel.get("created")
    if created is not None and (not isinstance(created, int) or isinstance(created, bool)):
        raise MalformedPayload(f"{what}: 'created' must be epoch seconds, found {created!r}")
    private = any(channel.get(k) is True for k in ("is_private", "is_im", "is_mpim", "is_group"))
    return ChannelInfo(
        id=_str(channel, "id", what),
        name=_opt_str(channel, "name", what),
        private=private,
        created=datetime.fromtimestamp(created, UTC) if created else None,
    )


def _author_team(item: Mapping[str, Any], what: str) -> str | None:
    """The author's workspace: ``user_team``, else ``team`` (Slack Connect sets both)."""
    for key in ("user_team", "team"):
        value = _opt_str(item, key, what)
        if value:
            return value
    profile = item.get("bot_profile")
    if isinstance(profile, dict):
        return _opt_str(profile, "team_id", what)
    return None


def _is_thread_parent(item: Mapping[str, Any], ts: str) -> bool:
    thread_ts = item.get("thread_ts")
    return thread_ts is None or thread_ts == ts


def _has_replies(item: Mapping[str, Any], what: str) -> bool:
    count = item.get("reply_count")
    if count is not None and (not isinstance(count, int) or isinstance(count, bool)):
        raise MalformedPayload(f"{what}: 'reply_count' must be an integer, found {count!r}")
    return bool(count) or item.get("latest_reply") is not None


def _newest(a: str | None, b: str | None) -> str | None:
    if a is None:
        return b
    if b is None:
        return a
    return a if ts_key(a) >= ts_key(b) else b


def _oldest(a: str | None, b: str | None) -> str | None:
    if a is None:
        return b
    if b is None:
        return a
    return a if ts_key(a) <= ts_key(b) else b


class _Collected:
    """Messages and stakeholders gathered for one page (each message once per sync)."""

    def __init__(self, yielded: set[str]) -> None:
        self._yielded = yielded
        self.messages: dict[str, Message] = {}
        self.people: dict[str, Stakeholder] = {}

    def add(self, message: Message, person: Stakeholder | None) -> None:
        if message.id in self._yielded:
            return
        self.messages[message.id] = message
        if person is not None:
            self.people[person.id] = person

    def commit(self) -> None:
        self._yielded.update(self.messages)


class SlackAdapter:
    """Fetches the watched channels of one Slack workspace.

    Built by :func:`create`; the host calls :meth:`fetch`. ``sleep`` (default
    :func:`asyncio.sleep`) is awaited for every wait between retries: HTTP 429s and 5xx
    (through the shared HTTP helper) and transient ``ok: false`` answers.
    """

    def __init__(
        self,
        config: SlackConfig,
        client: httpx.AsyncClient,
        context: SyncContext,
        *,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
    ) -> None:
        self.config = config
        self.base_context = context
        self.context = context
        self.http = HttpClient(
            client,
            base_url=config.api_url,
            headers={"Accept": "application/json"},
            secret_headers={"Authorization": f"Bearer {config.token}"},
            policy=policy
            or RetryPolicy(
                max_retries=config.max_retries,
                backoff_max=60.0,
                budget=config.retry_budget,
            ),
            sleep=sleep,
        )
        self.api = SlackApi(self.http, sleep=sleep)
        self.team = ""
        self.user_id = ""
        self.bot_id: str | None = None
        self.workspace_url: str | None = None

    def __repr__(self) -> str:
        channels = ", ".join(self.config.channels)
        return f"<SlackAdapter {self.config.token_kind} token, channels {channels}>"

    # -- ids -----------------------------------------------------------------------------

    def message_id(self, channel: str, ts: str) -> str:
        """``<team>/<channel>/<ts>``: a message's id, unique across workspaces."""
        return f"{self.team}/{channel}/{ts}"

    def channel_id(self, channel: str) -> str:
        """``<team>/<channel>``: a watched channel's id."""
        return f"{self.team}/{channel}"

    def person_id(self, user: str) -> str:
        """``slack:<team>/<user or bot id>``: an author, unique across platforms."""
        return f"slack:{self.team}/{user}"

    def is_ours(self, user: str | None, bot_id: str | None, team: str | None = None) -> bool:
        """Our token's user, our app's bot, or a ``[[team]]`` handle (a Slack user id).

        With ``workspace_is_ours``, also anyone whose workspace (``team``) is ours.
        """
        if self.config.workspace_is_ours and team is not None and team == self.team:
            return True
        for handle in (user, bot_id):
            if handle and (
                self.context.is_ours(handle) or self.context.is_ours(f"{self.team}/{handle}")
            ):
                return True
        return bot_id is not None and bot_id == self.bot_id

    # -- mapping -------------------------------------------------------------------------

    def permalink(self, channel: str, ts: str, thread_ts: str | None) -> str | None:
        """The message's web address, from the workspace URL ``auth.test`` gave."""
        if not self.workspace_url:
            return None
        url = f"{self.workspace_url}archives/{channel}/p{ts.replace('.', '')}"
        if thread_ts and thread_ts != ts:
            url += f"?thread_ts={thread_ts}&cid={channel}"
        return url

    def message(
        self, item: Mapping[str, Any], channel: ChannelInfo, *, parent_user: str | None = None
    ) -> tuple[Message, Stakeholder | None] | None:
        """One message event as a :class:`Message` (``None``: a system event, skipped).

        ``parent_user`` is the ``parent_user_id`` its thread's replies name: who wrote a
        parent that is now a tombstone (Slack shows those as written by ``USLACKBOT``).
        """
        ts = _ts(item, "ts", f"message in {channel.label}")
        what = f"message {ts} in {channel.label}"
        if item.get("type", "message") != "message":
            return None
        subtype = item.get("subtype")
        if subtype not in CONTENT_SUBTYPES:
            return None
        tombstone = subtype == "tombstone"
        if item.get("hidden") is True and not tombstone:
            return None
        thread_ts = _opt_ts(item, "thread_ts", what)
        root = thread_ts or ts
        user = _opt_str(item, "user", what)
        bot_id = _opt_str(item, "bot_id", what)
        if tombstone:
            user, bot_id = parent_user, None
        author = user or bot_id
        if author is None:
            if not tombstone:
                raise MalformedPayload(f"{what}: expected a 'user' or a 'bot_id', found neither")
            author = "USLACKBOT"
        text = item.get("text", "")
        if not isinstance(text, str):
            raise MalformedPayload(f"{what}: expected 'text' to be a string, found {text!r}")
        text = "" if tombstone else mrkdwn_to_text(text)
        if not text:
            names = [
                f.get("title") or f.get("name")
                for f in item.get("files") or []
                if isinstance(f, dict)
            ]
            text = " ".join(f"[file: {n}]" for n in names if isinstance(n, str) and n)
        edited = item.get("edited")
        edited_at = None
        if edited is not None:
            edited_at = ts_to_datetime(_ts(_dict(edited, f"{what}: edited"), "ts", what))
        author_team = None if tombstone else _author_team(item, what)
        ours = self.is_ours(user, bot_id, author_team)
        message = Message(
            id=self.message_id(channel.id, ts),
            platform=PLATFORM,
            conversation_id=self.message_id(channel.id, root),
            channel_id=self.channel_id(channel.id),
            author_id=self.person_id(author),
            direction=Direction.OUTBOUND if ours else Direction.INBOUND,
            sent_at=ts_to_datetime(ts),
            in_reply_to=self.message_id(channel.id, root) if root != ts else None,
            text=text,
            visibility=Visibility.PRIVATE if channel.private else Visibility.PUBLIC,
            automated=bot_id is not None or subtype == "bot_message",
            url=self.permalink(channel.id, ts, thread_ts),
            edited_at=edited_at,
            deleted=tombstone,
        )
        person = None
        if not ours and not tombstone:
            person = Stakeholder(
                id=message.author_id,
                display_name=self._display_name(item),
                identities={PLATFORM: author},
            )
        return message, person

    @staticmethod
    def _display_name(item: Mapping[str, Any]) -> str | None:
        profile = item.get("user_profile")
        if isinstance(profile, dict):
            for key in ("display_name", "real_name"):
                value = profile.get(key)
                if isinstance(value, str) and value:
                    return value
        bot = item.get("bot_profile")
        for value in (item.get("username"), bot.get("name") if isinstance(bot, dict) else None):
            if isinstance(value, str) and value:
                return value
        return None

    # -- requests ------------------------------------------------------------------------

    async def authenticate(self) -> None:
        """``auth.test``: the workspace, our user (and bot) ids, the workspace URL."""
        data = await self.api.call("auth.test", {})
        self.team = _str(data, "team_id", "auth.test")
        self.user_id = _str(data, "user_id", "auth.test")
        self.bot_id = _opt_str(data, "bot_id", "auth.test")
        url = _opt_str(data, "url", "auth.test")
        self.workspace_url = url.rstrip("/") + "/" if url else None
        own = [self.user_id, f"{self.team}/{self.user_id}"]
        if self.bot_id:
            own.append(self.bot_id)
        self.context = self.base_context.with_own_handles(*own)

    async def resolve_channels(self) -> list[ChannelInfo]:
        """The configured channels, in order; names are looked up with ``conversations.list``."""
        by_name: dict[str, ChannelInfo] = {}
        names = [c[1:] for c in self.config.channels if c.startswith("#")]
        if names:
            params: dict[str, str | int] = {
                "types": "public_channel,private_channel",
                "exclude_archived": "true",
                "limit": 200,
            }
            async for items, _ in self.api.pages("conversations.list", params, "channels"):
                for item in items:
                    info = _channel_info(item, "conversations.list channel")
                    if info.name:
                        by_name[info.name.lower()] = info
                if all(n in by_name for n in names):
                    break
        out: list[ChannelInfo] = []
        for entry in self.config.channels:
            if entry.startswith("#"):
                found = by_name.get(entry[1:])
                if found is None:
                    raise SyncError(
                        f"Slack channel {entry} was not found among the channels this token "
                        "can see (conversations.list, archived ones excluded); check the "
                        "name or give the channel id (C…) in 'channels'"
                    )
                info = found
            else:
                subject = f"channel {entry}"
                data = await self.api.call(
                    "conversations.info", {"channel": entry}, subject=subject
                )
                info = _channel_info(data.get("channel"), f"conversations.info {entry}")
            if info.id not in {c.id for c in out}:
                out.append(info)
        return out

    async def thread(self, channel: ChannelInfo, parent_ts: str) -> list[dict[str, Any]]:
        """Every message of the thread under ``parent_ts`` (parent first), all pages.

        A thread that vanished meanwhile (``thread_not_found``) is an empty list.
        """
        params: dict[str, str | int] = {
            "channel": channel.id,
            "ts": parent_ts,
            "limit": self.config.page_size,
        }
        out: list[dict[str, Any]] = []
        try:
            async for items, _ in self.api.pages(
                "conversations.replies", params, "messages", subject=channel.label
            ):
                out += [_dict(i, f"reply in {channel.label}") for i in items]
        except SlackApiError as exc:
            if exc.error == "thread_not_found":
                log.info("thread %s in %s is gone; kept as listed", parent_ts, channel.label)
                return []
            raise
        return out

    # -- fetch ---------------------------------------------------------------------------

    async def fetch(self, cursor: str | None) -> AsyncIterator[Page]:
        """Yield pages for every watched channel, each with the cursor that resumes after it.

        A malformed answer raises :class:`~convokit_core.MalformedPayload` with any
        secret the answer echoed scrubbed from its message.
        """
        try:
            async for page in self._fetch(cursor):
                yield page
        except MalformedPayload as exc:
            raise MalformedPayload(self.http.scrub(str(exc))) from None

    async def _fetch(self, cursor: str | None) -> AsyncIterator[Page]:
        state = State.decode(cursor)
        await self.authenticate()
        if state.team is not None and state.team != self.team:
            raise SyncError(
                f"the stored cursor belongs to Slack workspace {state.team}, but the token "
                f"is for workspace {self.team}; use another source name for another "
                "workspace, or reset this source's cursor"
            )
        run = _Run(self, attrs.evolve(state, team=self.team))
        for channel in await self.resolve_channels():
            async for page in run.channel(channel):
                yield page


class _Run:
    """One :meth:`SlackAdapter.fetch`: the evolving state and the ids already yielded."""

    def __init__(self, adapter: SlackAdapter, state: State) -> None:
        self.adapter = adapter
        self.config = adapter.config
        self.state = state
        self.yielded: set[str] = set()

    def page(self, collected: _Collected, channels: Iterable[Channel] = ()) -> Page:
        collected.commit()
        return Page(
            messages=tuple(collected.messages.values()),
            stakeholders=tuple(collected.people.values()),
            channels=tuple(channels),
            cursor=self.state.encode(),
        )

    def record(self, channel: ChannelInfo) -> Channel:
        return Channel(
            id=self.adapter.channel_id(channel.id),
            platform=PLATFORM,
            handle=f"#{channel.name}" if channel.name else channel.id,
            created_at=channel.created,
        )

    async def channel(self, channel: ChannelInfo) -> AsyncIterator[Page]:
        existing = self.state.channels.get(channel.id)
        pending: list[Channel] = []
        lookback_top: str | None = None
        if existing is None:
            # Never synced: record the channel, and start at 'since' (or the beginning).
            pending = [self.record(channel)]
            since = self.config.since
            start = ChannelState(watermark=ts_from_datetime(since) if since else None)
            self.state = self.state.with_channel(channel.id, start)
        else:
            # Threads of parents delivered before this run may have new replies.
            lookback_top = _newest(existing.watermark, existing.scan_top)
        resumed = existing is not None and existing.scanning
        while True:
            async for page in self.scan(channel, pending):
                pending = []
                yield page
            if not resumed:
                break
            resumed = False  # the interrupted scan is done; now read what came meanwhile
        if lookback_top is not None and self.config.thread_lookback.total_seconds() > 0:
            async for page in self.lookback(channel, lookback_top):
                yield page
        if pending:
            yield self.page(_Collected(self.yielded), pending)

    def _horizon(self, watermark: str) -> str:
        """The oldest parent ``ts`` the look-back reaches (never before ``since``)."""
        horizon = ts_shift(watermark, -int(self.config.thread_lookback.total_seconds()))
        if self.config.since is not None:
            horizon = _newest(horizon, ts_from_datetime(self.config.since)) or horizon
        return horizon

    async def scan(self, channel: ChannelInfo, pending: list[Channel]) -> AsyncIterator[Page]:
        """New parents above the watermark, newest first, with their threads."""
        cs = self.state.channels[channel.id]
        params: dict[str, str | int] = {"channel": channel.id, "limit": self.config.page_size}
        if cs.watermark is not None:
            params["oldest"] = cs.watermark
        if cs.scan_low is not None:
            params["latest"] = cs.scan_low
        top, low = cs.scan_top, cs.scan_low
        threads = dict(cs.threads)
        async for items, last in self.adapter.api.pages(
            "conversations.history", params, "messages", subject=channel.label
        ):
            collected = _Collected(self.yielded)
            for raw in items:
                item = _dict(raw, f"message in {channel.label}")
                ts = _ts(item, "ts", f"message in {channel.label}")
                top, low = _newest(top, ts), _oldest(low, ts)
                await self._collect(channel, item, ts, collected, threads)
            if last:
                # The scan is complete: its newest parent becomes the watermark.
                watermark = _newest(cs.watermark, top)
                if watermark is not None:
                    horizon = ts_key(self._horizon(watermark))
                    threads = {k: v for k, v in threads.items() if ts_key(k) >= horizon}
                cs = ChannelState(watermark=watermark, threads=threads)
            else:
                cs = attrs.evolve(cs, scan_top=top, scan_low=low, threads=dict(threads))
            self.state = self.state.with_channel(channel.id, cs)
            if collected.messages or pending:
                yield self.page(collected, pending)
                pending = []

    async def lookback(self, channel: ChannelInfo, top: str) -> AsyncIterator[Page]:
        """Threads of older parents (inside the window) whose ``latest_reply`` moved."""
        watermark = self.state.channels[channel.id].watermark or top
        horizon = self._horizon(watermark)
        if ts_key(horizon) > ts_key(top):
            return
        params: dict[str, str | int] = {
            "channel": channel.id,
            "limit": self.config.page_size,
            "oldest": horizon,
            "latest": top,
            "inclusive": "true",
        }
        async for items, _ in self.adapter.api.pages(
            "conversations.history", params, "messages", subject=channel.label
        ):
            cs = self.state.channels[channel.id]
            threads = dict(cs.threads)
            collected = _Collected(self.yielded)
            for raw in items:
                item = _dict(raw, f"message in {channel.label}")
                ts = _ts(item, "ts", f"message in {channel.label}")
                what = f"message {ts} in {channel.label}"
                if not _is_thread_parent(item, ts) or not _has_replies(item, what):
                    continue
                latest = _opt_ts(item, "latest_reply", what)
                known = threads.get(ts)
                if known is not None and (latest is None or ts_key(latest) <= ts_key(known)):
                    continue
                await self._collect(channel, item, ts, collected, threads)
            if collected.messages:
                self.state = self.state.with_channel(channel.id, attrs.evolve(cs, threads=threads))
                yield self.page(collected)

    async def _collect(
        self,
        channel: ChannelInfo,
        item: dict[str, Any],
        ts: str,
        collected: _Collected,
        threads: dict[str, str],
    ) -> None:
        """Map a listed message; a parent with replies brings its whole thread."""
        what = f"message {ts} in {channel.label}"
        mapped = self.adapter.message(item, channel)
        if mapped is not None:
            collected.add(*mapped)
        if not _is_thread_parent(item, ts) or not _has_replies(item, what):
            return
        newest: str | None = _opt_ts(item, "latest_reply", what)
        thread = await self.adapter.thread(channel, ts)
        parent_user = next(
            (r["parent_user_id"] for r in thread if isinstance(r.get("parent_user_id"), str)),
            None,
        )
        for reply in thread:
            reply_ts = _ts(reply, "ts", f"reply in {channel.label}")
            if reply_ts != ts:
                newest = _newest(newest, reply_ts)
            mapped = self.adapter.message(reply, channel, parent_user=parent_user)
            if mapped is not None:
                if reply_ts == ts:
                    collected.messages.pop(mapped[0].id, None)  # the thread's copy is newer
                collected.add(*mapped)
        if newest is not None:
            threads[ts] = newest


def create(config: SlackConfig, client: httpx.AsyncClient, context: SyncContext) -> SlackAdapter:
    """The factory registered for ``platform = "slack"``."""
    return SlackAdapter(config, client, context)
