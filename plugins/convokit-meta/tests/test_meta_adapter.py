"""Mapping, paging, resume, rate limits, errors and pitfalls of convokit-meta."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from convokit_meta import (
    FacebookAdapter,
    FacebookConfig,
    InstagramAdapter,
    InstagramConfig,
    MetaApiError,
    MetaThrottled,
    parse_graph_time,
    parse_usage,
)
from meta_fake import FakeGraph, graph_error

from convokit_core import (
    Direction,
    MalformedPayload,
    Message,
    Page,
    SyncContext,
    SyncError,
    Visibility,
)

TOKEN = "EAAGadapterTestPageToken987654321"
PAGE = "104857600123456"
IG = "17841400008460056"


class Sleeps:
    """Records the waits the adapter asks for, without waiting."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def facebook(
    fake: FakeGraph, sleeps: Sleeps | None = None, team: frozenset[str] = frozenset(), **kw: Any
) -> FacebookAdapter:
    config = FacebookConfig(page_id=PAGE, access_token=TOKEN, **kw)
    client = httpx.AsyncClient(transport=httpx.MockTransport(fake.handler))
    context = SyncContext(source="fb", platform="facebook", team_handles=team)
    return FacebookAdapter(config, client, context, sleep=sleeps or Sleeps())


def instagram(fake: FakeGraph, sleeps: Sleeps | None = None, **kw: Any) -> InstagramAdapter:
    config = InstagramConfig(ig_user_id=IG, access_token=TOKEN, **kw)
    client = httpx.AsyncClient(transport=httpx.MockTransport(fake.handler))
    context = SyncContext(source="ig", platform="instagram")
    return InstagramAdapter(config, client, context, sleep=sleeps or Sleeps())


def run(adapter: FacebookAdapter | InstagramAdapter, cursor: str | None = None) -> list[Page]:
    async def go() -> list[Page]:
        return [page async for page in adapter.fetch(cursor)]

    return asyncio.run(go())


def messages(pages: list[Page]) -> dict[str, Message]:
    return {m.id: m for page in pages for m in page.messages}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# -- times -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "moment"),
    [
        ("2024-03-01T12:34:56+0000", "2024-03-01T12:34:56"),
        ("2024-03-01T12:34:56-0500", "2024-03-01T17:34:56"),
        ("2024-03-01T12:34:56+05:30", "2024-03-01T07:04:56"),
        ("2024-03-01T12:34:56Z", "2024-03-01T12:34:56"),
        ("2024-03-01T12:34:56.250+0000", "2024-03-01T12:34:56.250000"),
    ],
)
def test_graph_times_with_offsets_without_a_colon_are_parsed_to_utc(text: str, moment: str) -> None:
    parsed = parse_graph_time(text, "t")
    assert parsed == at(moment)
    assert parsed.tzinfo is UTC


@pytest.mark.parametrize("text", ["2024-03-01T12:34:56", "2024-03-01", "1709296496", None, "x"])
def test_a_time_without_an_offset_or_garbled_is_malformed(text: Any) -> None:
    with pytest.raises(MalformedPayload, match="created_time"):
        parse_graph_time(text, "comment: created_time")


# -- Facebook mapping -------------------------------------------------------------------


