"""periodic_update, channel_activity, follow_up, owner_assigned, resolution_within."""

from __future__ import annotations

from datetime import timedelta

import pytest

from convokit_core._model import Channel, TeamMember
from convokit_core._policy._findings import Status
from convokit_core._policy._rules import (
    channel_activity,
    follow_up,
    owner_assigned,
    periodic_update,
    resolution_within,
)

from .helpers import T0, at, check, conv, msg, one

# -- periodic_update ---------------------------------------------------------------


def test_periodic_update_first_gap_over_the_limit_decides() -> None:
    c = conv(
        msg("1", 0),
        msg("2", 10, "outbound"),
        msg("3", 50, "outbound"),
        msg("4", 200, "outbound"),  # 150 minutes after 3
        msg("5", 230, "outbound"),
    )
    f = one(check(periodic_update("2h"), [c], 240))
    assert (f.status, f.evidence, f.elapsed_seconds) == (Status.BREACHED, ("3", "4"), 150 * 60)


def test_periodic_update_last_gap_runs_to_as_of_and_stops_at_resolution() -> None:
    c = conv(msg("1", 0), msg("2", 10, "outbound"), msg("3", 60, "outbound"))
    assert one(check(periodic_update("2h"), [c], 100)).status is Status.PENDING
    late = one(check(periodic_update("2h"), [c], 200))
    assert (late.status, late.evidence, late.stopped_at) == (Status.BREACHED, ("3",), None)
    done = conv(
        msg("1", 0),
        msg("2", 10, "outbound"),
        msg("3", 60, "outbound"),
        history=[(90, "resolved")],
        status="resolved",
    )
    f = one(check(periodic_update("2h"), [done], 1000))
    assert (f.status, f.stopped_at, f.elapsed_seconds) == (Status.MET, at(90), 30 * 60)


def test_periodic_update_before_any_reply_is_not_applicable_and_pauses() -> None:
    assert one(check(periodic_update("1h"), [conv(msg("1", 0))], 500)).status is (
        Status.NOT_APPLICABLE
    )
    c = conv(msg("1", 0), msg("2", 10, "outbound"), history=[(20, "pending")], status="pending")
    f = one(check(periodic_update("1h", pause_when="pending"), [c], 500))
    assert (f.status, f.elapsed_seconds) == (Status.PAUSED, 600)


# -- channel_activity ------------------------------------------------------------------


def test_channel_activity_per_channel_across_conversations() -> None:
    a = conv(msg("1", 0), msg("2", 10, "outbound"), cid="a")
    b = conv(msg("3", 100), msg("4", 50, "outbound"), msg("5", 400, "outbound"), cid="b")
    bot = conv(msg("6", 0), msg("7", 200, "outbound", automated=True), cid="c")
    other = conv(msg("8", 0, "outbound", channel_id="blog"), cid="d", channel_id="blog")
    found = check(channel_activity("4h"), [a, b, bot, other], 450)
    by_channel = {f.channel: f for f in found}
    assert set(by_channel) == {"acme", "blog"}
    acme = by_channel["acme"]
    # posts at 10, 50, 400: the 50 → 400 gap (350 min) is over 4h; the bot post is ignored
    assert (acme.status, acme.evidence, acme.subject_kind) == (
        Status.BREACHED,
        ("4", "5"),
        "channel",
    )
    assert acme.conversation is None
    blog = by_channel["blog"]
    assert (blog.status, blog.elapsed_seconds) == (Status.BREACHED, 450 * 60)


def test_channel_without_posts_is_measured_from_creation() -> None:
    channels = [
        Channel(id="new", platform="twitter", created_at=at(-60)),
        Channel(id="old", platform="twitter", created_at=at(-6000)),
        Channel(id="unknown", platform="twitter"),
        Channel(id="future", platform="twitter", created_at=at(600)),
    ]
    found = check(channel_activity("1d"), [], 0, channels=channels)
    assert {f.subject: f.status for f in found} == {
        "new": Status.PENDING,
        "old": Status.BREACHED,
        "unknown": Status.NOT_APPLICABLE,
    }


# -- follow_up ---------------------------------------------------------------------


def test_follow_up_acknowledge_and_resolve_each_tagged_message() -> None:
    c = conv(
        msg("1", 0, tags=["complaint"]),
        msg("2", 20, "outbound"),
        msg("3", 30, tags=["question"]),
        msg("4", 40, tags=["complaint", "urgent"]),
        msg("5", 200, "outbound"),
        history=[(300, "resolved")],
        status="resolved",
    )
    found = check(follow_up(acknowledge_within="1h", resolve_within="4h"), [c], 1000)
    assert [(f.subject, f.subject_kind, f.status) for f in found] == [
        ("1", "message", Status.BREACHED),  # resolved after 5h
        ("4", "message", Status.BREACHED),  # acknowledged after 160 minutes
    ]
    assert found[0].what == "resolution"
    assert found[0].stopped_at == at(300)
    assert found[1].what == "acknowledgement"
    assert found[1].evidence == ("4", "5")
    assert "acknowledgement after 2h 40m" in found[1].message


