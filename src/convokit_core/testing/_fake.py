"""A fake platform API for adapter tests: fixture rows served as a paged HTTP listing.

:class:`FakePlatform` turns a list of JSON objects (your fixtures, in the platform's
real shape) into one paged endpoint. It answers :class:`httpx.Request` objects, so it
plugs into :class:`httpx.MockTransport`, into respx (``router.route(...).mock(
side_effect=fake)``) and into the conformance kit's ``fake_server`` fixture; and
:meth:`FakePlatform.serve` runs it as a real HTTP server on loopback (a thread, an
ephemeral port) for tests that drive the ``convokit`` CLI in a subprocess.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import enum
import json
import math
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import attrs
import httpx

from convokit_core import ResetStyle, format_datetime, parse_datetime

__all__ = ["FakePlatform", "Fault", "Order", "Paging", "serve_loopback"]

Envelope = Callable[[list[dict[str, Any]], "str | None"], Any]
"""Builds a response body from a page's rows and the next page's token (``None``: last)."""


class Paging(enum.StrEnum):
    """How the fake's listing is paged."""

    PAGE_NUMBER = "page"
    """``?page=N&limit=K`` (Lemmy, WordPress, Discourse); the body's ``next`` is ``N+1``."""
    CURSOR = "cursor"
    """``?cursor=TOKEN``: an opaque token from the previous body's ``next`` (Bluesky, Slack)."""
    LINK = "link"
    """The next page's full URL in a ``Link: <…>; rel="next"`` header (GitHub, Mastodon)."""
    AFTER_ID = "after"
    """``?after=ID``: the rows whose id sorts after ``ID``, in id order (``since_id``)."""


class Order(enum.StrEnum):
    """The order of the listing, by ``(time, id)``."""

    NEWEST_FIRST = "newest"
    OLDEST_FIRST = "oldest"


@attrs.frozen(kw_only=True)
class Fault:
    """One injected failure, answered instead of a real response.

    Build one with :meth:`rate_limited`, :meth:`server_error` or :meth:`timeout`.
    """

    status: int | None = None
    """The HTTP status answered (``None`` for a timeout)."""
    wait: float | None = None
    """Seconds the server asks the client to wait, if it says."""
    retry_after: bool = False
    """Say ``wait`` in ``Retry-After`` (else in the platform's reset header)."""
    body: bytes = b""
    content_type: str = "application/json"
    timed_out: bool = False

    @classmethod
    def rate_limited(
        cls, wait: float = 1.0, *, retry_after: bool = False, body: bytes | None = None
    ) -> Fault:
        """A 429 asking to wait ``wait`` seconds, in the fake's reset-header style
        (``reset_header``/``reset_style``) or, with ``retry_after=True`` or no reset
        header configured, in ``Retry-After``."""
        return cls(
            status=429,
            wait=wait,
            retry_after=retry_after,
            body=body if body is not None else b'{"error": "Too many requests"}',
        )

    @classmethod
    def server_error(cls, status: int = 503, body: bytes = b"") -> Fault:
        """A 5xx answer (an HTML or empty body, as proxies send)."""
        return cls(
            status=status,
            body=body or b"<html>Service Unavailable</html>",
            content_type="text/html",
        )

    @classmethod
    def timeout(cls) -> Fault:
        """No answer: :class:`httpx.ReadTimeout` through a mock transport; the loopback
        server holds the connection open until the client gives up."""
        return cls(timed_out=True)


class _Hold(Exception):
    """Internal: the loopback server must not answer this request."""