def test_facebook_posts_comments_and_messenger_map_to_conversations() -> None:
    fake = FakeGraph("facebook.json", token=TOKEN)
    pages = run(facebook(fake))
    got = messages(pages)
    assert set(got) == fake.expected_ids()

    post = got[f"{PAGE}_900000000000001"]
    assert post.direction is Direction.OUTBOUND
    assert post.conversation_id == post.id
    assert post.in_reply_to is None
    assert post.sent_at == at("2026-03-01T12:34:56")
    assert post.url == "https://www.facebook.com/104857600123456/posts/900000000000001"
    assert post.channel_id == f"facebook:{PAGE}"

    question = got["900000000000001_1200000000000001"]
    assert question.direction is Direction.INBOUND
    assert question.author_id == "facebook:6100000000000012"
    assert question.in_reply_to == post.id  # a top-level comment answers the post
    assert question.conversation_id == post.id
    answer = got["900000000000001_1200000000000002"]
    assert answer.direction is Direction.OUTBOUND
    assert answer.in_reply_to == question.id  # from 'parent'
    assert answer.visibility is Visibility.PUBLIC

    visitor_post = got[f"{PAGE}_900000000000002"]
    assert visitor_post.direction is Direction.INBOUND  # a visitor's post on our feed

    dm = got["m_AbC1stMessageOfThread1"]
    assert dm.visibility is Visibility.PRIVATE
    assert dm.conversation_id == "t_10160000000000001"
    assert dm.direction is Direction.INBOUND
    assert dm.author_id == "facebook:6100000000000011"
    assert got["m_AbC3rdMessageOfThread1"].direction is Direction.OUTBOUND

    people = {p.id: p for page in pages for p in page.stakeholders}
    assert people["facebook:6100000000000011"].display_name == "Dana Reyes"
    assert people["facebook:6100000000000011"].identities == {"facebook": "6100000000000011"}
    assert not any(p.id.startswith(f"facebook:{PAGE}") for p in people.values())
    channels = [c for page in pages for c in page.channels]
    assert [(c.id, c.handle) for c in channels] == [(f"facebook:{PAGE}", "Acme Outdoor")]


def test_pitfall_a_comment_without_from_is_kept_inbound_from_an_unknown_author() -> None:
    fake = FakeGraph("facebook.json", token=TOKEN)
    pages = run(facebook(fake))
    hidden = messages(pages)["900000000000001_1200000000000003"]
    assert hidden.direction is Direction.INBOUND
    assert hidden.author_id == "facebook:unknown"
    assert hidden.text == "Looks great, how heavy is it?"
    assert "facebook:unknown" not in {p.id for page in pages for p in page.stakeholders}


def test_pitfall_an_offset_other_than_utc_is_applied() -> None:
    fake = FakeGraph("facebook.json", token=TOKEN)
    reply = messages(run(facebook(fake)))["900000000000001_1200000000000004"]
    assert reply.sent_at == at("2026-03-01T19:20:00")  # 14:20-0500


def test_team_members_by_user_id_are_outbound() -> None:
    fake = FakeGraph("facebook.json", token=TOKEN)
    got = messages(run(facebook(fake, team=frozenset({"6100000000000012"}))))
    assert got["900000000000001_1200000000000001"].direction is Direction.OUTBOUND
    assert got["900000000000002_1200000000000006"].direction is Direction.INBOUND


def test_requests_use_the_documented_edges_and_fields() -> None:
    fake = FakeGraph("facebook.json", token=TOKEN)
    run(facebook(fake))
    paths = [r.url.path for r in fake.requests]
    assert paths[0] == f"/v24.0/{PAGE}"
    comments = next(r for r in fake.requests if r.url.path.endswith("/comments"))
    assert comments.url.params["filter"] == "stream"
    assert comments.url.params["order"] == "chronological"
    assert comments.url.params["fields"] == "id,from,message,created_time,parent"
    conversations = next(r for r in fake.requests if r.url.path.endswith("/conversations"))
    assert conversations.url.params["platform"] == "messenger"
    dms = next(r for r in fake.requests if r.url.path.endswith("/messages"))
    assert dms.url.params["fields"] == "id,from,to,message,created_time"
    assert f"/v24.0/{PAGE}/feed" in paths
    assert all(r.headers["authorization"] == f"Bearer {TOKEN}" for r in fake.requests)


def test_pitfall_paging_next_carries_the_token_but_is_never_requested_or_stored() -> None:
    fake = FakeGraph("facebook.json", token=TOKEN)
    pages = run(facebook(fake, page_size=2))
    afters = [r for r in fake.requests if "after" in r.url.params]
    assert afters, "the fake pages by 2, so later pages are requested with after="
    for request in fake.requests:
        assert "access_token" not in request.url.params
        assert TOKEN not in str(request.url)
    assert all(TOKEN not in page.cursor for page in pages)


