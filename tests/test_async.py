"""The asyncio API: same results as the blocking API, a free event loop, safe cancels.

No test here measures time: "the loop is free" is shown by a coroutine that must run
*while* the worker is inside a call (the worker waits for it), and cancellation is
triggered at a chosen point (the worker announces it reached it).
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Collection, Iterator, Sequence
from pathlib import Path

import pytest

from convokit_core import (
    AsyncStore,
    ConfigError,
    _cancel,
    acheck,
    aexport,
    aimport,
    aopen_store,
    check,
    open_store,
)
from convokit_core._report._reporters import render_json
from convokit_core.testing import DEMO_POLICY, generate_history

WAIT = 60.0  # a generous bound for a hang, never reached when the code is right


def _line(i: int, conversation: str = "c") -> str:
    return json.dumps(
        {
            "id": str(i),
            "platform": "t",
            "conversation": f"{conversation}{i // 10}",
            "author": "a" if i % 2 else "us",
            "direction": "inbound" if i % 2 else "outbound",
            "sent_at": f"2024-01-01T{(i // 3600) % 24:02d}:{(i // 60) % 60:02d}:{i % 60:02d}Z",
        }
    )


@pytest.fixture
def demo_store(tmp_path: Path) -> tuple[str, Path]:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    with open_store(url) as store, store.transaction() as tx:
        for batch in generate_history(300, seed=7):
            tx.write(batch)
    policy = tmp_path / "policy.toml"
    policy.write_text(DEMO_POLICY, encoding="utf-8")
    return url, policy


def _json(report: object) -> str:
    import io

    out = io.StringIO()
    render_json(report, out)  # type: ignore[arg-type]
    return out.getvalue()


def test_acheck_gives_the_blocking_check_s_findings(demo_store: tuple[str, Path]) -> None:
    url, policy = demo_store
    as_of = "2024-03-31T00:00:00Z"
    from convokit_core import parse_datetime

    when = parse_datetime(as_of)
    with open_store(url) as store:
        expected = _json(check(store, policy, as_of=when))
    got = asyncio.run(acheck(url, policy, as_of=when))
    assert _json(got) == expected
    assert got.findings  # the demo history breaks promises


class _Rendezvous:
    """A classifier that, on its first batch, waits until the event loop answers."""

    def __init__(self) -> None:
        self.in_worker = threading.Event()
        self.loop_answered = threading.Event()
        self.calls = 0

    def __call__(self, texts: Sequence[str], /) -> Sequence[Collection[str]]:
        self.calls += 1
        if self.calls == 1:
            self.in_worker.set()
            assert self.loop_answered.wait(WAIT), "the event loop never ran during the check"
        return [() for _ in texts]


def test_the_event_loop_runs_while_a_check_is_in_progress(
    demo_store: tuple[str, Path],
) -> None:
    url, policy = demo_store
    rendezvous = _Rendezvous()

    async def main() -> None:
        async with aopen_store(url) as store:
            task = asyncio.create_task(store.check(policy, classifiers=[rendezvous]))
            # This coroutine only gets here if the loop is free while the worker waits.
            await asyncio.get_running_loop().run_in_executor(None, rendezvous.in_worker.wait)
            rendezvous.loop_answered.set()
            report = await task
            assert report.commitments

    asyncio.run(main())
    assert rendezvous.calls >= 1


def _lines_until_cancelled(first: int, total: int, reached: threading.Event) -> Iterator[str]:
    """Yield ``first`` lines, announce it, wait until the call is cancelled, go on."""
    for i in range(total):
        if i == first:
            flag = _cancel._current.cancel
            reached.set()
            assert flag is not None
            assert flag.wait(WAIT), "the call was never cancelled"
        yield _line(i)


def test_a_cancelled_import_writes_nothing_and_the_store_stays_usable(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cancel.db'}"
    reached = threading.Event()

    async def main() -> None:
        async with aopen_store(url) as store:
            task = asyncio.create_task(
                store.import_lines(_lines_until_cancelled(1000, 5000, reached))
            )
            await asyncio.get_running_loop().run_in_executor(None, reached.wait)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            # The worker has stopped and rolled back before CancelledError arrived.
            assert (await store.counts())["messages"] == 0
            result = await store.import_lines([_line(1), _line(2)])
            assert result.counts["message"] == 2
            assert (await store.counts())["messages"] == 2

    asyncio.run(main())


def test_a_cancelled_check_stops_and_the_store_stays_usable(
    demo_store: tuple[str, Path],
) -> None:
    url, policy = demo_store
    seen: list[int] = []

    class BlockUntilCancelled:
        def __init__(self) -> None:
            self.reached = threading.Event()

        def __call__(self, texts: Sequence[str], /) -> Sequence[Collection[str]]:
            seen.append(len(texts))
            if len(seen) == 1:
                flag = _cancel._current.cancel
                self.reached.set()
                assert flag is not None
                assert flag.wait(WAIT)
            return [() for _ in texts]

    classifier = BlockUntilCancelled()

    async def main() -> None:
        async with aopen_store(url) as store:
            task = asyncio.create_task(store.check(policy, classifiers=[classifier]))
            await asyncio.get_running_loop().run_in_executor(None, classifier.reached.wait)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            calls_when_cancelled = len(seen)
            report = await store.check(policy)
            assert report.commitments
            return calls_when_cancelled

    calls = asyncio.run(main())
    # The cancelled run stopped early instead of classifying every batch.
    assert calls <= 2


def test_aimport_and_aexport_round_trip(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    source.write_text("".join(_line(i) + "\n" for i in range(50)), encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'rt.db'}"
    result = asyncio.run(aimport(url, source))
    assert result.counts["message"] == 50
    out = tmp_path / "out.jsonl"
    count = asyncio.run(aexport(url, out))
    exported = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert count == len(exported)
    assert sorted(r["id"] for r in exported if r.get("type", "message") == "message") == sorted(
        str(i) for i in range(50)
    )


def test_aimport_bad_input_is_the_same_clear_error_and_writes_nothing(tmp_path: Path) -> None:
    source = tmp_path / "bad.jsonl"
    source.write_text(_line(1) + "\n" + '{"id": "2"}\n', encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'bad.db'}"
    from convokit_core import InputError

    with pytest.raises(InputError, match=r"line 2"):
        asyncio.run(aimport(url, source))
    with open_store(url) as store:
        assert store.counts()["messages"] == 0
    with pytest.raises(ConfigError, match="no such file"):
        asyncio.run(aimport(url, tmp_path / "missing.jsonl"))


def test_a_store_that_is_not_open_says_so() -> None:
    store = AsyncStore("memory:")

    async def main() -> None:
        with pytest.raises(ConfigError, match="not open"):
            await store.counts()
        async with store:
            assert (await store.counts())["messages"] == 0
            assert "open" in repr(store)
        await store.close()  # twice is fine
        assert "closed" in repr(store)

    asyncio.run(main())


def test_acheck_never_creates_a_missing_store(tmp_path: Path) -> None:
    from convokit_core import ConvokitError

    missing = tmp_path / "typo.db"
    with pytest.raises(ConvokitError, match=r"typo\.db"):
        asyncio.run(acheck(f"sqlite:///{missing}", [], as_of=None))
    assert not missing.exists()
