"""The sync engine: page+cursor transactions, resume, concurrency, failures, team."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from convokit_core._errors import MalformedPayload, StorageError
from convokit_core._model import Batch, Message, Page, TeamMember
from convokit_core._storage._memory import MemoryStore
from convokit_core._sync._config import SourceSpec
from convokit_core._sync._context import SyncContext, normalize_handle
from convokit_core._sync._engine import run_sync, sync_adapter, team_handles

T0 = datetime(2024, 3, 1, tzinfo=UTC)


def message(source: str, n: int, author: str = "someone") -> Message:
    return Message(
        id=f"{source}-{n}",
        platform="list",
        conversation_id=f"{source}-c",
        author_id=author,
        direction="inbound",
        sent_at=T0 + timedelta(minutes=n),
    )


class ListAdapter:
    """Serves ``pages`` pages of two messages each; the cursor is the page number."""

    def __init__(
        self,
        source: str,
        pages: int,
        *,
        fail_at: int | None = None,
        error: Exception | None = None,
        delay: float = 0.0,
        probe: dict[str, Any] | None = None,
    ) -> None:
        self.source = source
        self.pages = pages
        self.fail_at = fail_at
        self.error = error or MalformedPayload("page 2 is not JSON")
        self.delay = delay
        self.probe = probe if probe is not None else {}

    async def fetch(self, cursor: str | None) -> AsyncIterator[Page]:
        self.probe.setdefault("cursors", []).append(cursor)
        start = int(cursor) if cursor is not None else 0
        for number in range(start, self.pages):
            active = self.probe.get("active", 0) + 1
            self.probe["active"] = active
            self.probe["max_active"] = max(self.probe.get("max_active", 0), active)
            try:
                await asyncio.sleep(self.delay)
            finally:
                self.probe["active"] -= 1
            if self.fail_at is not None and number == self.fail_at:
                raise self.error
            fields: dict[str, Any] = {
                "messages": (
                    message(self.source, 2 * number),
                    message(self.source, 2 * number + 1),
                ),
                "cursor": str(number + 1),
            }
            yield Page(**fields)


def spec(name: str, factory: Callable[..., Any], secrets: tuple[str, ...] = ()) -> SourceSpec:
    return SourceSpec(name=name, platform="list", config=None, create=factory, secrets=secrets)


def adapter(name: str, pages: int, **kwargs: Any) -> Callable[..., ListAdapter]:
    def create(config: object, client: httpx.AsyncClient, context: SyncContext) -> ListAdapter:
        assert isinstance(client, httpx.AsyncClient)
        assert context.source == name
        return ListAdapter(name, pages, **kwargs)

    return create


def run(specs: list[SourceSpec], store: MemoryStore, **kwargs: Any) -> Any:
    return asyncio.run(run_sync(specs, store, **kwargs))


def ids(store: MemoryStore) -> set[str]:
    return {m.id for m in store.iter_messages()}


def test_every_source_is_written_with_its_cursor_and_run() -> None:
    store = MemoryStore()
    report = run([spec("a", adapter("a", 3)), spec("b", adapter("b", 2))], store)
    assert report.ok
    assert [(r.source, r.pages, r.records, r.cursor) for r in report.results] == [
        ("a", 3, 6, "3"),
        ("b", 2, 4, "2"),
    ]
    assert len(ids(store)) == 10
    assert store.get_cursor("a") == "3"
    runs = {r.source: r for r in store.iter_sync_runs()}
    assert runs["a"].ok
    assert runs["a"].pages == 3
    assert runs["a"].records == 6
    assert runs["a"].finished_at >= runs["a"].started_at


def test_a_failing_source_does_not_stop_the_others_and_keeps_its_cursor() -> None:
    store = MemoryStore()
    report = run(
        [spec("bad", adapter("bad", 4, fail_at=2)), spec("good", adapter("good", 3))], store
    )
    assert not report.ok
    (failed,) = report.failed
    assert failed.source == "bad"
    assert failed.pages == 2
    assert failed.error == "page 2 is not JSON"
    assert report.failure_message() == "source 'bad' failed: page 2 is not JSON"
    assert store.get_cursor("bad") == "2"
    assert store.get_cursor("good") == "3"
    assert ids(store) >= {f"good-{i}" for i in range(6)}
    bad_run = next(store.iter_sync_runs("bad"))
    assert not bad_run.ok
    assert bad_run.error == "page 2 is not JSON"


def test_a_second_run_resumes_from_the_stored_cursor() -> None:
    store = MemoryStore()
    probe: dict[str, Any] = {}
    run([spec("a", adapter("a", 4, fail_at=2, probe=probe))], store)
    report = run([spec("a", adapter("a", 4, probe=probe))], store)
    assert probe["cursors"] == [None, "2"]
    assert report.results[0].pages == 2
    assert ids(store) == {f"a-{i}" for i in range(8)}
    assert [r.ok for r in store.iter_sync_runs("a")] == [True, False]  # newest first


def test_concurrency_is_bounded() -> None:
    probe: dict[str, Any] = {}
    specs = [spec(f"s{i}", adapter(f"s{i}", 2, delay=0.02, probe=probe)) for i in range(6)]
    run(specs, MemoryStore(), concurrency=2)
    assert probe["max_active"] == 2
    probe.clear()
    specs = [spec(f"s{i}", adapter(f"s{i}", 2, delay=0.02, probe=probe)) for i in range(6)]
    run(specs, MemoryStore(), concurrency=6)
    assert probe["max_active"] == 6


def test_team_is_written_and_its_handles_reach_the_adapter() -> None:
    seen: list[SyncContext] = []

    def create(config: object, client: httpx.AsyncClient, context: SyncContext) -> ListAdapter:
        seen.append(context)
        return ListAdapter("a", 1)

    team = [
        TeamMember(id="kc", handles={"list": "@KC", "other": "kc-elsewhere"}),
        TeamMember(id="jo", handles={"other": "jo"}),
    ]
    store = MemoryStore()
    run([spec("a", create)], store, team=team)
    assert [m.id for m in store.iter_team_members()] == ["jo", "kc"]
    (context,) = seen
    assert context.team_handles == frozenset({"kc"})
    assert context.is_ours("kc")
    assert context.is_ours("@Kc")
    assert not context.is_ours("jo")


def test_a_locked_source_fails_and_is_named() -> None:
    store = MemoryStore()
    with store.lock_source("a"):
        report = run([spec("a", adapter("a", 1)), spec("b", adapter("b", 1))], store)
    assert [r.source for r in report.failed] == ["a"]
    assert "being synced" in (report.failed[0].error or "")
    assert store.get_cursor("b") == "1"


def test_an_adapter_that_cannot_be_created_fails_its_source() -> None:
    def broken(config: object, client: httpx.AsyncClient, context: SyncContext) -> ListAdapter:
        raise ValueError("no instance configured for token tok-abcdef")

    store = MemoryStore()
    report = run([spec("a", broken, secrets=("tok-abcdef",))], store)
    (failed,) = report.failed
    assert failed.error is not None
    assert failed.error.startswith("could not create the adapter: unexpected ValueError")
    assert "tok-abcdef" not in failed.error
    assert "***" in failed.error
    assert not next(store.iter_sync_runs("a")).ok


def test_errors_are_scrubbed_of_secrets_and_bugs_are_named() -> None:
    store = MemoryStore()
    report = run(
        [
            spec(
                "a",
                adapter("a", 2, fail_at=0, error=KeyError("hunter2-token")),
                secrets=("hunter2-token",),
            )
        ],
        store,
    )
    error = report.failed[0].error or ""
    assert error.startswith("unexpected KeyError in the adapter")
    assert "hunter2" not in error
    assert "hunter2" not in (next(store.iter_sync_runs()).error or "")


def test_a_page_and_its_cursor_commit_together() -> None:
    class FailingSecondWrite(MemoryStore):
        writes = 0

        def write(
            self, batch: Batch, *, source: str | None = None, cursor: str | None = None
        ) -> None:
            type(self).writes += 1
            if type(self).writes == 2:
                raise StorageError("disk full")
            super().write(batch, source=source, cursor=cursor)

    store = FailingSecondWrite()
    result = asyncio.run(sync_adapter(ListAdapter("a", 3), store, source="a"))
    assert not result.ok
    assert result.error == "disk full"
    assert store.get_cursor("a") == "1"
    assert ids(store) == {"a-0", "a-1"}


def test_yielding_something_else_than_a_page_fails_the_source() -> None:
    class Wrong:
        async def fetch(self, cursor: str | None) -> AsyncIterator[Any]:
            yield Batch()

    result = asyncio.run(sync_adapter(Wrong(), MemoryStore(), source="w", in_thread=False))
    assert not result.ok
    assert "yielded Batch, expected a Page" in (result.error or "")


def test_concurrency_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        run([], MemoryStore(), concurrency=0)


# -- SyncContext ---------------------------------------------------------------------------


def test_sync_context_recognises_our_handles() -> None:
    context = SyncContext(source="s", platform="mastodon", team_handles={"@KC@Mastodon.Example"})
    assert context.is_ours("kc@mastodon.example")
    assert context.is_ours(" @kc@MASTODON.example ")
    assert not context.is_ours("ana@mastodon.example")
    assert not context.is_ours(None)
    assert not context.is_ours("")
    ours = context.with_own_handles("@acme@mastodon.example")
    assert ours.is_ours("ACME@mastodon.example")
    assert not context.is_ours("acme@mastodon.example")  # the original is unchanged
    assert ours.team_handles == context.team_handles
    with pytest.raises(TypeError):
        SyncContext(source="s", platform="p", team_handles="kc")  # type: ignore[arg-type]


def test_team_handles_per_platform() -> None:
    team = [TeamMember(id="a", handles={"x": "@A"}), TeamMember(id="b", handles={"y": "b"})]
    assert team_handles(team, "x") == frozenset({"a"})
    assert team_handles(team, "z") == frozenset()
    assert normalize_handle("  @Ana ") == "ana"


def test_channels_in_the_store_count_as_ours_on_their_platform() -> None:
    from convokit_core._model import Channel

    seen: list[SyncContext] = []

    def create(config: object, client: httpx.AsyncClient, context: SyncContext) -> ListAdapter:
        seen.append(context)
        return ListAdapter("a", 1)

    store = MemoryStore()
    store.write(
        Batch(
            channels=[
                Channel(id="c1", platform="list", handle="@Support@example.social"),
                Channel(id="c2", platform="other", handle="@elsewhere"),
            ]
        )
    )
    run([spec("a", create)], store)
    assert seen[0].is_ours("support@example.social")
    assert not seen[0].is_ours("elsewhere")


def test_the_next_page_is_fetched_while_the_previous_one_is_written() -> None:
    import threading
    import time

    events: list[str] = []
    lock = threading.Lock()

    class SlowStore(MemoryStore):
        def write(
            self, batch: Batch, *, source: str | None = None, cursor: str | None = None
        ) -> None:
            with lock:
                events.append(f"write {cursor} start")
            time.sleep(0.05)
            super().write(batch, source=source, cursor=cursor)
            with lock:
                events.append(f"write {cursor} end")

    class Logged(ListAdapter):
        async def fetch(self, cursor: str | None) -> AsyncIterator[Page]:
            async for page in super().fetch(cursor):
                yield page
                with lock:
                    events.append(f"fetch after {page.cursor}")
                await asyncio.sleep(0.01)

    store = SlowStore()
    result = asyncio.run(sync_adapter(Logged("a", 3), store, source="a"))
    assert result.ok
    assert result.pages == 3
    # Fetching resumed before the write of the page just yielded had finished...
    assert events.index("fetch after 1") < events.index("write 1 end")
    # ...but writes never overlap and commit in order.
    writes = [e for e in events if e.startswith("write")]
    assert writes == [f"write {n} {edge}" for n in ("1", "2", "3") for edge in ("start", "end")]
    assert store.get_cursor("a") == "3"