class FakePlatform:
    """Fixture rows served as one paged, newest- or oldest-first API endpoint.

    Args:
        rows: the listing's items, JSON objects in the platform's shape. Kept as the
            mutable :attr:`rows` list: tests may add or delete rows between requests.
        path: the endpoint's path; other paths answer 404.
        paging: how pages are addressed (:class:`Paging`).
        order: newest or oldest first, by ``(time, id)``.
        page_size: the most rows a page holds (a larger ``limit`` is clamped to it).
        time_key: where a row keeps its time (ISO 8601; naive means UTC). Dotted paths
            reach into nested objects (``"post.published"``).
        id_key: where a row keeps its id (a dotted path too).
        envelope: builds the body from a page's rows and the next token. Default:
            ``{"items": rows, "next": token}``; a bare list for :attr:`Paging.LINK`.
        token: when set, requests must carry ``Authorization: Bearer <token>`` (see
            ``auth_header``/``auth_scheme``), else 401 ``{"error": "invalid token"}``.
        page_param: the query parameter naming the page.
        limit_param: the query parameter naming the page size.
        cursor_param: the query parameter carrying the opaque cursor.
        first_page: the number of the first page (1, or 0 for some APIs).
        reset_header: the header in which a 429 says when the rate limit resets.
        reset_style: how that header says it (:class:`~convokit_core.ResetStyle`).
        clock: the current aware time, for reset headers (default: now).
        faults: answered, in order, to the first requests (see also :meth:`fail_next`).

    Attributes:
        requests: every request received, in order (faulted ones included).
    """

    def __init__(
        self,
        rows: Sequence[Mapping[str, Any]],
        *,
        path: str = "/api/items",
        paging: Paging = Paging.PAGE_NUMBER,
        order: Order = Order.NEWEST_FIRST,
        page_size: int = 3,
        time_key: str = "created_at",
        id_key: str = "id",
        envelope: Envelope | None = None,
        token: str | None = None,
        auth_header: str = "Authorization",
        auth_scheme: str | None = "Bearer",
        page_param: str = "page",
        limit_param: str = "limit",
        cursor_param: str = "cursor",
        first_page: int = 1,
        reset_header: str | None = None,
        reset_style: ResetStyle | None = None,
        clock: Callable[[], datetime] | None = None,
        faults: Sequence[Fault] = (),
    ) -> None:
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        if (reset_header is None) != (reset_style is None):
            raise ValueError("reset_header and reset_style must be given together")
        self.rows: list[dict[str, Any]] = [dict(r) for r in rows]
        self.path = path
        self.paging = Paging(paging)
        self.order = Order(order)
        self.page_size = page_size
        self.time_key = time_key
        self.id_key = id_key
        self.envelope = envelope
        self.token = token
        self.auth_header = auth_header
        self.auth_scheme = auth_scheme
        self.page_param = page_param
        self.limit_param = limit_param
        self.cursor_param = cursor_param
        self.first_page = first_page
        self.reset_header = reset_header
        self.reset_style = ResetStyle(reset_style) if reset_style is not None else None
        self.clock = clock or (lambda: datetime.now(UTC))
        self.faults: list[Fault] = list(faults)
        self.requests: list[httpx.Request] = []
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<FakePlatform {self.path} {len(self.rows)} rows, {self.paging} paging>"

    # -- the data ------------------------------------------------------------------------

    def _field(self, row: Mapping[str, Any], dotted: str) -> Any:
        value: Any = row
        for part in dotted.split("."):
            value = value[part]
        return value

    def key(self, row: Mapping[str, Any]) -> tuple[datetime, str]:
        """A row's ``(time, id)``, the listing's sort key."""
        when = parse_datetime(str(self._field(row, self.time_key)), naive=UTC)
        return when, str(self._field(row, self.id_key))

    def listing(self) -> list[dict[str, Any]]:
        """The rows in listing order: by ``(time, id)``, or by id for ``AFTER_ID``."""
        newest = self.order is Order.NEWEST_FIRST
        if self.paging is Paging.AFTER_ID:
            return sorted(self.rows, key=lambda r: self.key(r)[1], reverse=newest)
        return sorted(self.rows, key=self.key, reverse=newest)

    def ids(self) -> set[str]:
        """The id of every row."""
        return {str(self._field(r, self.id_key)) for r in self.rows}

    def fail_next(self, *faults: Fault) -> None:
        """Answer the next requests with ``faults``, one each, before real answers."""
        with self._lock:
            self.faults.extend(faults)

    # -- answering -----------------------------------------------------------------------

    def __call__(self, request: httpx.Request) -> httpx.Response:
        return self.handler(request)

    def handler(self, request: httpx.Request) -> httpx.Response:
        """Answer one request (for :class:`httpx.MockTransport`, respx or the kit)."""
        with self._lock:
            self.requests.append(request)
            fault = self.faults.pop(0) if self.faults else None
        if fault is not None:
            return self._fault(fault, request)
        if self.token is not None:
            expected = f"{self.auth_scheme} {self.token}" if self.auth_scheme else self.token
            if request.headers.get(self.auth_header) != expected:
                return _json(401, {"error": "invalid token"})
        if request.url.path.rstrip("/") != self.path.rstrip("/"):
            return _json(404, {"error": "not found"})
        params = request.url.params
        try:
            limit = int(params.get(self.limit_param, str(self.page_size)))
        except ValueError:
            return _json(400, {"error": f"{self.limit_param} must be an integer"})
        limit = max(1, min(limit, self.page_size))
        with self._lock:
            rows = self.listing()
        try:
            chunk, token = self._page(rows, params, limit)
        except ValueError as exc:
            return _json(400, {"error": str(exc)})
        headers: dict[str, str] = {}
        if self.paging is Paging.LINK:
            if token is not None:
                url = request.url.copy_merge_params({self.cursor_param: token})
                headers["Link"] = f'<{url}>; rel="next"'
            body = self.envelope(chunk, token) if self.envelope else chunk
        else:
            body = self.envelope(chunk, token) if self.envelope else {"items": chunk, "next": token}
        return _json(200, body, headers)

    def _page(
        self, rows: list[dict[str, Any]], params: httpx.QueryParams, limit: int
    ) -> tuple[list[dict[str, Any]], str | None]:
        if self.paging is Paging.PAGE_NUMBER:
            raw = params.get(self.page_param, str(self.first_page))
            try:
                number = int(raw)
            except ValueError:
                raise ValueError(f"{self.page_param} must be an integer, found {raw!r}") from None
            if number < self.first_page:
                raise ValueError(f"{self.page_param} must be at least {self.first_page}")
            start = (number - self.first_page) * limit
            chunk = rows[start : start + limit]
            more = start + limit < len(rows)
            return chunk, str(number + 1) if more else None
        if self.paging is Paging.AFTER_ID:
            after = params.get(self.cursor_param)
            rest = [r for r in rows if after is None or self.key(r)[1] > after]
            chunk = rest[:limit]
            return chunk, (self.key(chunk[-1])[1] if len(rest) > limit else None)
        # CURSOR and LINK: an opaque token naming the last row served (keyset paging,
        # so rows arriving meanwhile neither shift nor repeat what follows).
        token = params.get(self.cursor_param)
        rest = rows
        if token is not None:
            when, last_id = _decode_token(token)
            newest = self.order is Order.NEWEST_FIRST
            rest = [
                r
                for r in rows
                if (self.key(r) < (when, last_id)) == newest and self.key(r) != (when, last_id)
            ]
        chunk = rest[:limit]
        if len(rest) <= limit:
            return chunk, None
        return chunk, _encode_token(*self.key(chunk[-1]))

    def _fault(self, fault: Fault, request: httpx.Request) -> httpx.Response:
        if fault.timed_out:
            raise httpx.ReadTimeout("injected read timeout", request=request)
        assert fault.status is not None
        headers = {"content-type": fault.content_type}
        if fault.wait is not None:
            if fault.retry_after or self.reset_header is None:
                headers["Retry-After"] = f"{math.ceil(fault.wait)}"
            else:
                headers[self.reset_header] = self.reset_value(fault.wait)
        return httpx.Response(fault.status, content=fault.body, headers=headers)

    def reset_value(self, wait: float) -> str:
        """The reset header's value for a window that resets in ``wait`` seconds."""
        now = self.clock()
        if self.reset_style is ResetStyle.ISO_TIMESTAMP:
            return format_datetime(now + timedelta(seconds=wait))
        if self.reset_style is ResetStyle.EPOCH_SECONDS:
            return str(math.ceil(now.timestamp() + wait))
        return f"{wait:g}"

    # -- a real server -------------------------------------------------------------------

    @contextlib.contextmanager
    def serve(self, host: str = "127.0.0.1") -> Iterator[str]:
        """Run this fake as an HTTP server on loopback; yields its base URL.

        ``with fake.serve() as base_url:`` — e.g. ``http://127.0.0.1:40213`` — for a
        ``[[source]]`` table that a ``convokit sync`` subprocess reads.
        """
        with serve_loopback(self.handler, host=host) as url:
            yield url


