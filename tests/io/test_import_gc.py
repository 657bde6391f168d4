"""The import runs with the cyclic collector paused (a full collection rescans every
object the import keeps alive, a third of a 1M-message import) and turns it back on
afterwards, also when the import fails; a collector the caller turned off stays off."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from typing import Any

import pytest

from convokit_core import InputError, open_store
from convokit_core._io._importer import import_records


def records(seen: list[bool], *, bad: bool = False) -> Iterator[tuple[int, Any]]:
    for i in range(3):
        seen.append(gc.isenabled())
        yield i + 1, {
            "type": "message", "platform": "demo", "id": f"m{i}", "conversation": "c1",
            "author": "ann", "direction": "inbound", "sent_at": "2024-01-02T03:04:05Z",
            "text": "hello",
        }  # fmt: skip
    if bad:
        yield 4, {"type": "message", "platform": "demo"}


def test_paused_during_the_import_and_restored(tmp_path: object) -> None:
    seen: list[bool] = []
    with open_store(f"sqlite:///{tmp_path}/s.db") as store:
        assert gc.isenabled()
        result = import_records(store, records(seen), source="test")
        assert result.counts["message"] == 3
        assert seen == [False, False, False]
        assert gc.isenabled()
        with pytest.raises(InputError):
            import_records(store, records(seen, bad=True), source="test")
        assert gc.isenabled()


def test_a_collector_turned_off_stays_off(tmp_path: object) -> None:
    gc.disable()
    try:
        with open_store(f"sqlite:///{tmp_path}/s.db") as store:
            import_records(store, records([]), source="test")
        assert not gc.isenabled()
    finally:
        gc.enable()
