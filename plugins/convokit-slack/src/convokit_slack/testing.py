"""A fake Slack Web API for tests: :class:`FakeSlack`, an ``httpx`` request handler.

It serves ``auth.test``, ``conversations.info``, ``conversations.list``,
``conversations.history`` and ``conversations.replies`` from messages you give it, the
way Slack does: ``ok``/``error`` bodies with HTTP 200, newest-first history honouring
``oldest``/``latest``/``inclusive``/``limit``, opaque ``next_cursor`` paging (ending
with ``""``, ``null`` or no ``response_metadata`` — all three occur), thread parents
carrying ``reply_count``/``latest_reply``, and ``ok: false`` for a bad token, an
unknown channel or a channel the app is not in. It is stateless between requests
(apart from counting them), so one instance serves any number of syncs.

Use it with ``httpx.MockTransport(fake.handler)``, as a respx side effect, or over real
HTTP on a loopback port with :func:`serve`.
"""

from __future__ import annotations

import base64
import contextlib
import json
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import attrs
import httpx

from ._adapter import CONTENT_SUBTYPES
from ._cursor import ChannelState, State
from ._ts import format_ts, ts_key

__all__ = ["FakeChannel", "FakeSlack", "generated_workspace", "serve"]


def _messages(value: Iterable[Mapping[str, Any]]) -> tuple[Mapping[str, Any], ...]:
    return tuple(value)


