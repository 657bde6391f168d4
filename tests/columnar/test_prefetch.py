"""The columnar engine reads ahead on a thread of its own: items arrive in order, an
error on the reader is raised to the caller, and a caller that stops early leaves no
thread running and the reader's iterator closed (its transaction ended)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from convokit_core import check, open_store
from convokit_core._columnar._prefetch import prefetched
from convokit_core._policy._evaluate import Commitment
from convokit_core._policy._rules import first_reply


def readers() -> list[threading.Thread]:
    """The columnar engine's reader threads (batches, and conversations read ahead)."""
    return [t for t in threading.enumerate() if t.name.startswith("convokit-columnar-")]


def test_every_item_in_order() -> None:
    assert list(prefetched(lambda: iter(range(1000)), depth=2)) == list(range(1000))
    assert readers() == []


def test_an_error_on_the_reader_is_raised_to_the_caller() -> None:
    def broken() -> Iterator[int]:
        yield 1
        raise ValueError("the store went away")

    got: list[int] = []
    with pytest.raises(ValueError, match="the store went away"):
        got.extend(prefetched(broken))
    assert got == [1]
    assert readers() == []


def test_a_caller_stopping_early_closes_the_reader() -> None:
    closed = threading.Event()

    def endless() -> Iterator[int]:
        try:
            n = 0
            while True:
                yield n
                n += 1
        finally:
            closed.set()

    items = prefetched(endless, depth=1)
    assert [next(items) for _ in range(5)] == [0, 1, 2, 3, 4]
    items.close()  # what a break, an exception or an interrupt in the caller does
    assert closed.is_set()
    assert readers() == []


def test_an_interrupt_during_a_check_leaves_no_reader_behind(tmp_path: object) -> None:
    from convokit_core.testing._generate import generate_history

    url = f"sqlite:///{tmp_path}/s.db"
    with open_store(url) as store:
        for batch in generate_history(3000, seed=2, days=30):
            store.write(batch)
    calls = []

    def progress(n: int) -> None:
        calls.append(n)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        check(
            url,
            [Commitment(name="f", rule=first_reply("1h"))],
            as_of=datetime(2024, 2, 1, tzinfo=UTC),
            engine="columnar",
            classifiers=[],
            progress=progress,
        )
    assert calls
    assert readers() == []
    # the store is not left locked or in a transaction: it can be written and read again
    with open_store(url) as store:
        store.write(next(generate_history(5, seed=9)))
    totals = [
        check(url, [Commitment(name="f", rule=first_reply("1h"))],
              as_of=datetime(2024, 2, 1, tzinfo=UTC), engine=engine, classifiers=[],
              ).commitments[0].total
        for engine in ("columnar", "python")
    ]  # fmt: skip
    assert totals[0] == totals[1] > 2900
