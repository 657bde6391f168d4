"""The Reddit adapter against the fake: mapping, threads, paging, resume, directions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import httpx
import pytest
from convokit_reddit import STREAMS, RedditConfig, RedditCursor, StreamState
from reddit_fake import ALL_IDS, COMMENTS, POSTS, FakeReddit, Run, load, messages_of

from convokit_core import Direction, MalformedPayload, SyncContext, Visibility

T0 = datetime(2026, 11, 1, 8, 0, tzinfo=UTC)


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def paths(fake: FakeReddit, prefix: str) -> list[httpx.URL]:
    return [r.url for r in fake.requests if r.url.path.startswith(prefix)]


# -- one full sync -----------------------------------------------------------------------


@pytest.mark.parametrize("page_size", [1, 2, 100])
def test_full_sync_yields_every_message_once(
    config: RedditConfig, fake: FakeReddit, context: SyncContext, page_size: int
) -> None:
    pages = Run().pages(attrs.evolve(config, page_size=page_size), fake, context)
    messages = messages_of(pages)  # fails on a message yielded twice
    assert set(messages) == ALL_IDS
    # No empty page mid-stream: only the last page may carry nothing but its cursor,
    # and every page before it holds new messages or channels.
    assert all(page.messages or page.channels for page in pages[:-1])
    # Stakeholders come with the messages they wrote.
    for page in pages:
        assert {p.id for p in page.stakeholders} <= {m.author_id for m in page.messages}
    assert fake.tokens_issued == 1  # one token, reused for every request


def test_mapping_of_posts_and_comments(
    config: RedditConfig, fake: FakeReddit, context: SyncContext
) -> None:
    messages = messages_of(Run().pages(config, fake, context))
    post = messages[POSTS["a"]]
    assert post.platform == "reddit"
    assert post.conversation_id == POSTS["a"]
    assert post.in_reply_to is None
    assert post.author_id == "u/dana_k"
    assert post.direction is Direction.INBOUND
    assert post.sent_at == at(1.0)
    assert post.sent_at.tzinfo is UTC
    assert (
        post.text
        == "Widget broke after the 2.3 update\n\nSince yesterday's update the widget won't open."
    )
    assert (
        post.url
        == "https://www.reddit.com/r/acme/comments/1gx4a1b/widget_broke_after_the_23_update/"
    )
    assert post.channel_id == "r/acme"  # one of our subreddits
    assert post.visibility is Visibility.PUBLIC
    assert post.edited_at is None  # "edited": false

    reply = messages[COMMENTS["ca1"]]
    assert reply.direction is Direction.OUTBOUND  # our account
    assert reply.in_reply_to == POSTS["a"]
    assert reply.conversation_id == POSTS["a"]
    assert reply.author_id == "u/acme_support"

    nested = messages[COMMENTS["ca2"]]
    assert nested.in_reply_to == COMMENTS["ca1"]
    assert nested.text == "v2.3 on Windows 11"

    # A thread outside our subreddits belongs to our account's channel.
    mention = messages[COMMENTS["cb1"]]
    assert mention.channel_id == "u/acme_support"
    assert mention.conversation_id == POSTS["b"]

    # "edited" as epoch seconds becomes edited_at.
    ours = messages[POSTS["c"]]
    assert ours.edited_at == at(41.0)
    assert messages[COMMENTS["ca9"]].edited_at == at(31.5)

    # A link post: title and link.
    link = messages[POSTS["e"]]
    assert link.text == "Our 2027 roadmap\n\nhttps://acme.example/blog/roadmap"
    assert link.direction is Direction.OUTBOUND


def test_directions_bots_and_team_members(
    config: RedditConfig, fake: FakeReddit, context: SyncContext
) -> None:
    messages = messages_of(Run().pages(config, fake, context))
    outbound = {m.id for m in messages.values() if m.direction is Direction.OUTBOUND}
    assert outbound == {
        COMMENTS["ca1"],  # u/acme_support
        COMMENTS["cb4"],
        COMMENTS["cd1"],
        POSTS["c"],
        POSTS["e"],
        COMMENTS["ca4"],  # u/kc_acme, a [[team]] member ("u/KC_Acme" in the config)
        COMMENTS["ca9"],
    }
    automod = messages[COMMENTS["ca7"]]
    assert automod.automated
    assert automod.direction is Direction.INBOUND
    assert not any(m.automated for m in messages.values() if m.id != COMMENTS["ca7"])


def test_deleted_and_removed_comments_are_kept_as_deleted(
    config: RedditConfig, fake: FakeReddit, context: SyncContext
) -> None:
    pages = Run().pages(config, fake, context)
    messages = messages_of(pages)
    gone = messages[COMMENTS["ca5"]]  # author and body "[deleted]"
    assert gone.deleted
    assert gone.author_id == "u/[deleted]"
    assert gone.text == ""
    assert gone.sent_at == at(1.5)
    # Its reply still points at it.
    assert messages[COMMENTS["ca6"]].in_reply_to == COMMENTS["ca5"]
    removed = messages[COMMENTS["cc2"]]  # author "[deleted]", body "[removed]"
    assert removed.deleted
    assert removed.text == ""
    assert sum(m.deleted for m in messages.values()) == 2
    # No stakeholder for a deleted author.
    people = {p.id for page in pages for p in page.stakeholders}
    assert "u/[deleted]" not in people
    assert {"u/dana_k", "u/gus", "u/fran", "u/eli_w", "u/AutoModerator"} <= people
    assert "u/acme_support" not in people
    assert "u/kc_acme" not in people


def test_more_stubs_are_expanded_through_morechildren(
    config: RedditConfig, fake: FakeReddit, context: SyncContext
) -> None:
    messages = messages_of(Run().pages(config, fake, context))
    # ca3, ca4 (under ca2) and ca8 (top level) come from one call, ca9 from a second one
    # (a "more" stub inside the first answer).
    calls = paths(fake, "/api/morechildren")
    assert [sorted(u.params["children"].split(",")) for u in calls] == [
        ["lz0a3k3", "lz0a4k4", "lz0a8k8"],
        ["lz0a9k9"],
    ]
    assert all(u.params["link_id"] == POSTS["a"] and u.params["api_type"] == "json" for u in calls)
    assert messages[COMMENTS["ca3"]].in_reply_to == COMMENTS["ca2"]
    assert messages[COMMENTS["ca4"]].in_reply_to == COMMENTS["ca3"]
    assert messages[COMMENTS["ca9"]].in_reply_to == COMMENTS["ca8"]
    assert {messages[COMMENTS[k]].conversation_id for k in ("ca3", "ca8", "ca9")} == {POSTS["a"]}


def test_continue_this_thread_stub_is_fetched_as_a_subtree(
    config: RedditConfig, fake: FakeReddit, context: SyncContext
) -> None:
    messages = messages_of(Run().pages(config, fake, context))
    sub = [u for u in paths(fake, "/comments/1gx5b2c") if "comment" in u.params]
    assert [u.params["comment"] for u in sub] == ["lz0b3m3"]
    assert messages[COMMENTS["cb4"]].in_reply_to == COMMENTS["cb3"]
    assert messages[COMMENTS["cb5"]].in_reply_to == COMMENTS["cb4"]


def test_empty_replies_string_is_no_replies(
    config: RedditConfig, fake: FakeReddit, context: SyncContext
) -> None:
    # Thread B's first comments have "replies": "" (Reddit's way of saying none).
    thread = fake(
        httpx.Request(
            "GET",
            "https://oauth.reddit.test/comments/1gx5b2c",
            headers={"Authorization": "bearer rdt-access-7Qm2xV9kLp4Tz"},
        )
    ).json()
    first = thread[1]["data"]["children"][0]["data"]
    assert first["replies"] == ""
    messages = messages_of(Run().pages(config, fake, context))
    assert messages[COMMENTS["cb1"]].in_reply_to == POSTS["b"]
    assert messages[COMMENTS["cb2"]].in_reply_to == POSTS["b"]


def test_each_thread_is_fetched_once_per_run(
    config: RedditConfig, fake: FakeReddit, context: SyncContext
) -> None:
    Run().pages(config, fake, context)
    threads = [u for u in paths(fake, "/comments/") if "comment" not in u.params]
    assert sorted(u.path for u in threads) == sorted(
        f"/comments/{p.removeprefix('t3_')}" for p in POSTS.values()
    )


def test_own_threads_false_keeps_only_our_own_messages_from_our_listings(
    config: RedditConfig, fake: FakeReddit, context: SyncContext
) -> None:
    config = attrs.evolve(config, own_threads=False)
    messages = messages_of(Run().pages(config, fake, context))
    assert "/comments/1gx7d4e" not in {u.path for u in paths(fake, "/comments/")}
    assert COMMENTS["cd1"] in messages  # our comment, from the listing itself
    assert POSTS["d"] not in messages  # ivy's post: only in the thread we skipped


def test_unreadable_thread_keeps_the_listed_items(
    config: RedditConfig, context: SyncContext
) -> None:
    fake = FakeReddit(thread_status={"1gx5b2c": 403})  # a subreddit gone private
    messages = messages_of(Run().pages(config, fake, context))
    # The mention itself is kept from the inbox, in its post's conversation.
    mention = messages[COMMENTS["cb1"]]
    assert mention.conversation_id == POSTS["b"]
    assert mention.text == "u/acme_support can you help here?"
    assert mention.url == (
        "https://www.reddit.com/r/python/comments/1gx5b2c/anyone_tried_acmedb_in_production/"
        "lz0b1m1/?context=3"
    )
    assert COMMENTS["cb2"] not in messages  # only in the unreadable thread
    assert COMMENTS["cb5"] in messages  # a reply to us, from the inbox
    assert COMMENTS["cb4"] in messages  # our comment, from our listing


# -- channels ----------------------------------------------------------------------------


def test_channels_for_our_account_and_subreddits_once(
    config: RedditConfig, fake: FakeReddit, context: SyncContext
) -> None:
    pages = Run().pages(config, fake, context)
    channels = [c for page in pages for c in page.channels]
    assert {(c.id, c.handle, c.created_at) for c in channels} == {
        ("u/acme_support", "u/acme_support", datetime(2020, 1, 1, tzinfo=UTC)),
        ("r/acme", "r/acme", datetime(2019, 1, 1, tzinfo=UTC)),
    }
    assert len(channels) == 2
    # A later sync does not ask again; a subreddit added to the config is recorded then.
    again = FakeReddit()
    Run().pages(config, again, context, pages[-1].cursor)
    assert not paths(again, "/user/acme_support/about")
    assert not paths(again, "/r/acme/about")


# -- paging ------------------------------------------------------------------------------


def test_after_paging_follows_after_until_null(
    config: RedditConfig, fake: FakeReddit, context: SyncContext
) -> None:
    config = attrs.evolve(config, page_size=1)
    Run().pages(config, fake, context)
    comments = paths(fake, "/user/acme_support/comments")
    assert [u.params.get("after") for u in comments] == [None, "t1_lz0d1p1", "t1_lz0b4m4"]
    assert all(u.params["limit"] == "1" and u.params["sort"] == "new" for u in comments)


@pytest.mark.parametrize("page_size", [1, 2, 100])
def test_repeated_after_ends_the_listing(
    config: RedditConfig, context: SyncContext, page_size: int
) -> None:
    fake = FakeReddit(repeat_after=frozenset({"/message/mentions", "/user/acme_support/comments"}))
    config = attrs.evolve(config, page_size=page_size)
    pages = Run().pages(config, fake, context)
    assert set(messages_of(pages)) == ALL_IDS
    # Without the check the fake would be asked for the same page forever.
    mentions = paths(fake, "/message/mentions")
    afters = [u.params.get("after") for u in mentions]
    assert len(afters) == len(set(afters))
    assert len(mentions) <= 2 // page_size + 2
    # The next sync starts over from the watermark, not from the repeated 'after'.
    cursor = RedditCursor.decode(pages[-1].cursor)
    assert all(cursor.stream(name).after is None for name in STREAMS)


# -- resuming ----------------------------------------------------------------------------


def test_resume_from_the_final_cursor_yields_nothing(
    config: RedditConfig, fake: FakeReddit, context: SyncContext
) -> None:
    pages = Run().pages(config, fake, context)
    again = FakeReddit()
    assert Run().pages(config, again, context, pages[-1].cursor) == []
    # Only the first page of each listing is read, and no thread.
    assert not paths(again, "/comments/")
    assert len([r for r in again.requests if r.url.path != "/api/v1/access_token"]) == len(STREAMS)


def test_resume_after_every_page_completes_the_set(
    config: RedditConfig, fake: FakeReddit, context: SyncContext
) -> None:
    config = attrs.evolve(config, page_size=1)
    pages = Run().pages(config, fake, context)
    assert len(pages) > len(STREAMS)
    seen: set[str] = set()
    for page in pages:
        seen |= {m.id for m in page.all_messages()}
        rest = messages_of(Run().pages(config, FakeReddit(), context, page.cursor))
        assert seen | set(rest) == ALL_IDS


class GrowingReddit(FakeReddit):
    """The fake after a new mention arrived (in a new thread) since the last sync."""

    def __call__(self, request: httpx.Request) -> httpx.Response:
        response = super().__call__(request)
        if request.url.path == "/message/mentions" and not request.url.params.get("after"):
            data = response.json()
            new = {
                "kind": "t1",
                "data": {
                    **data["data"]["children"][0]["data"],
                    "id": "lz0z9q9",
                    "name": "t1_lz0z9q9",
                    "author": "newcomer",
                    "body": "u/acme_support hello?",
                    "created_utc": at(60).timestamp(),
                    "parent_id": POSTS["d"],
                    "context": "/r/acme/comments/1gx7d4e/feature_request_dark_mode/lz0z9q9/?context=3",
                },
            }
            data["data"]["children"].insert(0, new)
            return httpx.Response(200, json=data, headers=response.headers)
        return response


def test_incremental_sync_reads_only_what_is_new(
    config: RedditConfig, fake: FakeReddit, context: SyncContext
) -> None:
    first = Run().pages(config, fake, context)
    grown = GrowingReddit()
    pages = Run().pages(config, grown, context, first[-1].cursor)
    messages = messages_of(pages)
    # The new mention, and the thread it is in (which the fake holds without it).
    assert "t1_lz0z9q9" in messages
    assert messages["t1_lz0z9q9"].conversation_id == POSTS["d"]
    assert messages["t1_lz0z9q9"].direction is Direction.INBOUND
    assert set(messages) == {"t1_lz0z9q9", POSTS["d"], COMMENTS["cd1"]}
    assert [u.path for u in paths(grown, "/comments/")] == ["/comments/1gx7d4e"]
    # And from the new final cursor, nothing again.
    assert Run().pages(config, GrowingReddit(), context, pages[-1].cursor) == []


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage",
        "{}",
        '{"v": 2, "streams": {}, "channels": []}',
        '{"v": 1, "streams": {"nope": {"mark": null, "after": null, "top": null}}}',
        '{"v": 1, "streams": {"mentions": {"mark": [1, 2], "after": null, "top": null}}}',
        '{"v": 1, "streams": {"mentions": {"mark": null, "after": "t1_x", "top": null}}}',
        '{"v": 1, "streams": {}, "channels": [3]}',
        "[]",
    ],
)
def test_a_garbage_cursor_is_an_error_not_a_restart(
    config: RedditConfig, fake: FakeReddit, context: SyncContext, cursor: str
) -> None:
    with pytest.raises(MalformedPayload, match="not a Reddit cursor"):
        Run().pages(config, fake, context, cursor)
    assert fake.requests == []


def test_cursor_round_trips() -> None:
    cursor = RedditCursor.decode(
        '{"v":1,"streams":{"mentions":{"mark":[1793520000.5,"t1_a"],"after":"t1_b",'
        '"top":[1793530000.0,"t1_c"]}},"channels":["u/x"]}'
    )
    assert cursor.stream("mentions").mark == (1793520000.5, "t1_a")
    assert cursor.stream("posts").mark is None
    assert RedditCursor.decode(cursor.encode()) == cursor


def test_a_vanished_after_anchor_restarts_the_pass_instead_of_skipping_it(
    config: RedditConfig, fake: FakeReddit, context: SyncContext
) -> None:
    # The stored cursor pages after a mention that was deleted meanwhile: Reddit answers
    # an empty page for an unknown anchor, which must not end the pass early.
    top = (at(30).timestamp(), COMMENTS["ca8"])
    cursor = RedditCursor(streams={"mentions": StreamState(after="t1_gone000", top=top)}).encode()
    messages = messages_of(Run().pages(config, fake, context, cursor))
    assert set(messages) == ALL_IDS
    afters = [u.params.get("after") for u in paths(fake, "/message/mentions")]
    assert afters == ["t1_gone000", None]


def test_thread_messages_take_the_channel_of_their_post(
    config: RedditConfig, fake: FakeReddit, context: SyncContext
) -> None:
    messages = messages_of(Run().pages(config, fake, context))
    channels: dict[str, set[str | None]] = {}
    for message in messages.values():
        channels.setdefault(message.conversation_id, set()).add(message.channel_id)
    assert channels == {
        POSTS["a"]: {"r/acme"},
        POSTS["b"]: {"u/acme_support"},  # r/python is not one of our subreddits
        POSTS["c"]: {"r/acme"},
        POSTS["d"]: {"r/acme"},
        POSTS["e"]: {"r/acme"},
    }


def own_post(post_id: str, title: str, hours: float, *, pinned: bool = False) -> dict[str, Any]:
    """One of our posts in the shape of ``/user/<name>/submitted``."""
    data = load("user_submitted.json")["data"]["children"][1]["data"]
    return {
        "kind": "t3",
        "data": {
            **data,
            "id": post_id,
            "name": f"t3_{post_id}",
            "title": title,
            "created_utc": at(hours).timestamp(),
            "pinned": pinned,
            "permalink": f"/r/acme/comments/{post_id}/post/",
        },
    }


class ProfileReddit(FakeReddit):
    """Our profile lists ``first`` before everything else (a pinned post does that)."""

    def __init__(self, *first: dict[str, Any]) -> None:
        super().__init__(thread_status={p["data"]["id"]: 404 for p in first})
        self.first = first

    def __call__(self, request: httpx.Request) -> httpx.Response:
        response = super().__call__(request)
        url = request.url
        if url.path == "/user/acme_support/submitted" and not url.params.get("after"):
            data = response.json()
            data["data"]["children"][:0] = self.first
            return httpx.Response(200, json=data, headers=response.headers)
        return response


def test_a_pinned_old_post_does_not_end_the_pass(
    config: RedditConfig, context: SyncContext
) -> None:
    pinned = own_post("1aa0old", "Welcome to our profile", -5000, pinned=True)
    first = Run().pages(config, ProfileReddit(pinned), context)
    assert "t3_1aa0old" in messages_of(first)
    # The next pass meets the pinned post (older than the watermark) first, then a new
    # post: the new post is still found, and the pass after that finds nothing.
    fresh = own_post("1zz9new", "Fresh news", 100)
    later = Run().pages(config, ProfileReddit(pinned, fresh), context, first[-1].cursor)
    assert set(messages_of(later)) == {"t3_1zz9new"}
    assert Run().pages(config, ProfileReddit(pinned, fresh), context, later[-1].cursor) == []
