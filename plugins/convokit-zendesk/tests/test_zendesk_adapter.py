"""The Zendesk adapter on the fake account: mapping, paging, resuming, rate limits,
errors, secrets, and Zendesk's own pitfalls (overlapping export pages, tickets updated
during the export, deleted tickets, the cursor handed out at end_of_stream)."""

from __future__ import annotations

import asyncio
import base64
import logging
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from convokit_zendesk import ExportPacer, State, ZendeskConfig, create, map_status
from convokit_zendesk.testing import FakeZendesk, basic_auth

from convokit_core import (
    ConversationStatus,
    Direction,
    HttpError,
    MalformedPayload,
    Page,
    SyncContext,
    Visibility,
)

FIXTURES = Path(__file__).parent / "fixtures"
EMAIL = "sam@acme.example"
TOKEN = "zd-api-token-7Q2mX9pL4vR8"
OAUTH = "oauth-access-4f9c2b7e1d"


class Clock:
    """Monotonic seconds that move only when the adapter sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def fake(**options: Any) -> FakeZendesk:
    options.setdefault("authorization", basic_auth(EMAIL, TOKEN))
    return FakeZendesk.from_directory(FIXTURES, **options)


def config(**options: Any) -> ZendeskConfig:
    values: dict[str, Any] = {
        "subdomain": "acme",
        "email": EMAIL,
        "api_token": TOKEN,
        "page_size": 2,
        "comments_page_size": 2,
    }
    values.update(options)
    return ZendeskConfig(**values)


def sync(
    server: FakeZendesk,
    cursor: str | None = None,
    *,
    cfg: ZendeskConfig | None = None,
    clock: Clock | None = None,
    team: frozenset[str] = frozenset(),
) -> list[Page]:
    clock = clock or Clock()

    async def run() -> list[Page]:
        async with httpx.AsyncClient(transport=httpx.MockTransport(server)) as client:
            from convokit_zendesk import ZendeskAdapter

            adapter = ZendeskAdapter(
                cfg or config(),
                client,
                SyncContext(source="helpdesk", platform="zendesk", team_handles=team),
                sleep=clock.sleep,
                clock=clock,
            )
            return [page async for page in adapter.fetch(cursor)]

    return asyncio.run(run())


def messages(pages: list[Page]) -> dict[str, Any]:
    return {m.id: m for p in pages for m in p.messages}


def conversations(pages: list[Page]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for page in pages:
        for conversation in page.conversations:
            found[conversation.id] = conversation  # the latest version wins
    return found


def paths(server: FakeZendesk) -> list[str]:
    return [r.url.path for r in server.requests]


# -- mapping -------------------------------------------------------------------------------


def test_a_ticket_is_a_conversation_and_its_comments_are_messages() -> None:
    pages = sync(fake())
    found = messages(pages)
    first = found["acme/comments/1001"]
    assert first.conversation_id == "acme/tickets/101"
    assert first.author_id == "zendesk:acme/users/501"
    assert first.direction is Direction.INBOUND
    assert first.visibility is Visibility.PUBLIC
    assert first.sent_at == datetime(2026, 3, 2, 9, 15, tzinfo=UTC)
    assert first.text.startswith("Hello, my card was charged twice")
    assert first.tags == ("via:email",)
    assert first.url == "https://acme.zendesk.com/agent/tickets/101"
    assert first.channel_id == "acme"
    assert first.in_reply_to is None
    reply = found["acme/comments/1003"]
    assert reply.direction is Direction.OUTBOUND
    assert reply.in_reply_to == "acme/comments/1001"  # the previous public comment
    assert found["acme/comments/1004"].in_reply_to == "acme/comments/1003"
    ticket = conversations(pages)["acme/tickets/101"]
    assert ticket.stakeholder_id == "zendesk:acme/users/501"
    assert ticket.owner_id == "zendesk:acme/users/9001"
    assert ticket.status is ConversationStatus.RESOLVED
    assert ticket.tags == ("billing", "refund", "via:email")  # the ticket's channel too
    assert conversations(pages)["acme/tickets/102"].owner_id is None


def test_internal_notes_are_notes_never_replies() -> None:
    note = messages(sync(fake()))["acme/comments/1002"]
    assert note.visibility is Visibility.NOTE
    assert note.direction is Direction.INTERNAL
    # A note never becomes the parent a later public comment answers.
    assert messages(sync(fake()))["acme/comments/1003"].in_reply_to != note.id


def test_agents_are_outbound_end_users_inbound_and_team_handles_count() -> None:
    found = messages(sync(fake()))
    assert found["acme/comments/1030"].direction is Direction.OUTBOUND  # an admin
    assert found["acme/comments/1041"].direction is Direction.OUTBOUND  # an agent
    assert found["acme/comments/1040"].direction is Direction.INBOUND
    # Lee's e-mail, as a [[team]] handle in another case, makes Lee ours.
    joined = messages(sync(fake(), team=frozenset({"lee.park@EXAMPLE.net"})))
    assert joined["acme/comments/1040"].direction is Direction.OUTBOUND
    assert joined["acme/comments/1010"].direction is Direction.OUTBOUND
    assert joined["acme/comments/1031"].direction is Direction.INBOUND


def test_end_users_become_customers_with_their_email_or_id_as_handle() -> None:
    people = {s.id: s for p in sync(fake()) for s in p.stakeholders}
    assert set(people) == {f"zendesk:acme/users/{i}" for i in (501, 502, 503, 504)}
    assert people["zendesk:acme/users/502"].identities == {"zendesk": "lee.park@example.net"}
    assert people["zendesk:acme/users/502"].display_name == "Lee Park"
    assert people["zendesk:acme/users/503"].identities == {"zendesk": "503"}  # no e-mail
    assert all(s.kind.value == "customer" for s in people.values())


def test_trigger_comments_are_automated_and_via_is_kept() -> None:
    found = messages(sync(fake()))
    auto = found["acme/comments/1011"]
    assert auto.automated
    assert auto.direction is Direction.OUTBOUND
    assert auto.tags == ("via:rule",)
    assert not found["acme/comments/1003"].automated
    assert found["acme/comments/1020"].tags == ("via:twitter",)


def test_status_history_comes_from_the_audits() -> None:
    history = conversations(sync(fake()))["acme/tickets/101"].status_history
    assert [(c.status.value, c.at.isoformat()) for c in history] == [
        ("open", "2026-03-02T09:15:00+00:00"),  # new
        ("pending", "2026-03-02T10:05:00+00:00"),
        ("open", "2026-03-02T15:40:00+00:00"),
        ("resolved", "2026-03-02T15:40:00+00:00"),  # same second, later audit
    ]
    closed = conversations(sync(fake()))["acme/tickets/106"].status_history
    assert [c.status.value for c in closed] == ["open", "resolved", "closed"]


def test_hold_counts_as_open_unless_configured_as_pending() -> None:
    held = conversations(sync(fake()))["acme/tickets/103"]
    assert held.status is ConversationStatus.OPEN
    assert [c.status.value for c in held.status_history] == ["open"]
    paused = conversations(sync(fake(), cfg=config(hold_status="pending")))["acme/tickets/103"]
    assert paused.status is ConversationStatus.PENDING
    assert [(c.status.value, c.at.hour) for c in paused.status_history] == [
        ("open", 16),
        ("pending", 18),
    ]


def test_the_status_mapping() -> None:
    assert {s: map_status(s) for s in ("new", "open", "pending", "solved", "closed")} == {
        "new": ConversationStatus.OPEN,
        "open": ConversationStatus.OPEN,
        "pending": ConversationStatus.PENDING,
        "solved": ConversationStatus.RESOLVED,
        "closed": ConversationStatus.CLOSED,
    }
    assert map_status("hold") is ConversationStatus.OPEN
    assert map_status("hold", hold_status="pending") is ConversationStatus.PENDING
    assert map_status("archived") is None


def test_without_audits_the_status_is_the_last_known_one() -> None:
    server = fake()
    history = conversations(sync(server, cfg=config(status_history=False)))[
        "acme/tickets/101"
    ].status_history
    assert [(c.status.value, c.at.isoformat()) for c in history] == [
        ("resolved", "2026-03-02T15:40:00+00:00")
    ]
    assert not any(p.endswith("/audits.json") for p in paths(server))


# -- paging and resuming -------------------------------------------------------------------


def test_export_pages_and_comment_pages_are_followed() -> None:
    server = fake()
    pages = sync(server)
    assert set(messages(pages)) == server.message_ids()
    assert {(r.url.scheme, r.url.host) for r in server.requests} == {("https", "acme.zendesk.com")}
    exports = [r for r in server.requests if r.url.path.endswith("cursor.json")]
    assert [dict(r.url.params).get("start_time") for r in exports] == ["0", None, None]
    assert all(r.url.params["include"] == "users" for r in exports)
    comments_101 = [r for r in server.requests if r.url.path == "/api/v2/tickets/101/comments.json"]
    assert next(r.url.params.get("page[after]") for r in comments_101) is None
    assert len(comments_101) == 2
    assert comments_101[1].url.params["page[after]"]
    assert comments_101[0].url.params["page[size]"] == "2"
    # One page per export page, each with the export's after_cursor.
    assert len(pages) == 3
    assert State.decode(pages[-1].cursor, instance="acme", start_time=0).after == (
        server.cursor_for(int(server.latest().timestamp()), 106)
    )


def test_start_time_is_where_the_first_export_starts() -> None:
    server = fake()
    found = messages(sync(server, cfg=config(start_time="2026-03-05T00:00:00Z")))
    first = server.requests[0]
    assert first.url.params["start_time"] == str(int(datetime(2026, 3, 5, tzinfo=UTC).timestamp()))
    assert {m.conversation_id for m in found.values()} == {"acme/tickets/105", "acme/tickets/106"}


def test_the_next_sync_reads_only_tickets_updated_since() -> None:
    server = fake()
    final = sync(server)[-1].cursor
    assert sync(server, final) == []
    server.comments["102"].append(
        {
            "id": 1012,
            "type": "Comment",
            "author_id": 9001,
            "body": "Fixed: the link now lasts 24 hours.",
            "plain_body": "Fixed: the link now lasts 24 hours.",
            "public": True,
            "attachments": [],
            "via": {"channel": "web", "source": {"from": {}, "to": {}, "rel": None}},
            "created_at": "2026-03-07T08:00:00Z",
        }
    )
    ticket = next(t for t in server.tickets if t["id"] == 102)
    ticket["updated_at"] = "2026-03-07T08:00:00Z"
    server.requests.clear()
    pages = sync(server, final)
    assert (
        server.requests[0].url.params["cursor"]
        == State.decode(final, instance="acme", start_time=0).after
    )
    assert "start_time" not in server.requests[0].url.params
    assert {m.conversation_id for m in messages(pages).values()} == {"acme/tickets/102"}
    assert "acme/comments/1012" in messages(pages)
    assert sync(server, pages[-1].cursor) == []


# -- Zendesk's pitfalls --------------------------------------------------------------------


def test_overlapping_export_pages_give_each_ticket_once() -> None:
    server = fake(overlap=True)
    pages = sync(server)
    ids = [m.id for p in pages for m in p.messages]
    assert len(ids) == len(set(ids))
    assert set(ids) == server.message_ids()
    exports = [r for r in server.requests if r.url.path.endswith("cursor.json")]
    repeated = [r for r in exports if "cursor" in r.url.params]
    assert repeated, "the fake served no overlapping page"
    # A repeated ticket (same updated_at) is not read again; 101 and 105 have two pages.
    fetched = Counter(p for p in paths(server) if p.endswith("/comments.json"))
    assert fetched == Counter(
        {
            f"/api/v2/tickets/{t}/comments.json": 2 if t in (101, 105) else 1
            for t in (101, 102, 103, 105, 106)
        }
    )


def test_a_ticket_updated_during_the_export_comes_again_with_only_what_is_new() -> None:
    server = fake()
    exports = 0

    def update(request: httpx.Request) -> None:
        nonlocal exports
        if not request.url.path.endswith("cursor.json"):
            return
        exports += 1
        if exports == 2:  # Dana writes again while we read page 2: 101 moves to the end
            server.comments["101"].append(
                {
                    "id": 1005,
                    "type": "Comment",
                    "author_id": 501,
                    "body": "Actually the refund has not arrived.",
                    "plain_body": "Actually the refund has not arrived.",
                    "public": True,
                    "attachments": [],
                    "via": {"channel": "email", "source": {"from": {}, "to": {}, "rel": None}},
                    "created_at": "2026-03-09T10:00:00Z",
                }
            )
            ticket = next(t for t in server.tickets if t["id"] == 101)
            ticket["updated_at"] = "2026-03-09T10:00:00Z"
            ticket["status"] = "open"
            server.audits["101"].append(
                {
                    "id": 7006,
                    "ticket_id": 101,
                    "created_at": "2026-03-09T10:00:00Z",
                    "author_id": 501,
                    "events": [
                        {
                            "id": 80999,
                            "type": "Change",
                            "field_name": "status",
                            "value": "open",
                            "previous_value": "solved",
                        }
                    ],
                }
            )

    server.before_request = update
    pages = sync(server)
    ids = [m.id for p in pages for m in p.messages]
    assert len(ids) == len(set(ids)), "a message came twice in one sync"
    assert "acme/comments/1005" in ids
    last = pages[-1]
    assert [m.id for m in last.messages if m.conversation_id == "acme/tickets/101"] == [
        "acme/comments/1005"
    ]
    reopened = conversations(pages)["acme/tickets/101"]
    assert reopened.status is ConversationStatus.OPEN
    assert reopened.status_history[-1].at == datetime(2026, 3, 9, 10, tzinfo=UTC)


@pytest.mark.parametrize("during", [1, 2, 3])
@pytest.mark.parametrize("ticket_id", [101, 102, 103, 105, 106])
@pytest.mark.parametrize("page_size", [1, 2, 4])
def test_any_ticket_updated_at_any_point_of_the_export_is_delivered_once(
    during: int, ticket_id: int, page_size: int
) -> None:
    server = fake()
    exports = 0
    new_id = 5000 + ticket_id

    def update(request: httpx.Request) -> None:
        nonlocal exports
        if request.url.path.endswith("cursor.json"):
            exports += 1
            if exports == during:
                server.comments[str(ticket_id)].append(
                    {
                        "id": new_id,
                        "type": "Comment",
                        "author_id": 9001,
                        "body": "Following up.",
                        "plain_body": "Following up.",
                        "public": True,
                        "attachments": [],
                        "via": {"channel": "web", "source": {"from": {}, "to": {}, "rel": None}},
                        "created_at": "2026-03-10T09:00:00Z",
                    }
                )
                ticket = next(t for t in server.tickets if t["id"] == ticket_id)
                ticket["updated_at"] = "2026-03-10T09:00:00Z"

    server.before_request = update
    pages = sync(server, cfg=config(page_size=page_size))
    ids = [m.id for p in pages for m in p.messages]
    assert len(ids) == len(set(ids)), "a message came twice in one sync"
    assert set(ids) == server.message_ids()
    if exports >= during:
        assert f"acme/comments/{new_id}" in ids
        assert sync(server, pages[-1].cursor) == []
    else:  # the export ended before the update: the next sync brings it
        assert f"acme/comments/{new_id}" not in ids
        later = sync(server, pages[-1].cursor)
        assert {m.id for p in later for m in p.messages} >= {f"acme/comments/{new_id}"}
        assert {m.conversation_id for p in later for m in p.messages} == {
            f"acme/tickets/{ticket_id}"
        }


def test_deleted_tickets_are_closed_and_their_comments_never_requested() -> None:
    server = fake()
    pages = sync(server)
    deleted = conversations(pages)["acme/tickets/104"]
    assert deleted.status is ConversationStatus.CLOSED
    assert [(c.status.value, c.at.hour) for c in deleted.status_history] == [("closed", 8)]
    assert "/api/v2/tickets/104/comments.json" not in paths(server)
    assert not any(m.conversation_id == "acme/tickets/104" for m in messages(pages).values())


def test_a_ticket_deleted_after_the_export_listed_it_does_not_fail_the_sync() -> None:
    server = fake()
    original = server.__call__

    def gone(request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith("/api/v2/tickets/102/"):
            server.requests.append(request)
            return httpx.Response(404, json={"error": "RecordNotFound", "description": "Not found"})
        return original(request)

    async def run() -> list[Page]:
        async with httpx.AsyncClient(transport=httpx.MockTransport(gone)) as client:
            adapter = create(config(), client, SyncContext(source="s", platform="zendesk"))
            return [p async for p in adapter.fetch(None)]

    pages = asyncio.run(run())
    assert conversations(pages)["acme/tickets/102"].status is ConversationStatus.CLOSED
    assert set(messages(pages)) == server.message_ids() - {
        "acme/comments/1010",
        "acme/comments/1011",
    }


def test_end_of_stream_keeps_the_cursor_to_resume_from() -> None:
    server = fake()
    pages = sync(server)
    final = State.decode(pages[-1].cursor, instance="acme", start_time=0)
    assert final.after is not None
    # Nothing new: the export answers end_of_stream with an after_cursor, no page.
    server.requests.clear()
    assert sync(server, pages[-1].cursor) == []
    assert len(server.requests) == 1


def test_an_export_page_without_after_cursor_at_the_end_keeps_the_last_one() -> None:
    server = fake()
    original = server.__call__
    final = sync(server)[-1].cursor

    def no_cursor(request: httpx.Request) -> httpx.Response:
        response = original(request)
        if request.url.path.endswith("cursor.json"):
            body = response.json()
            body["after_cursor"] = None
            body["after_url"] = None
            return httpx.Response(200, json=body)
        return response

    async def run() -> list[Page]:
        async with httpx.AsyncClient(transport=httpx.MockTransport(no_cursor)) as client:
            adapter = create(config(), client, SyncContext(source="s", platform="zendesk"))
            return [p async for p in adapter.fetch(final)]

    assert asyncio.run(run()) == []


def test_users_missing_from_sideloads_are_looked_up_with_show_many() -> None:
    server = fake(sideload=False)
    found = messages(sync(server))
    lookups = [r for r in server.requests if r.url.path == "/api/v2/users/show_many.json"]
    assert lookups, "no show_many lookup"
    asked = [set(r.url.params["ids"].split(",")) for r in lookups]
    assert set().union(*asked) == {"501", "502", "503", "504", "9001", "9002"}
    assert all(len(a) == len(set(a)) for a in asked)
    # Each user looked up once per sync.
    assert sum(len(a) for a in asked) == 6
    assert found["acme/comments/1003"].direction is Direction.OUTBOUND
    assert found["acme/comments/1001"].direction is Direction.INBOUND


# -- rate limits ---------------------------------------------------------------------------


def test_export_requests_are_paced_before_zendesk_refuses_them() -> None:
    clock = Clock()
    server = fake(export_limit=2, clock=clock)
    pages = sync(server, cfg=config(page_size=1, export_requests_per_minute=2), clock=clock)
    assert set(messages(pages)) == server.message_ids()
    assert server.rate_limited == 0
    times = server.export_times
    assert len(times) == 6
    for index in range(2, len(times)):
        assert times[index] - times[index - 2] >= 60.0
    assert clock.sleeps
    assert all(0 < s <= 60 for s in clock.sleeps)


def test_the_pacer_waits_exactly_until_the_window_frees() -> None:
    clock = Clock()
    pacer = ExportPacer(10, clock=clock, sleep=clock.sleep)

    async def go() -> None:
        for _ in range(10):
            await pacer.wait()
            clock.now += 1.5
        await pacer.wait()

    asyncio.run(go())
    assert clock.sleeps == [pytest.approx(60.0 - 15.0)]


def test_a_429_is_retried_after_its_retry_after() -> None:
    clock = Clock()
    server = fake(export_limit=1, clock=clock)
    # The pacer allows more than Zendesk does here: Zendesk's 429 must be honoured.
    pages = sync(server, cfg=config(export_requests_per_minute=10), clock=clock)
    assert set(messages(pages)) == server.message_ids()
    assert server.rate_limited >= 1
    assert 60.0 in [round(s) for s in clock.sleeps]


# -- errors and secrets --------------------------------------------------------------------


def test_a_rejected_token_is_a_clear_error_without_the_token(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    server = fake(authorization=basic_auth(EMAIL, "another-token-entirely"))
    with pytest.raises(HttpError) as caught:
        sync(server)
    text = str(caught.value)
    assert "401" in text
    assert "Couldn't authenticate you" in text
    encoded = base64.b64encode(f"{EMAIL}/token:{TOKEN}".encode()).decode()
    for secret in (TOKEN, encoded):
        assert secret not in text
        assert secret not in caplog.text


def test_oauth_tokens_are_sent_as_bearer() -> None:
    server = fake(authorization=f"Bearer {OAUTH}")
    pages = sync(server, cfg=config(email=None, api_token=None, oauth_token=OAUTH))
    assert set(messages(pages)) == server.message_ids()
    assert repr(config(email=None, api_token=None, oauth_token=OAUTH)).count(OAUTH) == 0


def test_repr_never_shows_the_token() -> None:
    assert TOKEN not in repr(config())

    async def run() -> str:
        async with httpx.AsyncClient() as client:
            return repr(create(config(), client, SyncContext(source="s", platform="zendesk")))

    shown = asyncio.run(run())
    assert TOKEN not in shown
    assert "acme" in shown


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("status", "weird", "'status' is not a Zendesk ticket status"),
        ("id", "101", "'id' is not an integer id"),
        ("requester_id", "501", "'requester_id' is not an integer id"),
        ("tags", "billing", "'tags' is not an array of strings"),
    ],
)
def test_a_malformed_ticket_names_the_field(field: str, value: Any, message: str) -> None:
    server = fake()
    server.tickets[0][field] = value
    with pytest.raises(MalformedPayload, match=message):
        sync(server)


def test_has_more_without_a_cursor_is_malformed() -> None:
    server = fake()
    original = server.__call__

    def broken(request: httpx.Request) -> httpx.Response:
        response = original(request)
        if request.url.path.endswith("/comments.json"):
            body = response.json()
            body["meta"] = {"has_more": True, "after_cursor": None}
            return httpx.Response(200, json=body)
        return response

    async def run() -> None:
        async with httpx.AsyncClient(transport=httpx.MockTransport(broken)) as client:
            adapter = create(config(), client, SyncContext(source="s", platform="zendesk"))
            async for _ in adapter.fetch(None):
                pass

    with pytest.raises(MalformedPayload, match=r"has_more is true but no meta\.after_cursor"):
        asyncio.run(run())


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage",
        '{"v":1,"i":"other","t":0,"a":null}',
        '{"v":1,"i":"acme","t":-4,"a":null}',
        '{"v":1,"i":"acme","t":0,"a":"not a cursor!"}',
        '{"v":2,"i":"acme","t":0,"a":null}',
    ],
)
def test_a_foreign_or_broken_cursor_is_refused(cursor: str) -> None:
    with pytest.raises(MalformedPayload, match="is not a Zendesk cursor"):
        sync(fake(), cursor)
