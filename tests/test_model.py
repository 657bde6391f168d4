from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone

import attrs
import pytest

from convokit_core import (
    Batch,
    Conversation,
    ConversationStatus,
    Direction,
    Message,
    Stakeholder,
    TeamMember,
    Visibility,
)
from convokit_core.protocols import ConversationLike, MessageLike, StakeholderLike

T = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)


def msg(**kw: object) -> Message:
    fields: dict[str, object] = {
        "id": "1",
        "platform": "p",
        "conversation_id": "c",
        "author_id": "a",
        "direction": "inbound",
        "sent_at": T,
    }
    fields.update(kw)
    return Message(**fields)  # type: ignore[arg-type]


def test_naive_datetime_is_rejected_with_a_clear_error() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        msg(sent_at=datetime(2024, 1, 2, 3, 4, 5))


def test_aware_datetimes_are_normalised_to_utc() -> None:
    m = msg(sent_at=datetime(2024, 1, 2, 5, 4, 5, tzinfo=timezone(timedelta(hours=2))))
    assert m.sent_at == T
    assert m.sent_at.tzinfo is UTC


@pytest.mark.parametrize("bad", [1, "", None])
def test_ids_must_be_non_empty_strings(bad: object) -> None:
    with pytest.raises(ValueError, match="non-empty string id"):
        msg(id=bad)


def test_enums_accept_their_string_values_and_reject_others() -> None:
    m = msg(direction="outbound", visibility="note")
    assert m.direction is Direction.OUTBOUND
    assert m.visibility is Visibility.NOTE
    with pytest.raises(ValueError, match="sideways"):
        msg(direction="sideways")


def test_classes_are_frozen_slotted_and_keyword_only() -> None:
    m = msg()
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        m.text = "changed"  # type: ignore[misc]
    assert not hasattr(m, "__dict__")
    with pytest.raises(TypeError):
        Message("1", "p", "c", "a", "inbound", T)  # type: ignore[misc]


def test_tags_must_be_a_sequence_not_a_string() -> None:
    with pytest.raises(TypeError, match="sequence of strings"):
        msg(tags="complaint")


def test_conversation_orders_messages_by_time_then_id() -> None:
    later = msg(id="b", sent_at=T + timedelta(seconds=1))
    tie_b = msg(id="b2", sent_at=T)
    tie_a = msg(id="a2", sent_at=T)
    conv = Conversation(id="c", platform="p", messages=[later, tie_b, tie_a])
    assert [m.id for m in conv.messages] == ["a2", "b2", "b"]
    assert conv.status is ConversationStatus.OPEN


def test_team_member_activity_window() -> None:
    member = TeamMember(id="kim", active_from=T, active_until=T + timedelta(days=1))
    assert not member.is_active(T - timedelta(seconds=1))
    assert member.is_active(T)
    assert not member.is_active(T + timedelta(days=1))


def test_batch_flattens_conversations() -> None:
    inner = msg(id="in")
    batch = Batch(
        messages=[msg(id="out")],
        conversations=[Conversation(id="c", platform="p", messages=[inner])],
    )
    assert [m.id for m in batch.all_messages()] == ["out", "in"]
    assert len(batch) == 2


def test_an_embedding_apps_own_objects_satisfy_the_protocols() -> None:
    @dataclasses.dataclass
    class Row:
        id: str
        platform: str
        conversation_id: str
        author_id: str
        direction: str
        sent_at: datetime
        in_reply_to: str | None
        visibility: str
        automated: bool
        tags: list[str]

    @dataclasses.dataclass
    class Thread:
        id: str
        platform: str
        channel_id: str | None
        stakeholder_id: str | None
        owner_id: str | None
        status: str
        tags: list[str]
        status_history: list[object]
        messages: list[Row]

    row = Row("1", "p", "c", "a", "inbound", T, None, "public", False, [])
    assert isinstance(row, MessageLike)
    assert isinstance(Thread("c", "p", None, None, None, "open", [], [], [row]), ConversationLike)
    assert isinstance(Stakeholder(id="s"), StakeholderLike)
    assert not isinstance(object(), ConversationLike)
