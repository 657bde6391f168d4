"""A fake Bluesky PDS serving the JSON fixtures in ``fixtures/``, and test helpers."""

from __future__ import annotations

import asyncio
import copy
import json
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import respx

from convokit_core import SyncContext

FIXTURES = Path(__file__).parent / "fixtures"
SERVICE = "https://pds.test"
HANDLE = "acme.bsky.social"
APP_PASSWORD = "abcd-efgh-ijkl-mnop"


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


SESSION = load("create_session.json")
REFRESHED = load("refresh_session.json")
OUR_DID: str = SESSION["did"]
NOTIFICATIONS_CURSOR = load("notifications_1.json")["cursor"]
FEED_CURSOR = load("author_feed_1.json")["cursor"]
DELETED_ROOT = "at://did:plc:3pm3vv47dwcluigas4mjcufg/app.bsky.feed.post/3la74wfnrk22b"


def _xrpc_error(status: int, name: str, message: str) -> httpx.Response:
    return httpx.Response(status, json={"error": name, "message": message})


class FakeBluesky:
    """Answers the XRPC methods the adapter uses, from the fixtures.

    ``calls`` counts requests per method; ``expire_access()`` makes the current access
    token answer ``ExpiredToken`` until the session is refreshed; ``faults`` is a list
    of responses (or exceptions) served, in order, to queries (not to session calls)
    before any real answer.
    """

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.access = ""
        self.refresh = ""
        self.sessions = 0
        self.expired: set[str] = set()
        self.refresh_rejected = False
        self.faults: list[httpx.Response | Exception] = []
        self.notification_pages: dict[str | None, dict[str, Any]] = {
            None: load("notifications_1.json"),
            NOTIFICATIONS_CURSOR: load("notifications_2.json"),
        }
        self.feed_pages: dict[str | None, dict[str, Any]] = {
            None: load("author_feed_1.json"),
            FEED_CURSOR: load("author_feed_2.json"),
        }
        self.threads: dict[str, dict[str, Any]] = {}
        for name in ("thread_a.json", "thread_b.json", "thread_f.json", "thread_c_dave.json"):
            data = load(name)
            self.threads[data["thread"]["post"]["uri"]] = data
        self.requests: list[httpx.Request] = []

    def expire_access(self) -> None:
        self.expired.add(self.access)

    def add_notification(self, notification: dict[str, Any]) -> None:
        """A new notification arrives (newest first, on the first page)."""
        page = self.notification_pages[None]
        page["notifications"].insert(0, notification)

    # -- respx ---------------------------------------------------------------------------

    def install(self, router: respx.MockRouter) -> None:
        router.route(host="pds.test").mock(side_effect=self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        nsid = request.url.path.removeprefix("/xrpc/")
        self.calls[nsid] += 1
        if self.faults and not nsid.startswith("com.atproto.server."):
            fault = self.faults.pop(0)
            if isinstance(fault, Exception):
                raise fault
            return fault
        if nsid == "com.atproto.server.createSession":
            body = json.loads(request.content)
            if body != {"identifier": HANDLE, "password": APP_PASSWORD}:
                return _xrpc_error(401, "AuthenticationRequired", "Invalid identifier or password")
            if "authorization" in request.headers:
                return _xrpc_error(400, "InvalidRequest", "unexpected Authorization header")
            # Every session gets tokens of its own.
            self.sessions += 1
            answer = dict(SESSION)
            if self.sessions > 1:
                answer["accessJwt"] += f"-{self.sessions}"
                answer["refreshJwt"] += f"-{self.sessions}"
            self.access, self.refresh = answer["accessJwt"], answer["refreshJwt"]
            return httpx.Response(200, json=answer)
        auth = request.headers.get("authorization", "")
        if nsid == "com.atproto.server.refreshSession":
            if self.refresh_rejected or auth != f"Bearer {self.refresh}":
                return _xrpc_error(400, "ExpiredToken", "Token has been revoked")
            self.access, self.refresh = REFRESHED["accessJwt"], REFRESHED["refreshJwt"]
            return httpx.Response(200, json=REFRESHED)
        token = auth.removeprefix("Bearer ")
        if token in self.expired:
            return _xrpc_error(400, "ExpiredToken", "Token has expired")
        if token != self.access:
            return _xrpc_error(401, "InvalidToken", "Bad token")
        params = request.url.params
        if nsid == "app.bsky.notification.listNotifications":
            assert sorted(params.get_list("reasons")) == ["mention", "reply"]
            return self._page(self.notification_pages, params.get("cursor"))
        if nsid == "app.bsky.feed.getAuthorFeed":
            assert params["actor"] == OUR_DID
            return self._page(self.feed_pages, params.get("cursor"))
        if nsid == "app.bsky.feed.getPostThread":
            uri = params["uri"]
            if uri in self.threads:
                return httpx.Response(200, json=self.threads[uri])
            return _xrpc_error(400, "NotFound", f"Post not found: {uri}")
        if nsid == "app.bsky.actor.getProfile":
            assert params["actor"] == OUR_DID
            return httpx.Response(200, json=load("profile.json"))
        return _xrpc_error(501, "MethodNotImplemented", f"Method Not Implemented: {nsid}")

    @staticmethod
    def _page(pages: dict[str | None, dict[str, Any]], cursor: str | None) -> httpx.Response:
        if cursor in pages:
            return httpx.Response(200, json=copy.deepcopy(pages[cursor]))
        # The AppView answers an unknown (exhausted) cursor with an empty page.
        return httpx.Response(200, json={"notifications": [], "feed": []})


async def _instant(_: float) -> None:
    return None


def make_adapter(context: SyncContext, client: httpx.AsyncClient, **config: Any) -> Any:
    """An adapter on the fake PDS, with instant retries."""
    from convokit_bluesky import BlueskyAdapter, BlueskyConfig

    from convokit_core import RetryPolicy

    settings: dict[str, Any] = {"handle": HANDLE, "app_password": APP_PASSWORD, "service": SERVICE}
    settings.update(config)
    return BlueskyAdapter(
        BlueskyConfig(**settings),
        client,
        context,
        policy=RetryPolicy(max_retries=4, backoff_base=0.01, budget=5.0),
        sleep=_instant,
    )


def sync(context: SyncContext, cursor: str | None = None, **config: Any) -> list[Any]:
    """Every page a fresh adapter's ``fetch(cursor)`` yields."""

    async def run() -> list[Any]:
        async with httpx.AsyncClient() as client:
            adapter = make_adapter(context, client, **config)
            return [page async for page in adapter.fetch(cursor)]

    return asyncio.run(run())


def sync_expiring_after(fake: FakeBluesky, context: SyncContext, pages: int) -> list[Any]:
    """One adapter's full sync, with the access token expiring after ``pages`` pages."""

    async def run() -> list[Any]:
        async with httpx.AsyncClient() as client:
            adapter = make_adapter(context, client)
            out = []
            async for page in adapter.fetch(None):
                out.append(page)
                if len(out) == pages:
                    fake.expire_access()
            return out

    return asyncio.run(run())
