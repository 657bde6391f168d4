"""A small reference adapter for the tests: a JSON API paged with ``?after=``.

``GET /api/items?after=<id>&limit=N`` answers ``{"items": [...], "next": "<id>"|null}``;
each item is ``{"id": "0007", "author": "ana", "text": "...", "at": "2024-…Z",
"reply_to": "0006"}``.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import httpx

from convokit_core._errors import MalformedPayload
from convokit_core._http import HttpClient, RetryPolicy
from convokit_core._model import Message, Page, Stakeholder
from convokit_core._sync._context import SyncContext

PLATFORM = "toy"
T0 = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)


@attrs.frozen(kw_only=True)
class ToyConfig:
    """Config of the toy platform."""

    url: str
    token: str = attrs.field(repr=False, metadata={"secret": True})
    limit: int = 3
    account: str = "acme"
    people: bool = False
    """Also yield a Stakeholder (with its handle) for every inbound author."""


class ToyAdapter:
    def __init__(self, config: ToyConfig, client: httpx.AsyncClient, context: SyncContext):
        self.config = config
        self.context = context.with_own_handles(config.account)
        self.http = HttpClient(
            client,
            base_url=config.url,
            secret_headers={"Authorization": f"Bearer {config.token}"},
            policy=RetryPolicy(max_retries=3, backoff_base=0.01, budget=5.0),
        )

    def __repr__(self) -> str:
        return f"<ToyAdapter {self.config.url}>"

    async def fetch(self, cursor: str | None) -> AsyncIterator[Page]:
        if cursor is not None and not re.fullmatch(r"[0-9]{4}", cursor):
            raise MalformedPayload(f"not a toy cursor (four digits): {cursor[:20]!r}")
        after = cursor
        while True:
            params: dict[str, Any] = {"limit": self.config.limit}
            if after is not None:
                params["after"] = after
            data = await self.http.get_json("/api/items", params=params)
            if not isinstance(data, dict) or not isinstance(data.get("items"), list):
                raise MalformedPayload(f"expected {{'items': [...]}}, got {str(data)[:80]}")
            messages = []
            for item in data["items"]:
                try:
                    messages.append(
                        Message(
                            id=str(item["id"]),
                            platform=PLATFORM,
                            conversation_id="c" + str(int(item["id"]) // 5),
                            author_id=item["author"],
                            direction="outbound"
                            if self.context.is_ours(item["author"])
                            else "inbound",
                            sent_at=datetime.fromisoformat(item["at"]),
                            text=item["text"],
                            in_reply_to=item.get("reply_to"),
                        )
                    )
                except (KeyError, TypeError, ValueError) as exc:
                    raise MalformedPayload(f"bad item: {exc}") from None
            if not messages:
                return
            after = messages[-1].id
            people = [
                Stakeholder(id=m.author_id, identities={PLATFORM: m.author_id})
                for m in messages
                if m.direction == "inbound" and self.config.people
            ]
            fields: dict[str, Any] = {"messages": messages, "stakeholders": people, "cursor": after}
            yield Page(**fields)
            if data.get("next") is None:
                return


def create(config: ToyConfig, client: httpx.AsyncClient, context: SyncContext) -> ToyAdapter:
    return ToyAdapter(config, client, context)


class ToyServer:
    """Serves ``count`` items; ids are zero-padded so string order is numeric order."""

    def __init__(self, count: int = 10, *, token: str = "toy-secret-token") -> None:
        self.items = [
            {
                "id": f"{i:04d}",
                "author": "acme" if i % 3 == 0 else f"user{i}",
                "text": f"item {i}",
                "at": (T0 + timedelta(minutes=i)).isoformat(),
                # Within a conversation (five ids each), each item answers the one before.
                "reply_to": f"{i - 1:04d}" if i % 5 else None,
            }
            for i in range(1, count + 1)
        ]
        self.token = token

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return httpx.Response(401, json={"error": "The access token is invalid"})
        if request.url.path != "/api/items":
            return httpx.Response(404, json={"error": "Record not found"})
        after = request.url.params.get("after")
        limit = int(request.url.params.get("limit", "3"))
        rest = [i for i in self.items if after is None or i["id"] > after]
        chunk = rest[:limit]
        more = len(rest) > limit
        body = {"items": chunk, "next": chunk[-1]["id"] if more else None}
        return httpx.Response(
            200, content=json.dumps(body).encode(), headers={"content-type": "application/json"}
        )
