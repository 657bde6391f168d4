"""first_reply, next_reply, max_silence: turns, ties, as_of, pauses, notes and bots."""

from __future__ import annotations

from datetime import timedelta

import pytest

from convokit_core._calendars import Calendar
from convokit_core._policy._facts import CountingPolicy
from convokit_core._policy._findings import Status
from convokit_core._policy._rules import first_reply, max_silence, next_reply

from .helpers import T0, at, check, conv, msg, one


def test_first_reply_met_with_times_evidence_and_sentence() -> None:
    c = conv(msg("1", 0), msg("2", 30, "outbound"), msg("3", 40))
    f = one(check(first_reply("1h"), [c], 120))
    assert f.status is Status.MET
    assert (f.started_at, f.stopped_at, f.deadline) == (at(0), at(30), at(60))
    assert f.elapsed_seconds == 1800
    assert f.evidence == ("1", "2")
    assert (f.subject, f.subject_kind, f.conversation, f.channel) == (
        "c1",
        "conversation",
        "c1",
        "acme",
    )
    assert f.message == "Conversation c1: first reply after 30m, within 1h."


def test_first_reply_late_is_breached() -> None:
    f = one(check(first_reply("1h"), [conv(msg("1", 0), msg("2", 61, "outbound"))], 500))
    assert f.status is Status.BREACHED
    assert f.elapsed_seconds == 61 * 60
    assert "over the 1h limit" in f.message


def test_waiting_clock_is_pending_then_at_risk_then_breached_without_any_reply() -> None:
    c = conv(msg("1", 0))
    assert one(check(first_reply("1h"), [c], 20)).status is Status.PENDING
    risky = one(check(first_reply("1h"), [c], 50, warn_before="15m"))
    assert risky.status is Status.AT_RISK
    assert risky.stopped_at is None
    assert risky.deadline == at(60)
    # exactly at the limit it is still pending; a microsecond later it is breached
    assert one(check(first_reply("1h"), [c], 60)).status is Status.PENDING
    late = one(check(first_reply("1h"), [c], 60.001))
    assert late.status is Status.BREACHED
    assert late.message.startswith("Conversation c1: no first reply for 1h")


def test_messages_after_as_of_are_ignored() -> None:
    c = conv(msg("1", 0), msg("2", 90, "outbound"), msg("3", 100))
    f = one(check(first_reply("2h"), [c], 60))
    assert f.status is Status.PENDING  # the reply at 90 had not happened yet
    assert f.evidence == ("1",)
    # a conversation whose first message is after as_of does not exist yet
    assert check(first_reply("1h"), [conv(msg("9", 500))], 60) == []


def test_reply_before_any_inbound_message_does_not_answer_it() -> None:
    c = conv(msg("0", 0, "outbound"), msg("1", 10), msg("2", 200, "outbound"))
    f = one(check(first_reply("1h"), [c], 300))
    assert f.status is Status.BREACHED
    assert (f.started_at, f.stopped_at, f.evidence) == (at(10), at(200), ("1", "2"))


def test_only_outbound_is_not_applicable() -> None:
    f = one(check(first_reply("1h"), [conv(msg("0", 0, "outbound"))], 300))
    assert f.status is Status.NOT_APPLICABLE


def test_tie_a_reply_at_the_same_instant_answers_the_message() -> None:
    # ids sort the reply first, yet at the same instant the stakeholder message comes first
    c = conv(msg("b", 5), msg("a", 5, "outbound"))
    f = one(check(first_reply("1h"), [c], 100))
    assert (f.status, f.elapsed_seconds, f.evidence) == (Status.MET, 0, ("b", "a"))


def test_notes_bots_and_internal_messages_are_not_replies() -> None:
    c = conv(
        msg("1", 0),
        msg("n", 5, "outbound", visibility="note"),
        msg("i", 6, "internal", visibility="note"),
        msg("b", 7, "outbound", automated=True),
        msg("r", 90, "outbound"),
    )
    f = one(check(first_reply("1h"), [c], 100))
    assert (f.status, f.evidence) == (Status.BREACHED, ("1", "r"))
    bots = one(check(first_reply("1h"), [c], 100, counting=CountingPolicy(count_automated=True)))
    assert (bots.status, bots.evidence) == (Status.MET, ("1", "b"))


def test_inbound_note_is_not_a_stakeholder_message() -> None:
    c = conv(msg("n", 0, visibility="note"), msg("1", 50), msg("r", 60, "outbound"))
    f = one(check(first_reply("1h"), [c], 100))
    assert (f.started_at, f.elapsed_seconds) == (at(50), 600)