def test_the_version_is_configurable() -> None:
    fake = FakeGraph("facebook.json", token=TOKEN)
    adapter = facebook(fake, api_version="v19.0")
    with pytest.raises(MetaApiError):
        run(adapter)  # the fake only knows v24.0 and answers a Graph error
    assert fake.requests[0].url.path == f"/v19.0/{PAGE}"


# -- Instagram mapping ------------------------------------------------------------------


def test_instagram_media_comments_replies_and_direct_messages() -> None:
    fake = FakeGraph("instagram.json", token=TOKEN)
    pages = run(instagram(fake))
    got = messages(pages)
    assert set(got) == fake.expected_ids()
    media = got["17900000000000001"]
    assert media.direction is Direction.OUTBOUND
    assert media.text == "The Ridge 2 is here."
    comment = got["17950000000000001"]
    assert comment.in_reply_to == media.id
    assert comment.conversation_id == media.id
    assert comment.author_id == "instagram:trail.runner.kim"
    ours = got["17960000000000001"]
    assert ours.direction is Direction.OUTBOUND
    assert ours.in_reply_to == comment.id
    dm = got["aWdfZAG06MTpJR01lc3NhZA2VJdGVtOjE="]
    assert dm.visibility is Visibility.PRIVATE
    assert dm.direction is Direction.INBOUND
    assert got["aWdfZAG06MTpJR01lc3NhZA2VJdGVtOjI="].direction is Direction.OUTBOUND
    comments = next(r for r in fake.requests if r.url.path.endswith("/comments"))
    assert comments.url.params["fields"] == (
        "id,text,timestamp,username,replies{id,text,timestamp,username}"
    )
    conversations = next(r for r in fake.requests if r.url.path.endswith("/conversations"))
    assert conversations.url.params["platform"] == "instagram"


def test_pitfall_replies_beyond_the_embedded_page_are_fetched() -> None:
    fake = FakeGraph("instagram.json", token=TOKEN)
    got = messages(run(instagram(fake)))
    third = got["17960000000000003"]  # not embedded: only via /{comment-id}/replies
    assert third.in_reply_to == "17950000000000001"
    replies = [r for r in fake.requests if r.url.path.endswith("/17950000000000001/replies")]
    assert len(replies) == 1
    assert "after" in replies[0].url.params


def test_our_username_is_outbound_whatever_its_case() -> None:
    fake = FakeGraph("instagram.json", token=TOKEN)
    fake.edges["17900000000000002/comments"].append(
        {
            "id": "17950000000000009",
            "text": "Skyline loop!",
            "timestamp": "2026-03-04T09:30:00+0000",
            "username": "Acme.Outdoor",
        }
    )
    got = messages(run(instagram(fake)))
    assert got["17950000000000009"].direction is Direction.OUTBOUND


# -- incremental sync -------------------------------------------------------------------


def test_the_next_sync_reads_only_new_comments_and_messages() -> None:
    fake = FakeGraph("facebook.json", token=TOKEN)
    first = run(facebook(fake))
    cursor = first[-1].cursor
    assert run(facebook(fake), cursor) == []

    fake.edges[f"{PAGE}_900000000000002/comments"].append(
        {
            "id": "900000000000002_1200000000000099",
            "created_time": "2026-03-06T08:00:00+0000",
            "message": "Kit arrived, all good.",
            "from": {"name": "Dana Reyes", "id": "6100000000000011"},
        }
    )
    conversation = fake.edges[f"{PAGE}/conversations"]
    fake.edges[f"{PAGE}/conversations"] = [
        {"id": conversation[1]["id"], "updated_time": "2026-03-06T09:00:00+0000"},
        conversation[0],
    ]
    fake.edges["t_10160000000000002/messages"].insert(
        0,
        {
            "id": "m_XyZ3rdMessageOfThread2",
            "created_time": "2026-03-06T09:00:00+0000",
            "from": {"name": "Ben Ortiz", "id": "6100000000000012"},
            "to": {"data": [{"name": "Acme Outdoor", "id": PAGE}]},
            "message": "And Tuesday?",
        },
    )
    fake.requests.clear()
    second = run(facebook(fake), cursor)
    assert set(messages(second)) == {
        "900000000000002_1200000000000099",
        "m_XyZ3rdMessageOfThread2",
    }
    # The conversation that did not move is not read again.
    assert not any("t_10160000000000001" in r.url.path for r in fake.requests)
    assert run(facebook(fake), second[-1].cursor) == []


