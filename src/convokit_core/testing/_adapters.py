"""The adapter conformance kit: the behaviour every platform adapter must have.

Subclass :class:`AdapterConformance` (imported from :mod:`convokit_core.testing`) in
your plugin's tests and provide the fixtures listed in its docstring. Every inherited
test runs your adapter against your own fake server, through an
:class:`httpx.MockTransport` that the kit wraps to inject faults.
"""

from __future__ import annotations

import asyncio
import copy
import inspect
import json
import logging
import re
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import attrs
import httpx
import pytest

# Private on purpose: the kit replaces the helper's sleep and uses the reference store.
import convokit_core._http as _http
from convokit_core import (
    ConvokitError,
    Direction,
    MalformedPayload,
    Page,
    SyncContext,
    SyncError,
    parse_datetime,
    sync_adapter,
)
from convokit_core._storage._memory import MemoryStore

__all__ = ["AdapterConformance", "FaultInjector", "Handler"]

Handler = Callable[[httpx.Request], "httpx.Response | Awaitable[httpx.Response]"]
"""A fake platform server: takes a request, returns (or awaits) a response."""

_RUN_TIMEOUT = 30.0
_MAX_PAGES = 10_000

#: Transient failures the kit injects; each is answered once, then the request passes.
TRANSIENT_FAULTS: tuple[str, ...] = (
    "429-json",
    "429-html",
    "500",
    "502",
    "503-retry-after",
    "timeout",
    "connect-error",
)


class FaultInjector:
    """Wraps a fake server, counts its requests, and answers chosen ones with a fault.

    Attributes:
        requests: every request received, in order (faulted ones included).
        fired: the faults answered, as ``(request index, fault)``.
    """

    def __init__(
        self,
        server: Handler,
        *,
        transient: Sequence[str] = (),
        replace_body: dict[int, bytes] | None = None,
        replace_status: dict[int, tuple[int, bytes]] | None = None,
    ) -> None:
        self._server = server
        self._transient = list(transient)
        self._replace_body = dict(replace_body or {})
        self._replace_status = dict(replace_status or {})
        self.requests: list[httpx.Request] = []
        self.fired: list[tuple[int, str]] = []
        self.served = 0
        self.bodies: dict[int, bytes] = {}
        """The body of every response the fake server answered, by request index."""

    def transport(self) -> httpx.MockTransport:
        """An async mock transport answering through this injector."""
        return httpx.MockTransport(self.handle)

    async def handle(self, request: httpx.Request) -> httpx.Response:
        index = len(self.requests)
        self.requests.append(request)
        # Transient faults on every other request, while any are left.
        if self._transient and index % 2 == 0:
            fault = self._transient.pop(0)
            self.fired.append((index, fault))
            return self._fault(fault, request)
        if index in self._replace_status:
            status, body = self._replace_status[index]
            self.fired.append((index, f"status-{status}"))
            return httpx.Response(
                status, content=body, headers={"content-type": "application/json"}
            )
        response = self._server(request)
        if inspect.isawaitable(response):
            response = await response
        self.served += 1
        self.bodies[index] = await response.aread()
        if index in self._replace_body:
            self.fired.append((index, "malformed"))
            return httpx.Response(
                200,
                content=self._replace_body[index],
                headers={"content-type": "application/json; charset=utf-8"},
            )
        return response

    @staticmethod
    def _fault(fault: str, request: httpx.Request) -> httpx.Response:
        if fault == "429-json":
            return httpx.Response(
                429, json={"error": "Too many requests"}, headers={"Retry-After": "0"}
            )
        if fault == "429-html":
            return httpx.Response(
                429,
                content=b"<html><body><h1>429 Too Many Requests</h1></body></html>",
                headers={"content-type": "text/html"},
            )
        if fault == "500":
            return httpx.Response(500, text="Internal Server Error")
        if fault == "502":
            return httpx.Response(502, content=b"<html>Bad Gateway</html>")
        if fault == "503-retry-after":
            return httpx.Response(503, json={"error": "maintenance"}, headers={"Retry-After": "1"})
        if fault == "timeout":
            raise httpx.ReadTimeout("injected read timeout", request=request)
        if fault == "connect-error":
            raise httpx.ConnectError("injected connection refused", request=request)
        raise ValueError(f"unknown fault {fault!r}")  # pragma: no cover


def _message_ids(pages: Sequence[Page]) -> set[str]:
    return {m.id for page in pages for m in page.all_messages()}


def _dump(value: Any) -> str:
    if attrs.has(type(value)):
        return repr(attrs.asdict(value, recurse=True))
    return repr(value)


