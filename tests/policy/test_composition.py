"""Composition: &, |, all_of, any_of, where, unless — and which part decided."""

from __future__ import annotations

import pytest

from convokit_core._model import TeamMember
from convokit_core._policy._evaluate import Commitment
from convokit_core._policy._findings import Status
from convokit_core._policy._rules import (
    AllOf,
    AnyOf,
    all_of,
    any_of,
    channel_activity,
    first_reply,
    follow_up,
    next_reply,
    owner_assigned,
)

from .helpers import check, conv, msg, one

ANSWERED_LATE_LATER = conv(
    msg("1", 0), msg("2", 10, "outbound"), msg("3", 20), msg("4", 200, "outbound")
)


def test_and_is_breached_when_any_part_is_and_names_that_part() -> None:
    rule = first_reply("1h") & next_reply("1h")
    assert isinstance(rule, AllOf)
    f = one(check(rule, [ANSWERED_LATE_LATER], 300))
    assert f.status is Status.BREACHED
    assert f.rule == "all_of"
    assert f.decided_by == "next_reply(within=1h)"
    assert (f.subject, f.subject_kind, f.evidence) == ("c1", "conversation", ("3", "4"))
    assert f.message.endswith("(decided by next_reply(within=1h))")


def test_all_met_is_met_and_worst_pending_wins_over_met() -> None:
    ok = conv(msg("1", 0), msg("2", 10, "outbound"))
    assert one(check(all_of(first_reply("1h"), next_reply("1h")), [ok], 300)).status is (
        Status.MET  # next_reply is not applicable and is ignored
    )
    waiting = conv(msg("1", 0), msg("2", 10, "outbound"), msg("3", 20))
    f = one(check(first_reply("1h") & next_reply("1h"), [waiting], 30))
    assert (f.status, f.decided_by) == (Status.PENDING, "next_reply(within=1h)")


def test_or_is_met_when_any_part_is() -> None:
    rule = first_reply("1h") | next_reply("1h")
    assert isinstance(rule, AnyOf)
    f = one(check(rule, [ANSWERED_LATE_LATER], 300))
    assert (f.status, f.rule, f.decided_by) == (Status.MET, "any_of", "first_reply(within=1h)")
    late = conv(msg("1", 0), msg("2", 100, "outbound"), msg("3", 120), msg("4", 300, "outbound"))
    assert one(check(rule, [late], 400)).status is Status.BREACHED


def test_operators_flatten_and_nest() -> None:
    a, b, c = first_reply("1h"), next_reply("1h"), owner_assigned()
    assert len((a & b & c).parts) == 3
    assert len((a | b | c).parts) == 3
    nested = any_of(all_of(a, b), c)
    team = [TeamMember(id="ana")]
    f = one(check(nested, [conv(*ANSWERED_LATE_LATER.messages, owner_id="ana")], 300, team=team))
    assert (f.status, f.decided_by) == (Status.MET, "owner_assigned")


def test_all_parts_not_applicable_is_not_applicable() -> None:
    only_out = conv(msg("1", 0, "outbound"))
    f = one(check(first_reply("1h") & follow_up(acknowledge_within="1h"), [only_out], 100))
    assert f.status is Status.NOT_APPLICABLE


def test_where_and_unless_scope_conversations() -> None:
    customer = conv(msg("1", 0), cid="c1", stakeholder_id="u1")
    media = conv(msg("2", 0, author_id="u2"), cid="c2", stakeholder_id="u2")
    spam = conv(msg("3", 0, tags=["spam"]), cid="c3", stakeholder_id="u1")
    kinds = {"u1": "customer", "u2": "media"}
    rule = first_reply("1h").where(stakeholder_kind="customer").unless(tags=["spam"])
    found = check(rule, [customer, media, spam], 300, kinds=kinds)
    assert [f.conversation for f in found] == ["c1"]
    assert found[0].rule == "first_reply"
    assert rule.label() == (
        "first_reply(within=1h).where(stakeholder_kind=customer).unless(tags=spam)"
    )
    by_platform = first_reply("1h").where(platform="mastodon", channel=["acme"])
    assert check(by_platform, [customer], 300) == []
    by_owner = first_reply("1h").where(owner="ana")
    assert check(by_owner, [conv(msg("1", 0), owner_id="ana")], 300)
    assert check(by_owner, [customer], 300) == []


def test_unknown_stakeholder_kind_is_unknown() -> None:
    rule = first_reply("1h").where(stakeholder_kind="unknown")
    assert len(check(rule, [conv(msg("1", 0))], 300, kinds={})) == 1


def test_scoped_part_of_a_composite_is_ignored_out_of_scope() -> None:
    rule = all_of(first_reply("1h"), next_reply("1h").where(tags="vip"))
    f = one(check(rule, [ANSWERED_LATE_LATER], 300))
    assert (f.status, f.decided_by) == (Status.MET, "first_reply(within=1h)")


def test_channel_and_conversation_rules_do_not_mix() -> None:
    with pytest.raises(ValueError, match="cannot combine channel-level and conversation-level"):
        first_reply("1h") & channel_activity("1d")
    with pytest.raises(ValueError, match="only be scoped by platform and channel"):
        channel_activity("1d").where(stakeholder_kind="customer")
    with pytest.raises(TypeError, match="unknown scope key 'kind'"):
        first_reply("1h").where(kind="customer")


def test_channel_composites_combine_per_channel() -> None:
    c = conv(msg("1", 0), msg("2", 10, "outbound"))
    f = one(check(channel_activity("1h") | channel_activity("1d"), [c], 300))
    assert (f.subject_kind, f.status, f.decided_by) == (
        "channel",
        Status.PENDING,
        "channel_activity(max_gap=1d)",
    )


def test_commitment_validation() -> None:
    with pytest.raises(ValueError, match="severity"):
        Commitment(name="x", rule=first_reply("1h"), severity="fatal")
    with pytest.raises(TypeError, match="must be a Rule"):
        Commitment(name="x", rule="first_reply")  # type: ignore[arg-type]


def test_a_rule_that_reads_texts_gets_them() -> None:
    import attrs

    from convokit_core._policy._context import RuleContext
    from convokit_core._policy._facts import M_TEXT, Thread
    from convokit_core._policy._rules import Rule

    @attrs.frozen(kw_only=True)
    class NoShouting(Rule):
        name = "no_shouting"  # type: ignore[misc]
        needs_text = True  # type: ignore[misc]

        def evaluate(self, thread: Thread, ctx: RuleContext) -> list[tuple[object, ...]]:
            loud = [m for m in thread.messages if m[M_TEXT] and m[M_TEXT].isupper()]
            status = Status.BREACHED if loud else Status.MET
            return [ctx.outcome(status=status, subject=thread.id, rule=self.label())]

    c = conv(msg("1", 0, text="WHERE IS MY PARCEL"), msg("2", 5, "outbound", text="Here."))
    assert one(check(NoShouting() & first_reply("1h"), [c], 10)).status is Status.BREACHED