def test_follow_up_conversation_tag_marks_first_message_and_default_tag() -> None:
    c = conv(msg("1", 0), msg("2", 10, "outbound"), tags=["complaint"])
    f = one(check(follow_up(acknowledge_within="1h"), [c], 100))
    assert (f.subject, f.status) == ("1", Status.MET)
    plain = conv(msg("1", 0, tags=["praise"]))
    assert one(check(follow_up(acknowledge_within="1h"), [plain], 100)).status is (
        Status.NOT_APPLICABLE
    )
    with pytest.raises(ValueError, match="acknowledge_within, resolve_within or both"):
        follow_up()


def test_follow_up_other_tags() -> None:
    c = conv(msg("1", 0, tags=["question"]), msg("2", 10, "outbound"))
    f = one(check(follow_up(["question"], acknowledge_within="5m"), [c], 100))
    assert (f.status, f.elapsed_seconds) == (Status.BREACHED, 600)


# -- owner_assigned ------------------------------------------------------------------

TEAM = [
    TeamMember(id="ana", name="Ana"),
    TeamMember(id="bo", name="Bo", active_until=T0 + timedelta(days=1)),
    TeamMember(id="cy", name="Cy", active_from=T0 + timedelta(days=10)),
]


@pytest.mark.parametrize(
    ("owner", "status", "text"),
    [
        ("ana", Status.MET, "owned by active team member ana"),
        ("bo", Status.BREACHED, "owner bo left on 2024-03-05"),
        ("cy", Status.BREACHED, "owner cy only starts on 2024-03-14"),
        ("zed", Status.BREACHED, "owner zed is not a team member"),
        (None, Status.BREACHED, "is unassigned"),
    ],
)
def test_owner_assigned(owner: str | None, status: Status, text: str) -> None:
    c = conv(msg("1", 0), owner_id=owner)
    f = one(check(owner_assigned(), [c], 3 * 24 * 60, team=TEAM))
    assert f.status is status
    assert text in f.message


def test_owner_assigned_grace_period_roster_and_closed_conversations() -> None:
    c = conv(msg("1", 0))
    assert one(check(owner_assigned("1h"), [c], 30, team=TEAM)).status is Status.PENDING
    # departed owner: the grace period runs from the day they left
    gone = conv(msg("1", 0), owner_id="bo")
    assert one(check(owner_assigned("1d"), [gone], 24 * 60 + 60, team=TEAM)).status is (
        Status.PENDING
    )
    # no roster in the store: owners cannot be verified, any owner is accepted
    assert one(check(owner_assigned(), [conv(msg("1", 0), owner_id="zed")], 60)).status is (
        Status.MET
    )
    done = conv(msg("1", 0), history=[(10, "closed")], status="closed")
    assert one(check(owner_assigned(), [done], 60, team=TEAM)).status is Status.NOT_APPLICABLE


# -- resolution_within ---------------------------------------------------------------


def test_resolution_within() -> None:
    ok = conv(msg("1", 0), history=[(100, "resolved")], status="resolved")
    f = one(check(resolution_within("2h"), [ok], 1000))
    assert (f.status, f.stopped_at, f.elapsed_seconds) == (Status.MET, at(100), 6000)
    closed = conv(msg("1", 0), history=[(200, "closed")], status="closed")
    assert one(check(resolution_within("2h"), [closed], 1000)).status is Status.BREACHED
    # the resolution after as_of has not happened yet
    assert one(check(resolution_within("2h"), [ok], 90)).status is Status.PENDING
    # a stored status without history counts from the last message
    stored = conv(msg("1", 0), msg("2", 30, "outbound"), status="resolved")
    f = one(check(resolution_within("2h"), [stored], 1000))
    assert (f.status, f.stopped_at) == (Status.MET, at(30))
    # reopened and resolved again: the first resolution counts
    twice = conv(msg("1", 0), history=[(60, "resolved"), (70, "open"), (500, "resolved")])
    assert one(check(resolution_within("2h"), [twice], 1000)).stopped_at == at(60)


def test_resolution_pauses_while_pending() -> None:
    c = conv(msg("1", 0), history=[(10, "pending"), (200, "open"), (250, "resolved")])
    f = one(check(resolution_within("2h", pause_when="pending"), [c], 1000))
    assert (f.status, f.elapsed_seconds) == (Status.MET, 60 * 60)


def test_owner_who_left_before_the_conversation_counts_from_its_start() -> None:
    later = conv(msg("1", 3 * 24 * 60), owner_id="bo")  # bo left after one day
    f = one(check(owner_assigned("1h"), [later], 3 * 24 * 60 + 30, team=TEAM))
    assert (f.status, f.started_at, f.elapsed_seconds) == (Status.PENDING, at(3 * 24 * 60), 1800)
