"""The asyncio face of the library: check, import and export without blocking the loop.

Every store has a worker thread of its own; blocking work (SQLite or PostgreSQL I/O,
parsing, evaluation) runs there, one call at a time, while the event loop stays free.

Cancellation is safe: when the awaiting task is cancelled, the worker is told to stop at
its next batch boundary (every few hundred records or conversations), an import in
progress rolls back its transaction, and only once the worker has stopped does
:class:`asyncio.CancelledError` reach the caller. The store is then exactly as it was
before the call, and still usable.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import threading
from collections.abc import Callable, Collection, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import ParamSpec, Self, TypeVar

from ._cancel import Cancelled, checkpointed, running_cancellable
from ._errors import ConfigError
from ._io._csv import ColumnMapping, read_csv
from ._io._importer import ImportResult, import_records
from ._io._jsonl import export_jsonl, import_jsonl
from ._io._plugin import default_format, import_with
from ._io._source import ImportSource
from ._output import atomic_output
from ._plugins import open_store
from ._policy._evaluate import Commitment
from ._policy._findings import CheckReport
from ._policy._policyfile import Policy
from ._policy._run import check
from .protocols import Classifier, StorageBackend

__all__ = ["AsyncStore", "acheck", "aexport", "aimport", "aopen_store"]

T = TypeVar("T")
P = ParamSpec("P")


class AsyncStore:
    """A store for asyncio code. Use it as ``async with aopen_store(url) as store:``.

    Each method runs the blocking operation of the same name in the store's own worker
    thread and is cancellation-safe (see the module documentation). Calls on one store
    run one after the other; open several stores for parallel work.

    Attributes:
        url: the store URL (any password removed), once opened.
    """

    def __init__(self, url: str, *, create: bool = True) -> None:
        self._url_given = url
        self._create = create
        self._executor: ThreadPoolExecutor | None = None
        self._store: StorageBackend | None = None

    @property
    def url(self) -> str:
        return self._store.url if self._store is not None else self._url_given

    def __repr__(self) -> str:
        state = "open" if self._store is not None else "closed"
        return f"<AsyncStore {self.url!r} {state}>"

    # -- lifecycle ---------------------------------------------------------------------

    async def open(self) -> Self:
        """Open the store (in the worker thread). ``async with`` calls this."""
        if self._store is not None:
            return self
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="convokit-store")
        try:
            self._store = await self._run(open_store, self._url_given, create=self._create)
        except BaseException:
            self._executor.shutdown(wait=False)
            self._executor = None
            raise
        return self

    async def close(self) -> None:
        """Close the store and stop its worker thread. Safe to call twice."""
        store, executor = self._store, self._executor
        self._store = None
        if store is not None and executor is not None:
            await self._in_worker(executor, store.close)
        if executor is not None:
            self._executor = None
            executor.shutdown(wait=False)

    async def __aenter__(self) -> Self:
        return await self.open()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # -- operations --------------------------------------------------------------------

    async def run(self, function: Callable[[StorageBackend], T]) -> T:
        """Run ``function(store)`` in the worker thread with the blocking store.

        For anything this class does not wrap. ``function`` must not keep the store.
        """
        store = self._require()
        return await self._run(function, store)

    async def counts(self) -> dict[str, int]:
        """How many records of each kind the store holds."""
        return await self._run(self._require().counts)

    async def check(
        self,
        policy: Policy | Sequence[Commitment] | str | os.PathLike[str],
        *,
        as_of: datetime | None = None,
        only: Collection[str] | None = None,
        classifiers: Sequence[Classifier] | None = None,
    ) -> CheckReport:
        """:func:`convokit_core.check` on this store."""
        store = self._require()
        policy_arg: Policy | Sequence[Commitment] | str | Path = (
            Path(policy) if isinstance(policy, os.PathLike) else policy
        )
        return await self._run(
            check, store, policy_arg, as_of=as_of, only=only, classifiers=classifiers
        )

    async def import_file(
        self,
        path: str | os.PathLike[str],
        *,
        format: str | None = None,
        mapping: ColumnMapping | str | os.PathLike[str] | None = None,
        skip_invalid: bool = False,
    ) -> ImportResult:
        """Import a file or directory in any registered import format (all or nothing
        unless ``skip_invalid``), as ``convokit import`` does.

        ``format`` defaults as on the CLI (``csv`` for ``*.csv``, ``convokit-corpus`` for
        a corpus directory, else ``jsonl``); CSV needs a column ``mapping`` (a
        :class:`ColumnMapping` or the path of its TOML file). Cancelled, it writes nothing.
        """
        store = self._require()
        fmt = format or default_format(str(path))
        if fmt == "csv" and mapping is None:
            raise ConfigError("format csv needs a column mapping")
        return await self._run(_import_file, store, Path(path), fmt, mapping, skip_invalid)

    async def import_lines(
        self, lines: Iterable[str], *, source: str = "<input>", skip_invalid: bool = False
    ) -> ImportResult:
        """Import JSONL from lines already in memory (all or nothing unless
        ``skip_invalid``). Cancelled, it writes nothing."""
        store = self._require()
        return await self._run(
            import_jsonl, store, checkpointed(lines), source=source, skip_invalid=skip_invalid
        )

    async def export_file(self, path: str | os.PathLike[str]) -> int:
        """Export the store as JSONL to ``path`` (replaced only when complete).

        Returns the number of records written. Cancelled, ``path`` is left untouched.
        """
        store = self._require()
        return await self._run(_export_file, store, str(path))

    # -- plumbing ----------------------------------------------------------------------

    def _require(self) -> StorageBackend:
        if self._store is None:
            raise ConfigError(
                f"store {self._url_given!r} is not open; use 'async with aopen_store(url)'"
            )
        return self._store

    async def _run(self, function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        if self._executor is None:
            raise ConfigError(
                f"store {self._url_given!r} is not open; use 'async with aopen_store(url)'"
            )
        return await self._in_worker(self._executor, functools.partial(function, *args, **kwargs))

    @staticmethod
    async def _in_worker(executor: ThreadPoolExecutor, call: Callable[[], T]) -> T:
        cancel = threading.Event()

        def work() -> T:
            with running_cancellable(cancel):
                return call()

        future = asyncio.get_running_loop().run_in_executor(executor, work)
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            cancel.set()
            # Wait for the worker to unwind (it rolls back and stops at its next batch
            # boundary) so the caller never sees the store half-way through a call.
            while not future.done():
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.wait([future])
            with contextlib.suppress(Cancelled, Exception):
                future.result()
            raise


def _import_file(
    store: StorageBackend,
    path: Path,
    fmt: str,
    mapping: ColumnMapping | str | os.PathLike[str] | None,
    skip_invalid: bool,
) -> ImportResult:
    if isinstance(mapping, ColumnMapping):  # a mapping object, not a file: read it here
        source = ImportSource.of(str(path))
        with source.open_text(newline="") as stream:
            items = checkpointed(read_csv(stream, mapping, source=source.name))
            return import_records(store, items, source=source.name, skip_invalid=skip_invalid)
    options = {} if mapping is None else {"mapping": os.fspath(mapping)}
    return import_with(store, ImportSource.of(str(path), options), fmt, skip_invalid=skip_invalid)


def _export_file(store: StorageBackend, path: str) -> int:
    with atomic_output(path) as stream:
        return export_jsonl(store, stream)


def aopen_store(url: str, *, create: bool = True) -> AsyncStore:
    """An :class:`AsyncStore` for ``url``, to use as ``async with aopen_store(url) as s:``.

    With ``create=False`` a store that does not exist yet is an error naming the URL
    instead of a new empty store (what reads want).
    """
    return AsyncStore(url, create=create)


async def acheck(
    store_url: str,
    policy: Policy | Sequence[Commitment] | str | os.PathLike[str],
    *,
    as_of: datetime | None = None,
    only: Collection[str] | None = None,
    classifiers: Sequence[Classifier] | None = None,
) -> CheckReport:
    """Open ``store_url``, check ``policy`` as of ``as_of`` (default: now), close it.

    The asyncio twin of :func:`convokit_core.check`: the loop is never blocked, and a
    cancelled call stops at the next batch of conversations.
    """
    async with aopen_store(store_url, create=False) as store:
        return await store.check(policy, as_of=as_of, only=only, classifiers=classifiers)


async def aimport(
    store_url: str,
    path: str | os.PathLike[str],
    *,
    format: str | None = None,
    mapping: ColumnMapping | str | os.PathLike[str] | None = None,
    skip_invalid: bool = False,
) -> ImportResult:
    """Open ``store_url``, import the JSONL or CSV file at ``path``, close it.

    All or nothing unless ``skip_invalid``; cancelled, nothing is written.
    """
    async with aopen_store(store_url) as store:
        return await store.import_file(
            path, format=format, mapping=mapping, skip_invalid=skip_invalid
        )


async def aexport(store_url: str, path: str | os.PathLike[str]) -> int:
    """Open ``store_url``, export it as JSONL to ``path`` (replaced only when complete)."""
    async with aopen_store(store_url, create=False) as store:
        return await store.export_file(path)
