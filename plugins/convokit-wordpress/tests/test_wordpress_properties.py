"""Property: however syncs are interrupted and comments keep arriving, the store ends
with exactly the blog's posts and comments, no sync yields one twice, and resuming from
a final cursor yields nothing."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
from convokit_wordpress import WordPressConfig, create
from convokit_wordpress.testing import FakeWordPress
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from convokit_core import Page, SyncContext

START = datetime(2026, 11, 20, 16, 45, tzinfo=UTC)


def fetch(
    fake: FakeWordPress, cursor: str | None, page_size: int, stop_after: int | None
) -> list[Page]:
    async def go() -> list[Page]:
        pages: list[Page] = []
        async with httpx.AsyncClient(transport=httpx.MockTransport(fake.handler)) as client:
            config = WordPressConfig(site=fake.site, page_size=page_size)
            adapter = create(config, client, SyncContext(source="b", platform="wordpress"))
            async for page in adapter.fetch(cursor):
                pages.append(page)
                if stop_after is not None and len(pages) >= stop_after:
                    break  # the process dies; the host has stored this page and its cursor
        return pages

    return asyncio.run(go())


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    posts=st.integers(min_value=1, max_value=5),
    page_size=st.integers(min_value=1, max_value=6),
    rounds=st.lists(
        st.tuples(
            # new comments: (which post, minutes after the newest comment, may be negative
            # down to six days earlier: approved late, inside the 7-day lookback)
            st.lists(
                st.tuples(st.integers(0, 4), st.integers(-6 * 24 * 60, 3 * 24 * 60)),
                max_size=6,
            ),
            st.one_of(st.none(), st.integers(min_value=1, max_value=4)),  # interrupt after
        ),
        min_size=1,
        max_size=4,
    ),
)
def test_interrupted_incremental_syncs_store_exactly_the_blog(
    posts: int, page_size: int, rounds: list[tuple[list[tuple[int, int]], int | None]]
) -> None:
    fake = FakeWordPress(posts=posts)
    stored: set[str] = set()
    cursor: str | None = None
    newest = START
    for new_comments, stop_after in rounds:
        public = fake.public_posts()
        for which, minutes in new_comments:
            when = newest + timedelta(minutes=minutes)
            fake.add_comment(public[which % len(public)]["id"], when, "More?", guest="Kai")
            newest = max(newest, when)
        # an interrupted sync, then one that runs to the end
        for stop in (stop_after, None):
            pages = fetch(fake, cursor, page_size, stop)
            ids = [m.id for p in pages for m in p.messages]
            assert len(ids) == len(set(ids)), "a message was yielded twice in one sync"
            assert all(p.messages or p.channels for p in pages), "an empty page"
            stored |= set(ids)
            if pages:
                cursor = pages[-1].cursor
        assert stored == fake.expected_ids()
        assert fetch(fake, cursor, page_size, None) == []
