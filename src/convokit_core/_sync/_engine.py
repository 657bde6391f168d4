"""Runs adapters and writes their pages, each with its cursor, in one transaction.

Delivery is at-least-once with idempotent upserts: a page and the cursor that resumes
after it are committed together, so a sync killed at any moment resumes from the last
committed cursor, re-fetching at most the page it was writing, never losing one and never
duplicating a record.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

import attrs
import httpx

from convokit_core._errors import ConvokitError, SourceLocked, SyncError
from convokit_core._model import Batch, Page, SyncRun, TeamMember
from convokit_core._secrets import scrub, scrubbed_traceback
from convokit_core.protocols import PlatformAdapter, StorageBackend

from ._config import SourceSpec
from ._context import SyncContext, normalize_handle

__all__ = [
    "DEFAULT_CONCURRENCY",
    "SourceResult",
    "SyncObserver",
    "SyncReport",
    "run_sync",
    "sync_adapter",
    "team_handles",
]

log = logging.getLogger("convokit.sync")

DEFAULT_CONCURRENCY = 10
"""How many sources sync at the same time unless told otherwise."""


@attrs.frozen(kw_only=True)
class SourceResult:
    """What syncing one source did.

    Attributes:
        source: the source's name.
        pages: pages written (each committed with its cursor).
        records: records in those pages.
        ok: whether the source synced to the end without error.
        error: why it failed (secrets removed), or ``None``.
        started_at: when it started (aware UTC).
        finished_at: when it ended (aware UTC).
        cursor: the last committed cursor after the run (``None`` if never synced).
    """

    source: str
    pages: int
    records: int
    ok: bool
    error: str | None
    started_at: datetime
    finished_at: datetime
    cursor: str | None

    @property
    def duration(self) -> float:
        """Seconds the source took."""
        return (self.finished_at - self.started_at).total_seconds()


@attrs.frozen(kw_only=True)
class SyncReport:
    """Every source's result of one sync run, in the order the sources were given."""

    results: tuple[SourceResult, ...]

    @property
    def ok(self) -> bool:
        """Whether every source succeeded."""
        return all(r.ok for r in self.results)

    @property
    def failed(self) -> tuple[SourceResult, ...]:
        """The sources that failed."""
        return tuple(r for r in self.results if not r.ok)

    def failure_message(self) -> str:
        """One line per failed source: ``source 'name' failed: why``."""
        return "\n".join(f"source {r.source!r} failed: {r.error}" for r in self.failed)


class SyncObserver(Protocol):
    """Told what a sync run is doing (progress bars, log lines). Called per page."""

    def source_started(self, source: str, platform: str) -> None:
        """``source`` starts syncing."""

    def page_written(self, source: str, pages: int, records: int) -> None:
        """``source`` has now written ``pages`` pages holding ``records`` records."""

    def source_finished(self, result: SourceResult) -> None:
        """``source`` is done (successfully or not)."""


class _NullObserver:
    def source_started(self, source: str, platform: str) -> None:
        pass

    def page_written(self, source: str, pages: int, records: int) -> None:
        pass

    def source_finished(self, result: SourceResult) -> None:
        pass


def _now() -> datetime:
    return datetime.now(UTC)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ConvokitError):
        return str(exc) or type(exc).__name__
    # A bug or an unexpected payload inside an adapter: say so, with the type.
    return f"unexpected {type(exc).__name__} in the adapter: {exc}"