class AdapterConformance:
    """Inherit from this in your plugin's tests to check your adapter's behaviour.

    Provide these pytest fixtures (as methods of your subclass or in ``conftest.py``):

    ``platform`` -> ``str``
        The platform name your plugin registers.
    ``adapter_config`` -> your attrs config instance
        Built as a ``[[source]]`` table would build it, secrets filled in (e.g. a token
        ``"s3cr3t-token-for-tests"``). Its base URL must point at your fake server's
        host (any host: requests never leave the mock transport).
    ``create_adapter`` -> ``create(config, client, context)``
        The factory your plugin registers with ``register_platforms``.
    ``fake_server`` -> ``Callable[[httpx.Request], httpx.Response]``
        Serves your platform's API with fixed data spread over **at least two pages**
        (plain function, coroutine function, or ``respx_router.handler``). It must be
        stateless across runs (each test runs your adapter several times against it).
    ``expected_ids`` -> ``set[str]``
        The ``Message.id`` of every message the server holds, exactly as your adapter
        emits them (instance-qualified where your platform needs it).
    ``future_cursor`` -> ``str``
        A cursor of your format that lies after everything the server holds (e.g. built
        from ids greater than any it serves); resuming from it must yield no message.

    Optional fixtures, with defaults:

    ``secrets`` -> ``set[str]``
        Strings that must never appear in reprs, logs, errors, requested URLs or the
        store. Default: the values of ``adapter_config``'s fields marked
        ``metadata={"secret": True}``. Add e.g. session tokens your fake server issues.
    ``team_handles`` -> ``frozenset[str]``
        ``[[team]]`` handles for the :class:`~convokit_core.SyncContext` (default none).
    ``malformed_bodies`` -> ``list[bytes]``
        200 bodies that replace one response at a time; each must fail the source with
        :class:`~convokit_core.MalformedPayload`. Default: truncated JSON and a JSON
        object of the wrong shape (``{"unexpected": "shape"}``).
    ``garbage_cursors`` -> ``list[str] | None``
        Cursors the adapter never wrote; each must raise a ``ConvokitError``. Default
        (``None``): ``garbage!``, ``null``, ``{"v": 999}``, non-ASCII text, and the
        final cursor of a full sync cut in half and cut by one character.
    ``outbound_ids`` -> ``set[str] | None``
        The exact ids that must come out ``outbound`` with ``team_handles``. Default
        (``None``): at least one message is outbound with no team handle at all (the
        source's own account).
    ``has_replies`` -> ``bool``
        Whether the data holds replies (default ``True``).

    The kit makes retries instant (it replaces the HTTP helper's sleep) and records
    the requested waits in ``self.sleeps``. Your adapter must do its HTTP through
    :class:`convokit_core.HttpClient` on the client the host hands it. A
    :class:`~convokit_core.testing.FakePlatform` makes a good ``fake_server``.

    The tests check: pagination to the end; resuming from every intermediate cursor
    gives the same total set; a future cursor yields nothing and no error; resuming
    from a final cursor yields nothing; no message twice in one sync; no empty page
    mid-stream; a garbage or truncated cursor raises a clear error before any page;
    our team's and our own account's messages are outbound and no one else's; times
    are moments the server sent, in UTC; replies name parents of the same
    conversation; injected 429 (JSON and HTML bodies), 5xx, timeouts and connection
    errors give the same set, and a 429 that never lifts fails the source; a malformed
    response at any request fails the source with ``MalformedPayload`` without
    advancing its stored cursor, and a later clean run completes the set; secrets never
    leak into reprs, log records, exception messages, requested URLs or stored records,
    also when malformed or field-by-field corrupted payloads are injected.
    docs/adapter-conformance.md lists every check with the mistake it catches.
    """

    # -- defaults for optional fixtures --------------------------------------------------

    @pytest.fixture
    def secrets(self, adapter_config: Any) -> set[str]:
        found: set[str] = set()
        if attrs.has(type(adapter_config)):
            for field in attrs.fields(type(adapter_config)):
                if field.metadata.get("secret"):
                    value = getattr(adapter_config, field.name)
                    if value:
                        found.add(str(value))
        return found

    @pytest.fixture
    def team_handles(self) -> frozenset[str]:
        return frozenset()

    @pytest.fixture
    def malformed_bodies(self) -> list[bytes]:
        return [b'{"truncated": [1, 2', b'{"unexpected": "shape"}']

    @pytest.fixture(autouse=True)
    def _instant_retries(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.sleeps: list[float] = []

        async def no_sleep(seconds: float) -> None:
            self.sleeps.append(seconds)

        monkeypatch.setattr(_http, "_sleep", no_sleep)

    # -- helpers -------------------------------------------------------------------------

    def _context(self, platform: str, team_handles: frozenset[str]) -> SyncContext:
        return SyncContext(source="conformance", platform=platform, team_handles=team_handles)

    def collect(
        self,
        create_adapter: Callable[..., Any],
        adapter_config: Any,
        context: SyncContext,
        injector: FaultInjector,
        cursor: str | None = None,
    ) -> list[Page]:
        """Run ``fetch(cursor)`` to the end and return its pages."""

        async def run() -> list[Page]:
            pages: list[Page] = []
            async with httpx.AsyncClient(transport=injector.transport()) as client:
                adapter = create_adapter(adapter_config, client, context)
                async for page in adapter.fetch(cursor):
                    assert isinstance(page, Page), f"fetch yielded {type(page).__name__}"
                    assert isinstance(page.cursor, str), "a page's cursor must be a str"
                    assert page.cursor, "a page's cursor must not be empty"
                    pages.append(page)
                    assert len(pages) < _MAX_PAGES, "fetch never ends"
            return pages

        return asyncio.run(asyncio.wait_for(run(), _RUN_TIMEOUT))

    def sync_until_failure(
        self,
        create_adapter: Callable[..., Any],
        adapter_config: Any,
        context: SyncContext,
        injector: FaultInjector,
        store: MemoryStore,
    ) -> tuple[list[Page], BaseException | None]:
        """Write pages with their cursors like the engine; stop at the first error."""

        async def run() -> tuple[list[Page], BaseException | None]:
            pages: list[Page] = []
            async with httpx.AsyncClient(transport=injector.transport()) as client:
                adapter = create_adapter(adapter_config, client, context)
                try:
                    async for page in adapter.fetch(store.get_cursor("conformance")):
                        store.write(page, source="conformance", cursor=page.cursor)
                        pages.append(page)
                except Exception as exc:
                    return pages, exc
            return pages, None

        return asyncio.run(asyncio.wait_for(run(), _RUN_TIMEOUT))

    # -- the tests -----------------------------------------------------------------------

    def test_paginates_to_the_end(
        self,
        platform: str,
        adapter_config: Any,
        create_adapter: Callable[..., Any],
        fake_server: Handler,
        expected_ids: set[str],
        team_handles: frozenset[str],
    ) -> None:
        assert expected_ids, "expected_ids must not be empty"
        pages = self.collect(
            create_adapter,
            adapter_config,
            self._context(platform, team_handles),
            FaultInjector(fake_server),
        )
        assert len(pages) >= 2, "the fake server must serve the data over at least two pages"
        assert _message_ids(pages) == set(expected_ids)
        for page in pages:
            for message in page.all_messages():
                assert message.platform == platform

    def test_resume_from_every_cursor_gives_the_same_set(
        self,
        platform: str,
        adapter_config: Any,
        create_adapter: Callable[..., Any],
        fake_server: Handler,
        expected_ids: set[str],
        team_handles: frozenset[str],
    ) -> None:
        context = self._context(platform, team_handles)
        pages = self.collect(create_adapter, adapter_config, context, FaultInjector(fake_server))
        seen: set[str] = set()
        for index, page in enumerate(pages):
            seen |= {m.id for m in page.all_messages()}
            rest = self.collect(
                create_adapter, adapter_config, context, FaultInjector(fake_server), page.cursor
            )
            assert seen | _message_ids(rest) == set(expected_ids), (
                f"resuming after page {index + 1} of {len(pages)} (cursor {page.cursor!r}) "
                "lost messages"
            )

    def test_future_cursor_yields_nothing(
        self,
        platform: str,
        adapter_config: Any,
        create_adapter: Callable[..., Any],
        fake_server: Handler,
        future_cursor: str,
        team_handles: frozenset[str],
    ) -> None:
        pages = self.collect(
            create_adapter,
            adapter_config,
            self._context(platform, team_handles),
            FaultInjector(fake_server),
            future_cursor,
        )
        assert _message_ids(pages) == set()

    def test_transient_faults_give_the_same_set(
        self,
        platform: str,
        adapter_config: Any,
        create_adapter: Callable[..., Any],
        fake_server: Handler,
        expected_ids: set[str],
        team_handles: frozenset[str],
    ) -> None:
        injector = FaultInjector(fake_server, transient=TRANSIENT_FAULTS)
        pages = self.collect(
            create_adapter, adapter_config, self._context(platform, team_handles), injector
        )
        assert _message_ids(pages) == set(expected_ids)
        assert len(injector.fired) == min(len(TRANSIENT_FAULTS), injector.served), injector.fired
        assert len(injector.fired) >= 2
        # Every fault was retried after a wait chosen by the HTTP helper.
        assert len(self.sleeps) == len(injector.fired)
        fired = dict(injector.fired)
        if "503-retry-after" in fired.values():
            assert max(self.sleeps) >= 1.0, "Retry-After: 1 was not honoured"

    def test_malformed_response_fails_without_advancing_the_cursor(
        self,
        platform: str,
        adapter_config: Any,
        create_adapter: Callable[..., Any],
        fake_server: Handler,
        expected_ids: set[str],
        team_handles: frozenset[str],
        malformed_bodies: list[bytes],
    ) -> None:
        context = self._context(platform, team_handles)
        baseline = FaultInjector(fake_server)
        self.collect(create_adapter, adapter_config, context, baseline)
        total = len(baseline.requests)
        indices = (
            sorted({round(i * (total - 1) / 11) for i in range(12)})
            if total > 12
            else list(range(total))
        )
        for body in malformed_bodies:
            for index in indices:
                store = MemoryStore()
                injector = FaultInjector(fake_server, replace_body={index: body})
                pages, error = self.sync_until_failure(
                    create_adapter, adapter_config, context, injector, store
                )
                where = f"malformed body {body!r} at request {index + 1} of {total}"
                assert error is not None, f"{where}: the adapter did not fail"
                assert isinstance(error, MalformedPayload), (
                    f"{where}: expected MalformedPayload, got {type(error).__name__}: {error}"
                )
                expected_cursor = pages[-1].cursor if pages else None
                assert store.get_cursor("conformance") == expected_cursor, where
                # A clean run afterwards completes the set from the stored cursor.
                rest, again = self.sync_until_failure(
                    create_adapter, adapter_config, context, FaultInjector(fake_server), store
                )
                assert again is None, f"{where}: the clean resume failed: {again}"
                assert _message_ids(pages) | _message_ids(rest) == set(expected_ids), where
                stored = {m.id for m in store.iter_messages()}
                assert stored == set(expected_ids), where

    def test_engine_records_a_failed_source(
        self,
        platform: str,
        adapter_config: Any,
        create_adapter: Callable[..., Any],
        fake_server: Handler,
        team_handles: frozenset[str],
        malformed_bodies: list[bytes],
        secrets: set[str],
    ) -> None:
        store = MemoryStore()
        injector = FaultInjector(fake_server, replace_body={0: malformed_bodies[0]})

        async def run() -> Any:
            async with httpx.AsyncClient(transport=injector.transport()) as client:
                adapter = create_adapter(
                    adapter_config, client, self._context(platform, team_handles)
                )
                return await sync_adapter(adapter, store, source="conformance", in_thread=False)

        result = asyncio.run(asyncio.wait_for(run(), _RUN_TIMEOUT))
        assert not result.ok
        assert result.error
        assert store.get_cursor("conformance") is None
        runs = list(store.iter_sync_runs("conformance"))
        assert len(runs) == 1
        assert not runs[0].ok
        for secret in secrets:
            assert secret not in (result.error or "")

    def test_secrets_never_leak(
        self,
        platform: str,
        adapter_config: Any,
        create_adapter: Callable[..., Any],
        fake_server: Handler,
        team_handles: frozenset[str],
        secrets: set[str],
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        if not secrets:
            pytest.skip("this adapter's config has no secret fields")
        context = self._context(platform, team_handles)
        texts: list[str] = [repr(adapter_config), str(adapter_config)]
        caplog.set_level(logging.DEBUG)

        # A full sync with transient faults (retries are logged) into a store.
        store = MemoryStore()
        injector = FaultInjector(fake_server, transient=TRANSIENT_FAULTS)

        async def full_run() -> None:
            async with httpx.AsyncClient(transport=injector.transport()) as client:
                adapter = create_adapter(adapter_config, client, context)
                texts.append(repr(adapter))
                texts.append(str(adapter))
                result = await sync_adapter(adapter, store, source="conformance", in_thread=False)
                assert result.ok, result.error

        asyncio.run(asyncio.wait_for(full_run(), _RUN_TIMEOUT))
        texts += [_dump(m) for m in store.iter_messages()]
        texts += [_dump(c) for c in store.iter_conversation_records()]
        texts += [_dump(s) for s in store.iter_stakeholders()]
        texts += [_dump(c) for c in store.iter_channels()]
        texts += [_dump(t) for t in store.iter_team_members()]
        texts += [_dump(r) for r in store.iter_sync_runs()]
        texts.append(str(store.get_cursor("conformance")))
        texts += [str(r.url) for r in injector.requests]

        # Failures: the platform rejects the credentials and echoes them back, at the
        # first request and at a later one; and a malformed body.
        echo = ("invalid credentials: " + " ".join(sorted(secrets))).encode()
        body = b'{"error": "' + echo + b'"}'
        for failing in (0, 1, 2):
            for status in (401, 403):
                store_f = MemoryStore()
                faulty = FaultInjector(fake_server, replace_status={failing: (status, body)})
                _, error = self.sync_until_failure(
                    create_adapter, adapter_config, context, faulty, store_f
                )
                if error is not None:
                    assert isinstance(error, ConvokitError), (
                        f"HTTP {status} raised {type(error).__name__}, not a ConvokitError"
                    )
                    assert isinstance(error, SyncError)
                    texts += [str(error), repr(error), repr(error.args)]
                    cause = error.__cause__ or error.__context__
                    if cause is not None:
                        texts.append(str(cause))
        texts += [record.getMessage() for record in caplog.records]
        texts += [str(record.args) for record in caplog.records if record.args]
        for secret in secrets:
            leaks = [t for t in texts if secret in t]
            assert not leaks, f"a secret leaked into: {leaks[0][:300]!r}"

    # -- incremental sync: the next run reads only what is new ---------------------------

    def test_resume_from_the_final_cursor_yields_nothing(
        self,
        platform: str,
        adapter_config: Any,
        create_adapter: Callable[..., Any],
        fake_server: Handler,
        team_handles: frozenset[str],
    ) -> None:
        context = self._context(platform, team_handles)

        def run(cursor: str | None) -> list[Page]:
            return self.collect(
                create_adapter, adapter_config, context, FaultInjector(fake_server), cursor
            )

        pages = run(None)
        # The final cursor of a full sync, and of a sync resumed after page 1 (a later
        # sync must advance the stored cursor too, not only the first one).
        finals = [("a full sync", pages[-1].cursor)]
        if len(pages) > 1:
            resumed = run(pages[0].cursor)
            assert resumed, "a sync resumed after page 1 yielded no page"
            finals.append(("a sync resumed after page 1", resumed[-1].cursor))
        for what, cursor in finals:
            for round_ in (1, 2):
                again = run(cursor)
                repeated = sorted(_message_ids(again))
                assert not repeated, (
                    f"a sync resumed from the final cursor of {what} (round {round_}, cursor "
                    f"{cursor!r}) yielded {len(repeated)} message(s) again, e.g. "
                    f"{repeated[:3]}: the final cursor does not advance past what was "
                    "delivered, so every sync re-reads them"
                )
                if not again:
                    break
                cursor = again[-1].cursor

    def test_no_message_is_yielded_twice(
        self,
        platform: str,
        adapter_config: Any,
        create_adapter: Callable[..., Any],
        fake_server: Handler,
        team_handles: frozenset[str],
    ) -> None:
        pages = self.collect(
            create_adapter,
            adapter_config,
            self._context(platform, team_handles),
            FaultInjector(fake_server),
        )
        counts = Counter(m.id for page in pages for m in page.all_messages())
        twice = sorted(i for i, n in counts.items() if n > 1)
        assert not twice, (
            f"{len(twice)} message(s) were yielded more than once in one full sync, e.g. "
            f"{twice[:3]} ({counts[twice[0]]} times): each page must hold only what is new"
        )

    def test_no_empty_page_mid_stream(
        self,
        platform: str,
        adapter_config: Any,
        create_adapter: Callable[..., Any],
        fake_server: Handler,
        team_handles: frozenset[str],
    ) -> None:
        context = self._context(platform, team_handles)
        pages = self.collect(create_adapter, adapter_config, context, FaultInjector(fake_server))
        runs = [("a full sync", pages)]
        if len(pages) > 2:
            rest = self.collect(
                create_adapter,
                adapter_config,
                context,
                FaultInjector(fake_server),
                pages[0].cursor,
            )
            runs.append(("a sync resumed after page 1", rest))
        for what, run in runs:
            for index, page in enumerate(run[:-1]):
                assert len(page) > 0, (
                    f"{what}: page {index + 1} of {len(run)} holds no record (cursor "
                    f"{page.cursor!r}); only the last page may carry a cursor alone"
                )

    def test_persistent_rate_limit_fails_the_source(
        self,
        platform: str,
        adapter_config: Any,
        create_adapter: Callable[..., Any],
        fake_server: Handler,
        expected_ids: set[str],
        team_handles: frozenset[str],
    ) -> None:
        context = self._context(platform, team_handles)
        baseline = FaultInjector(fake_server)
        self.collect(create_adapter, adapter_config, context, baseline)
        total = len(baseline.requests)
        body = b'{"error": "Too many requests"}'
        for start in sorted({0, total // 2, total - 1}):
            store = MemoryStore()
            limited = dict.fromkeys(range(start, start + 500), (429, body))
            injector = FaultInjector(fake_server, replace_status=limited)
            pages, error = self.sync_until_failure(
                create_adapter, adapter_config, context, injector, store
            )
            where = f"429 answered to every request from request {start + 1} of {total} on"
            assert error is not None, (
                f"{where}: the sync ended without an error after {len(pages)} page(s); a "
                "rate limit that does not lift must fail the source, never end it quietly"
            )
            assert isinstance(error, ConvokitError), (
                f"{where}: raised {type(error).__name__}, not a ConvokitError: {error}"
            )

    # -- cursors the adapter did not write -----------------------------------------------

    @pytest.fixture
    def garbage_cursors(self) -> list[str] | None:
        """Cursors the adapter never wrote. Default (``None``): the kit's own list."""
        return None

    def test_garbage_cursor_is_an_error(
        self,
        platform: str,
        adapter_config: Any,
        create_adapter: Callable[..., Any],
        fake_server: Handler,
        team_handles: frozenset[str],
        garbage_cursors: list[str] | None,
    ) -> None:
        context = self._context(platform, team_handles)
        pages = self.collect(create_adapter, adapter_config, context, FaultInjector(fake_server))
        written = {page.cursor for page in pages}
        cursors = garbage_cursors
        if cursors is None:
            final = pages[-1].cursor
            cursors = [
                "garbage!",
                "null",
                '{"v": 999}',
                "\u00fcnic\u00f8de \u2603",
                final[: len(final) // 2],
                final[:-1],
            ]
        cursors = [c for c in dict.fromkeys(cursors) if c and c not in written]
        assert cursors, "no garbage cursor left to try"
        for cursor in cursors:
            yielded: list[Page] = []

            async def run(cursor: str = cursor, yielded: list[Page] = yielded) -> None:
                async with httpx.AsyncClient(
                    transport=FaultInjector(fake_server).transport()
                ) as client:
                    adapter = create_adapter(adapter_config, client, context)
                    async for page in adapter.fetch(cursor):
                        yielded.append(page)
                        assert len(yielded) < _MAX_PAGES, "fetch never ends"

            error: BaseException | None = None
            try:
                asyncio.run(asyncio.wait_for(run(), _RUN_TIMEOUT))
            except Exception as exc:
                error = exc
            if error is not None:
                if not isinstance(error, ConvokitError):
                    pytest.fail(
                        f"cursor {cursor!r} raised {type(error).__name__}: {error}; a cursor "
                        "the adapter did not write must raise MalformedPayload (or "
                        "SyncError) with a clear message"
                    )
                assert str(error).strip(), f"cursor {cursor!r}: the error has no message"
                assert not yielded, (
                    f"cursor {cursor!r}: {len(yielded)} page(s) were yielded before the error"
                )
                continue
            restarted = _message_ids(yielded)
            assert not restarted, (
                f"cursor {cursor!r} was accepted and the sync restarted silently "
                f"({len(restarted)} messages); it must raise MalformedPayload"
            )
            pytest.fail(
                f"cursor {cursor!r} was accepted silently; a cursor the adapter did not "
                "write must raise MalformedPayload (or SyncError)"
            )

    # -- directions: our team and our accounts are outbound ------------------------------

    @pytest.fixture
    def outbound_ids(self) -> set[str] | None:
        """The ``Message.id`` of every message that must come out ``outbound`` with the
        ``team_handles`` fixture. Default (``None``): at least one, and the rest checked
        by the kit (see :meth:`test_team_handles_and_own_accounts_are_outbound`)."""
        return None

    def test_team_handles_and_own_accounts_are_outbound(
        self,
        platform: str,
        adapter_config: Any,
        create_adapter: Callable[..., Any],
        fake_server: Handler,
        team_handles: frozenset[str],
        outbound_ids: set[str] | None,
    ) -> None:
        def run(handles: frozenset[str]) -> list[Page]:
            return self.collect(
                create_adapter,
                adapter_config,
                self._context(platform, handles),
                FaultInjector(fake_server),
            )

        pages = run(team_handles)
        directions = _directions(pages)
        outbound = {i for i, d in directions.items() if d is Direction.OUTBOUND}
        if outbound_ids is not None:
            assert outbound == set(outbound_ids), (
                f"outbound messages: expected {sorted(outbound_ids)}, found {sorted(outbound)}"
            )
        else:
            # Without any [[team]] handle, the source's own account still speaks for us.
            alone = _directions(run(frozenset()))
            assert any(d is Direction.OUTBOUND for d in alone.values()), (
                "with no team handles no message came out outbound: messages by the "
                "source's own account must be outbound (context.with_own_handles); put "
                "some in the fake server's data, or override the outbound_ids fixture"
            )
        # A stakeholder of the data who joins the team: their messages turn outbound.
        handles = _author_handles(pages, platform)
        authors = {
            m.author_id: m.id
            for page in pages
            for m in page.all_messages()
            if m.direction is Direction.INBOUND and m.author_id in handles
        }
        if not authors:
            pytest.skip(
                "no inbound message's author has a Stakeholder with an identity on this "
                "platform, so the kit cannot name one as a team member"
            )
        author = sorted(authors)[0]
        handle = handles[author]
        # As a [[team]] table would write it: the other case and a leading "@".
        spelled = "@" + handle.lstrip("@").upper()
        joined = _directions(run(team_handles | {spelled}))
        for page in pages:
            for message in page.all_messages():
                now = joined.get(message.id)
                if message.author_id == author:
                    assert now is Direction.OUTBOUND, (
                        f"message {message.id!r} by {handle!r} is {now} although "
                        f"{spelled!r} is a team handle: use context.is_ours(handle)"
                    )
                else:
                    assert now is message.direction, (
                        f"message {message.id!r} by {message.author_id!r} changed from "
                        f"{message.direction} to {now} when {spelled!r} joined the team"
                    )

    # -- secrets, with malformed payloads -------------------------------------------------

    def test_secrets_never_leak_from_malformed_payloads(
        self,
        platform: str,
        adapter_config: Any,
        create_adapter: Callable[..., Any],
        fake_server: Handler,
        team_handles: frozenset[str],
        secrets: set[str],
        malformed_bodies: list[bytes],
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        if not secrets:
            pytest.skip("this adapter's config has no secret fields")
        context = self._context(platform, team_handles)
        caplog.set_level(logging.DEBUG)
        baseline = FaultInjector(fake_server)
        self.collect(create_adapter, adapter_config, context, baseline)
        total = len(baseline.requests)
        indices = (
            sorted({round(i * (total - 1) / 7) for i in range(8)})
            if total > 8
            else list(range(total))
        )
        texts: list[str] = []
        # Field-by-field corruption where the bodies hold records (lists of objects).
        rich = [i for i in range(total) if _has_records(baseline.bodies.get(i))]
        deep = {rich[0], rich[len(rich) // 2], rich[-1]} if rich else set()
        for index in sorted(set(indices) | deep):
            bodies = list(malformed_bodies) + list(_corruptions(baseline.bodies.get(index)))
            if index in deep:
                bodies += list(_leaf_corruptions(baseline.bodies.get(index)))
            for body in bodies:
                injector = FaultInjector(fake_server, replace_body={index: body})
                adapters: list[Any] = []

                def create(
                    config: Any, client: Any, ctx: Any, adapters: list[Any] = adapters
                ) -> Any:
                    adapter = create_adapter(config, client, ctx)
                    adapters.append(adapter)
                    return adapter

                _, error = self.sync_until_failure(
                    create, adapter_config, context, injector, MemoryStore()
                )
                texts += [repr(a) for a in adapters] + [str(a) for a in adapters]
                for exc in _chain(error):
                    texts += [str(exc), repr(exc), repr(exc.args)]
        texts += [record.getMessage() for record in caplog.records]
        texts += [str(record.args) for record in caplog.records if record.args]
        texts += [str(record.exc_text) for record in caplog.records if record.exc_text]
        for secret in secrets:
            leaks = [t for t in texts if secret in t]
            assert not leaks, (
                f"with a malformed payload injected, a secret leaked into: {leaks[0][:300]!r}"
            )

    # -- times and threads come from the payload -----------------------------------------

    def test_times_are_the_payload_times_in_utc(
        self,
        platform: str,
        adapter_config: Any,
        create_adapter: Callable[..., Any],
        fake_server: Handler,
        team_handles: frozenset[str],
    ) -> None:
        injector = FaultInjector(fake_server)
        pages = self.collect(
            create_adapter, adapter_config, self._context(platform, team_handles), injector
        )
        moments = set()
        for body in injector.bodies.values():
            moments |= _moments(body)
        for page in pages:
            for message in page.all_messages():
                when = message.sent_at.replace(microsecond=0)
                assert when in moments, (
                    f"message {message.id!r}: sent_at {message.sent_at.isoformat()} is no "
                    "moment the server sent (as an ISO 8601 time, read as UTC when it has no "
                    "offset, or as epoch seconds): a time parsed in local time, or shifted?"
                )

    @pytest.fixture
    def has_replies(self) -> bool:
        """Whether the fake server's data holds replies (default: it must)."""
        return True

    def test_replies_point_at_their_parents(
        self,
        platform: str,
        adapter_config: Any,
        create_adapter: Callable[..., Any],
        fake_server: Handler,
        team_handles: frozenset[str],
        has_replies: bool,
    ) -> None:
        pages = self.collect(
            create_adapter,
            adapter_config,
            self._context(platform, team_handles),
            FaultInjector(fake_server),
        )
        messages = {m.id: m for page in pages for m in page.all_messages()}
        replies = [m for m in messages.values() if m.in_reply_to is not None]
        if not has_replies:
            assert not replies, "has_replies is False, yet some messages reply to others"
            return
        assert replies, (
            "no message has in_reply_to: a reply's parent was dropped, or the fake "
            "server's data holds no reply (then override the has_replies fixture)"
        )
        for reply in replies:
            assert reply.in_reply_to != reply.id, f"message {reply.id!r} replies to itself"
            parent = messages.get(reply.in_reply_to or "")
            if parent is not None:
                assert parent.conversation_id == reply.conversation_id, (
                    f"message {reply.id!r} (conversation {reply.conversation_id!r}) replies "
                    f"to {parent.id!r} of conversation {parent.conversation_id!r}"
                )
        assert any(r.in_reply_to in messages for r in replies), (
            "no in_reply_to names a message of the sync: parent ids must be written the "
            "way Message.id is (instance-qualified where ids are)"
        )


def _directions(pages: Sequence[Page]) -> dict[str, Direction]:
    return {m.id: m.direction for page in pages for m in page.all_messages()}


def _author_handles(pages: Sequence[Page], platform: str) -> dict[str, str]:
    """``author_id`` -> handle on ``platform``, from the stakeholders the pages carry."""
    out: dict[str, str] = {}
    for page in pages:
        for person in page.stakeholders:
            handle = person.identities.get(platform)
            if handle:
                out[person.id] = handle
    return out


_ISO_TIME = re.compile(rb"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?")
_EPOCH = re.compile(rb"(?<![\d.])1[0-9]{9}(?:[0-9]{3})?(?:\.\d+)?(?![\d])")
_RFC2822 = re.compile(rb"[A-Z][a-z]{2}, \d{1,2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} [^\"<,]{1,5}")


def _moments(body: bytes) -> set[datetime]:
    """Every moment a response body names, to the second, in UTC: ISO 8601 (naive read
    as UTC; ``+0000`` without a colon too), epoch seconds or milliseconds, RFC 2822."""
    found: set[datetime] = set()
    for match in _ISO_TIME.finditer(body):
        text = match.group().decode().replace(" ", "T")
        if re.search(r"[+-]\d{4}$", text):  # +0000 without a colon
            text = text[:-2] + ":" + text[-2:]
        try:
            found.add(parse_datetime(text, naive=UTC).replace(microsecond=0))
        except ValueError:
            continue
    for match in _EPOCH.finditer(body):
        value = float(match.group())
        if value >= 1e12:  # milliseconds
            value /= 1000
        found.add(datetime.fromtimestamp(int(value), UTC))
    for match in _RFC2822.finditer(body):
        try:
            moment = parsedate_to_datetime(match.group().decode().strip())
        except (TypeError, ValueError, IndexError):
            continue
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        found.add(moment.astimezone(UTC).replace(microsecond=0))
    return found


def _chain(error: BaseException | None) -> Iterator[BaseException]:
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        yield error
        error = error.__cause__ or error.__context__


def _wrong(value: Any) -> Any:
    """A value of the wrong JSON type for ``value``."""
    if isinstance(value, bool):
        return "yes"
    if isinstance(value, str):
        return 12345
    if isinstance(value, int | float):
        return "not a number"
    if isinstance(value, list):
        return {"not": "a list"}
    if isinstance(value, dict):
        return ["not", "an", "object"]
    return {"unexpected": None}


def _first_records(data: Any) -> Iterator[dict[str, Any]]:
    """The first object of every list of objects in ``data`` (depth first)."""
    if isinstance(data, dict):
        for value in data.values():
            yield from _first_records(value)
    elif isinstance(data, list):
        if data and isinstance(data[0], dict):
            yield data[0]
        for value in data:
            if isinstance(value, dict | list):
                yield from _first_records(value)


def _corruptions(body: bytes | None) -> Iterator[bytes]:
    """Plausible malformed variants of a real response body: a record of the wrong
    type, a record with no fields, and a record whose every field has the wrong type."""
    if not body:
        return
    try:
        data = json.loads(body)
    except ValueError:
        return
    if not list(_first_records(data)):
        return
    yield json.dumps(_replace_first_records(data)).encode()
    for kind in ("emptied", "retyped"):
        corrupt = copy.deepcopy(data)
        for record in list(_first_records(corrupt))[:3]:
            if kind == "emptied":
                record.clear()
            else:
                for key, value in list(record.items()):
                    record[key] = _wrong(value)
        yield json.dumps(corrupt).encode()


def _has_records(body: bytes | None) -> bool:
    try:
        return bool(body) and any(True for _ in _first_records(json.loads(body or b"")))
    except ValueError:
        return False


def _leaf_paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaf_paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value[:2]):
            yield from _leaf_paths(item, (*prefix, index))
    else:
        yield prefix


def _leaf_corruptions(body: bytes | None, limit: int = 60) -> Iterator[bytes]:
    """Variants of a real body with ONE leaf of its first record of the wrong type,
    so the adapter's checks deep inside a record (past the outer shape) run too."""
    if not body:
        return
    try:
        data = json.loads(body)
    except ValueError:
        return
    records = list(_first_records(data))
    if not records:
        return
    # One field name once (``id`` of the record, of its author, …): the first is enough.
    paths = list({p[-1]: p for p in reversed(list(_leaf_paths(records[0]))) if p}.values())
    paths = paths[::-1][:limit]
    for path in paths:
        corrupt = copy.deepcopy(data)
        target = next(iter(_first_records(corrupt)))
        for part in path[:-1]:
            target = target[part]
        target[path[-1]] = _wrong(target[path[-1]])
        yield json.dumps(corrupt).encode()


def _replace_first_records(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: _replace_first_records(v) for k, v in data.items()}
    if isinstance(data, list):
        if data and isinstance(data[0], dict):
            return ["not an object", *(_replace_first_records(v) for v in data[1:])]
        return [_replace_first_records(v) for v in data]
    return data
