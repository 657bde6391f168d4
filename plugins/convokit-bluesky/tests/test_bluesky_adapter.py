"""The adapter end to end against the fake PDS."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from bluesky_fake import DELETED_ROOT, OUR_DID, FakeBluesky, load, sync

from convokit_core import Direction, HttpError, MalformedPayload, SyncContext


def _uris() -> dict[str, str]:
    """Fixture post URIs by a short name."""
    thread_a = load("thread_a.json")["thread"]
    us = thread_a["replies"][0]
    ana2 = us["replies"][0]
    thread_b = load("thread_b.json")["thread"]
    feed2 = load("author_feed_2.json")["feed"]
    return {
        "a_root": thread_a["post"]["uri"],
        "a_us": us["post"]["uri"],
        "a_ana2": ana2["post"]["uri"],
        "a_sam": ana2["replies"][0]["post"]["uri"],
        "a_bruno": thread_a["replies"][1]["post"]["uri"],
        "a_blocked": thread_a["replies"][2]["uri"],
        "b_root": thread_b["post"]["uri"],
        "b_chloe": thread_b["replies"][0]["post"]["uri"],
        "b_us": thread_b["replies"][0]["replies"][0]["post"]["uri"],
        "c_dave": load("thread_c_dave.json")["thread"]["post"]["uri"],
        "f_root": load("thread_f.json")["thread"]["post"]["uri"],
        "o_old": feed2[1]["post"]["uri"],
        "r_gil": load("author_feed_1.json")["feed"][1]["post"]["uri"],
    }


URI = _uris()
NAME = {uri: name for name, uri in URI.items()}


def _messages(pages: list[Any]) -> dict[str, Any]:
    return {NAME[m.id]: m for page in pages for m in page.messages}


def test_full_sync_reads_threads_and_own_posts(fake: FakeBluesky, context: SyncContext) -> None:
    pages = sync(context)
    # Two notification pages, then two author-feed pages; the first of those holds only
    # our replies already delivered with their threads, so it is not yielded again.
    assert len(pages) == 3
    messages = _messages(pages)
    assert set(messages) == {
        "a_root", "a_us", "a_ana2", "a_sam", "a_bruno",
        "b_root", "b_chloe", "b_us", "c_dave", "f_root", "o_old",
    }  # fmt: skip
    # The blocked reply and the repost of someone else's post are not messages.
    assert "a_blocked" not in messages
    assert "r_gil" not in messages
    outbound = {name for name, m in messages.items() if m.direction is Direction.OUTBOUND}
    # Our account, and Sam, a team member matched by handle case-insensitively.
    assert outbound == {"a_us", "b_root", "b_us", "o_old", "a_sam"}
    assert all(m.platform == "bluesky" and m.channel_id == OUR_DID for m in messages.values())
    # Each thread is read once per run: A, B, F, and C's deleted root then Dave's post.
    assert fake.calls["app.bsky.feed.getPostThread"] == 5


def test_thread_structure(fake: FakeBluesky, context: SyncContext) -> None:
    messages = _messages(sync(context))
    a = {n: m for n, m in messages.items() if n.startswith("a_")}
    assert {m.conversation_id for m in a.values()} == {URI["a_root"]}
    assert a["a_root"].in_reply_to is None
    assert a["a_us"].in_reply_to == URI["a_root"]
    assert a["a_sam"].in_reply_to == URI["a_ana2"]
    assert a["a_bruno"].in_reply_to == URI["a_root"]
    assert messages["b_us"].conversation_id == URI["b_root"]
    assert messages["o_old"].conversation_id == URI["o_old"]
    assert messages["a_root"].author_id == URI["a_root"].split("/")[2]
    assert messages["a_root"].text.startswith("@acme.bsky.social my order #4411")
    assert messages["a_root"].url == "https://bsky.app/profile/ana.example.com/post/3la4ernps2k2b"


def test_reply_to_deleted_root_keeps_the_root_as_conversation(
    fake: FakeBluesky, context: SyncContext
) -> None:
    messages = _messages(sync(context))
    dave = messages["c_dave"]
    assert dave.conversation_id == DELETED_ROOT
    assert dave.in_reply_to == DELETED_ROOT
    assert not dave.deleted
    # The deleted root was asked for, then the thread was read upwards from Dave's post.
    assert fake.calls["app.bsky.feed.getPostThread"] >= 2
    # Dave's handle no longer verifies: his post links by DID.
    assert dave.url == (
        f"https://bsky.app/profile/{URI['c_dave'].split('/')[2]}/post/{URI['c_dave'][-13:]}"
    )


def test_times_are_min_of_created_and_indexed(fake: FakeBluesky, context: SyncContext) -> None:
    messages = _messages(sync(context))
    # Frank's client claimed 2031; the AppView indexed it in 2024.
    assert messages["f_root"].sent_at == datetime(2024, 11, 3, 20, 0, 3, 300000, tzinfo=UTC)
    # Bruno's clock ran two minutes fast.
    assert messages["a_bruno"].sent_at == datetime(2024, 11, 4, 11, 0, 0, 250000, tzinfo=UTC)
    # Normal posts: createdAt, slightly before indexedAt.
    assert messages["a_root"].sent_at == datetime(2024, 11, 4, 9, 12, 31, 402000, tzinfo=UTC)
    assert all(m.sent_at.tzinfo is UTC for m in messages.values())


def test_stakeholders_and_channel(fake: FakeBluesky, context: SyncContext) -> None:
    pages = sync(context)
    people = {s.id: s for page in pages for s in page.stakeholders}
    handles = {s.identities["bluesky"] for s in people.values()}
    dave = URI["c_dave"].split("/")[2]
    assert handles == {
        "ana.example.com", "bruno.bsky.social", "chloe-k.bsky.social", "frank.bsky.social", dave,
    }  # fmt: skip
    assert OUR_DID not in people
    assert people[URI["b_chloe"].split("/")[2]].display_name == "Chloé K."
    channels = [c for page in pages for c in page.channels]
    assert len(channels) == 1
    assert channels[0].id == OUR_DID
    assert channels[0].handle == "acme.bsky.social"
    assert channels[0].created_at == datetime(2023, 5, 2, 10, 11, 12, tzinfo=UTC)


def test_resume_from_final_cursor_fetches_nothing_new(
    fake: FakeBluesky, context: SyncContext
) -> None:
    final = sync(context)[-1].cursor
    before = dict(fake.calls)
    assert sync(context, final) == []
    # One look at the top of each listing, no thread fetched.
    assert fake.calls["app.bsky.notification.listNotifications"] == (
        before["app.bsky.notification.listNotifications"] + 1
    )
    assert fake.calls["app.bsky.feed.getPostThread"] == before["app.bsky.feed.getPostThread"]


def _new_reply() -> dict[str, Any]:
    note = copy.deepcopy(load("notifications_1.json")["notifications"][0])
    note["uri"] = note["uri"][:-13] + "3la7ykqzzzz2b"
    note["cid"] = "bafyreihq2tbq7rdzujqqbd4gbvl4ktaqwxezxwjd5mahlnguu4upr3gnvua"
    note["record"]["createdAt"] = "2024-11-06T08:00:00.000Z"
    note["indexedAt"] = "2024-11-06T08:00:00.600Z"
    note["record"]["text"] = "Thanks! Ordered one."
    note["record"]["reply"]["parent"] = {"uri": URI["b_us"], "cid": "bafyreiparent"}
    return note


def test_incremental_sync_reads_only_new_notifications(
    fake: FakeBluesky, context: SyncContext
) -> None:
    final = sync(context)[-1].cursor
    fake.add_notification(_new_reply())
    pages = sync(context, final)
    assert len(pages) == 1
    ids = {m.id for m in pages[0].messages}
    assert _new_reply()["uri"] in ids
    # The thread it belongs to is refreshed too.
    assert {URI["b_root"], URI["b_chloe"], URI["b_us"]} <= ids
    # Once delivered, it is not delivered again.
    assert sync(context, pages[-1].cursor) == []


def test_every_intermediate_cursor_resumes_to_the_same_set(
    fake: FakeBluesky, context: SyncContext
) -> None:
    pages = sync(context)
    everything = {m.id for page in pages for m in page.messages}
    for index, page in enumerate(pages):
        seen = {m.id for p in pages[: index + 1] for m in p.messages}
        rest = sync(context, page.cursor)
        assert seen | {m.id for p in rest for m in p.messages} == everything
        # A resumed run does not know what the earlier pages delivered, so it may yield
        # a page the full run had nothing new for; only the final cursor yields nothing.
        assert bool(rest) == (index < len(pages) - 1)


def test_http_failure_fails_the_source(fake: FakeBluesky, context: SyncContext) -> None:
    fake.faults = [httpx.Response(503)] * 10
    with pytest.raises(HttpError) as info:
        sync(context)
    assert info.value.status == 503


def test_malformed_page_fails_without_a_page(fake: FakeBluesky, context: SyncContext) -> None:
    fake.notification_pages[None]["notifications"][1]["indexedAt"] = "yesterday"
    with pytest.raises(MalformedPayload, match=r"notifications\[1\]\.indexedAt"):
        sync(context)


def test_malformed_cursor_is_an_error(fake: FakeBluesky, context: SyncContext) -> None:
    with pytest.raises(MalformedPayload, match="not a Bluesky sync cursor"):
        sync(context, "not-a-cursor")


def test_rate_limits_and_timeouts_are_retried(fake: FakeBluesky, context: SyncContext) -> None:
    expected = {m.id for page in sync(context) for m in page.messages}
    html = "<html><body><h1>429 Too Many Requests</h1></body></html>"
    fake.faults = [
        # Bluesky has answered 429 as bare HTML, without rate-limit headers.
        httpx.Response(429, text=html, headers={"content-type": "text/html"}),
        httpx.Response(429, json={"error": "RateLimitExceeded"}, headers={"RateLimit-Reset": "0"}),
        httpx.Response(502, text="Bad Gateway"),
        httpx.ReadTimeout("read timed out"),
    ]
    pages = sync(context)
    assert fake.faults == []
    assert {m.id for page in pages for m in page.messages} == expected


def test_backdated_new_post_is_still_delivered(fake: FakeBluesky, context: SyncContext) -> None:
    final = sync(context)[-1].cursor
    backdated = _new_reply()
    # Indexed now, but its app claims it was written years ago (an import, a bad clock).
    backdated["record"]["createdAt"] = "2020-01-01T00:00:00.000Z"
    fake.add_notification(backdated)
    pages = sync(context, final)
    messages = {m.id: m for page in pages for m in page.messages}
    assert backdated["uri"] in messages
    assert messages[backdated["uri"]].sent_at == datetime(2020, 1, 1, tzinfo=UTC)
    assert sync(context, pages[-1].cursor) == []
