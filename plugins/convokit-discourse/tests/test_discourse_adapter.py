"""The Discourse adapter on hand-written payloads in Discourse's JSON shapes (respx)."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import respx
from convokit_discourse import CHUNK, html_to_text
from discourse_helpers import FORUM, KEY, collect, config, load

from convokit_core import Direction, HttpError, MalformedPayload, SyncError, Visibility

HOST = "forum.example.com"


def pid(raw: int) -> str:
    return f"{HOST}/p/{raw}"


class Forum:
    """Routes of a small forum: the Help category (two pages), three topics, mentions."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.pages = [load("help_page0.json"), load("help_page1.json")]
        self.topics = {
            7: load("topic_7.json"),
            42: load("topic_42.json"),
            39: load("topic_39.json"),
            55: load("topic_55.json"),
        }
        self.extra_posts = {42: load("topic_42_posts.json")["post_stream"]["posts"]}
        self.mentions = load("user_actions_mentions.json")
        self.faults: list[httpx.Response] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.faults:
            return self.faults.pop(0)
        path = request.url.path
        params = request.url.params
        if path == "/site.json":
            return httpx.Response(200, json=load("site.json"))
        if path == "/c/help/installing/17.json":
            return httpx.Response(200, json={"users": [], "topic_list": {"topics": []}})
        if path == "/c/help/6.json":
            page = int(params.get("page", "0"))
            return httpx.Response(200, json=self.pages[page])
        if path == "/user_actions.json":
            offset = int(params.get("offset", "0"))
            actions = self.mentions["user_actions"][offset:]
            return httpx.Response(200, json={"user_actions": actions})
        parts = path.strip("/").split("/")
        if parts[0] == "t" and len(parts) == 2:
            topic = self.topics.get(int(parts[1].removesuffix(".json")))
            if topic is None:
                return httpx.Response(
                    404, json={"errors": ["Not found"], "error_type": "not_found"}
                )
            return httpx.Response(200, json=topic)
        if parts[0] == "t" and parts[2] == "posts.json":
            tid = int(parts[1])
            wanted = {int(i) for i in params.get_list("post_ids[]")}
            everything = self.topics[tid]["post_stream"]["posts"] + self.extra_posts.get(tid, [])
            posts = [p for p in everything if p["id"] in wanted]
            return httpx.Response(200, json={"post_stream": {"posts": posts}, "id": tid})
        return httpx.Response(404, json={"errors": ["Not found"], "error_type": "not_found"})


@pytest.fixture
def forum() -> Iterator[Forum]:
    fake = Forum()
    with respx.mock(base_url=FORUM, assert_all_called=False) as router:
        router.route().mock(side_effect=fake)
        yield fake


def by_id(pages: list[Any]) -> dict[str, Any]:
    return {m.id: m for p in pages for m in p.messages}


def paths(forum: Forum) -> list[str]:
    return [r.url.path for r in forum.requests]


def test_posts_map_to_messages_in_their_topic(forum: Forum) -> None:
    messages = by_id(collect(config()))
    first = messages[pid(1001)]
    assert first.conversation_id == f"{HOST}/t/42"
    assert first.in_reply_to is None
    assert first.direction is Direction.INBOUND
    assert first.author_id == f"discourse:{HOST}/u/31"
    assert first.sent_at == datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
    assert first.text == "Since 3.2 the notification email is blank & mails bounce. :cry:"
    assert first.url == f"{FORUM}/t/upgrade-broke-my-email-settings/42/1"
    # the topic sits in the Help/Installing subcategory, listed in Help: Help's channel
    assert first.channel_id == f"{HOST}/c/6"
    ours = messages[pid(1005)]
    assert ours.direction is Direction.OUTBOUND  # our username
    assert ours.edited_at == datetime(2026, 11, 2, 11, 40, tzinfo=UTC)  # version 2
    assert (
        ours.text
        == "lena:\n\nmails bounce\n\nCould you check Admin \N{RIGHTWARDS ARROW} Settings \N{RIGHTWARDS ARROW} Email? @lena"
    )
    assert messages[pid(1021)].direction is Direction.OUTBOUND  # a moderator: staff
    assert messages[pid(1030)].direction is Direction.INBOUND


