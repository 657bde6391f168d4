"""The YouTube adapter on hand-written Data API v3 payloads (respx)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from convokit_youtube import QuotaExceeded, YouTubeAdapter, YouTubeConfig
from convokit_youtube._cursor import decode

from convokit_core import (
    Direction,
    HttpError,
    MalformedPayload,
    Message,
    Page,
    RetryPolicy,
    SyncContext,
    SyncError,
)

FIXTURES = Path(__file__).parent / "fixtures"
API = "https://www.googleapis.com/youtube/v3"
CHANNEL = "UCn0rThW1nDlAbs000000aBc"
KEY = "AIzaSyB-fixture-key-0000000000000000"
THREAD = "UgwQ3nMbLd0RkY7kZxZ4AaABAg"
ANON = "UgzX9aNoNyM0uS5cOmMeNt4AaABAg"
KIM = "UCk1mN0rThW1nD00000000kM"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


@pytest.fixture
def api() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=API, assert_all_called=False) as router:
        router.get("/channels").respond(json=fixture("channels.json"))
        router.get("/playlistItems").respond(json=fixture("playlist_items.json"))

        def threads(request: httpx.Request) -> httpx.Response:
            token = request.url.params.get("pageToken")
            name = "comment_threads_2.json" if token else "comment_threads_1.json"
            return httpx.Response(200, json=fixture(name))

        def replies(request: httpx.Request) -> httpx.Response:
            token = request.url.params.get("pageToken")
            name = "comments_replies_2.json" if token else "comments_replies_1.json"
            return httpx.Response(200, json=fixture(name))

        router.get("/commentThreads", name="threads").mock(side_effect=threads)
        router.get("/comments", name="replies").mock(side_effect=replies)
        yield router


def run(
    cursor: str | None = None,
    *,
    team: frozenset[str] = frozenset(),
    sleeps: list[float] | None = None,
    **config: Any,
) -> list[Page]:
    settings: dict[str, Any] = {"channel_id": CHANNEL, "api_key": KEY, "page_size": 2}
    settings.update(config)

    async def sleep(seconds: float) -> None:
        if sleeps is not None:
            sleeps.append(seconds)

    async def go() -> list[Page]:
        async with httpx.AsyncClient() as client:
            adapter = YouTubeAdapter(
                YouTubeConfig(**settings),
                client,
                SyncContext(source="yt", platform="youtube", team_handles=team),
                policy=RetryPolicy(max_retries=2, backoff_base=0),
                sleep=sleep,
            )
            return [page async for page in adapter.fetch(cursor)]

    return asyncio.run(go())


def messages(pages: list[Page]) -> dict[str, Message]:
    return {m.id: m for page in pages for m in page.messages}


def test_mapping_of_uploads_threads_and_replies(api: respx.MockRouter) -> None:
    pages = run()
    found = messages(pages)
    # Uploads: outbound on our channel, in their own conversation; the private one skipped.
    video = found["video:s0ldEr1ng09"]
    assert video.direction is Direction.OUTBOUND
    assert video.channel_id == CHANNEL
    assert video.conversation_id == "video:s0ldEr1ng09"
    assert video.author_id == f"youtube:{CHANNEL}"
    assert video.sent_at == datetime(2026, 11, 20, 16, 0, tzinfo=UTC)  # videoPublishedAt
    assert video.text.startswith("Soldering for beginners\n\nPart 9")
    assert video.url == "https://www.youtube.com/watch?v=s0ldEr1ng09"
    assert "video:pr1vAtEcUt1" not in found
    assert found["video:oSc1lL0sC08"].sent_at == datetime(2026, 11, 1, 18, 0, tzinfo=UTC)

    # A thread is a conversation: the top-level comment and its replies.
    top = found[THREAD]
    assert top.conversation_id == THREAD
    assert top.in_reply_to is None
    assert top.direction is Direction.INBOUND
    assert top.author_id == "youtube:UCr4v1MaKeS0000000000rAv"
    assert top.text == "My iron keeps oxidising & nothing sticks.\nWhat tip do you use?"
    assert top.sent_at == datetime(2026, 11, 21, 8, 15, 30, tzinfo=UTC)
    assert top.edited_at == datetime(2026, 11, 21, 8, 20, 2, tzinfo=UTC)  # updatedAt
    assert top.url == f"https://www.youtube.com/watch?v=s0ldEr1ng09&lc={THREAD}"
    assert top.channel_id == f"{CHANNEL}/comments"
    ours = found[f"{THREAD}.A1bC2dE3fG4hI5jK6lM7nO"]
    assert ours.direction is Direction.OUTBOUND  # our channel's own reply
    assert ours.in_reply_to == THREAD
    assert ours.conversation_id == THREAD
    assert ours.edited_at is None  # updatedAt == publishedAt

    # The channel record, once, with the first page.
    channels = [c for page in pages for c in page.channels]
    assert len(channels) == 1
    assert channels[0].id == CHANNEL
    assert channels[0].handle == "@northwindlabs"
    assert channels[0].created_at == datetime(2014, 6, 2, 15, 4, 11, tzinfo=UTC)
    assert list(pages[0].channels) == channels

    people = {s.id: s for page in pages for s in page.stakeholders}
    ravi = people["youtube:UCr4v1MaKeS0000000000rAv"]
    assert ravi.display_name == "@ravi-makes"
    assert ravi.identities == {"youtube": "UCr4v1MaKeS0000000000rAv"}
    assert f"youtube:{CHANNEL}" not in people  # we are no stakeholder


def test_more_than_five_replies_are_read_from_the_comments_endpoint(
    api: respx.MockRouter,
) -> None:
    found = messages(run())
    replies = sorted(m.id for m in found.values() if m.conversation_id == THREAD and m.in_reply_to)
    # totalReplyCount is 6, the thread embeds 5: all six come, none twice.
    assert replies == [f"{THREAD}.A{n}bC2dE3fG4hI5jK6lM7nO" for n in range(1, 7)]
    calls = api.routes["replies"].calls
    assert [c.request.url.params.get("parentId") for c in calls] == [THREAD, THREAD]
    assert calls[0].request.url.params.get("part") == "snippet"
    assert calls[1].request.url.params.get("pageToken") == "Q0FFU0FnZ0Jid1Ffc2Vjb25kLXJlcGxpZXM"


def test_a_comment_without_author_channel_id_or_text_original(api: respx.MockRouter) -> None:
    pages = run()
    anonymous = messages(pages)[ANON]
    # No authorChannelId (a deleted or legacy account) and no display name: inbound,
    # never ours, a stakeholder without an identity.
    assert anonymous.direction is Direction.INBOUND
    assert anonymous.author_id == "youtube:anonymous"
    # No textOriginal: textDisplay as plain text.
    assert anonymous.text == 'Is the kit still "in stock"?\nnorthwind.example/kit'
    people = {s.id: s for page in pages for s in page.stakeholders}
    assert people["youtube:anonymous"].identities == {}


def test_team_members_by_channel_id_or_handle_are_outbound(api: respx.MockRouter) -> None:
    kim = f"{THREAD}.A5bC2dE3fG4hI5jK6lM7nO"
    assert messages(run())[kim].direction is Direction.INBOUND
    assert messages(run(team=frozenset({KIM.lower()})))[kim].direction is Direction.OUTBOUND
    by_handle = messages(run(team=frozenset({"kim-at-northwind"})))
    assert by_handle[kim].direction is Direction.OUTBOUND
    assert by_handle[THREAD].direction is Direction.INBOUND


def test_paging_with_page_tokens(api: respx.MockRouter) -> None:
    pages = run()
    calls = api.routes["threads"].calls
    params = [c.request.url.params for c in calls]
    assert [p.get("pageToken") for p in params] == [None, "QURTSl9pM0tfLXBhZ2UtdHdvLXRva2Vu"]
    for p in params:
        assert p["allThreadsRelatedToChannelId"] == CHANNEL
        assert p["order"] == "time"
        assert p["maxResults"] == "2"
        assert p["part"] == "snippet,replies"
    assert "UgyOsCiLlOsCoPeQ0000004AaABAg" in messages(pages)
    # Resuming from the page-1 cursor continues at the next page token.
    first_threads = next(p for p in pages if any(m.id == THREAD for m in p.messages))
    assert decode(first_threads.cursor).threads.token == "QURTSl9pM0tfLXBhZ2UtdHdvLXRva2Vu"
    before = api.routes["threads"].call_count
    rest = run(first_threads.cursor)
    assert set(messages(rest)) == {"UgyOsCiLlOsCoPeQ0000004AaABAg"}
    resumed = list(api.routes["threads"].calls)[before:]
    assert [c.request.url.params.get("pageToken") for c in resumed] == [
        "QURTSl9pM0tfLXBhZ2UtdHdvLXRva2Vu"
    ]


def test_the_api_key_goes_in_a_header_never_in_a_url(
    api: respx.MockRouter, caplog: pytest.LogCaptureFixture
) -> None:
    run()
    for call in api.calls:
        assert call.request.headers["x-goog-api-key"] == KEY
        assert KEY not in str(call.request.url)
        assert "key" not in call.request.url.params
    # An error that echoes the key back is scrubbed.
    caplog.set_level(logging.DEBUG)
    api.get("/channels").respond(
        400, json={"error": {"code": 400, "message": f"API key not valid: {KEY}", "errors": []}}
    )
    with pytest.raises(HttpError) as raised:
        run()
    assert KEY not in str(raised.value)
    assert "API key not valid" in str(raised.value)
    assert all(KEY not in r.getMessage() for r in caplog.records)


def test_an_oauth_token_is_a_bearer_header(api: respx.MockRouter) -> None:
    token = "ya29.fixture-oauth-access-token-000"
    run(api_key=None, oauth_token=token)
    for call in api.calls:
        assert call.request.headers["authorization"] == f"Bearer {token}"
        assert "x-goog-api-key" not in call.request.headers


def test_quota_exceeded_stops_the_source_without_retrying(api: respx.MockRouter) -> None:
    api.routes["threads"].mock(return_value=httpx.Response(403, json=fixture("error_quota.json")))
    sleeps: list[float] = []
    with pytest.raises(QuotaExceeded) as raised:
        run(sleeps=sleeps)
    assert isinstance(raised.value, SyncError)
    message = str(raised.value)
    assert "quota exhausted (quotaExceeded)" in message
    assert "resets at midnight Pacific Time" in message
    assert api.routes["threads"].call_count == 1  # not retried
    assert sleeps == []


def test_rate_limit_exceeded_backs_off_and_retries(api: respx.MockRouter) -> None:
    limited = httpx.Response(403, json=fixture("error_rate_limit.json"))
    api.routes["threads"].side_effect = [
        limited,
        limited,
        httpx.Response(200, json=fixture("comment_threads_1.json")),
        httpx.Response(200, json=fixture("comment_threads_2.json")),
    ]
    sleeps: list[float] = []
    found = messages(run(sleeps=sleeps))
    assert sleeps == [1.0, 2.0]  # exponential backoff, recorded instead of slept
    assert THREAD in found
    assert "UgyOsCiLlOsCoPeQ0000004AaABAg" in found
    assert api.routes["threads"].call_count == 4


def test_a_persistent_rate_limit_fails_the_source(api: respx.MockRouter) -> None:
    api.routes["threads"].mock(
        return_value=httpx.Response(403, json=fixture("error_rate_limit.json"))
    )
    sleeps: list[float] = []
    with pytest.raises(SyncError) as raised:
        run(sleeps=sleeps, rate_limit_retries=3)
    assert not isinstance(raised.value, QuotaExceeded)
    assert "rateLimitExceeded" in str(raised.value)
    assert sleeps == [1.0, 2.0, 4.0]
    assert api.routes["threads"].call_count == 4


def test_an_unknown_channel_is_a_clear_error(api: respx.MockRouter) -> None:
    api.get("/channels").respond(
        json={"kind": "youtube#channelListResponse", "pageInfo": {"totalResults": 0}}
    )
    with pytest.raises(SyncError, match=f"no YouTube channel with the id {CHANNEL}"):
        run()


def test_a_malformed_thread_names_the_field(api: respx.MockRouter) -> None:
    body = fixture("comment_threads_1.json")
    body["items"][0]["snippet"]["totalReplyCount"] = "six"
    api.routes["threads"].mock(return_value=httpx.Response(200, json=body))
    with pytest.raises(MalformedPayload, match="totalReplyCount"):
        run()
    body = fixture("comment_threads_1.json")
    body["items"][0]["snippet"]["topLevelComment"]["snippet"]["authorChannelId"] = {"value": 7}
    api.routes["threads"].mock(return_value=httpx.Response(200, json=body))
    with pytest.raises(MalformedPayload, match="'value'"):
        run()
    body = fixture("comment_threads_1.json")
    body["items"][0]["snippet"]["topLevelComment"]["snippet"]["publishedAt"] = "2026-11-21 08:15"
    api.routes["threads"].mock(return_value=httpx.Response(200, json=body))
    with pytest.raises(MalformedPayload, match="publishedAt"):
        run()


@pytest.mark.parametrize("cursor", ["garbage!", "e30", "eyJ2IjoyfQ"])
def test_a_garbage_cursor_is_an_error(api: respx.MockRouter, cursor: str) -> None:
    with pytest.raises(MalformedPayload, match="not a YouTube cursor"):
        run(cursor)