def test_posts_older_than_the_lookback_are_not_read_again() -> None:
    fake = FakeGraph("facebook.json", token=TOKEN)
    cursor = run(facebook(fake, lookback="2d"))[-1].cursor
    fake.requests.clear()
    assert run(facebook(fake, lookback="2d"), cursor) == []
    read = {r.url.path for r in fake.requests if r.url.path.endswith("/comments")}
    assert read == {
        f"/v24.0/{PAGE}_900000000000003/comments",
        f"/v24.0/{PAGE}_900000000000002/comments",
    }


def test_since_limits_the_first_sync() -> None:
    fake = FakeGraph("facebook.json", token=TOKEN)
    got = messages(run(facebook(fake, since="2026-03-03T00:00:00Z")))
    assert f"{PAGE}_900000000000001" not in got
    assert "m_XyZ1stMessageOfThread2" not in got
    assert f"{PAGE}_900000000000003" in got
    assert "m_AbC1stMessageOfThread1" in got


def test_a_cursor_of_another_page_is_refused() -> None:
    fake = FakeGraph("facebook.json", token=TOKEN)
    cursor = run(facebook(fake))[-1].cursor.replace(PAGE, "999999999")
    with pytest.raises(SyncError, match="another account"):
        run(facebook(fake), cursor)


# -- rate limits ------------------------------------------------------------------------


def _usage(percent: int, regain: int = 0) -> dict[str, str]:
    return {
        "X-App-Usage": json.dumps({"call_count": 12, "total_cputime": 3, "total_time": 5}),
        "X-Business-Use-Case-Usage": json.dumps(
            {
                PAGE: [
                    {
                        "type": "pages",
                        "call_count": percent,
                        "total_cputime": 10,
                        "total_time": 20,
                        "estimated_time_to_regain_access": regain,
                    }
                ]
            }
        ),
    }


def test_usage_headers_are_read() -> None:
    usage = parse_usage(
        httpx.Headers({**_usage(91, 3), "X-Page-Usage": '{"call_count": 95, "total_time": 1}'})
    )
    assert usage.percent == 95
    assert usage.regain_minutes == 3
    assert parse_usage(httpx.Headers({"X-App-Usage": "not json"})).percent == 0


def test_usage_above_the_threshold_slows_down_proportionally() -> None:
    fake = FakeGraph("facebook.json", token=TOKEN)
    fake.usage = _usage(90)
    sleeps = Sleeps()
    run(facebook(fake, sleeps, max_pause=300, retry_budget=86400))
    # Each answer at 90 % (half-way from 80 to 100) spaces the next request by 150 s.
    assert sleeps.waits == [150.0] * (len(fake.requests) - 1)


def test_usage_at_the_threshold_does_not_wait() -> None:
    fake = FakeGraph("facebook.json", token=TOKEN)
    fake.usage = _usage(80)
    sleeps = Sleeps()
    run(facebook(fake, sleeps))
    assert sleeps.waits == []


def test_a_reported_block_is_waited_out_within_the_budget() -> None:
    fake = FakeGraph("facebook.json", token=TOKEN)
    sleeps = Sleeps()
    page_answer = fake.respond(200, fake.objects[PAGE], _usage(100, 2))
    fake.faults.append(page_answer)
    got = messages(run(facebook(fake, sleeps, retry_budget=600)))
    assert sleeps.waits == [120.0]
    assert set(got) == fake.expected_ids()


def test_a_block_longer_than_the_budget_fails_clearly_before_the_next_request() -> None:
    fake = FakeGraph("facebook.json", token=TOKEN)
    fake.faults.append(fake.respond(200, fake.objects[PAGE], _usage(100, 60)))
    sleeps = Sleeps()
    with pytest.raises(MetaThrottled) as info:
        run(facebook(fake, sleeps, retry_budget=600))
    text = str(info.value)
    assert "blocked for about 60 min" in text
    assert "retry_budget" in text
    assert len(fake.requests) == 1
    assert sleeps.waits == []