def test_reply_to_post_number_is_mapped_to_the_real_post_id(forum: Forum) -> None:
    messages = by_id(collect(config()))
    # Post numbers 1, 2, 4, 5, 6, 7, 8, 9: number 3 is gone, so positions are no guide.
    assert messages[pid(1005)].in_reply_to == pid(1001)  # reply_to_post_number 1
    assert messages[pid(1013)].in_reply_to == pid(1005)  # reply_to_post_number 2
    assert messages[pid(1030)].in_reply_to == pid(1021)  # reply_to_post_number 7
    assert messages[pid(1014)].in_reply_to == pid(1001)  # no number: a reply to the topic


def test_deleted_whispers_and_small_actions(forum: Forum) -> None:
    messages = by_id(collect(config()))
    assert messages[pid(1013)].deleted  # user_deleted
    assert messages[pid(1014)].deleted  # deleted_at (visible to an admin key)
    assert not messages[pid(1001)].deleted
    whisper = messages[pid(1020)]
    assert whisper.direction is Direction.INTERNAL
    assert whisper.visibility is Visibility.NOTE
    assert pid(1022) not in messages  # "closed the topic" is not a message
    about = messages[pid(12)]
    assert about.automated  # the system user
    assert about.text == "Ask here.\n\nrules"


def test_the_post_stream_beyond_the_first_chunk(forum: Forum) -> None:
    collect(config())
    extra = [r for r in forum.requests if r.url.path == "/t/42/posts.json"]
    assert [r.url.params.get_list("post_ids[]") for r in extra] == [["1030"]]


