"""The Mastodon adapter on hand-written payloads in Mastodon's real shapes (respx)."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import respx
from convokit_mastodon import MastodonConfig, MastodonCursor, create, html_to_text

from convokit_core import Direction, HttpError, Page, SyncContext, SyncError, Visibility

TOKEN = "mstdn-token-abcdef123456"
BASE = "https://mastodon.example"


def account(id: str, acct: str, *, bot: bool = False, name: str = "") -> dict[str, Any]:
    username = acct.split("@")[0]
    host = acct.split("@")[1] if "@" in acct else "mastodon.example"
    return {
        "id": id,
        "username": username,
        "acct": acct,
        "display_name": name,
        "locked": False,
        "bot": bot,
        "created_at": "2022-11-05T00:00:00.000Z",
        "note": "",
        "url": f"https://{host}/@{username}",
        "avatar": "https://files.mastodon.example/a.png",
        "followers_count": 1,
        "following_count": 1,
        "statuses_count": 1,
        "emojis": [],
        "fields": [],
    }


US = account("1", "acme", name="ACME")
KC = account("2", "kc", name="KC")
ANA = account("3", "ana@social.example", name="Ana")
BOT = account("4", "helper@bots.example", bot=True)


def status(
    id: str,
    who: dict[str, Any],
    html: str,
    *,
    at: str,
    reply_to: str | None = None,
    visibility: str = "public",
    edited_at: str | None = None,
    spoiler: str = "",
) -> dict[str, Any]:
    return {
        "id": id,
        "created_at": at,
        "in_reply_to_id": reply_to,
        "in_reply_to_account_id": None,
        "sensitive": bool(spoiler),
        "spoiler_text": spoiler,
        "visibility": visibility,
        "language": "en",
        "uri": f"https://mastodon.example/users/x/statuses/{id}",
        "url": f"https://mastodon.example/@x/{id}",
        "replies_count": 0,
        "reblogs_count": 0,
        "favourites_count": 0,
        "edited_at": edited_at,
        "content": html,
        "reblog": None,
        "account": who,
        "media_attachments": [],
        "mentions": [],
        "tags": [],
        "emojis": [],
        "card": None,
        "poll": None,
    }


ROOT = status(
    "1001",
    ANA,
    '<p><span class="h-card"><a href="https://mastodon.example/@acme" class="u-url mention">'
    "@<span>acme</span></a></span> where is my parcel?</p>",
    at="2026-03-02T09:00:00.000Z",
)
REPLY = status(
    "1002",
    US,
    "<p>Looking into it &amp; will report back.</p>",
    at="2026-03-02T09:10:00.000Z",
    reply_to="1001",
)
FOLLOW = status(
    "1003",
    ANA,
    "<p>@acme thanks<br>still waiting</p>",
    at="2026-03-02T10:00:00.000Z",
    reply_to="1002",
    edited_at="2026-03-02T10:05:00.000Z",
    visibility="direct",
)
TEAM = status("1004", KC, "<p>Shipped today.</p>", at="2026-03-02T11:00:00.000Z", reply_to="1003")
BOTS = status("1005", BOT, "<p>Ticket opened.</p>", at="2026-03-02T11:01:00.000Z", reply_to="1001")
OWN = status("2001", US, "<p>Big news!</p><p>v2 is out.</p>", at="2026-03-03T08:00:00.000Z")


def notification(id: str, st: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": id,
        "type": "mention",
        "created_at": st["created_at"],
        "account": st["account"],
        "status": st,
    }


def config(**kw: Any) -> MastodonConfig:
    values: dict[str, Any] = {"instance": BASE, "account": "@acme", "token": TOKEN}
    values.update(kw)
    return MastodonConfig(**values)


def collect(cursor: str | None = None, *, team: frozenset[str] = frozenset()) -> list[Page]:
    async def go() -> list[Page]:
        async with httpx.AsyncClient() as client:
            adapter = create(
                config(),
                client,
                SyncContext(source="m", platform="mastodon", team_handles=team),
            )
            return [page async for page in adapter.fetch(cursor)]

    return asyncio.run(go())


def link(path: str, **params: str) -> str:
    return f'<{BASE}{path}?{"&".join(f"{k}={v}" for k, v in params.items())}>; rel="prev"'


@pytest.fixture
def api() -> respx.MockRouter:
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        router.get("/api/v1/accounts/lookup", params={"acct": "acme"}).respond(json=US)
        yield router


def test_mentions_bring_their_whole_thread_and_own_statuses_follow(
    api: respx.MockRouter,
) -> None:
    notifications = api.get("/api/v1/notifications")
    notifications.side_effect = [
        httpx.Response(
            200,
            json=[notification("9003", FOLLOW), notification("9001", ROOT)],
            headers={"Link": link("/api/v1/notifications", limit="40", min_id="9003")},
        ),
        httpx.Response(200, json=[]),
    ]
    api.get("/api/v1/statuses/1001/context").respond(
        json={"ancestors": [], "descendants": [REPLY, FOLLOW, TEAM, BOTS]}
    )
    api.get("/api/v1/statuses/1003/context").respond(
        json={"ancestors": [ROOT, REPLY], "descendants": [TEAM]}
    )
    own = api.get("/api/v1/accounts/1/statuses")
    own.side_effect = [
        httpx.Response(200, json=[OWN, REPLY]),
        httpx.Response(200, json=[]),
    ]
    api.get("/api/v1/statuses/1002/context").respond(
        json={"ancestors": [ROOT], "descendants": [FOLLOW, TEAM]}
    )
    pages = collect(team=frozenset({"@KC@mastodon.example"}))

    assert [json.loads(p.cursor) for p in pages] == [
        {"v": 1, "mentions": "9003", "statuses": None},
        {"v": 1, "mentions": "9003", "statuses": "2001"},
    ]
    first = {m.id: m for m in pages[0].messages}
    assert set(first) == {f"{i}@mastodon.example" for i in ("1001", "1002", "1003", "1004", "1005")}
    assert {m.conversation_id for m in first.values()} == {"1001@mastodon.example"}
    root = first["1001@mastodon.example"]
    assert root.direction is Direction.INBOUND
    assert root.author_id == "@ana@social.example"
    assert root.text == "@acme where is my parcel?"
    assert root.sent_at == datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    assert root.channel_id == "@acme@mastodon.example"
    assert root.url == "https://mastodon.example/@x/1001"
    reply = first["1002@mastodon.example"]
    assert reply.direction is Direction.OUTBOUND
    assert reply.in_reply_to == "1001@mastodon.example"
    assert reply.text == "Looking into it & will report back."
    follow = first["1003@mastodon.example"]
    assert follow.visibility is Visibility.PRIVATE
    assert follow.edited_at == datetime(2026, 3, 2, 10, 5, tzinfo=UTC)
    assert follow.text == "@acme thanks\nstill waiting"
    assert first["1004@mastodon.example"].direction is Direction.OUTBOUND  # a team member
    assert first["1005@mastodon.example"].automated is True
    assert [c.id for c in pages[0].channels] == ["@acme@mastodon.example"]
    assert {s.id for s in pages[0].stakeholders} == {"@ana@social.example", "@helper@bots.example"}

    second = {m.id: m for m in pages[1].messages}
    assert second["2001@mastodon.example"].conversation_id == "2001@mastodon.example"
    assert second["2001@mastodon.example"].text == "Big news!\n\nv2 is out."
    # Our reply 1002 came again with its thread; it was delivered on page 1, unchanged.
    assert "1002@mastodon.example" not in second
    assert pages[1].channels == ()

    # Paging followed the Link header verbatim, and asked for mentions only.
    first_call = notifications.calls[0].request
    assert first_call.url.params.get_list("types[]") == ["mention"]
    assert first_call.url.params["min_id"] == "0"
    assert notifications.calls[1].request.url.params["min_id"] == "9003"
    assert notifications.calls[1].request.url.params["limit"] == "40"
    assert own.calls[0].request.url.params["exclude_reblogs"] == "true"
    assert all(call.request.headers["authorization"] == f"Bearer {TOKEN}" for call in api.calls)


def test_a_deleted_mention_is_kept_as_deleted(api: respx.MockRouter) -> None:
    api.get("/api/v1/notifications").side_effect = [
        httpx.Response(200, json=[notification("9001", ROOT)]),
        httpx.Response(200, json=[]),
    ]
    api.get("/api/v1/statuses/1001/context").respond(404, json={"error": "Record not found"})
    api.get("/api/v1/accounts/1/statuses").respond(json=[])
    (page,) = collect()
    (message,) = page.messages
    assert message.id == "1001@mastodon.example"
    assert message.deleted is True
    assert message.text == "@acme where is my parcel?"
    assert json.loads(page.cursor)["mentions"] == "9001"


def test_resume_uses_the_cursor_high_water_marks(api: respx.MockRouter) -> None:
    notifications = api.get("/api/v1/notifications").respond(json=[])
    own = api.get("/api/v1/accounts/1/statuses").respond(json=[])
    cursor = MastodonCursor(mentions="9003", statuses="2001").encode()
    assert collect(cursor) == []
    assert notifications.calls[0].request.url.params["min_id"] == "9003"
    assert own.calls[0].request.url.params["min_id"] == "2001"


def test_first_run_with_nothing_still_records_the_channel(api: respx.MockRouter) -> None:
    api.get("/api/v1/notifications").respond(json=[])
    api.get("/api/v1/accounts/1/statuses").respond(json=[])
    (page,) = collect()
    assert page.messages == ()
    assert page.channels[0].handle == "@acme@mastodon.example"
    assert page.channels[0].created_at == datetime(2022, 11, 5, tzinfo=UTC)


def test_unknown_account_is_a_clear_error() -> None:
    with respx.mock(base_url=BASE) as router:
        router.get("/api/v1/accounts/lookup").respond(404, json={"error": "Record not found"})
        with pytest.raises(
            SyncError, match=re.escape("account @acme was not found on https://mastodon.example")
        ):
            collect()


def test_bad_token_fails_without_showing_it() -> None:
    with respx.mock(base_url=BASE) as router:
        router.get("/api/v1/accounts/lookup").respond(
            401, json={"error": "The access token is invalid"}
        )
        with pytest.raises(HttpError, match="The access token is invalid") as info:
            collect()
    assert TOKEN not in str(info.value)


def test_a_foreign_cursor_is_refused() -> None:
    with pytest.raises(SyncError, match="not a Mastodon cursor"):
        MastodonCursor.decode("eyJhbGciOi")
    with pytest.raises(SyncError):
        MastodonCursor.decode('{"v": 2}')
    assert MastodonCursor.decode(None) == MastodonCursor()
    cursor = MastodonCursor(mentions="5", statuses=None)
    assert MastodonCursor.decode(cursor.encode()) == cursor


# -- config ----------------------------------------------------------------------------------


def test_config_normalises_and_hides_the_token() -> None:
    c = config(instance="mastodon.example/", account="acme@Mastodon.Example")
    assert c.instance == "https://mastodon.example"
    assert c.full_handle == "acme@mastodon.example"
    assert TOKEN not in repr(c)
    local = config(instance="http://127.0.0.1:8123", account="@acme")
    assert local.host == "127.0.0.1:8123"
    assert local.full_handle == "acme@127.0.0.1:8123"


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("instance", "http://mastodon.example", "only https"),
        ("instance", "https://mastodon.example/api", "without a path"),
        ("instance", "", "server's URL"),
        ("account", "not a handle", "handle like"),
        ("account", "@a@b@c", "handle like"),
        ("token", "", "non-empty access token"),
        ("page_size", 41, "1 to 40"),
        ("page_size", 0, "1 to 40"),
    ],
)
def test_config_rejects_bad_values(key: str, value: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        config(**{key: value})


# -- HTML ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("<p>Hello &amp; welcome</p>", "Hello & welcome"),
        ("<p>one</p><p>two</p>", "one\n\ntwo"),
        ("<p>line<br>break<br />again</p>", "line\nbreak\nagain"),
        (
            '<p>see <a href="https://acme.example/help/refunds"><span class="invisible">'
            'https://</span><span class="ellipsis">acme.example/help/ref</span>'
            '<span class="invisible">unds</span></a></p>',
            "see https://acme.example/help/refunds",
        ),
        ("<p>&lt;script&gt; is text</p>", "<script> is text"),
        ("plain text", "plain text"),
        ("", ""),
    ],
)
def test_html_to_text(html: str, text: str) -> None:
    assert html_to_text(html) == text