def _scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` without the source's secrets nor any registered one (all their forms)."""
    return scrub(text, secrets)


async def sync_adapter(
    adapter: PlatformAdapter,
    store: StorageBackend,
    *,
    source: str,
    write_lock: asyncio.Lock | None = None,
    observer: SyncObserver | None = None,
    secrets: Iterable[str] = (),
    record_run: bool = True,
    in_thread: bool = True,
) -> SourceResult:
    """Sync one source: resume from its stored cursor, write page by page.

    Each page is written with ``store.write(page, source=source, cursor=page.cursor)``,
    one transaction per page. The source is locked with ``store.lock_source`` for the
    whole run. Errors do not propagate: they make the result ``ok=False`` with the
    reason (``secrets`` removed from it). The run is recorded with
    ``store.record_sync_run`` unless ``record_run`` is false.

    Args:
        write_lock: serialises writes of several concurrent sources to one store.
        in_thread: run the (blocking) store writes in a worker thread so other sources
            keep fetching meanwhile.
    """
    observer = observer or _NullObserver()
    secrets = tuple(secrets)
    started = _now()
    pages = 0
    records = 0
    error: str | None = None
    lock = write_lock or asyncio.Lock()

    async def call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        async with lock:
            if in_thread:
                return await asyncio.to_thread(fn, *args, **kwargs)
            return fn(*args, **kwargs)

    try:
        with store.lock_source(source):
            cursor = await call(store.get_cursor, source)
            log.info(
                "source %s: starting from %s",
                source,
                "the beginning" if cursor is None else "its last cursor",
            )
            # While page n is being written, the adapter already fetches page n+1; at
            # most one write is in flight per source, so pages commit in order.
            writing: asyncio.Future[Any] | None = None
            written = 0

            async def settle() -> None:
                nonlocal writing, pages, records
                if writing is not None:
                    future, writing = writing, None
                    await future
                    pages += 1
                    records += written
                    observer.page_written(source, pages, records)

            try:
                async for page in adapter.fetch(cursor):
                    if not isinstance(page, Page):
                        raise SyncError(
                            f"the adapter yielded {type(page).__name__}, expected a Page"
                        )
                    await settle()
                    written = len(page)
                    writing = asyncio.ensure_future(
                        call(store.write, page, source=source, cursor=page.cursor)
                    )
            except BaseException:
                # The fetch failed: still commit the page already handed over (it is
                # complete), then report the fetch error.
                with contextlib.suppress(Exception):
                    await settle()
                raise
            await settle()
    except SourceLocked as exc:
        error = str(exc)
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # one failing source never stops the others
        error = _scrub(_describe(exc), secrets)
        if log.isEnabledFor(logging.DEBUG):
            # The traceback is formatted and scrubbed here, never handed to logging raw.
            log.debug("source %s failed:\n%s", source, _scrub(scrubbed_traceback(exc), secrets))
    finished = _now()
    try:
        final_cursor = await call(store.get_cursor, source)
    except Exception:  # pragma: no cover - the store itself broke
        final_cursor = None
    result = SourceResult(
        source=source,
        pages=pages,
        records=records,
        ok=error is None,
        error=error,
        started_at=started,
        finished_at=finished,
        cursor=final_cursor,
    )
    if record_run:
        run = SyncRun(
            source=source,
            started_at=started,
            finished_at=finished,
            pages=pages,
            records=records,
            ok=result.ok,
            error=error,
        )
        try:
            await call(store.record_sync_run, run)
        except Exception as exc:  # pragma: no cover - the store itself broke
            log.warning(
                "source %s: could not record the sync run: %s", source, _scrub(str(exc), secrets)
            )
    if result.ok:
        log.info("source %s: %d pages, %d records", source, pages, records)
    else:
        log.info("source %s failed: %s", source, error)  # the caller reports it
    return result


def team_handles(team: Iterable[TeamMember], platform: str) -> frozenset[str]:
    """The normalised handles team members have on ``platform``."""
    return frozenset(normalize_handle(m.handles[platform]) for m in team if m.handles.get(platform))


ClientFactory = Callable[[], httpx.AsyncClient]


_ssl_context: ssl.SSLContext | None = None


def _shared_ssl_context() -> ssl.SSLContext:
    # Building a verifying SSL context (loading the CA bundle) takes ~70 ms; one per
    # process is enough, and clients built on it stay independent otherwise.
    global _ssl_context
    if _ssl_context is None:
        _ssl_context = ssl.create_default_context()
        with contextlib.suppress(ImportError):
            import certifi

            _ssl_context.load_verify_locations(certifi.where())
    return _ssl_context


def default_client() -> httpx.AsyncClient:
    """A fresh client for one source (own connection pool and cookie jar)."""
    return httpx.AsyncClient(
        follow_redirects=False,
        timeout=httpx.Timeout(30.0),
        verify=_shared_ssl_context(),
        headers={"User-Agent": "convokit (+https://pypi.org/project/convokit-core/)"},
    )


async def run_sync(
    sources: Sequence[SourceSpec],
    store: StorageBackend,
    *,
    team: Sequence[TeamMember] = (),
    concurrency: int = DEFAULT_CONCURRENCY,
    client_factory: ClientFactory | None = None,
    observer: SyncObserver | None = None,
    in_thread: bool = True,
) -> SyncReport:
    """Sync ``sources`` into ``store``, at most ``concurrency`` at a time.

    ``team`` members are written to the store first and their handles on each source's
    platform count as ours (outbound), as do the handles of the channels already in the
    store (our accounts, recorded by earlier syncs). One failing source never stops the others; the
    report says which failed and why.
    """
    if concurrency < 1:
        raise ValueError(f"concurrency must be at least 1, got {concurrency}")
    observer = observer or _NullObserver()
    make_client = client_factory or default_client
    write_lock = asyncio.Lock()
    if team:
        async with write_lock:
            fields: dict[str, Any] = {"team_members": tuple(team)}
            await asyncio.to_thread(store.write, Batch(**fields))
    # Our channels (accounts any source has synced) count as ours on their platform,
    # so a reply from one of our accounts in another account's thread is outbound.
    async with write_lock:
        channels = await asyncio.to_thread(lambda: list(store.iter_channels()))
    channel_handles: dict[str, set[str]] = {}
    for channel in channels:
        if channel.handle:
            channel_handles.setdefault(channel.platform, set()).add(channel.handle)
    semaphore = asyncio.Semaphore(concurrency)

    async def failed_to_create(spec: SourceSpec, exc: Exception) -> SourceResult:
        started = _now()
        error = _scrub(f"could not create the adapter: {_describe(exc)}", spec.secrets)
        run = SyncRun(
            source=spec.name, started_at=started, finished_at=started, ok=False, error=error
        )
        async with write_lock:
            await asyncio.to_thread(store.record_sync_run, run)
            cursor = await asyncio.to_thread(store.get_cursor, spec.name)
        return SourceResult(
            source=spec.name,
            pages=0,
            records=0,
            ok=False,
            error=error,
            started_at=started,
            finished_at=started,
            cursor=cursor,
        )

    async def one(spec: SourceSpec) -> SourceResult:
        async with semaphore:
            observer.source_started(spec.name, spec.platform)
            context = SyncContext(
                source=spec.name,
                platform=spec.platform,
                team_handles=team_handles(team, spec.platform),
                own_handles=channel_handles.get(spec.platform, ()),
            )
            async with make_client() as client:
                try:
                    adapter = spec.create(spec.config, client, context)
                except Exception as exc:
                    result = await failed_to_create(spec, exc)
                else:
                    result = await sync_adapter(
                        adapter,
                        store,
                        source=spec.name,
                        write_lock=write_lock,
                        observer=observer,
                        secrets=spec.secrets,
                        in_thread=in_thread,
                    )
            observer.source_finished(result)
            return result

    results = await asyncio.gather(*(one(spec) for spec in sources))
    return SyncReport(results=tuple(results))


def run_sync_blocking(
    sources: Sequence[SourceSpec],
    store: StorageBackend,
    **kwargs: Any,
) -> SyncReport:
    """:func:`run_sync` from synchronous code (starts its own event loop)."""
    return asyncio.run(run_sync(sources, store, **kwargs))
