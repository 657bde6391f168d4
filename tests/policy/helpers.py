"""Small builders for policy tests (fixtures written for these tests)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from convokit_core._model import Channel, Conversation, Message, StatusChange, TeamMember
from convokit_core._policy._evaluate import Commitment, evaluate
from convokit_core._policy._findings import Finding
from convokit_core._policy._rules import Rule

T0 = datetime(2024, 3, 4, 9, 0, tzinfo=UTC)  # a Monday


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def msg(mid: str, minutes: float, direction: str = "inbound", **kw: Any) -> Message:
    kw.setdefault("author_id", "u1" if direction == "inbound" else "acme")
    kw.setdefault("channel_id", "acme")
    kw.setdefault("conversation_id", "c1")
    return Message(id=mid, platform="twitter", direction=direction, sent_at=at(minutes), **kw)


def conv(
    *messages: Message,
    cid: str = "c1",
    status: str = "open",
    history: Iterable[tuple[float, str]] = (),
    **kw: Any,
) -> Conversation:
    kw.setdefault("channel_id", "acme")
    kw.setdefault("stakeholder_id", "u1")
    return Conversation(
        id=cid,
        platform="twitter",
        status=status,
        messages=[m if m.conversation_id == cid else _move(m, cid) for m in messages],
        status_history=[
            StatusChange(platform="twitter", conversation_id=cid, status=s, at=at(minute))
            for minute, s in history
        ],
        **kw,
    )


def _move(m: Message, cid: str) -> Message:
    import attrs

    return attrs.evolve(m, conversation_id=cid)


def check(
    rule: Rule | Commitment,
    conversations: Sequence[Conversation],
    as_of_minutes: float,
    *,
    team: Iterable[TeamMember] = (),
    channels: Iterable[Channel] = (),
    kinds: dict[str, str] | None = None,
    **commitment: Any,
) -> list[Finding]:
    c = rule if isinstance(rule, Commitment) else Commitment(name="c", rule=rule, **commitment)
    return list(
        evaluate(
            conversations,
            [c],
            as_of=at(as_of_minutes),
            team_members=team,
            channels=channels,
            stakeholder_kinds=kinds,
            classifiers=[],
        )
    )


def one(findings: list[Finding]) -> Finding:
    assert len(findings) == 1, findings
    return findings[0]
