"""A fake Mastodon server for tests and benchmarks (never a real server).

:class:`FakeMastodon` holds a deterministic set of accounts, threads and notifications
in the shapes of Mastodon's REST API v1 (Account, Status, Notification, Context) and
answers the endpoints the adapter uses, with ``min_id``/``max_id`` paging and ``Link``
headers, ``X-RateLimit-*`` headers (reset as an ISO 8601 timestamp) and optional faults.

Serve it through an :class:`httpx.MockTransport` (:meth:`FakeMastodon.handler`) or as a
real HTTP server on loopback (:func:`serve`).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx

__all__ = ["FakeMastodon", "serve"]

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
OUR_ID = "109000000000000001"
_STATUS_BASE = 110_000_000_000_000_000
_NOTIFICATION_BASE = 3_400_000


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class FakeMastodon:
    """Deterministic Mastodon data and the endpoints the adapter reads.

    Args:
        threads: how many conversations to generate (five kinds, in rotation).
        token: the bearer token the server accepts.
        host: the instance host used for local accounts' URLs.
        fault_every: answer every Nth request with a transient fault (429 with an ISO
            reset header, 503 with an HTML body, 500, 502), cycling; ``None``: never.
        delay: seconds every request takes (a real server's latency).
    """

    def __init__(
        self,
        threads: int = 12,
        *,
        token: str = "fake-mastodon-token-0123456789",
        host: str = "mastodon.example",
        fault_every: int | None = None,
        delay: float = 0.0,
        username: str = "acme",
    ) -> None:
        self.token = token
        self.host = host
        self.fault_every = fault_every
        self.delay = delay
        self.requests = 0
        self.faults = 0
        self._lock = threading.Lock()
        self.accounts: dict[str, dict[str, Any]] = {}
        self.statuses: dict[str, dict[str, Any]] = {}
        self.deleted: set[str] = set()
        self.notifications: list[dict[str, Any]] = []
        self._children: dict[str, list[str]] = {}
        self._clock = T0
        self._next_status = _STATUS_BASE
        self.us = self._account(OUR_ID, username, None, "ACME Support")
        self.team = self._account("109000000000000002", "kc", None, "KC (ACME)")
        people = [
            self._account("109000000000000003", "ana", None, "Ana"),
            self._account("209000000000000004", "bob", "other.example", "Bob"),
            self._account("309000000000000005", "carol", "social.example", "Carol 🌻"),
        ]
        self.bot = self._account("409000000000000006", "helpbot", "bots.example", "Help Bot")
        self.bot["bot"] = True
        for index in range(threads):
            person = people[index % len(people)]
            self._make_thread(index % 5, person)

    # -- data ----------------------------------------------------------------------------

    def _account(self, id: str, username: str, domain: str | None, name: str) -> dict[str, Any]:
        host = domain or self.host
        account = {
            "id": id,
            "username": username,
            "acct": username if domain is None else f"{username}@{domain}",
            "display_name": name,
            "locked": False,
            "bot": False,
            "discoverable": True,
            "group": False,
            "created_at": "2022-11-05T00:00:00.000Z",
            "note": "<p>Hello</p>",
            "url": f"https://{host}/@{username}",
            "avatar": f"https://{host}/avatars/{id}.png",
            "followers_count": 10,
            "following_count": 5,
            "statuses_count": 42,
            "last_status_at": "2026-03-02",
            "emojis": [],
            "fields": [],
        }
        self.accounts[id] = account
        return account

    def _status(
        self,
        account: dict[str, Any],
        html: str,
        *,
        reply_to: dict[str, Any] | None = None,
        mentions: list[dict[str, Any]] = (),  # type: ignore[assignment]
        visibility: str = "public",
        spoiler: str = "",
        edited: bool = False,
    ) -> dict[str, Any]:
        self._next_status += 1_000_003
        self._clock += timedelta(minutes=7, seconds=13)
        status_id = str(self._next_status)
        host = self.host
        status = {
            "id": status_id,
            "created_at": _iso(self._clock),
            "in_reply_to_id": reply_to["id"] if reply_to else None,
            "in_reply_to_account_id": reply_to["account"]["id"] if reply_to else None,
            "sensitive": bool(spoiler),
            "spoiler_text": spoiler,
            "visibility": visibility,
            "language": "en",
            "uri": f"https://{host}/users/{account['username']}/statuses/{status_id}",
            "url": f"https://{host}/@{account['acct']}/{status_id}",
            "replies_count": 0,
            "reblogs_count": 0,
            "favourites_count": 0,
            "edited_at": _iso(self._clock + timedelta(minutes=3)) if edited else None,
            "favourited": False,
            "reblogged": False,
            "muted": False,
            "bookmarked": False,
            "content": html,
            "reblog": None,
            "application": {"name": "Web", "website": None},
            "account": account,
            "media_attachments": [],
            "mentions": [
                {"id": m["id"], "username": m["username"], "url": m["url"], "acct": m["acct"]}
                for m in mentions
            ],
            "tags": [],
            "emojis": [],
            "card": None,
            "poll": None,
        }
        self.statuses[status_id] = status
        self._children.setdefault(status_id, [])
        if reply_to is not None:
            self._children[reply_to["id"]].append(status_id)
            reply_to["replies_count"] += 1
        if any(m["id"] == OUR_ID for m in mentions) and account["id"] != OUR_ID:
            self._notify(status)
        return status

    def _notify(self, status: dict[str, Any]) -> None:
        number = _NOTIFICATION_BASE + len(self.notifications) * 17 + 1
        self.notifications.append(
            {
                "id": str(number),
                "type": "mention",
                "group_key": f"ungrouped-{number}",
                "created_at": status["created_at"],
                "account": status["account"],
                "status": status,
            }
        )

    def _mention(self, account: dict[str, Any]) -> str:
        return (
            f'<span class="h-card" translate="no"><a href="{account["url"]}" '
            f'class="u-url mention">@<span>{account["username"]}</span></a></span>'
        )

    def _make_thread(self, kind: int, person: dict[str, Any]) -> None:
        us, kc, me = self.us, self.team, self._mention
        if kind == 0:  # a stakeholder asks; we answer; they follow up; a colleague closes
            root = self._status(
                person,
                f"<p>{me(us)} my order #1234 never arrived &amp; nobody answers 😠</p>",
                mentions=[us],
            )
            ours = self._status(
                us,
                f"<p>{me(person)} sorry! Could you DM us the order number?</p>",
                reply_to=root,
                mentions=[person],
            )
            again = self._status(
                person,
                f"<p>{me(us)} sent it.<br>Thanks for the quick reply</p>",
                reply_to=ours,
                mentions=[us],
            )
            self._status(
                kc,
                f"<p>{me(person)} refund is on its way, see "
                '<a href="https://acme.example/help/refunds" rel="nofollow noopener" '
                'target="_blank"><span class="invisible">https://</span>'
                '<span class="">acme.example/help/refunds</span>'
                '<span class="invisible"></span></a></p>',
                reply_to=again,
                mentions=[person],
            )
        elif kind == 1:  # our announcement; a stakeholder replies; we answer
            root = self._status(us, "<p>We are launching v2 today! 🎉</p><p>Details soon.</p>")
            question = self._status(
                person, f"<p>{me(us)} will v2 support exports?</p>", reply_to=root, mentions=[us]
            )
            self._status(
                us, f"<p>{me(person)} yes, CSV and JSON.</p>", reply_to=question, mentions=[person]
            )
        elif kind == 2:  # our standalone post: channel activity only
            self._status(us, "<p>Maintenance tonight 22:00 to 23:00 UTC.</p>")
        elif kind == 3:  # a mention deleted before we synced it (context answers 404)
            gone = self._status(
                person, f"<p>{me(us)} never mind, found it</p>", mentions=[us], visibility="direct"
            )
            self.deleted.add(gone["id"])
        else:  # an edited complaint with a content warning, and a bot's reply
            root = self._status(
                person,
                f"<p>{me(us)} the app crashes on start <br />(edited: on Android 14)</p>",
                mentions=[us],
                spoiler="bug report",
                edited=True,
            )
            self._status(
                self.bot,
                f"<p>{me(person)} {me(us)} thanks, ticket #77 opened automatically.</p>",
                reply_to=root,
                mentions=[person, us],
            )

    # -- what the adapter must end up with ----------------------------------------------

    def qualified(self, status_id: str) -> str:
        """A status id as the adapter stores it."""
        return f"{status_id}@{self.host}"

    def expected_ids(self) -> set[str]:
        """Every status the adapter must store: all of them (deleted mentions included)."""
        return {self.qualified(s) for s in self.statuses}

    def max_ids_cursor(self) -> str:
        """A cursor past everything the server holds."""
        return json.dumps(
            {
                "v": 1,
                "mentions": str(_NOTIFICATION_BASE + 10**9),
                "statuses": str(_STATUS_BASE + 10**15),
            },
            separators=(",", ":"),
        )

    # -- HTTP ----------------------------------------------------------------------------

    def respond(
        self, method: str, url: str, headers: dict[str, str]
    ) -> tuple[int, dict[str, str], bytes]:
        """Answer one request: ``(status, headers, body)``."""
        if self.delay:
            time.sleep(self.delay)
        with self._lock:
            self.requests += 1
            number = self.requests
        reset = _iso(datetime.now(UTC).replace(microsecond=0))
        limit_headers = {
            "X-RateLimit-Limit": "300",
            "X-RateLimit-Remaining": "299",
            "X-RateLimit-Reset": reset,
        }
        if self.fault_every and number % self.fault_every == 0:
            with self._lock:
                self.faults += 1
                kind = self.faults % 4
            if kind == 1:
                return (
                    429,
                    {**limit_headers, "X-RateLimit-Remaining": "0"},
                    b'{"error":"Too many requests"}',
                )
            if kind == 2:
                return 503, {"Content-Type": "text/html"}, b"<html><body>503</body></html>"
            if kind == 3:
                return 500, {}, b'{"error":"We\'re sorry, something went wrong"}'
            return 502, {"Content-Type": "text/html"}, b"<html>Bad Gateway</html>"
        auth = {k.lower(): v for k, v in headers.items()}.get("authorization")
        if auth != f"Bearer {self.token}":
            return 401, limit_headers, b'{"error":"The access token is invalid"}'
        if method != "GET":
            return 405, limit_headers, b'{"error":"Method not allowed"}'
        parts = urlsplit(url)
        query = parse_qsl(parts.query, keep_blank_values=True)
        params: dict[str, list[str]] = {}
        for key, value in query:
            params.setdefault(key, []).append(value)
        path = parts.path.rstrip("/")
        origin = f"{parts.scheme}://{parts.netloc}"
        segments = path.split("/")
        if path == "/api/v1/accounts/lookup":
            acct = (params.get("acct") or [""])[0].lower().removeprefix("@")
            for account in self.accounts.values():
                full = (
                    account["acct"] if "@" in account["acct"] else f"{account['acct']}@{self.host}"
                )
                if acct in (account["acct"].lower(), full.lower()):
                    return 200, limit_headers, json.dumps(account).encode()
            return 404, limit_headers, b'{"error":"Record not found"}'
        if path == "/api/v1/notifications":
            types = params.get("types[]") or []
            items = [n for n in self.notifications if (not types or n["type"] in types)]
            return self._page(items, params, origin, path, query, limit_headers, max_limit=80)
        if (
            len(segments) == 6
            and segments[1:4] == ["api", "v1", "accounts"]
            and segments[5] == "statuses"
        ):
            account_id = segments[4]
            if account_id not in self.accounts:
                return 404, limit_headers, b'{"error":"Record not found"}'
            items = [
                s
                for s in self.statuses.values()
                if s["account"]["id"] == account_id and s["id"] not in self.deleted
            ]
            return self._page(items, params, origin, path, query, limit_headers, max_limit=40)
        if (
            len(segments) == 6
            and segments[1:4] == ["api", "v1", "statuses"]
            and segments[5] == "context"
        ):
            status_id = segments[4]
            if status_id not in self.statuses or status_id in self.deleted:
                return 404, limit_headers, b'{"error":"Record not found"}'
            return 200, limit_headers, json.dumps(self._context(status_id)).encode()
        return 404, limit_headers, b'{"error":"Record not found"}'

    def _context(self, status_id: str) -> dict[str, Any]:
        ancestors: list[dict[str, Any]] = []
        current = self.statuses[status_id]
        while current["in_reply_to_id"] is not None:
            current = self.statuses[current["in_reply_to_id"]]
            ancestors.insert(0, current)
        descendants: list[dict[str, Any]] = []

        def walk(parent: str) -> None:
            for child in self._children.get(parent, []):
                if child not in self.deleted:
                    descendants.append(self.statuses[child])
                    walk(child)

        walk(status_id)
        return {"ancestors": ancestors, "descendants": descendants}

    @staticmethod
    def _page(
        items: list[dict[str, Any]],
        params: dict[str, list[str]],
        origin: str,
        path: str,
        query: list[tuple[str, str]],
        headers: dict[str, str],
        *,
        max_limit: int,
    ) -> tuple[int, dict[str, str], bytes]:
        try:
            limit = min(max_limit, max(1, int((params.get("limit") or ["20"])[0])))
        except ValueError:
            return 422, headers, b'{"error":"limit must be a number"}'
        ordered = sorted(items, key=lambda i: int(i["id"]))
        min_id = params["min_id"][0] if params.get("min_id") else None
        max_id = params["max_id"][0] if params.get("max_id") else None
        since_id = params["since_id"][0] if params.get("since_id") else None
        if max_id is not None:
            ordered = [i for i in ordered if int(i["id"]) < int(max_id)]
        if since_id is not None:
            ordered = [i for i in ordered if int(i["id"]) > int(since_id)]
        if min_id is not None:
            chosen = [i for i in ordered if int(i["id"]) > int(min_id)][:limit]
        else:
            chosen = ordered[-limit:]
        chosen = list(reversed(chosen))  # newest first, always
        out = dict(headers, **{"Content-Type": "application/json; charset=utf-8"})
        if chosen:
            keep = [(k, v) for k, v in query if k not in ("min_id", "max_id", "since_id")]
            older = urlencode([*keep, ("max_id", chosen[-1]["id"])])
            newer = urlencode([*keep, ("min_id", chosen[0]["id"])])
            out["Link"] = (
                f'<{origin}{path}?{older}>; rel="next", <{origin}{path}?{newer}>; rel="prev"'
            )
        return 200, out, json.dumps(chosen).encode()

    def handler(self, request: httpx.Request) -> httpx.Response:
        """An :class:`httpx.MockTransport` handler serving this fake."""
        status, headers, body = self.respond(
            request.method, str(request.url), dict(request.headers)
        )
        headers.setdefault("Content-Type", "application/json; charset=utf-8")
        return httpx.Response(status, headers=headers, content=body)


@contextmanager
def serve(fake: FakeMastodon, host: str = "127.0.0.1") -> Iterator[str]:
    """Serve ``fake`` over real HTTP on a loopback port; yields its base URL."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out in separate writes

        def do_GET(self) -> None:
            origin = f"http://{self.headers.get('Host') or host}"
            status, headers, body = fake.respond(
                "GET", origin + self.path, dict(self.headers.items())
            )
            self.send_response(status)
            headers.setdefault("Content-Type", "application/json; charset=utf-8")
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer((host, 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="fake-mastodon", daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
