"""Incremental sync against the fake channel: new threads, new replies to old threads,
new uploads, and nothing twice."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx
from convokit_youtube import YouTubeAdapter, YouTubeConfig
from convokit_youtube._cursor import decode
from convokit_youtube.testing import FakeYouTube, comment
from youtube_data import API_KEY, CHANNEL, MAX, T0, ZOE, channel_fake, reply_id

from convokit_core import Page, SyncContext

T1 = "UgzT1aaaaaaaaaaaaaaaaaaa4AaABAg"  # the oldest thread (T0 + 2h)
T2 = "UgxT2bbbbbbbbbbbbbbbbbbb4AaABAg"  # seven replies (T0 + 10d)


def sync(fake: FakeYouTube, cursor: str | None = None, **config: Any) -> list[Page]:
    settings: dict[str, Any] = {
        "channel_id": CHANNEL,
        "api_key": API_KEY,
        "api_url": "https://yt.test/youtube/v3/",
        "page_size": 2,
    }
    settings.update(config)

    async def go() -> list[Page]:
        async with httpx.AsyncClient(transport=httpx.MockTransport(fake)) as client:
            adapter = YouTubeAdapter(
                YouTubeConfig(**settings), client, SyncContext(source="yt", platform="youtube")
            )
            return [page async for page in adapter.fetch(cursor)]

    return asyncio.run(go())


def ids(pages: list[Page]) -> list[str]:
    return [m.id for page in pages for m in page.messages]


def routes(fake: FakeYouTube, since: int = 0) -> list[str]:
    return [r.url.path.rsplit("/", 1)[-1] for r in fake.requests[since:]]


def test_a_full_sync_then_nothing_new() -> None:
    fake = channel_fake()
    pages = sync(fake, revisit="5d")
    got = ids(pages)
    assert sorted(got) == sorted(fake.message_ids())
    assert len(got) == len(set(got))
    assert len(fake.message_ids()) == 19
    before = len(fake.requests)
    assert sync(fake, pages[-1].cursor, revisit="5d") == []
    # Threads are listed newest first, two a page (days 21 and 20, 12 and 11, 10 and
    # 0). The pass stops at the first thread older than the revisit window (5 days
    # before the newest): the third page is not read, and no thread's replies are.
    assert routes(fake, before) == ["channels", "playlistItems", "commentThreads", "commentThreads"]


def test_a_new_reply_to_an_old_thread_is_picked_up() -> None:
    fake = channel_fake()
    final = sync(fake)[-1].cursor
    new = comment(
        reply_id(T2, 8),
        text="Any news?",
        author=MAX,
        name="@max",
        at=T0 + timedelta(days=25),
        parent=T2,
    )
    fake.add_reply(T2, new)  # the eighth reply of a thread from ten days before the newest
    pages = sync(fake, final)
    got = ids(pages)
    assert new["id"] in got
    # The thread is delivered again (idempotent upserts), nothing else is.
    assert {m.conversation_id for page in pages for m in page.messages} == {T2}
    assert len(got) == len(set(got)) == 9
    # And the sync after that reads nothing.
    assert sync(fake, pages[-1].cursor) == []


def test_replies_to_threads_beyond_the_revisit_window_need_a_longer_window() -> None:
    fake = channel_fake()
    final = sync(fake)[-1].cursor
    late = comment(
        reply_id(T1, 3),
        text="Still broken",
        author=ZOE,
        name="@zoe",
        at=T0 + timedelta(days=26),
        parent=T1,
    )
    fake.add_reply(T1, late)  # T1 is 19 days older than the newest thread
    assert sync(fake, final) == []
    got = ids(sync(fake, final, revisit="30d"))
    assert late["id"] in got


def test_a_new_thread_and_a_new_upload_come_alone() -> None:
    fake = channel_fake()
    final = sync(fake)[-1].cursor
    fake.add_upload("vid0000005E", "A2 launch", T0 + timedelta(days=30))
    new = comment(
        "UgyNEWnewNEWnewNEWnewNE4AaABAg",
        text="When in the EU?",
        author=MAX,
        name="@max",
        at=T0 + timedelta(days=30, hours=2),
        video="vid0000005E",
    )
    fake.add_thread(new, "vid0000005E")
    pages = sync(fake, final)
    assert sorted(ids(pages)) == sorted(["video:vid0000005E", new["id"]])
    state = decode(pages[-1].cursor)
    assert state.threads.watermark == T0 + timedelta(days=30, hours=2)
    assert state.uploads.watermark == T0 + timedelta(days=30)
    assert not state.threads.running
    assert not state.uploads.running
    assert sync(fake, pages[-1].cursor) == []


def test_an_interrupted_pass_resumes_at_its_page_token() -> None:
    fake = channel_fake()
    pages = sync(fake)
    # Stop after the second page holding threads; resume from its cursor.
    thread_pages = [p for p in pages if any(not m.id.startswith("video:") for m in p.messages)]
    cut = thread_pages[1]
    state = decode(cut.cursor)
    assert state.threads.running
    assert state.threads.token is not None
    before = len(fake.requests)
    rest = sync(fake, cut.cursor)
    seen = [m for p in pages[: pages.index(cut) + 1] for m in p.messages]
    assert sorted(ids(rest) + [m.id for m in seen]) == sorted(fake.message_ids())
    first_thread_request = next(
        r for r in fake.requests[before:] if r.url.path.endswith("commentThreads")
    )
    assert first_thread_request.url.params.get("pageToken") == state.threads.token