@pytest.mark.parametrize(
    ("status", "code"), [(400, 4), (400, 17), (400, 32), (400, 613), (403, 80001)]
)
def test_throttling_codes_are_retried(status: int, code: int) -> None:
    fake = FakeGraph("facebook.json", token=TOKEN)
    fake.faults.append(
        fake.respond(status, graph_error(code, f"(#{code}) limit reached", transient=True))
    )
    sleeps = Sleeps()
    got = messages(run(facebook(fake, sleeps)))
    assert set(got) == fake.expected_ids()
    assert sleeps.waits == [30.0]
    assert fake.requests[0].url == fake.requests[1].url


def test_a_throttle_with_a_regain_time_waits_that_long() -> None:
    fake = FakeGraph("facebook.json", token=TOKEN)
    fake.faults.append(
        fake.respond(400, graph_error(32, "(#32) Page request limit reached"), _usage(100, 4))
    )
    sleeps = Sleeps()
    run(facebook(fake, sleeps))
    assert sleeps.waits == [240.0]


def test_persistent_throttling_gives_up_after_the_retries() -> None:
    fake = FakeGraph("facebook.json", token=TOKEN)
    fake.faults.extend(
        fake.respond(400, graph_error(4, "(#4) Application request limit reached"))
        for _ in range(10)
    )
    sleeps = Sleeps()
    with pytest.raises(MetaThrottled, match=r"code 4.*gave up after 3 attempts"):
        run(facebook(fake, sleeps, max_retries=2, retry_budget=86400))
    assert sleeps.waits == [30.0, 60.0]


@pytest.mark.parametrize(
    ("code", "hint"),
    [(100, "page_id"), (190, "access token was rejected"), (10, "permission"), (2500, "")],
)
def test_other_graph_errors_fail_at_once_with_metas_message(code: int, hint: str) -> None:
    fake = FakeGraph("facebook.json", token=TOKEN)
    fake.faults.append(fake.respond(400, graph_error(code, f"Something about {TOKEN}")))
    sleeps = Sleeps()
    with pytest.raises(MetaApiError) as info:
        run(facebook(fake, sleeps))
    text = str(info.value)
    assert f"code {code}" in text
    assert "fbtrace_id AbCdEfGh123" in text
    assert hint in text
    assert TOKEN not in text
    assert "***" in text
    assert info.value.error.code == code
    assert info.value.status == 400
    assert len(fake.requests) == 1
    assert sleeps.waits == []


def test_a_wrong_token_fails_without_showing_it() -> None:
    fake = FakeGraph("facebook.json", token="EAAGtheRightTokenIsThisOne42")
    with pytest.raises(MetaApiError, match=r"code 190.*access token was rejected") as info:
        run(facebook(fake))
    assert TOKEN not in str(info.value)
    assert TOKEN not in repr(facebook(fake))


def test_an_error_body_on_http_200_is_an_error_too() -> None:
    fake = FakeGraph("facebook.json", token=TOKEN)
    fake.faults.append(fake.respond(200, graph_error(1, "An unknown error occurred")))
    with pytest.raises(MetaApiError, match="code 1"):
        run(facebook(fake))


def test_a_comment_of_the_wrong_shape_is_malformed_and_names_the_field() -> None:
    fake = FakeGraph("facebook.json", token=TOKEN)
    fake.edges[f"{PAGE}_900000000000003/comments"][0]["from"] = "Ben"
    with pytest.raises(MalformedPayload, match="from"):
        run(facebook(fake))
    fake.edges[f"{PAGE}_900000000000003/comments"][0]["from"] = {"id": "1"}
    fake.edges[f"{PAGE}_900000000000003/comments"][0]["created_time"] = "yesterday"
    with pytest.raises(MalformedPayload, match="created_time"):
        run(facebook(fake))


