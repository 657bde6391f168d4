"""Property: however syncs are interrupted and replies keep bumping topics, the store
ends with exactly the forum's posts, no sync yields one twice, and resuming from a final
cursor yields nothing."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
from convokit_discourse import DiscourseConfig, create
from convokit_discourse.testing import FakeDiscourse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from convokit_core import Page, SyncContext

START = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


def fetch(fake: FakeDiscourse, cursor: str | None, stop_after: int | None) -> list[Page]:
    async def go() -> list[Page]:
        pages: list[Page] = []
        async with httpx.AsyncClient(transport=httpx.MockTransport(fake.handler)) as client:
            config = DiscourseConfig(
                forum=fake.forum,
                api_key=fake.api_key,
                api_username="system",
                username="acme_support",
                categories=["support", "feature-requests"],
            )
            adapter = create(config, client, SyncContext(source="f", platform="discourse"))
            async for page in adapter.fetch(cursor):
                pages.append(page)
                if stop_after is not None and len(pages) >= stop_after:
                    break  # the process dies; the host has stored this page and its cursor
        return pages

    return asyncio.run(go())


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    topics=st.integers(min_value=2, max_value=9),
    per_page=st.integers(min_value=1, max_value=4),
    rounds=st.lists(
        st.tuples(
            st.lists(st.tuples(st.integers(0, 50), st.integers(1, 600)), max_size=5),
            st.one_of(st.none(), st.integers(min_value=1, max_value=4)),
        ),
        min_size=1,
        max_size=4,
    ),
)
def test_interrupted_incremental_syncs_store_exactly_the_forum(
    topics: int, per_page: int, rounds: list[tuple[list[tuple[int, int]], int | None]]
) -> None:
    fake = FakeDiscourse(topics=topics, topics_per_page=per_page, actions_per_page=per_page)
    stored: set[str] = set()
    cursor: str | None = None
    clock = START
    for replies, stop_after in rounds:
        watched = sorted(fake.topics_in({5, 8}))
        for which, minutes in replies:
            clock += timedelta(minutes=minutes)
            fake.add_reply(watched[which % len(watched)], "ana", "<p>Any news?</p>", when=clock)
        for stop in (stop_after, None):
            pages = fetch(fake, cursor, stop)
            ids = [m.id for p in pages for m in p.messages]
            assert len(ids) == len(set(ids)), "a message was yielded twice in one sync"
            assert all(p.messages or p.channels for p in pages), "an empty page"
            stored |= set(ids)
            if pages:
                cursor = pages[-1].cursor
        assert stored == fake.expected_ids({5, 8})
        assert fetch(fake, cursor, None) == []