def _json(status: int, body: Any, headers: Mapping[str, str] | None = None) -> httpx.Response:
    return httpx.Response(
        status,
        content=json.dumps(body).encode(),
        headers={"content-type": "application/json; charset=utf-8", **(headers or {})},
    )


def _encode_token(when: datetime, item_id: str) -> str:
    raw = json.dumps([format_datetime(when), item_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _decode_token(token: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(token.encode("ascii") + b"=" * (-len(token) % 4))
        when, item_id = json.loads(raw)
        return parse_datetime(when), str(item_id)
    except (binascii.Error, UnicodeError, ValueError, TypeError):
        raise ValueError("invalid cursor") from None


@contextlib.contextmanager
def serve_loopback(
    handler: Callable[[httpx.Request], httpx.Response], host: str = "127.0.0.1"
) -> Iterator[str]:
    """Serve any request handler on loopback in a thread; yields the base URL.

    A handler that raises :class:`httpx.TimeoutException` makes the server hold the
    connection without answering until the client closes it (a real timeout).
    """
    if host not in ("127.0.0.1", "::1", "localhost"):
        raise ValueError("the fake server listens on loopback only")

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            port = self.server.server_port  # type: ignore[attr-defined]
            request = httpx.Request(
                self.command,
                f"http://{host}:{port}{self.path}",
                headers=list(self.headers.items()),
                content=body,
            )
            try:
                response = handler(request)
            except httpx.TimeoutException:
                self.close_connection = True
                self.rfile.read()  # until the client gives up and closes
                return
            content = response.read()
            self.send_response(response.status_code)
            for name, value in response.headers.multi_items():
                if name.lower() not in ("content-length", "transfer-encoding", "connection"):
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _answer

        def log_message(self, format: str, *args: Any) -> None:
            pass  # tests read fake.requests, not stderr

    server = ThreadingHTTPServer((host, 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="convokit-fake", daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