def test_public_only_ignores_direct_messages() -> None:
    c = conv(msg("1", 0), msg("dm", 10, "outbound", visibility="private"), msg("p", 80, "outbound"))
    assert one(check(first_reply("1h"), [c], 100)).status is Status.MET
    public = one(check(first_reply("1h"), [c], 100, counting=CountingPolicy(public_only=True)))
    assert (public.status, public.evidence) == (Status.BREACHED, ("1", "p"))


def test_private_stakeholder_messages_count() -> None:
    c = conv(msg("1", 0, visibility="private"))
    assert one(check(first_reply("1h"), [c], 100)).status is Status.BREACHED


def test_next_reply_one_finding_per_later_turn() -> None:
    c = conv(
        msg("1", 0),
        msg("2", 10, "outbound"),
        msg("3", 20),
        msg("4", 25),  # same turn: the clock started at 3
        msg("5", 200, "outbound"),
        msg("6", 300),
    )
    found = check(next_reply("2h"), [c], 400)
    assert [(f.subject, f.subject_kind, f.status) for f in found] == [
        ("c1#2", "turn", Status.BREACHED),
        ("c1#3", "turn", Status.PENDING),
    ]
    assert found[0].evidence == ("3", "5")
    assert found[0].elapsed_seconds == 180 * 60
    assert found[0].message == "Turn 2 of conversation c1: reply after 3h, over the 2h limit."
    assert found[1].deadline == at(420)


def test_next_reply_without_later_turns_is_not_applicable() -> None:
    c = conv(msg("1", 0), msg("2", 10, "outbound"), msg("3", 20, "outbound"))
    assert one(check(next_reply("1h"), [c], 100)).status is Status.NOT_APPLICABLE


def test_max_silence_includes_the_first_turn() -> None:
    c = conv(msg("1", 0), msg("2", 300, "outbound"), msg("3", 310), msg("4", 320, "outbound"))
    found = check(max_silence("1h"), [c], 400)
    assert [(f.subject, f.status) for f in found] == [
        ("c1#1", Status.BREACHED),
        ("c1#2", Status.MET),
    ]
    assert found[0].rule == "max_silence"


def test_clock_pauses_while_pending_when_the_rule_asks() -> None:
    # inbound at 0; pending from 10 to 70; reply at 100 → 40 minutes of running clock
    c = conv(msg("1", 0), msg("2", 100, "outbound"), history=[(10, "pending"), (70, "open")])
    paused = one(check(first_reply("45m", pause_when="pending"), [c], 200))
    assert (paused.status, paused.elapsed_seconds) == (Status.MET, 40 * 60)
    assert paused.deadline == at(105)
    unpaused = one(check(first_reply("45m"), [c], 200))
    assert (unpaused.status, unpaused.elapsed_seconds) == (Status.BREACHED, 100 * 60)


def test_clock_paused_at_as_of_reports_paused_without_deadline() -> None:
    c = conv(msg("1", 0), history=[(10, "pending")], status="pending")
    f = one(check(first_reply("45m", pause_when=["pending"]), [c], 500))
    assert (f.status, f.elapsed_seconds, f.deadline) == (Status.PAUSED, 600, None)
    assert "paused" in f.message
    # a status change after as_of is ignored: at minute 5 it was still open
    assert one(check(first_reply("45m", pause_when="pending"), [c], 5)).status is Status.PENDING


def test_pause_already_past_the_limit_stays_breached() -> None:
    c = conv(msg("1", 0), history=[(50, "pending")], status="pending")
    f = one(check(first_reply("45m", pause_when="pending"), [c], 500))
    assert (f.status, f.elapsed_seconds) == (Status.BREACHED, 50 * 60)


def test_business_calendar_counts_only_opening_hours() -> None:
    cal = Calendar(timezone="UTC", hours={"mon-fri": "09:00-17:00"}, holidays_country="GB")
    # Friday 16:30 message, answered Monday 09:20: 50 business minutes
    friday = -3 * 24 * 60 + 7.5 * 60
    c = conv(msg("1", friday), msg("2", 20, "outbound"))
    f = one(check(first_reply("1h"), [c], 100, calendar=cal))
    assert (f.status, f.elapsed_seconds) == (Status.MET, 50 * 60)
    assert f.deadline == T0 + timedelta(minutes=30)
    always = one(check(first_reply("1h"), [c], 100))
    assert always.status is Status.BREACHED


def test_bad_parameters() -> None:
    with pytest.raises(ValueError, match="duration"):
        first_reply("soon")
    with pytest.raises(ValueError, match="pause_when"):
        first_reply("1h", pause_when="sleeping")


def test_status_change_exactly_at_as_of_counts() -> None:
    c = conv(msg("1", 0), history=[(30, "pending")], status="pending")
    f = one(check(first_reply("1h", pause_when="pending"), [c], 30))
    assert (f.status, f.elapsed_seconds, f.deadline) == (Status.PAUSED, 1800, None)