def test_long_topics_are_read_in_chunks_of_twenty() -> None:
    template = load("topic_42.json")["post_stream"]["posts"][0]
    posts = []
    for number in range(1, 46):
        post = copy.deepcopy(template)
        post.update(
            id=5000 + number * 3, post_number=number, reply_to_post_number=number - 1 or None
        )
        posts.append(post)
    topic = dict(load("topic_42.json"), id=77, category_id=6)
    topic["post_stream"] = {"posts": posts[:20], "stream": [p["id"] for p in posts]}
    listing = load("help_page1.json")
    listing["topic_list"]["topics"][0].update(id=77)
    seen: list[list[str]] = []

    def serve(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/site.json":
            return httpx.Response(200, json=load("site.json"))
        if request.url.path == "/c/help/6.json":
            return httpx.Response(200, json=listing)
        if request.url.path == "/t/77.json":
            return httpx.Response(200, json=topic)
        ids = request.url.params.get_list("post_ids[]")
        seen.append(ids)
        chunk = [p for p in posts if str(p["id"]) in ids]
        return httpx.Response(200, json={"post_stream": {"posts": chunk}, "id": 77})

    with respx.mock(base_url=FORUM) as router:
        router.route().mock(side_effect=serve)
        messages = by_id(collect(config(mentions=False)))
    assert [len(ids) for ids in seen] == [CHUNK, 45 - 2 * CHUNK]
    assert set(messages) == {pid(p["id"]) for p in posts}
    assert messages[pid(5000 + 45 * 3)].in_reply_to == pid(5000 + 44 * 3)


def test_mentions_bring_topics_outside_the_categories(forum: Forum) -> None:
    messages = by_id(collect(config()))
    mention = messages[pid(1102)]
    assert mention.conversation_id == f"{HOST}/t/55"
    assert mention.channel_id is None  # Uncategorized is not a configured category
    assert mention.text == "@priya_acme any idea why backups stop at 99%?"
    actions = [r for r in forum.requests if r.url.path == "/user_actions.json"]
    assert [dict(r.url.params) for r in actions] == [
        {"username": "priya_acme", "filter": "7", "offset": "0"},
        {"username": "priya_acme", "filter": "7", "offset": "1"},
    ]


def test_categories_page_by_more_topics_url_and_each_is_a_channel(forum: Forum) -> None:
    pages = collect(config())
    listed = [r.url.params.get("page") for r in forum.requests if r.url.path == "/c/help/6.json"]
    assert listed == ["0", "1"]
    channels = [c for p in pages for c in p.channels]
    assert [(c.id, c.handle, c.platform) for c in channels] == [
        (f"{HOST}/c/6", f"{HOST}/c/help", "discourse")
    ]
    assert all(p.messages for p in pages)
    ids = [m.id for p in pages for m in p.messages]
    assert len(ids) == len(set(ids))


def test_the_final_cursor_reads_nothing_new_and_pinned_topics_do_not_stop_a_scan(
    forum: Forum,
) -> None:
    final = collect(config())[-1].cursor
    forum.requests.clear()
    assert collect(config(), final) == []
    # No topic is read again: the pinned "About" topic (2023) on top does not end the
    # scan, topic 42 is at the watermark and already delivered, and the scan ends at
    # the first older topic (page 1); mentions likewise.
    assert paths(forum) == [
        "/site.json",
        "/c/help/6.json",
        "/c/help/6.json",
        "/user_actions.json",
        "/user_actions.json",
    ]
    state = json.loads(final)
    assert state["categories"]["6"] == {"w": "2026-11-03T09:30:00Z", "e": ["42"]}
    assert state["mentions"] == {"w": "2026-11-04T15:20:00Z", "e": ["1102"]}


def test_a_bumped_topic_is_read_again_with_its_new_post(forum: Forum) -> None:
    final = collect(config())[-1].cursor
    new = dict(load("topic_42_posts.json")["post_stream"]["posts"][0], id=1040, post_number=10)
    new.update(created_at="2026-11-05T08:00:00.000Z", reply_to_post_number=9)
    forum.topics[42]["post_stream"]["stream"].append(1040)
    forum.extra_posts[42].append(new)
    listing = forum.pages[0]["topic_list"]["topics"]
    listing[1]["bumped_at"] = "2026-11-05T08:00:00.000Z"
    forum.requests.clear()
    pages = collect(config(), final)
    messages = by_id(pages)
    assert pid(1040) in messages
    assert messages[pid(1040)].in_reply_to == pid(1030)
    assert {m.conversation_id for m in messages.values()} == {f"{HOST}/t/42"}
    assert "/t/39.json" not in paths(forum)
    assert collect(config(), pages[-1].cursor) == []


def test_api_key_headers_and_public_reads(forum: Forum) -> None:
    collect(config())
    assert {(r.headers.get("api-key"), r.headers.get("api-username")) for r in forum.requests} == {
        (KEY, "system")
    }
    forum.requests.clear()
    collect(config(api_key=None, api_username=None))
    assert all(
        "api-key" not in r.headers and "api-username" not in r.headers for r in forum.requests
    )


def test_staff_flags_can_be_ignored_and_team_handles_count(forum: Forum) -> None:
    messages = by_id(collect(config(staff_are_ours=False)))
    assert messages[pid(1021)].direction is Direction.INBOUND
    messages = by_id(collect(config(staff_are_ours=False), team=frozenset({"mod_sam"})))
    assert messages[pid(1021)].direction is Direction.OUTBOUND
    messages = by_id(collect(config(username="nobody", usernames=["priya_acme"])))
    assert messages[pid(1005)].direction is Direction.OUTBOUND


def test_stakeholders_are_the_other_posters(forum: Forum) -> None:
    people = {s.id: s for p in collect(config()) for s in p.stakeholders}
    assert set(people) == {
        f"discourse:{HOST}/u/31",
        f"discourse:{HOST}/u/44",
        f"discourse:{HOST}/u/33",
    }
    assert people[f"discourse:{HOST}/u/31"].identities == {"discourse": f"lena@{HOST}"}
    assert people[f"discourse:{HOST}/u/31"].display_name == "Lena"


def test_429_plain_text_with_retry_after(forum: Forum, sleeps: list[float]) -> None:
    # The request tracker's shape: plain text, no content type, Retry-After.
    forum.faults = [
        httpx.Response(
            429,
            content=b"Slow down, too many requests from this IP address",
            headers={"Retry-After": "21", "Discourse-Rate-Limit-Error-Code": "ip_10_secs_limit"},
        )
    ]
    assert pid(1030) in by_id(collect(config(), waits=sleeps))
    assert len(sleeps) == 1
    assert sleeps[0] >= 21


def test_429_json_wait_seconds_without_retry_after(forum: Forum, sleeps: list[float]) -> None:
    forum.faults = [httpx.Response(429, json=load("rate_limited.json"))]
    assert pid(1030) in by_id(collect(config(), waits=sleeps))
    assert len(sleeps) == 1
    assert sleeps[0] >= 13


def test_429_json_with_retry_after_prefers_the_header(forum: Forum, sleeps: list[float]) -> None:
    forum.faults = [
        httpx.Response(429, json=load("rate_limited.json"), headers={"Retry-After": "40"})
    ]
    collect(config(), waits=sleeps)
    assert sleeps[0] >= 40


def test_a_rejected_key_is_an_error_without_the_key(forum: Forum) -> None:
    body = {"errors": [f"invalid api key {KEY}"], "error_type": "invalid_access"}
    forum.faults = [httpx.Response(403, json=body)]
    with pytest.raises(HttpError) as caught:
        collect(config())
    assert caught.value.status == 403
    assert KEY not in str(caught.value)


def test_an_unknown_or_ambiguous_category_is_a_clear_error(forum: Forum) -> None:
    with pytest.raises(SyncError, match="no category 'helpdesk'"):
        collect(config(categories=["helpdesk"]))
    with pytest.raises(SyncError, match="more than one category 'installing'"):
        collect(config(categories=["installing"]))
    pages = collect(config(categories=["help/installing"], mentions=False))
    assert [c.id for p in pages for c in p.channels] == [f"{HOST}/c/17"]


def test_an_unreadable_topic_is_skipped(forum: Forum) -> None:
    del forum.topics[39]
    messages = by_id(collect(config()))
    assert pid(990) not in messages
    assert pid(1001) in messages


@pytest.mark.parametrize(
    "cursor", ["{}", "[1]", '{"v":1,"categories":{"help":{}}}', '{"v":1,"mentions":{"s":{"n":-1}}}']
)
def test_a_garbage_cursor_is_an_error_not_a_restart(forum: Forum, cursor: str) -> None:
    with pytest.raises(MalformedPayload, match="not a Discourse cursor"):
        collect(config(), cursor)
    assert forum.requests == []


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda p: p.pop("created_at"), "created_at"),
        (lambda p: p.update(reply_to_post_number="2"), "reply_to_post_number"),
        (lambda p: p.update(user_id="31"), "user_id"),
        (lambda p: p.update(post_number=None), "post_number"),
    ],
)
def test_a_malformed_post_names_its_field(forum: Forum, mutate: Any, field: str) -> None:
    mutate(forum.topics[42]["post_stream"]["posts"][1])
    with pytest.raises(MalformedPayload, match=field):
        collect(config())


def test_cooked_html() -> None:
    html = (
        "<p>a&nbsp;<strong>b</strong><br>c</p><ul><li>one</li><li>two</li></ul><script>x()</script>"
    )
    assert html_to_text(html) == "a b\nc\n\n- one\n\n- two"


def test_a_malformed_payload_echoing_the_key_does_not_leak_it(forum: Forum) -> None:
    forum.topics[42]["post_stream"]["posts"][1]["created_at"] = KEY
    with pytest.raises(MalformedPayload) as caught:
        collect(config())
    assert "created_at" in str(caught.value)
    assert KEY not in str(caught.value)
    assert KEY[:20] not in str(caught.value)
