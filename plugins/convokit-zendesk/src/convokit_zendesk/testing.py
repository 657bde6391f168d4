"""A fake Zendesk Support API for tests and demos (never a real server).

:class:`FakeZendesk` serves tickets, comments, audits and users (JSON objects in the
shapes of the Support API, supplied by the caller) on the routes the adapter reads, the
way Zendesk does:

- ``GET /api/v2/incremental/tickets/cursor.json`` with ``start_time`` (epoch seconds)
  or ``cursor``, ``per_page`` (at most 1000) and ``include=users``: tickets in
  ``(updated_at, id)`` order, ``after_cursor`` / ``after_url`` / ``before_cursor``,
  ``end_of_stream``; the last page, and an empty one, still hand out an
  ``after_cursor`` to resume from. A garbage cursor answers 422. ``overlap=True``
  repeats the last ticket of the previous page at the top of the next one (the
  overlapping page boundary of the export). At most ``export_limit`` export requests
  in any 60 seconds of ``clock``; more answer 429 with ``Retry-After``.
- ``GET /api/v2/tickets/{id}/comments.json`` and ``.../audits.json`` with cursor
  pagination (``page[size]`` at most 100, ``page[after]``; ``meta.has_more``,
  ``meta.after_cursor``, ``links.next``), ``include=users`` on comments; 404
  ``RecordNotFound`` for a deleted or unknown ticket.
- ``GET /api/v2/users/show_many.json?ids=…``.

Every route requires ``Authorization`` to be exactly ``authorization`` (401
``Couldn't authenticate you`` otherwise). ``sideload=False`` leaves ``users`` out of
every answer, so the adapter must look users up with ``show_many``.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from convokit_core import parse_datetime

__all__ = ["FakeZendesk", "basic_auth"]

_TICKET_ROUTE = re.compile(r"^/api/v2/tickets/(\d+)/(comments|audits)\.json$")


def basic_auth(email: str, api_token: str) -> str:
    """The ``Authorization`` header of API-token basic auth."""
    pair = f"{email}/token:{api_token}".encode()
    return "Basic " + base64.b64encode(pair).decode("ascii")


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(
        status,
        content=json.dumps(body).encode(),
        headers={"Content-Type": "application/json; charset=utf-8", **(headers or {})},
    )


def _token(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode("ascii").rstrip("=")


def _untoken(token: str) -> str:
    padded = token + "=" * (-len(token) % 4)
    return base64.urlsafe_b64decode(padded.encode("ascii")).decode("ascii")


def _epoch(value: str) -> int:
    return int(parse_datetime(value).timestamp())


class FakeZendesk:
    """One Zendesk account's tickets, comments, audits and users.

    Args:
        tickets, comments, audits, users: the data (``comments`` and ``audits`` map a
            ticket id, as a string, to its list). ``fake.tickets`` etc. stay plain
            lists and dicts: change them between requests to simulate updates.
        authorization: the one ``Authorization`` header accepted.
        origin: how ``after_url`` / ``links.next`` spell the server.
        sideload: include ``users`` when asked with ``include=users``.
        overlap: repeat the previous page's last ticket on the next export page.
        export_limit: export requests allowed in any 60 seconds of ``clock``.
        clock: seconds (default: a counter that never moves, so no limit is hit
            unless the test advances it or ``export_limit`` is low).
    """

    def __init__(
        self,
        *,
        tickets: list[dict[str, Any]],
        comments: dict[str, list[dict[str, Any]]],
        audits: dict[str, list[dict[str, Any]]],
        users: list[dict[str, Any]],
        authorization: str,
        origin: str = "https://acme.zendesk.com",
        sideload: bool = True,
        overlap: bool = False,
        export_limit: int = 1000,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.tickets = tickets
        self.comments = comments
        self.audits = audits
        self.users = users
        self.authorization = authorization
        self.origin = origin
        self.sideload = sideload
        self.overlap = overlap
        self.export_limit = export_limit
        self.clock = clock or (lambda: 0.0)
        self.requests: list[httpx.Request] = []
        self.export_times: list[float] = []
        self.rate_limited = 0
        self.before_request: Callable[[httpx.Request], None] | None = None

    @classmethod
    def from_directory(cls, directory: Path, **options: Any) -> FakeZendesk:
        """Load ``tickets.json``, ``comments.json``, ``audits.json`` and ``users.json``
        from ``directory`` (deep copies each time: tests may change them)."""

        def load(name: str) -> Any:
            return json.loads((directory / name).read_text(encoding="utf-8"))

        return cls(
            tickets=load("tickets.json"),
            comments=load("comments.json"),
            audits=load("audits.json"),
            users=load("users.json"),
            **options,
        )

    # -- helpers -------------------------------------------------------------------------

    def _users_for(self, ids: set[int]) -> list[dict[str, Any]]:
        return [u for u in self.users if u["id"] in ids]

    def _sideload(self, body: dict[str, Any], request: httpx.Request, ids: set[int]) -> None:
        include = request.url.params.get("include", "")
        if self.sideload and "users" in include.split(","):
            body["users"] = self._users_for(ids)

    def _position(self, ticket: dict[str, Any]) -> tuple[int, int]:
        return (_epoch(ticket["updated_at"]), int(ticket["id"]))

    def cursor_for(self, updated: int, ticket_id: int) -> str:
        """An export cursor that resumes after ``(updated, ticket_id)``."""
        return _token(f"{updated}.0||{ticket_id}|")

    def _decode_cursor(self, token: str) -> tuple[int, int] | None:
        try:
            stamp, _, rest = _untoken(token).partition("||")
            return (int(float(stamp)), int(rest.rstrip("|")))
        except (ValueError, binascii.Error, UnicodeDecodeError):
            return None

    # -- routes --------------------------------------------------------------------------

    def _export(self, request: httpx.Request) -> httpx.Response:
        now = self.clock()
        recent = [t for t in self.export_times if t > now - 60.0]
        if len(recent) >= self.export_limit:
            self.rate_limited += 1
            wait = max(1, int(recent[0] + 60.0 - now + 0.999))
            return _json(
                429,
                {"error": "APIRateLimitExceeded", "description": "Rate limit exceeded"},
                {"Retry-After": str(wait)},
            )
        self.export_times.append(now)
        params = request.url.params
        per_page = min(int(params.get("per_page", "1000")), 1000)
        if "cursor" in params:
            position = self._decode_cursor(params["cursor"])
            if position is None:
                return _json(422, {"error": "InvalidPaginationParameter", "description": "bad"})
        elif "start_time" in params:
            # On or after start_time: just before its first second.
            position = (int(params["start_time"]) - 1, 2**62)
        else:
            return _json(400, {"error": "InvalidValue", "description": "start_time is missing"})
        ordered = sorted(self.tickets, key=self._position)
        after = [t for t in ordered if self._position(t) > position]
        previous = [t for t in ordered if self._position(t) <= position]
        repeat = self.overlap and "cursor" in params and bool(previous) and bool(after)
        fresh = after[: per_page - 1] if repeat and per_page > 1 else after[:per_page]
        page = [previous[-1], *fresh] if repeat else fresh
        end = len(after) <= len(fresh)
        last = self._position(fresh[-1]) if fresh else position
        token = self.cursor_for(*last)
        body: dict[str, Any] = {
            "tickets": page,
            "after_url": f"{self.origin}/api/v2/incremental/tickets/cursor.json?cursor={token}",
            "after_cursor": token,
            "before_url": None,
            "before_cursor": None,
            "end_of_stream": end,
        }
        ids: set[int] = set()
        for ticket in page:
            for key in ("requester_id", "submitter_id", "assignee_id"):
                if isinstance(ticket.get(key), int):
                    ids.add(ticket[key])
        self._sideload(body, request, ids)
        return _json(200, body)

    def _paged(self, request: httpx.Request, ticket: str, kind: str) -> httpx.Response:
        known = {str(t["id"]): t for t in self.tickets}
        if ticket not in known or known[ticket]["status"] == "deleted":
            return _json(404, {"error": "RecordNotFound", "description": "Not found"})
        items = sorted(
            (self.comments if kind == "comments" else self.audits).get(ticket, []),
            key=lambda i: (i["created_at"], i["id"]),
        )
        params = request.url.params
        size = min(int(params.get("page[size]", "100")), 100)
        start = 0
        if "page[after]" in params:
            try:
                start = int(_untoken(params["page[after]"]))
            except (ValueError, binascii.Error, UnicodeDecodeError):
                return _json(400, {"error": "InvalidPaginationParameter", "description": "bad"})
        chunk = items[start : start + size]
        more = start + size < len(items)
        after = _token(str(start + len(chunk))) if chunk else None
        path = f"{self.origin}/api/v2/tickets/{ticket}/{kind}.json"
        body: dict[str, Any] = {
            kind: chunk,
            "meta": {
                "has_more": more,
                "after_cursor": after,
                "before_cursor": _token(str(start)) if chunk else None,
            },
            "links": {
                "prev": None,
                "next": f"{path}?page%5Bafter%5D={after}&page%5Bsize%5D={size}" if more else None,
            },
        }
        if kind == "comments":
            self._sideload(body, request, {int(c["author_id"]) for c in chunk})
        return _json(200, body)

    def _show_many(self, request: httpx.Request) -> httpx.Response:
        raw = request.url.params.get("ids", "")
        ids = {int(i) for i in raw.split(",") if i.strip().isdigit()}
        return _json(200, {"users": self._users_for(ids)})

    def __call__(self, request: httpx.Request) -> httpx.Response:
        """Answer one request (usable as a ``MockTransport`` handler)."""
        self.requests.append(request)
        if self.before_request is not None:
            self.before_request(request)
        if request.headers.get("authorization") != self.authorization:
            return _json(401, {"error": "Couldn't authenticate you"})
        path = request.url.path
        if path == "/api/v2/incremental/tickets/cursor.json":
            return self._export(request)
        if path == "/api/v2/users/show_many.json":
            return self._show_many(request)
        match = _TICKET_ROUTE.match(path)
        if match:
            return self._paged(request, match.group(1), match.group(2))
        return _json(404, {"error": "InvalidEndpoint", "description": "Not found"})

    # -- what the adapter should produce -------------------------------------------------

    def message_ids(self, instance: str = "acme") -> set[str]:
        """Every comment of every ticket that is not deleted, as ``Message.id``."""
        live = {str(t["id"]) for t in self.tickets if t["status"] != "deleted"}
        return {
            f"{instance}/comments/{c['id']}"
            for ticket, items in self.comments.items()
            if ticket in live
            for c in items
        }

    def latest(self) -> datetime:
        """The newest ``updated_at`` of the data."""
        return max(parse_datetime(t["updated_at"]) for t in self.tickets)
