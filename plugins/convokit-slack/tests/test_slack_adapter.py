"""The Slack adapter on hand-written payloads in Slack's real shapes (respx)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import respx
from convokit_slack import ChannelState, SlackApiError, State
from slack_helpers import TOKEN, Sleeps, collect, load, method, slack_config

from convokit_core import Direction, HttpError, MalformedPayload, SyncError, Visibility

T = "T07NWIND1/C07HELPDSK/"
ROOT = T + "1700000000.000100"


def invoice_replies(request: httpx.Request) -> httpx.Response:
    ts = request.url.params["ts"]
    if ts == "1700000000.000100":
        page = (
            "replies_invoice_2.json" if "cursor" in request.url.params else "replies_invoice.json"
        )
        return httpx.Response(200, json=load(page))
    if ts == "1699999000.000000":
        return httpx.Response(200, json=load("replies_tombstone.json"))
    return httpx.Response(200, json={"ok": False, "error": "thread_not_found"})


@pytest.fixture
def help_desk(slack: respx.MockRouter) -> respx.MockRouter:
    method(slack, "conversations.history").side_effect = [
        httpx.Response(200, json=load("history_help_1.json")),
        httpx.Response(200, json=load("history_help_2.json")),
    ]
    method(slack, "conversations.replies").side_effect = invoice_replies
    return slack


def test_history_pages_with_threads_map_every_field(help_desk: respx.MockRouter) -> None:
    pages = collect()
    assert len(pages) == 2
    messages = {m.id: m for p in pages for m in p.messages}
    assert set(messages) == {
        T + ts
        for ts in (
            "1700000600.004200",  # a bot_message
            "1700000000.000100",  # the parent, ts with its trailing zeros
            "1700000005.000000",
            "1700000300.000200",
            "1700000420.000300",
            "1699999000.000000",  # a deleted parent (tombstone)
            "1699999100.000000",
            "1699990000.000000",
        )
    }  # channel_join and channel_topic are system events, skipped

    root = messages[ROOT]
    assert root.platform == "slack"
    assert root.conversation_id == ROOT
    assert root.in_reply_to is None
    assert root.sent_at == datetime(2023, 11, 14, 22, 13, 20, 100, tzinfo=UTC)
    assert root.edited_at == datetime(2023, 11, 14, 22, 13, 50, tzinfo=UTC)
    assert root.text == "Hello @here, my invoice & receipt for #billing are missing"
    assert root.direction is Direction.INBOUND
    assert root.author_id == "slack:T07NWIND1/U07DANA001"
    assert root.channel_id == "T07NWIND1/C07HELPDSK"
    assert root.visibility is Visibility.PUBLIC
    assert root.automated is False
    assert root.url == "https://northwind.slack.com/archives/C07HELPDSK/p1700000000000100"

    ack = messages[T + "1700000005.000000"]  # our app's bot user
    assert (ack.direction, ack.automated) == (Direction.OUTBOUND, True)
    assert ack.conversation_id == ROOT
    assert ack.in_reply_to == ROOT
    assert ack.text == "Thanks @U07DANA001, a human will be with you shortly."

    sam = messages[T + "1700000300.000200"]  # a [[team]] handle: a human reply
    assert (sam.direction, sam.automated) == (Direction.OUTBOUND, False)
    assert sam.text == "Found them, resent both to your billing address: ap@dana.example"
    thanks = messages[T + "1700000420.000300"]
    assert thanks.direction is Direction.INBOUND
    assert thanks.url == (
        "https://northwind.slack.com/archives/C07HELPDSK/p1700000420000300"
        "?thread_ts=1700000000.000100&cid=C07HELPDSK"
    )

    status = messages[T + "1700000600.004200"]  # someone else's integration
    assert (status.direction, status.automated) == (Direction.INBOUND, True)
    assert status.author_id == "slack:T07NWIND1/B07STATUS1"
    assert (
        status.text
        == "Status page: all systems operational details (https://status.northwind.example)"
    )

    tomb = messages[T + "1699999000.000000"]
    assert tomb.deleted is True
    assert tomb.text == ""
    assert tomb.conversation_id == tomb.id
    # Slack shows a deleted parent as USLACKBOT's; its replies name who wrote it.
    assert tomb.author_id == "slack:T07NWIND1/U07KIMCUST"
    assert tomb.direction is Direction.INBOUND
    kept = messages[T + "1699999100.000000"]
    assert (kept.conversation_id, kept.in_reply_to, kept.deleted) == (tomb.id, tomb.id, False)

    welcome = messages[T + "1699990000.000000"]
    assert (welcome.direction, welcome.automated) == (Direction.OUTBOUND, True)

    # One Channel record, on the first page; stakeholders are the others, with names.
    assert [c.id for c in pages[0].channels] == ["T07NWIND1/C07HELPDSK"]
    assert pages[0].channels[0].handle == "#help-desk"
    assert pages[0].channels[0].created_at == datetime(2023, 9, 1, tzinfo=UTC)
    assert pages[1].channels == ()
    people = {s.id: s for p in pages for s in p.stakeholders}
    assert set(people) == {
        "slack:T07NWIND1/U07DANA001",
        "slack:T07NWIND1/B07STATUS1",
    }
    # The latest message's profile names her (its display_name is empty: real_name).
    assert people["slack:T07NWIND1/U07DANA001"].display_name == "Dana Whitfield"
    assert people["slack:T07NWIND1/U07DANA001"].identities == {"slack": "U07DANA001"}
    assert people["slack:T07NWIND1/B07STATUS1"].display_name == "statuspage"


def test_next_cursor_pages_history_and_threads(help_desk: respx.MockRouter) -> None:
    pages = collect(slack_config(page_size=2))
    history = [c.request.url.params for c in method(help_desk, "conversations.history").calls]
    assert [p.get("cursor") for p in history] == [None, "bmV4dF90czoxNjk5OTk5MDAwMDAwMDAw"]
    assert all(p["channel"] == "C07HELPDSK" and p["limit"] == "2" for p in history)
    assert "oldest" not in history[0]  # a first sync reads the whole history
    replies = [c.request.url.params for c in method(help_desk, "conversations.replies").calls]
    assert [(p["ts"], p.get("cursor")) for p in replies] == [
        ("1700000000.000100", None),
        ("1700000000.000100", "bmV4dF90czoxNzAwMDAwMzAwMDAwMjAw"),
        ("1699999000.000000", None),
    ]
    assert all(c.request.headers["authorization"] == f"Bearer {TOKEN}" for c in help_desk.calls)
    # Every page's cursor resumes after it; the last one records a completed scan.
    first, last = (State.decode(p.cursor) for p in pages)
    assert first.team == "T07NWIND1"
    assert first.channels["C07HELPDSK"].scan_low == "1700000000.000100"
    assert first.channels["C07HELPDSK"].scan_top == "1700000900.000000"
    assert last.channels["C07HELPDSK"] == ChannelState(
        watermark="1700000900.000000",
        threads={
            "1700000000.000100": "1700000420.000300",
            "1699999000.000000": "1699999100.000000",
        },
    )


@pytest.mark.parametrize(
    "metadata",
    [{"response_metadata": {"next_cursor": ""}}, {"response_metadata": {"next_cursor": None}}, {}],
    ids=["empty-string", "null", "missing"],
)
def test_listing_ends_on_empty_null_or_missing_next_cursor(
    slack: respx.MockRouter, metadata: dict[str, Any]
) -> None:
    body = {
        "ok": True,
        "messages": [
            {"type": "message", "user": "U07DANA001", "text": "hi", "ts": "1700000000.000100"}
        ],
        "has_more": True,  # Slack's has_more is not what ends a listing
        **metadata,
    }
    history = method(slack, "conversations.history").respond(json=body)
    (page,) = collect()
    assert [m.id for m in page.messages] == [ROOT]
    assert history.call_count == 1


def test_a_repeated_next_cursor_is_a_malformed_answer(slack: respx.MockRouter) -> None:
    body = {
        "ok": True,
        "messages": [
            {"type": "message", "user": "U07DANA001", "text": "hi", "ts": "1700000000.000100"}
        ],
        "response_metadata": {"next_cursor": "bmV4dF90czox"},
    }
    method(slack, "conversations.history").respond(json=body)
    with pytest.raises(MalformedPayload, match="repeated"):
        collect()


def test_resume_mid_scan_reads_below_the_last_page_then_what_came_meanwhile(
    slack: respx.MockRouter,
) -> None:
    history = method(slack, "conversations.history")
    history.side_effect = [
        httpx.Response(200, json=load("history_help_2.json")),
        httpx.Response(200, json={"ok": True, "messages": [], "has_more": False}),
    ]
    method(slack, "conversations.replies").side_effect = invoice_replies
    cursor = State(
        team="T07NWIND1",
        channels={
            "C07HELPDSK": ChannelState(
                watermark="1699000000.000000",
                scan_top="1700000900.000000",
                scan_low="1700000000.000100",
            )
        },
    ).encode()
    pages = collect(slack_config(thread_lookback=0), cursor)
    params = [c.request.url.params for c in history.calls]
    assert params[0]["oldest"] == "1699000000.000000"
    assert params[0]["latest"] == "1700000000.000100"
    # The interrupted scan is complete; a fresh one reads above its newest parent.
    assert params[1]["oldest"] == "1700000900.000000"
    assert "latest" not in params[1]
    ids = {m.id for p in pages for m in p.messages}
    assert T + "1699999000.000000" in ids
    assert ROOT not in ids  # delivered before the interruption
    assert pages[0].channels == ()  # the channel was recorded by the first sync
    final = State.decode(pages[-1].cursor).channels["C07HELPDSK"]
    assert (final.watermark, final.scanning) == ("1700000900.000000", False)


# -- ok:false, rate limits ---------------------------------------------------------------


def test_invalid_auth_with_http_200_is_an_error_naming_the_code() -> None:
    with respx.mock() as router:
        method(router, "auth.test").respond(200, json=load("error_invalid_auth.json"))
        with pytest.raises(SlackApiError) as info:
            collect()
    error = info.value
    assert isinstance(error, SyncError)
    assert (error.method, error.error, error.status) == ("auth.test", "invalid_auth", 200)
    assert "Slack auth.test failed: invalid_auth: the token was rejected" in str(error)
    assert TOKEN not in str(error)


def test_not_in_channel_says_which_channel_and_what_to_do(slack: respx.MockRouter) -> None:
    method(slack, "conversations.history").respond(json=load("error_not_in_channel.json"))
    with pytest.raises(SlackApiError, match="not_in_channel") as info:
        collect()
    message = str(info.value)
    assert "channel C07HELPDSK (#help-desk)" in message
    assert "/invite" in message


def test_channel_not_found_and_missing_scope_are_fatal_with_hints() -> None:
    with respx.mock() as router:
        method(router, "auth.test").respond(json=load("auth_test.json"))
        method(router, "conversations.info").respond(
            json={"ok": False, "error": "channel_not_found"}
        )
        with pytest.raises(SlackApiError, match="channel C0NOSUCH1 does not exist") as info:
            collect(slack_config(channels=["C0NOSUCH1"]))
        assert info.value.error == "channel_not_found"
    with respx.mock() as router:
        method(router, "auth.test").respond(json=load("auth_test.json"))
        method(router, "conversations.info").respond(json=load("conversations_info_help.json"))
        method(router, "conversations.history").respond(json=load("error_missing_scope.json"))
        with pytest.raises(SlackApiError, match="lacks the scope 'channels:history'"):
            collect()


def test_an_error_echoing_the_token_does_not_show_it() -> None:
    with respx.mock() as router:
        method(router, "auth.test").respond(json={"ok": False, "error": f"invalid token {TOKEN}"})
        with pytest.raises(SlackApiError) as info:
            collect()
    assert TOKEN not in str(info.value)
    assert TOKEN not in repr(info.value.args)
    assert info.value.error is None


def test_ratelimited_with_http_200_is_retried_after_retry_after(
    help_desk: respx.MockRouter,
) -> None:
    limited = httpx.Response(
        200, json=load("error_ratelimited.json"), headers={"Retry-After": "12"}
    )
    method(help_desk, "conversations.history").side_effect = [
        limited,
        limited,
        httpx.Response(200, json=load("history_help_1.json")),
        httpx.Response(200, json=load("history_help_2.json")),
    ]
    sleeps = Sleeps()
    pages = collect(sleep=sleeps)
    assert ROOT in {m.id for p in pages for m in p.messages}
    assert len(sleeps.waits) == 2
    assert all(w >= 12 for w in sleeps.waits)


def test_http_429_with_retry_after_waits_as_asked(help_desk: respx.MockRouter) -> None:
    method(help_desk, "conversations.history").side_effect = [
        httpx.Response(429, json=load("error_ratelimited.json"), headers={"Retry-After": "45"}),
        httpx.Response(200, json=load("history_help_1.json")),
        httpx.Response(200, json=load("history_help_2.json")),
    ]
    sleeps = Sleeps()
    pages = collect(sleep=sleeps)
    assert len({m.id for p in pages for m in p.messages}) == 8
    assert len(sleeps.waits) == 1
    assert sleeps.waits[0] >= 45


def test_a_retry_budget_too_small_for_the_wait_fails_clearly(help_desk: respx.MockRouter) -> None:
    method(help_desk, "conversations.history").respond(
        429, json=load("error_ratelimited.json"), headers={"Retry-After": "61"}
    )
    with pytest.raises(HttpError, match="retry budget of 60s exhausted") as info:
        collect(slack_config(retry_budget=60), sleep=Sleeps())
    assert info.value.status == 429
    method(help_desk, "conversations.history").respond(
        200, json=load("error_ratelimited.json"), headers={"Retry-After": "61"}
    )
    with pytest.raises(SlackApiError, match=r"ratelimited after 1 attempts .*retry_budget"):
        collect(slack_config(retry_budget=60), sleep=Sleeps())


def test_a_thread_deleted_meanwhile_keeps_its_listed_parent(slack: respx.MockRouter) -> None:
    method(slack, "conversations.history").side_effect = [
        httpx.Response(200, json=load("history_help_1.json")),
        httpx.Response(200, json=load("history_help_2.json")),
    ]
    method(slack, "conversations.replies").respond(json={"ok": False, "error": "thread_not_found"})
    ids = {m.id for p in collect() for m in p.messages}
    assert ROOT in ids
    assert T + "1700000300.000200" not in ids


def test_a_non_slack_answer_is_a_malformed_payload(slack: respx.MockRouter) -> None:
    method(slack, "conversations.history").respond(json={"messages": []})
    with pytest.raises(MalformedPayload, match="boolean 'ok'"):
        collect()
    method(slack, "conversations.history").respond(
        json={"ok": True, "messages": [{"type": "message", "user": "U1", "ts": 1700000000.0001}]}
    )
    with pytest.raises(MalformedPayload, match="Slack ts string"):
        collect()


def test_a_malformed_answer_echoing_the_token_does_not_show_it(slack: respx.MockRouter) -> None:
    method(slack, "conversations.history").respond(json={"ok": True, "messages": TOKEN})
    with pytest.raises(MalformedPayload, match="expected a list 'messages'") as info:
        collect()
    assert TOKEN not in str(info.value)
    bad = {"type": "message", "user": "U07DANA001", "text": "hi", "ts": TOKEN}
    method(slack, "conversations.history").respond(json={"ok": True, "messages": [bad]})
    with pytest.raises(MalformedPayload, match=r"expected 'ts' to be a Slack ts .*\*\*\*") as info:
        collect()
    assert TOKEN not in str(info.value)


@pytest.mark.parametrize("workspace_is_ours", [False, True])
def test_in_a_shared_channel_our_workspace_can_speak_for_us(
    slack: respx.MockRouter, workspace_is_ours: bool
) -> None:
    customer = {
        "type": "message",
        "user": "U0EXTCUST1",
        "text": "Our export job fails since Monday",
        "ts": "1700000000.000100",
        "team": "T0CUSTOMER",
        "user_team": "T0CUSTOMER",
        "source_team": "T0CUSTOMER",
    }
    colleague = {
        "type": "message",
        "user": "U07COLLEAG",
        "text": "Looking now",
        "ts": "1700000060.000000",
        "team": "T07NWIND1",
        "user_team": "T07NWIND1",
        "source_team": "T07NWIND1",
    }
    method(slack, "conversations.history").respond(
        json={"ok": True, "messages": [colleague, customer], "has_more": False}
    )
    pages = collect(slack_config(workspace_is_ours=workspace_is_ours), team=frozenset())
    direction = {m.author_id: m.direction for p in pages for m in p.messages}
    assert direction["slack:T07NWIND1/U0EXTCUST1"] is Direction.INBOUND
    expected = Direction.OUTBOUND if workspace_is_ours else Direction.INBOUND
    assert direction["slack:T07NWIND1/U07COLLEAG"] is expected


# -- channels by name --------------------------------------------------------------------


def test_channel_names_are_resolved_with_conversations_list() -> None:
    with respx.mock(assert_all_called=False) as router:
        method(router, "auth.test").respond(json=load("auth_test.json"))
        listing = method(router, "conversations.list")
        listing.side_effect = [
            httpx.Response(200, json=load("conversations_list_1.json")),
            httpx.Response(200, json=load("conversations_list_2.json")),
        ]
        info = method(router, "conversations.info")
        history = method(router, "conversations.history")
        history.respond(
            json={
                "ok": True,
                "messages": [
                    {
                        "type": "message",
                        "user": "U07DANA001",
                        "text": "psst",
                        "ts": "1700000000.000100",
                    }
                ],
            }
        )
        pages = collect(slack_config(channels=["#help-desk", "#VIP-customers"]))
        assert info.call_count == 0
        assert [c.request.url.params.get("cursor") for c in listing.calls] == [
            None,
            "dGVhbTpDMDdIRUxQRFNL",
        ]
        assert listing.calls[0].request.url.params["types"] == "public_channel,private_channel"
        assert [c.request.url.params["channel"] for c in history.calls] == [
            "C07HELPDSK",
            "G07VIPROOM",
        ]
    by_channel = {m.channel_id: m for p in pages for m in p.messages}
    assert by_channel["T07NWIND1/C07HELPDSK"].visibility is Visibility.PUBLIC
    assert by_channel["T07NWIND1/G07VIPROOM"].visibility is Visibility.PRIVATE
    assert {c.handle for p in pages for c in p.channels} == {"#help-desk", "#vip-customers"}


def test_an_unknown_channel_name_is_a_clear_error() -> None:
    with respx.mock() as router:
        method(router, "auth.test").respond(json=load("auth_test.json"))
        method(router, "conversations.list").respond(json=load("conversations_list_2.json"))
        with pytest.raises(SyncError, match="channel #helpdesk was not found"):
            collect(slack_config(channels=["#helpdesk"]))


# -- cursors ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "bmV4dF90czoxNjk5OTk5MDAwMDAwMDAw",  # a Slack paging cursor is not ours
        '{"v": 2, "team": "T07NWIND1", "channels": {}}',
        '{"v": 1, "team": "T07NWIND1", "channels": {"C07HELPDSK": {"w": 1700000000.0001}}}',
        '{"v": 1, "team": "T07NWIND1", "channels": {"C07HELPDSK": {"low": "1700000000.000100"}}}',
        '{"v": 1, "team": "T07NWIND1", "channels": []}',
        "",
    ],
)
def test_a_garbage_cursor_is_refused_not_restarted(text: str) -> None:
    with pytest.raises(MalformedPayload, match="not a Slack cursor"):
        State.decode(text)


def test_a_cursor_of_another_workspace_is_refused(slack: respx.MockRouter) -> None:
    cursor = State(team="T0OTHER01", channels={}).encode()
    with pytest.raises(
        SyncError, match="workspace T0OTHER01, but the token is for workspace T07NWIND1"
    ):
        collect(cursor=cursor)


def test_the_cursor_round_trips_and_keeps_ts_strings() -> None:
    state = State(
        team="T07NWIND1",
        channels={
            "C07HELPDSK": ChannelState(
                watermark="1700000000.000100",
                scan_top="1700000900.000000",
                scan_low="1700000100.000010",
                threads={"1700000000.000100": "1700000420.000300"},
            )
        },
    )
    text = state.encode()
    assert State.decode(text) == state
    assert '"w":"1700000000.000100"' in text
    assert State.decode(None) == State()
    assert json.loads(text)["v"] == 1