def test_pitfall_an_old_pinned_post_listed_first_does_not_end_the_pass() -> None:
    fake = FakeGraph("facebook.json", token=TOKEN)
    cursor = run(facebook(fake, lookback="2d", page_size=2))[-1].cursor
    feed = fake.edges[f"{PAGE}/feed"]
    new_post = {
        "id": f"{PAGE}_900000000000004",
        "created_time": "2026-03-06T09:00:00+0000",
        "message": "Our shop is closed on Friday.",
        "from": {"name": "Acme Outdoor", "id": PAGE},
    }
    fake.edges[f"{PAGE}/feed"] = [feed[2], new_post, feed[0], feed[1]]  # feed[2]: pinned
    fake.edges[f"{PAGE}_900000000000004/comments"] = [
        {
            "id": "900000000000004_1200000000000010",
            "created_time": "2026-03-06T09:30:00+0000",
            "message": "Open on Saturday?",
            "from": {"name": "Ben Ortiz", "id": "6100000000000012"},
        }
    ]
    got = messages(run(facebook(fake, lookback="2d", page_size=2, surfaces=["posts"]), cursor))
    assert set(got) == {f"{PAGE}_900000000000004", "900000000000004_1200000000000010"}


def test_the_listing_stops_after_a_whole_page_below_the_horizon() -> None:
    fake = FakeGraph("facebook.json", token=TOKEN)
    fake.edges[f"{PAGE}/feed"] += [
        {
            "id": f"{PAGE}_8000000000000{n:02d}",
            "created_time": f"2026-01-{n:02d}T10:00:00+0000",
            "from": {"name": "Acme Outdoor", "id": PAGE},
        }
        for n in range(20, 0, -1)
    ]
    cursor = run(facebook(fake, lookback="2d", page_size=2, surfaces=["posts"]))[-1].cursor
    fake.requests.clear()
    run(facebook(fake, lookback="2d", page_size=2, surfaces=["posts"]), cursor)
    feed_pages = [r for r in fake.requests if r.url.path.endswith("/feed")]
    # [p3, p2] in the window, [p1, jan 20] below it: stop; the 9 older pages are not read.
    assert len(feed_pages) == 2


def test_paging_next_without_an_after_cursor_is_malformed() -> None:
    fake = FakeGraph("facebook.json", token=TOKEN)
    fake.faults.append(fake.respond(200, fake.objects[PAGE]))
    body = {
        "data": fake.edges[f"{PAGE}/feed"][:1],
        "paging": {"next": f"https://graph.facebook.com/v24.0/{PAGE}/feed?access_token={TOKEN}"},
    }
    fake.faults.append(fake.respond(200, body))
    with pytest.raises(MalformedPayload, match=r"paging\.cursors\.after") as info:
        run(facebook(fake, surfaces=["posts"]))
    assert TOKEN not in str(info.value)


def test_a_last_page_without_paging_next_ends_the_listing() -> None:
    fake = FakeGraph("facebook.json", token=TOKEN)
    fake.faults.append(fake.respond(200, fake.objects[PAGE]))
    # 'cursors' but no 'next': Meta's last page.
    body = {"data": [], "paging": {"cursors": {"before": "QVFI", "after": "QVFJ"}}}
    fake.faults.append(fake.respond(200, body))
    pages = run(facebook(fake, surfaces=["posts"]))
    assert [len(p.messages) for p in pages] == [0]  # the Channel record and the cursor
    assert len(fake.requests) == 2


def test_instagram_direct_conversations_via_the_linked_page() -> None:
    fake = FakeGraph("instagram.json", token=TOKEN)
    edges = fake.edges
    edges[f"{PAGE}/conversations"] = edges.pop(f"{IG}/conversations")
    got = messages(run(instagram(fake, page_id=PAGE, surfaces=["direct"])))
    assert set(got) == {"aWdfZAG06MTpJR01lc3NhZA2VJdGVtOjE=", "aWdfZAG06MTpJR01lc3NhZA2VJdGVtOjI="}
    listed = [r for r in fake.requests if r.url.path.endswith("/conversations")]
    assert [r.url.path for r in listed] == [f"/v24.0/{PAGE}/conversations"]
    assert listed[0].url.params["platform"] == "instagram"
