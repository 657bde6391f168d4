"""Processes opening and importing into one fresh SQLite store at the same time.

The processes start together at a :class:`multiprocessing.Barrier` (no timers): before
the migration took the write lock before reading ``user_version``, every round of eight
failed with "table messages already exists".
"""

from __future__ import annotations

import io
import multiprocessing
from pathlib import Path
from typing import Any

import pytest

from convokit_core import open_store

_CTX = multiprocessing.get_context("fork")


def _open_at_barrier(url: str, barrier: Any, errors: Any) -> None:
    try:
        barrier.wait()
        store = open_store(url)
        store.counts()
        store.close()
    except BaseException as exc:  # reported to the parent, which asserts on it
        errors.put(f"{type(exc).__name__}: {exc}")


@pytest.mark.parametrize("round_", range(5))
def test_eight_processes_open_a_fresh_store_at_once(tmp_path: Path, round_: int) -> None:
    url = f"sqlite:///{tmp_path / f'fresh-{round_}.db'}"
    barrier = _CTX.Barrier(8)
    errors = _CTX.Queue()
    procs = [_CTX.Process(target=_open_at_barrier, args=(url, barrier, errors)) for _ in range(8)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    found = []
    while not errors.empty():
        found.append(errors.get())
    assert found == []
    assert [p.exitcode for p in procs] == [0] * 8
    with open_store(url) as store:
        assert store.counts()["messages"] == 0


def _import_at_barrier(url: str, worker: int, n: int, barrier: Any, errors: Any) -> None:
    from convokit_core._io._jsonl import import_jsonl

    lines = "".join(
        f'{{"id":"w{worker}-{i}","platform":"t","conversation":"c{worker}-{i % 50}",'
        '"author":"a","direction":"inbound","sent_at":"2024-01-01T00:00:00Z"}\n'
        for i in range(n)
    )
    try:
        barrier.wait()
        store = open_store(url)
        import_jsonl(store, io.StringIO(lines), source=f"worker{worker}")
        store.close()
    except BaseException as exc:
        errors.put(f"{type(exc).__name__}: {exc}")


def test_four_concurrent_imports_into_a_fresh_store_lose_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'imports.db'}"
    n = 3000
    barrier = _CTX.Barrier(4)
    errors = _CTX.Queue()
    procs = [
        _CTX.Process(target=_import_at_barrier, args=(url, w, n, barrier, errors)) for w in range(4)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    found = []
    while not errors.empty():
        found.append(errors.get())
    assert found == []
    with open_store(url) as store:
        assert store.counts()["messages"] == 4 * n
        ids = {m.id for m in store.iter_messages()}
    assert ids == {f"w{w}-{i}" for w in range(4) for i in range(n)}