@attrs.frozen(kw_only=True)
class FakeChannel:
    """One conversation of the fake workspace.

    Attributes:
        id: ``C…`` (public), ``G…``/``C…`` with ``private=True``, or ``D…``.
        name: its name (``None`` for a DM).
        messages: every message event, parents and replies (``thread_ts`` set on
            replies), in any order; parents' ``reply_count``, ``reply_users``,
            ``reply_users_count`` and ``latest_reply`` are filled in from the replies.
        private: ``is_private``.
        member: whether the app is in it (else history answers ``not_in_channel``).
        created: epoch seconds of ``created``.
    """

    id: str
    name: str | None
    messages: tuple[Mapping[str, Any], ...] = attrs.field(converter=_messages, default=())
    private: bool = False
    member: bool = True
    created: int = 1_600_000_000

    def info(self) -> dict[str, Any]:
        """The channel object of ``conversations.info`` / ``.list``."""
        return {
            "id": self.id,
            "name": self.name,
            "is_channel": not self.private and not self.id.startswith("D"),
            "is_group": False,
            "is_im": self.id.startswith("D"),
            "is_mpim": False,
            "is_private": self.private,
            "created": self.created,
            "is_archived": False,
            "is_general": self.name == "general",
            "is_shared": False,
            "is_ext_shared": False,
            "is_org_shared": False,
            "is_member": self.member,
            "creator": "U0ADMIN01",
            "name_normalized": self.name,
            "topic": {"value": "", "creator": "", "last_set": 0},
            "purpose": {"value": "", "creator": "", "last_set": 0},
            "num_members": 12,
        }


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _unb64(text: str, prefix: str) -> str | None:
    try:
        raw = base64.b64decode(text.encode(), validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    return raw.removeprefix(prefix) if raw.startswith(prefix) else None


def _key(message: Mapping[str, Any]) -> tuple[int, int]:
    return ts_key(str(message["ts"]))


class FakeSlack:
    """A Slack workspace behind a request handler (see the module docstring).

    Args:
        token: the token requests must carry as ``Authorization: Bearer …``.
        channels: the workspace's conversations.
        team: ``team_id``; user_id / bot_id: what ``auth.test`` says we are.
        url: the workspace URL ``auth.test`` returns.
        limit_cap: the largest ``limit`` honoured (15 imitates a slow-tier app).
        ratelimit_every: answer every n-th history/replies request with HTTP 429,
            ``Retry-After: 30`` and ``{"ok": false, "error": "ratelimited"}`` (0: never).

    Attributes:
        requests: every request received, in order.
    """

    def __init__(
        self,
        *,
        token: str,
        channels: Sequence[FakeChannel],
        team: str = "T0ACME001",
        user_id: str = "U0ACMEBOT",
        bot_id: str | None = "B0ACMEBOT",
        url: str = "https://acme.slack.com/",
        limit_cap: int = 999,
        ratelimit_every: int = 0,
    ) -> None:
        self.token = token
        self.channels = {c.id: c for c in channels}
        self.team = team
        self.user_id = user_id
        self.bot_id = bot_id
        self.url = url
        self.limit_cap = limit_cap
        self.ratelimit_every = ratelimit_every
        self.requests: list[httpx.Request] = []
        self._limited = 0

    # -- what tests compare against ------------------------------------------------------

    def expected_ids(self) -> set[str]:
        """Every message id the adapter should store (system events excluded)."""
        return {
            f"{self.team}/{c.id}/{m['ts']}"
            for c in self.channels.values()
            if c.member
            for m in c.messages
            if m.get("subtype") in CONTENT_SUBTYPES
            and (m.get("hidden") is not True or m.get("subtype") == "tombstone")
        }

    def future_cursor(self, *, days: int = 365) -> str:
        """A cursor whose watermarks lie ``days`` after every message of the workspace."""
        states: dict[str, ChannelState] = {}
        for channel in self.channels.values():
            newest = max((_key(m) for m in channel.messages), default=(1_600_000_000, 0))
            states[channel.id] = ChannelState(
                watermark=format_ts((newest[0] + days * 86_400, newest[1]))
            )
        return State(team=self.team, channels=states).encode()

    # -- the handler ---------------------------------------------------------------------

    def handler(self, request: httpx.Request) -> httpx.Response:
        """Answer one Web API request."""
        self.requests.append(request)
        method = request.url.path.rsplit("/", 1)[-1]
        params = request.url.params
        auth = request.headers.get("authorization")
        if auth is None:
            return self._error("not_authed")
        if auth != f"Bearer {self.token}":
            return self._error("invalid_auth")
        if method in ("conversations.history", "conversations.replies") and self.ratelimit_every:
            self._limited += 1
            if self._limited % self.ratelimit_every == 0:
                return httpx.Response(
                    429,
                    json={"ok": False, "error": "ratelimited"},
                    headers={"Retry-After": "30"},
                )
        if method == "auth.test":
            body: dict[str, Any] = {
                "ok": True,
                "url": self.url,
                "team": "Acme",
                "user": "acme-support",
                "team_id": self.team,
                "user_id": self.user_id,
                "is_enterprise_install": False,
            }
            if self.bot_id:
                body["bot_id"] = self.bot_id
            return self._ok(body)
        if method == "conversations.list":
            return self._list(params)
        channel = self.channels.get(params.get("channel", ""))
        if channel is None:
            return self._error("channel_not_found")
        if method == "conversations.info":
            return self._ok({"ok": True, "channel": channel.info()})
        if not channel.member:
            return self._error("not_in_channel")
        if method == "conversations.history":
            return self._history(channel, params)
        if method == "conversations.replies":
            return self._replies(channel, params)
        return self._error("unknown_method")

    @staticmethod
    def _ok(body: dict[str, Any]) -> httpx.Response:
        return httpx.Response(
            200, content=json.dumps(body).encode(), headers={"content-type": "application/json"}
        )

    def _error(self, code: str, **extra: Any) -> httpx.Response:
        return self._ok({"ok": False, "error": code, **extra})

    def _limit(self, params: httpx.QueryParams, default: int) -> int:
        try:
            limit = int(params.get("limit", default))
        except ValueError:
            limit = default
        return max(1, min(limit, self.limit_cap))

    def _list(self, params: httpx.QueryParams) -> httpx.Response:
        items = [c.info() for c in self.channels.values() if not c.id.startswith("D")]
        start = 0
        if "cursor" in params:
            index = _unb64(params["cursor"], "next_index:")
            if index is None or not index.isdigit():
                return self._error("invalid_cursor")
            start = int(index)
        limit = self._limit(params, 100)
        page = items[start : start + limit]
        more = start + limit < len(items)
        meta = {"next_cursor": _b64(f"next_index:{start + limit}") if more else None}
        return self._ok({"ok": True, "channels": page, "response_metadata": meta})

    def _parents(self, channel: FakeChannel) -> list[dict[str, Any]]:
        """History-visible messages, newest first, with their thread summaries."""
        replies: dict[str, list[Mapping[str, Any]]] = {}
        for m in channel.messages:
            parent = m.get("thread_ts")
            if parent is not None and parent != m["ts"]:
                replies.setdefault(str(parent), []).append(m)
        out: list[dict[str, Any]] = []
        for m in channel.messages:
            parent = m.get("thread_ts")
            visible = parent is None or parent == m["ts"] or m.get("subtype") == "thread_broadcast"
            if not visible:
                continue
            item = dict(m)
            thread = sorted(replies.get(str(m["ts"]), []), key=_key)
            if thread:
                users = list(dict.fromkeys(str(r.get("user") or r.get("bot_id")) for r in thread))
                item.update(
                    thread_ts=m["ts"],
                    reply_count=len(thread),
                    reply_users_count=len(users),
                    reply_users=users,
                    latest_reply=thread[-1]["ts"],
                    is_locked=False,
                    subscribed=False,
                )
            out.append(item)
        return sorted(out, key=_key, reverse=True)

    def _history(self, channel: FakeChannel, params: httpx.QueryParams) -> httpx.Response:
        inclusive = params.get("inclusive") in ("true", "1")
        items = self._parents(channel)
        if "oldest" in params:
            low = ts_key(params["oldest"])
            items = [m for m in items if _key(m) > low or (inclusive and _key(m) == low)]
        if "latest" in params:
            high = ts_key(params["latest"])
            items = [m for m in items if _key(m) < high or (inclusive and _key(m) == high)]
        if "cursor" in params:
            start = _unb64(params["cursor"], "next_ts:")
            if start is None:
                return self._error("invalid_cursor")
            items = [m for m in items if _key(m) <= ts_key(start)]
        limit = self._limit(params, 100)
        page, rest = items[:limit], items[limit:]
        body: dict[str, Any] = {
            "ok": True,
            "messages": page,
            "has_more": bool(rest),
            "pin_count": 0,
            "channel_actions_ts": None,
            "channel_actions_count": 0,
            "response_metadata": {"next_cursor": _b64(f"next_ts:{rest[0]['ts']}") if rest else ""},
        }
        return self._ok(body)

    def _replies(self, channel: FakeChannel, params: httpx.QueryParams) -> httpx.Response:
        ts = params.get("ts", "")
        parents = {str(m["ts"]): m for m in self._parents(channel)}
        parent = parents.get(ts)
        if parent is None:
            return self._error("thread_not_found")
        thread = sorted(
            (m for m in channel.messages if m.get("thread_ts") == ts and m["ts"] != ts), key=_key
        )
        items: list[Mapping[str, Any]] = [parent, *thread]
        if "cursor" in params:
            start = _unb64(params["cursor"], "next_ts:")
            if start is None:
                return self._error("invalid_cursor")
            items = [m for m in items if _key(m) >= ts_key(start)]
        limit = self._limit(params, 1000)
        page, rest = items[:limit], items[limit:]
        body: dict[str, Any] = {"ok": True, "messages": page, "has_more": bool(rest)}
        if rest:
            body["response_metadata"] = {"next_cursor": _b64(f"next_ts:{rest[0]['ts']}")}
        return self._ok(body)


# -- a generated workspace ---------------------------------------------------------------


def _text_message(user: str, ts: str, text: str, **extra: Any) -> dict[str, Any]:
    return {
        "type": "message",
        "user": user,
        "text": text,
        "ts": ts,
        "team": "T0ACME001",
        "client_msg_id": f"{int(ts_key(ts)[0]):x}-{ts_key(ts)[1]:06d}-4a1b-9c2d-{user.lower()}",
        "blocks": [
            {
                "type": "rich_text",
                "block_id": ts.replace(".", "")[-5:],
                "elements": [
                    {"type": "rich_text_section", "elements": [{"type": "text", "text": text}]}
                ],
            }
        ],
        **extra,
    }


def _thread(base: int, index: int, channel: str) -> Iterable[dict[str, Any]]:
    """One generated thread: a customer asks, we answer, sometimes more happens."""
    customer = f"U0CUST{index:03d}"
    parent = format_ts((base, 100))  # trailing zeros that a float would lose
    kind = index % 5
    if kind == 3:
        # A deleted parent whose replies remain: Slack lists a tombstone.
        yield {
            "type": "message",
            "subtype": "tombstone",
            "text": "This message was deleted.",
            "user": "USLACKBOT",
            "hidden": True,
            "ts": parent,
        }
    else:
        yield _text_message(customer, parent, f"Hi <!here>, order #{index} never arrived")
    yield _text_message(
        "U0ACMEBOT",
        format_ts((base + 300, 0)),
        f"Sorry <@{customer}>! Checking order #{index} now.",
        thread_ts=parent,
        parent_user_id=customer,
        bot_id="B0ACMEBOT",
        app_id="A0ACMEAPP",
    )
    if kind in (0, 3):
        yield _text_message(
            customer,
            format_ts((base + 900, 200)),
            "Any news?",
            thread_ts=parent,
            parent_user_id=customer,
            edited={"user": customer, "ts": format_ts((base + 960, 0))},
        )
        yield _text_message(
            "U0TEAMKC1",
            format_ts((base + 1500, 10)),
            "It ships today, tracking in your inbox.",
            thread_ts=parent,
            parent_user_id=customer,
        )
    if kind == 0:
        yield _text_message(
            customer,
            format_ts((base + 1800, 0)),
            "One more thing: can I get the invoice too?",
            thread_ts=parent,
            parent_user_id=customer,
        )
    if kind == 1:
        yield {
            "type": "message",
            "subtype": "channel_join",
            "user": f"U0NEW{index:04d}",
            "text": f"<@U0NEW{index:04d}> has joined the channel",
            "ts": format_ts((base + 60, 0)),
        }
    if kind == 2:
        yield {
            "type": "message",
            "subtype": "bot_message",
            "text": f"Deploy {index} finished on <https://ci.example/{index}|CI>",
            "ts": format_ts((base + 120, 500)),
            "bot_id": "B0DEPLOY1",
            "username": "deploy-bot",
            "icons": {"emoji": ":rocket:"},
        }
    if kind == 4:
        yield _text_message(
            customer,
            format_ts((base + 1200, 0)),
            "Also sent to the channel: thanks!",
            thread_ts=parent,
            parent_user_id=customer,
            subtype="thread_broadcast",
            root={"ts": parent, "user": customer, "text": "..."},
        )


def generated_workspace(
    *, token: str, threads: int = 10, limit_cap: int = 999, ratelimit_every: int = 0
) -> FakeSlack:
    """A deterministic workspace: ``#support`` and ``#billing``, ``threads`` threads each.

    Threads hold customer questions, our bot's and a team member's (``U0TEAMKC1``)
    answers, a follow-up question nobody answered, edits, a ``channel_join``, a
    ``bot_message``, a deleted parent (tombstone) and a ``thread_broadcast``; every
    parent ``ts`` ends in ``.000100``.
    """
    channels = []
    for number, (cid, name) in enumerate((("C0SUPPORT", "support"), ("C0BILLING", "billing"))):
        messages: list[dict[str, Any]] = []
        for i in range(threads):
            base = 1_767_225_600 + number * 7 + i * 3_600
            messages += list(_thread(base, i, cid))
        channels.append(FakeChannel(id=cid, name=name, messages=tuple(messages)))
    return FakeSlack(
        token=token, channels=channels, limit_cap=limit_cap, ratelimit_every=ratelimit_every
    )


@contextlib.contextmanager
def serve(fake: FakeSlack, host: str = "127.0.0.1") -> Iterator[str]:
    """Serve ``fake`` over real HTTP on a loopback port; yields the ``api_url`` to use."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            request = httpx.Request(
                "GET",
                f"http://{host}:{server.server_port}{self.path}",
                headers=dict(self.headers.items()),
            )
            response = fake.handler(request)
            body = response.content
            self.send_response(response.status_code)
            for key, value in response.headers.items():
                if key.lower() not in ("content-length", "transfer-encoding", "connection"):
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer((host, 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="fake-slack", daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.server_port}/api/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
