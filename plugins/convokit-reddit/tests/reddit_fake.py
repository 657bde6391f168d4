"""A fake Reddit (token endpoint plus OAuth API) serving the JSON in ``fixtures/``.

It behaves like Reddit where the adapter depends on it: HTTP basic auth and a form body
on ``/api/v1/access_token`` (``200 {"error": "invalid_grant"}`` for a wrong password),
bearer tokens on every API call (401 otherwise), newest-first listings paged with
``limit`` and ``after``, the two-listing thread shape, ``/api/morechildren`` and the
``X-Ratelimit-*`` headers. Options make it misbehave the way Reddit has been seen to.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
from convokit_reddit import RedditAdapter, RedditConfig

from convokit_core import Message, Page, SyncContext

FIXTURES = Path(__file__).parent / "fixtures"

USERNAME = "acme_support"
CLIENT_ID = "p-Kq3cLmWbT9xA"
CLIENT_SECRET = "gkO_Zr81sec-ret-for-tests"
PASSWORD = "hunter2-but-longer-pw"
REFRESH_TOKEN = "71642309-rEfReSh-token-for-tests"
TOKEN = "rdt-access-7Qm2xV9kLp4Tz"
SECOND_TOKEN = "rdt-access-second-8Hn3yW"

LISTINGS = {
    "/message/mentions": "mentions.json",
    "/message/comments": "comment_replies.json",
    "/message/selfreply": "post_replies.json",
    f"/user/{USERNAME}/comments": "user_comments.json",
    f"/user/{USERNAME}/submitted": "user_submitted.json",
}
ABOUT = {
    f"/user/{USERNAME}/about": "user_about.json",
    "/r/acme/about": "subreddit_about.json",
}

POSTS = {
    "a": "t3_1gx4a1b",
    "b": "t3_1gx5b2c",
    "c": "t3_1gx6c3d",
    "d": "t3_1gx7d4e",
    "e": "t3_1gx8e5f",
}
COMMENTS = {
    key: f"t1_{value}"
    for key, value in {
        "ca1": "lz0a1k1",
        "ca2": "lz0a2k2",
        "ca3": "lz0a3k3",
        "ca4": "lz0a4k4",
        "ca5": "lz0a5k5",
        "ca6": "lz0a6k6",
        "ca7": "lz0a7k7",
        "ca8": "lz0a8k8",
        "ca9": "lz0a9k9",
        "cb1": "lz0b1m1",
        "cb2": "lz0b2m2",
        "cb3": "lz0b3m3",
        "cb4": "lz0b4m4",
        "cb5": "lz0b5m5",
        "cc1": "lz0c1n1",
        "cc2": "lz0c2n2",
        "cd1": "lz0d1p1",
    }.items()
}
ALL_IDS = frozenset(POSTS.values()) | frozenset(COMMENTS.values())


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def _json(status: int, data: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(
        status,
        content=json.dumps(data).encode(),
        headers={"content-type": "application/json; charset=UTF-8", **(headers or {})},
    )


class FakeReddit:
    """Serves Reddit's API from the fixtures; a plain ``request -> response`` callable.

    Args:
        repeat_after: listing paths whose last page hands back the requested ``after``
            (or its own last item) instead of ``null`` — a server that never says "end".
        rate_window: if set, ``X-Ratelimit-Remaining`` counts down from this many
            requests and is refilled when it reaches 0 (each refill is one "window").
        rate_reset: the ``X-Ratelimit-Reset`` value sent (seconds until the window ends).
        rotate_tokens: the token endpoint hands out ``TOKEN`` then ``SECOND_TOKEN``; the
            API accepts only the newest token.
        expire_token_after: answer 401 to ``TOKEN`` after this many API requests.
        thread_status: an HTTP status to answer for ``/comments/<article>`` requests.
        max_requests: fail loudly (``AssertionError``) past this many requests, so a
            paging loop fails a test instead of hanging it.

    ``requests`` records every request; ``api_calls`` counts API (non-token) requests and
    ``refused`` those answered 401.
    """

    def __init__(
        self,
        *,
        repeat_after: frozenset[str] = frozenset(),
        rate_window: int | None = None,
        rate_reset: str = "312",
        rotate_tokens: bool = False,
        expire_token_after: int | None = None,
        thread_status: dict[str, int] | None = None,
        max_requests: int = 2000,
    ) -> None:
        self.max_requests = max_requests
        self.repeat_after = repeat_after
        self.rate_window = rate_window
        self.rate_reset = rate_reset
        self.rotate_tokens = rotate_tokens
        self.expire_token_after = expire_token_after
        self.thread_status = dict(thread_status or {})
        self.requests: list[httpx.Request] = []
        self.tokens_issued = 0
        self.api_calls = 0
        self.refused = 0
        self._expired = False
        self._lock = threading.Lock()

    # -- entry point -----------------------------------------------------------------------

    def __call__(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            self.requests.append(request)
            if len(self.requests) > self.max_requests:
                raise AssertionError(f"more than {self.max_requests} requests: a paging loop?")
            if request.url.path == "/api/v1/access_token":
                return self._token(request)
            return self._api(request)

    # -- auth ------------------------------------------------------------------------------

    def _token(self, request: httpx.Request) -> httpx.Response:
        if request.method != "POST":
            return _json(405, {"message": "Method Not Allowed", "error": 405})
        expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if request.headers.get("authorization") != f"Basic {expected}":
            return _json(401, load("error_unauthorized.json"))
        if not request.headers.get("content-type", "").startswith(
            "application/x-www-form-urlencoded"
        ):
            return _json(400, {"error": "unsupported_grant_type"})
        form = {k: v[0] for k, v in parse_qs(request.content.decode()).items()}
        grant = form.get("grant_type")
        if grant == "password":
            ok = form.get("username") == USERNAME and form.get("password") == PASSWORD
        elif grant == "refresh_token":
            ok = form.get("refresh_token") == REFRESH_TOKEN
        else:
            return _json(200, {"error": "unsupported_grant_type"})
        if not ok:
            return _json(200, load("error_invalid_grant.json"))
        answer = load("token.json")
        self.tokens_issued += 1
        if self._expired or (self.rotate_tokens and self.tokens_issued > 1):
            answer["access_token"] = SECOND_TOKEN
        return _json(200, answer)

    def _valid_tokens(self) -> set[str]:
        if self._expired or (self.rotate_tokens and self.tokens_issued > 1):
            return {SECOND_TOKEN}
        return {TOKEN}

    # -- the API ---------------------------------------------------------------------------

    def _rate_headers(self) -> dict[str, str]:
        if self.rate_window is None:
            return {
                "X-Ratelimit-Used": "2",
                "X-Ratelimit-Remaining": "598.0",
                "X-Ratelimit-Reset": self.rate_reset,
            }
        used = (self.api_calls - 1) % self.rate_window + 1
        return {
            "X-Ratelimit-Used": str(used),
            "X-Ratelimit-Remaining": f"{float(self.rate_window - used):.1f}",
            "X-Ratelimit-Reset": self.rate_reset,
        }

    def _api(self, request: httpx.Request) -> httpx.Response:
        self.api_calls += 1
        if self.expire_token_after is not None and self.api_calls > self.expire_token_after:
            self._expired = True
        auth = request.headers.get("authorization", "")
        token = auth.removeprefix("bearer ").removeprefix("Bearer ")
        headers = self._rate_headers()
        if not auth.lower().startswith("bearer ") or token not in self._valid_tokens():
            self.refused += 1
            return _json(401, load("error_unauthorized.json"), headers)
        if request.method != "GET":
            return _json(405, {"message": "Method Not Allowed", "error": 405}, headers)
        path = request.url.path
        params = request.url.params
        if path in LISTINGS:
            return _json(200, self._page(path, params), headers)
        if path in ABOUT:
            return _json(200, load(ABOUT[path]), headers)
        if path.startswith("/comments/"):
            article = path.removeprefix("/comments/").strip("/")
            status = self.thread_status.get(article)
            if status is not None:
                return _json(status, {"message": "Forbidden", "error": status}, headers)
            comment = params.get("comment")
            name = (
                f"thread_{article}_comment_{comment}.json" if comment else f"thread_{article}.json"
            )
            if not (FIXTURES / name).exists():
                return _json(404, {"message": "Not Found", "error": 404}, headers)
            return _json(200, load(name), headers)
        if path == "/api/morechildren":
            link = params.get("link_id", "").removeprefix("t3_")
            key = ",".join(sorted(params.get("children", "").split(",")))
            table = FIXTURES / f"morechildren_{link}.json"
            answers = load(table.name) if table.exists() else {}
            if params.get("api_type") != "json" or key not in answers:
                return _json(200, {"json": {"errors": [["INVALID_ID", "no such ids", "children"]]}})
            return _json(200, answers[key], headers)
        return _json(404, {"message": "Not Found", "error": 404}, headers)

    def _page(self, path: str, params: httpx.QueryParams) -> Any:
        listing = load(LISTINGS[path])
        children = listing["data"]["children"]
        limit = min(int(params.get("limit", "25")), 100)
        after = params.get("after")
        start = 0
        if after:
            names = [c["data"]["name"] for c in children]
            # Reddit answers an empty listing for an unknown anchor.
            start = names.index(after) + 1 if after in names else len(children)
        page = children[start : start + limit]
        more = start + limit < len(children)
        next_after = page[-1]["data"]["name"] if more and page else None
        if not more and path in self.repeat_after:
            next_after = after or (page[-1]["data"]["name"] if page else None)
        out = copy.deepcopy(listing)
        out["data"].update(children=page, after=next_after, dist=len(page))
        return out


# -- a real loopback server for the end-to-end test --------------------------------------------


@contextmanager
def serve(fake: FakeReddit) -> Iterator[str]:
    """Serve ``fake`` on ``http://127.0.0.1:<port>`` in a thread; yields the base URL."""

    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            request = httpx.Request(
                self.command,
                f"http://{self.headers.get('host')}{self.path}",
                headers=list(self.headers.items()),
                content=body,
            )
            response = fake(request)
            self.send_response(response.status_code)
            for key, value in response.headers.items():
                if key.lower() not in ("content-length", "transfer-encoding", "connection"):
                    self.send_header(key, value)
            self.send_header("content-length", str(len(response.content)))
            self.end_headers()
            self.wfile.write(response.content)

        do_GET = _handle
        do_POST = _handle

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


# -- running the adapter against a fake ----------------------------------------------------


class Run:
    """One ``fetch`` to the end against a fake, with its waits recorded."""

    def __init__(self) -> None:
        self.sleeps: list[float] = []
        self.adapter: RedditAdapter | None = None

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)

    def pages(
        self,
        config: RedditConfig,
        server: Callable[[httpx.Request], httpx.Response],
        context: SyncContext,
        cursor: str | None = None,
        *,
        clock: Callable[[], datetime] | None = None,
    ) -> list[Page]:
        async def go() -> list[Page]:
            async with httpx.AsyncClient(transport=httpx.MockTransport(server)) as client:
                self.adapter = RedditAdapter(config, client, context, sleep=self.sleep, clock=clock)
                return [page async for page in self.adapter.fetch(cursor)]

        return asyncio.run(go())


def messages_of(pages: list[Page]) -> dict[str, Message]:
    """Every message of ``pages`` by id (a message yielded twice fails the test)."""
    out: dict[str, Message] = {}
    for page in pages:
        for message in page.all_messages():
            assert message.id not in out, f"{message.id} yielded twice"
            out[message.id] = message
    return out
