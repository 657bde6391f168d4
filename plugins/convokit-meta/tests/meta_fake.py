"""A fake Graph API serving the fixtures the way Meta does (for MockTransport, respx, loopback).

- ``GET /v24.0/{id}`` answers the object; ``GET /v24.0/{id}/{edge}`` pages the edge
  with ``limit`` and an opaque ``after`` cursor, ``paging.cursors`` and a
  ``paging.next`` URL that, like Meta's, carries ``access_token`` in its query; the last
  page has no ``next``.
- Instagram comments embed their first two ``replies`` with their own ``paging``.
- The bearer token is checked (HTTP 400, code 190 otherwise); usage headers and
  throttling errors can be injected.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx

FIXTURES = Path(__file__).parent / "fixtures"
VERSION = "v24.0"
EMBEDDED_REPLIES = 2


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    return data


def graph_error(code: int, message: str, *, transient: bool = False) -> dict[str, Any]:
    return {
        "error": {
            "message": message,
            "type": "OAuthException",
            "code": code,
            "is_transient": transient,
            "error_subcode": 2446079 if code == 80001 else None,
            "fbtrace_id": "AbCdEfGh123",
        }
    }


class FakeGraph:
    """The Graph API of one Page or Instagram account, from a fixture file."""

    def __init__(self, fixture: str, *, token: str, page_size: int = 2) -> None:
        data = load(fixture)
        self.objects: dict[str, Any] = data["objects"]
        self.edges: dict[str, list[dict[str, Any]]] = data["edges"]
        self.token = token
        self.page_size = page_size
        self.requests: list[httpx.Request] = []
        self.usage: dict[str, str] = {}
        self.faults: list[httpx.Response] = []

    def _cursor(self, offset: int) -> str:
        return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode().rstrip("=")

    def _offset(self, cursor: str) -> int | None:
        try:
            text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        except (ValueError, UnicodeDecodeError):
            return None
        prefix, _, number = text.partition(":")
        return int(number) if prefix == "offset" and number.isdigit() else None

    def _page(
        self, request: httpx.Request, path: str, rows: list[dict[str, Any]], start: int, limit: int
    ) -> dict[str, Any]:
        chunk = rows[start : start + limit]
        body: dict[str, Any] = {"data": chunk}
        if chunk:
            body["paging"] = {
                "cursors": {
                    "before": self._cursor(start),
                    "after": self._cursor(start + len(chunk)),
                }
            }
            if start + len(chunk) < len(rows):
                params = dict(request.url.params)
                params.update(access_token=self.token, after=self._cursor(start + len(chunk)))
                body["paging"]["next"] = str(
                    httpx.URL(f"https://graph.facebook.com/{VERSION}/{path}", params=params)
                )
        return body

    def _embed(self, request: httpx.Request, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out = []
        for row in rows:
            replies = self.edges.get(f"{row['id']}/replies")
            if replies:
                row = {
                    **row,
                    "replies": self._page(
                        request, f"{row['id']}/replies", replies, 0, EMBEDDED_REPLIES
                    ),
                }
            out.append(row)
        return out

    def respond(
        self, status: int, body: Any, headers: Mapping[str, str] | None = None
    ) -> httpx.Response:
        return httpx.Response(status, json=body, headers={**self.usage, **(headers or {})})

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.faults:
            return self.faults.pop(0)
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return self.respond(
                400, graph_error(190, "Invalid OAuth access token - Cannot parse access token")
            )
        parts = request.url.path.strip("/").split("/")
        if VERSION not in parts or parts[-1] == VERSION:
            return self.respond(400, graph_error(2500, "Unknown path components"))
        parts = parts[parts.index(VERSION) + 1 :]
        path = "/".join(parts)
        if len(parts) == 1:
            node = self.objects.get(parts[0])
            if node is None:
                return self.respond(
                    400, graph_error(100, "Unsupported get request. Object does not exist")
                )
            return self.respond(200, node)
        rows = self.edges.get(path)
        if rows is None:
            rows = [] if parts[-1] in ("comments", "replies", "messages") else None
        if rows is None:
            return self.respond(400, graph_error(100, "Tried accessing nonexisting field"))
        start = 0
        after = request.url.params.get("after")
        if after is not None:
            offset = self._offset(after)
            if offset is None:
                return self.respond(400, graph_error(100, "Invalid cursor"))
            start = offset
        limit = min(int(request.url.params.get("limit", "25")), self.page_size)
        body = self._page(request, path, rows, start, limit)
        if parts[-1] == "comments" and "replies" in request.url.params.get("fields", ""):
            body["data"] = self._embed(request, body["data"])
        return self.respond(200, body)

    def expected_ids(self) -> set[str]:
        ids = set()
        for path, rows in self.edges.items():
            if path.endswith("/conversations"):
                continue
            ids |= {row["id"] for row in rows}
        return ids
