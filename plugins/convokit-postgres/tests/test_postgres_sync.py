"""The sync engine, unchanged, against a PostgreSQL store: concurrent sources, resume
after a failure, and a source another worker holds."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import pytest

from convokit_core import Message, Page
from convokit_core._sync import sync_adapter
from convokit_postgres import PostgresStore

T0 = datetime(2024, 5, 1, tzinfo=UTC)


class PagedAdapter:
    """Serves ``pages`` pages of ``per_page`` messages; the cursor is the page number.

    ``fail_after`` raises after that many pages have been yielded in one fetch.
    """

    def __init__(self, name: str, pages: int, per_page: int, fail_after: int | None = None):
        self.name = name
        self.pages = pages
        self.per_page = per_page
        self.fail_after = fail_after
        self.fetched_from: list[str | None] = []

    def page(self, number: int) -> Page:
        messages = [
            Message(
                id=f"{self.name}-{number}-{i}",
                platform="toy",
                conversation_id=f"{self.name}-c{number}",
                author_id="ana" if i % 2 == 0 else "agent",
                direction="inbound" if i % 2 == 0 else "outbound",
                sent_at=T0 + timedelta(minutes=number * self.per_page + i),
            )
            for i in range(self.per_page)
        ]
        return Page(messages=messages, cursor=str(number))

    async def fetch(self, cursor: str | None) -> AsyncIterator[Page]:
        self.fetched_from.append(cursor)
        start = 0 if cursor is None else int(cursor) + 1
        for served, number in enumerate(range(start, self.pages)):
            if self.fail_after is not None and served == self.fail_after:
                raise ConnectionError("the platform went away")
            await asyncio.sleep(0)
            yield self.page(number)


@pytest.fixture
def store(pg_url: str) -> Iterator[PostgresStore]:
    backend = PostgresStore(pg_url)
    yield backend
    backend.close()


def test_concurrent_sources_sync_into_one_store(store: PostgresStore) -> None:
    adapters = [PagedAdapter(f"s{i}", pages=6, per_page=50) for i in range(3)]

    async def main() -> list[bool]:
        lock = asyncio.Lock()
        results = await asyncio.gather(
            *(sync_adapter(a, store, source=a.name, write_lock=lock) for a in adapters)
        )
        return [r.ok for r in results]

    assert asyncio.run(main()) == [True, True, True]
    assert store.counts()["messages"] == 3 * 6 * 50
    assert [store.get_cursor(a.name) for a in adapters] == ["5", "5", "5"]
    runs = list(store.iter_sync_runs())
    assert sorted(r.source for r in runs) == ["s0", "s1", "s2"]
    assert all(r.ok and r.pages == 6 and r.records == 300 for r in runs)


def test_a_failed_sync_resumes_from_its_last_page(store: PostgresStore) -> None:
    flaky = PagedAdapter("flaky", pages=8, per_page=40, fail_after=3)
    first = asyncio.run(sync_adapter(flaky, store, source="flaky"))
    assert not first.ok
    assert "the platform went away" in (first.error or "")
    assert store.get_cursor("flaky") == "2"
    assert store.counts()["messages"] == 3 * 40
    flaky.fail_after = None
    second = asyncio.run(sync_adapter(flaky, store, source="flaky"))
    assert second.ok
    assert flaky.fetched_from == [None, "2"]
    assert store.counts()["messages"] == 8 * 40
    assert [r.ok for r in store.iter_sync_runs("flaky")] == [True, False]


def test_a_source_held_by_another_worker_is_skipped(store: PostgresStore, pg_url: str) -> None:
    adapter = PagedAdapter("busy", pages=2, per_page=5)
    with PostgresStore(pg_url) as other, other.lock_source("busy"):
        result = asyncio.run(sync_adapter(adapter, store, source="busy"))
    assert not result.ok
    assert "being synced by another worker" in (result.error or "")
    assert adapter.fetched_from == []
    assert store.counts()["messages"] == 0
    assert asyncio.run(sync_adapter(adapter, store, source="busy")).ok
    assert store.counts()["messages"] == 10
