"""The storage conformance kit: the behaviour every storage backend must have.

Subclass :class:`StorageConformance` in your backend's test suite and provide one
pytest fixture, ``store``, that yields a fresh, empty store::

    import pytest
    from convokit_core.testing import StorageConformance

    class TestMyBackend(StorageConformance):
        @pytest.fixture
        def store(self):
            backend = MyBackend("mybackend://…")
            yield backend
            backend.close()

Every test method is inherited; pytest runs them against your backend.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import pytest

from .._errors import SourceLocked
from .._model import (
    Batch,
    Channel,
    Conversation,
    ConversationStatus,
    Direction,
    Message,
    NotificationRecord,
    Stakeholder,
    StakeholderKind,
    StatusChange,
    SyncRun,
    TeamMember,
    Visibility,
)

__all__ = ["StorageConformance", "sample_message"]

T0 = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)

HOSTILE = [
    'O\'Brien said "hi"',
    "'); DROP TABLE messages; --",
    "tab\there\r\nnewline\x01\x1f\x7f",
    "emoji 😀 and 漢字 and RTL \u202e text",
    "back\\slash %s %(x)s {0} $1 ?",
    "  leading and trailing spaces  ",
]


def sample_message(
    id: str,
    conversation: str = "c1",
    *,
    platform: str = "test",
    minutes: float = 0,
    direction: Direction | str = Direction.INBOUND,
    **overrides: Any,
) -> Message:
    """A message ``minutes`` after 2024-03-01 09:00 UTC, for tests."""
    fields: dict[str, Any] = {
        "id": id,
        "platform": platform,
        "conversation_id": conversation,
        "author_id": "ana" if Direction(direction) is Direction.INBOUND else "agent",
        "direction": direction,
        "sent_at": T0 + timedelta(minutes=minutes),
        "channel_id": "support",
        "text": f"message {id}",
    }
    fields.update(overrides)
    return Message(**fields)


class StorageConformance:
    """Tests every :class:`~convokit_core.protocols.StorageBackend` must pass.

    Fixture to provide: ``store`` — a fresh, empty backend, closed after the test.
    """

    # -- round trips -------------------------------------------------------------------

    def test_empty_store(self, store: Any) -> None:
        assert list(store.iter_conversations()) == []
        assert list(store.iter_messages()) == []
        assert store.get_cursor("nothing") is None
        assert store.get_conversation("test", "missing") is None
        assert set(store.counts().values()) == {0}

    def test_message_round_trip_keeps_every_field(self, store: Any) -> None:
        full = sample_message(
            "m1",
            channel_id="chan",
            in_reply_to="m0",
            visibility=Visibility.PRIVATE,
            automated=True,
            tags=("complaint", "billing"),
            url="https://example.test/m1",
            edited_at=T0 + timedelta(seconds=90, microseconds=123456),
            deleted=True,
            sent_at=T0 + timedelta(microseconds=1),
        )
        minimal = sample_message("m2", minutes=1, channel_id=None, text="")
        store.write(Batch(messages=[full, minimal]))
        assert list(store.iter_messages()) == [full, minimal]
        conv = store.get_conversation("test", "c1")
        assert conv is not None
        assert conv.messages == (full, minimal)

    def test_timezones_are_normalised_to_utc(self, store: Any) -> None:
        from datetime import timezone

        plus_two = timezone(timedelta(hours=2))
        m = sample_message("m1", sent_at=datetime(2024, 3, 1, 11, 0, tzinfo=plus_two))
        store.write(Batch(messages=[m]))
        (got,) = store.iter_messages()
        assert got.sent_at == datetime(2024, 3, 1, 9, 0, tzinfo=UTC)
        assert got.sent_at.utcoffset() == timedelta(0)

    def test_conversation_record_round_trip(self, store: Any) -> None:
        record = Conversation(
            id="c1",
            platform="test",
            channel_id="support",
            stakeholder_id="ana",
            owner_id="kim",
            status=ConversationStatus.PENDING,
            tags=("vip",),
        )
        store.write(Batch(conversations=[record], messages=[sample_message("m1")]))
        assert list(store.iter_conversation_records()) == [record]
        conv = store.get_conversation("test", "c1")
        assert conv is not None
        assert (conv.owner_id, conv.status, conv.tags) == ("kim", "pending", ("vip",))
        assert [m.id for m in conv.messages] == ["m1"]

    def test_conversation_written_with_its_messages_and_history(self, store: Any) -> None:
        change = StatusChange(
            platform="test", conversation_id="c1", status="resolved", at=T0 + timedelta(hours=1)
        )
        conv = Conversation(
            id="c1",
            platform="test",
            messages=[sample_message("m1"), sample_message("m2", minutes=5)],
            status_history=[change],
        )
        store.write(Batch(conversations=[conv]))
        got = store.get_conversation("test", "c1")
        assert got is not None
        assert [m.id for m in got.messages] == ["m1", "m2"]
        assert got.status_history == (change,)

    def test_derived_conversation(self, store: Any) -> None:
        store.write(
            Batch(
                messages=[
                    sample_message("m2", minutes=1, author_id="bea"),
                    sample_message("m1", direction="outbound", channel_id="first"),
                ]
            )
        )
        (conv,) = store.iter_conversations()
        assert conv.id == "c1"
        assert conv.stakeholder_id == "bea"
        assert conv.channel_id == "first"
        assert conv.status == ConversationStatus.OPEN
        assert conv.owner_id is None

    def test_derived_conversation_status_follows_history(self, store: Any) -> None:
        store.write(
            Batch(
                messages=[sample_message("m1")],
                status_changes=[
                    StatusChange(platform="test", conversation_id="c1", status="pending", at=T0),
                    StatusChange(
                        platform="test",
                        conversation_id="c1",
                        status="resolved",
                        at=T0 + timedelta(hours=2),
                    ),
                ],
            )
        )
        (conv,) = store.iter_conversations()
        assert conv.status == ConversationStatus.RESOLVED
        assert [s.status for s in conv.status_history] == ["pending", "resolved"]

    def test_other_records_round_trip(self, store: Any) -> None:
        people = [
            Stakeholder(
                id="s1",
                kind=StakeholderKind.MEDIA,
                display_name="Ana Ñ",
                identities={"test": "@ana", "mastodon": "@ana@example.social"},
            ),
            Stakeholder(id="s2"),
        ]
        channels = [
            Channel(id="support", platform="test", handle="@help", created_at=T0, owner_team="cx"),
            Channel(id="blog", platform="wordpress"),
        ]
        team = [
            TeamMember(
                id="kim",
                name="Kim",
                handles={"test": "@kim"},
                active_from=T0,
                active_until=T0 + timedelta(days=30),
            ),
            TeamMember(id="lee"),
        ]
        store.write(Batch(stakeholders=people, channels=channels, team_members=team))
        assert list(store.iter_stakeholders()) == people
        assert list(store.iter_channels()) == sorted(channels, key=lambda c: (c.platform, c.id))
        assert list(store.iter_team_members()) == team
        counts = store.counts()
        assert (counts["stakeholders"], counts["channels"], counts["team_members"]) == (2, 2, 2)

    def test_sync_runs_newest_first(self, store: Any) -> None:
        for i, ok in enumerate([True, False, True]):
            store.record_sync_run(
                SyncRun(
                    source="a" if i != 1 else "b",
                    started_at=T0 + timedelta(minutes=i),
                    finished_at=T0 + timedelta(minutes=i, seconds=30),
                    pages=i,
                    records=10 * i,
                    ok=ok,
                    error=None if ok else "HTTP 500",
                )
            )
        runs = list(store.iter_sync_runs())
        assert [r.pages for r in runs] == [2, 1, 0]
        assert runs[1].error == "HTTP 500"
        assert not runs[1].ok
        assert [r.pages for r in store.iter_sync_runs("a")] == [2, 0]

    def test_notification_ledger_round_trip_and_upsert(self, store: Any) -> None:
        assert list(store.iter_notifications()) == []
        first = NotificationRecord(
            notifier="hook",
            key="k2",
            commitment="first-reply",
            subject="c1",
            event="at_risk",
            deadline=T0 + timedelta(hours=4),
            recorded_at=T0,
        )
        other = NotificationRecord(
            notifier="hook",
            key="k1",
            commitment="first-reply",
            subject="c2",
            event="breached",
            deadline=None,
            recorded_at=T0,
            sent=False,
        )
        mail = attrs.evolve(first, notifier="mail")
        store.record_notifications([first, other, mail])
        store.record_notifications([])
        assert list(store.iter_notifications()) == [other, first, mail]
        assert list(store.iter_notifications("mail")) == [mail]
        again = attrs.evolve(first, recorded_at=T0 + timedelta(minutes=5))
        store.record_notifications([again])
        entries = list(store.iter_notifications("hook"))
        assert entries == [other, again]
        assert entries[1].deadline is not None
        assert entries[1].deadline.utcoffset() == timedelta(0)

    def test_latest_message_at(self, store: Any) -> None:
        assert store.latest_message_at() is None
        store.write(
            Batch(
                messages=[
                    sample_message("m1", "c1", minutes=5),
                    sample_message("m2", "c2", minutes=90, platform="other"),
                    sample_message("m3", "c1", minutes=30),
                ]
            )
        )
        assert store.latest_message_at() == T0 + timedelta(minutes=90)
        store.write(Batch(messages=[sample_message("m2", "c2", minutes=1, platform="other")]))
        assert store.latest_message_at() == T0 + timedelta(minutes=30)  # upserts count

    # -- upserts -----------------------------------------------------------------------

    def test_same_record_twice_is_one_record_last_write_wins(self, store: Any) -> None:
        store.write(Batch(messages=[sample_message("m1", text="first")]))
        store.write(Batch(messages=[sample_message("m1", text="second", tags=("x",))]))
        (got,) = store.iter_messages()
        assert (got.text, got.tags) == ("second", ("x",))
        assert store.counts()["messages"] == 1
        store.write(Batch(stakeholders=[Stakeholder(id="s", kind="customer")]))
        store.write(Batch(stakeholders=[Stakeholder(id="s", kind="partner")]))
        assert [s.kind for s in store.iter_stakeholders()] == ["partner"]

    def test_duplicates_inside_one_batch(self, store: Any) -> None:
        store.write(
            Batch(messages=[sample_message("m1", text="a"), sample_message("m1", text="b")])
        )
        assert [m.text for m in store.iter_messages()] == ["b"]

    def test_same_id_on_two_platforms_is_two_records(self, store: Any) -> None:
        store.write(
            Batch(
                messages=[
                    sample_message("1", platform="mastodon"),
                    sample_message("1", platform="reddit"),
                ]
            )
        )
        assert [m.platform for m in store.iter_messages()] == ["mastodon", "reddit"]
        assert len(list(store.iter_conversations())) == 2

    def test_message_moving_to_another_conversation(self, store: Any) -> None:
        store.write(Batch(messages=[sample_message("m1", "c1"), sample_message("m2", "c1")]))
        store.write(Batch(messages=[sample_message("m2", "c2")]))
        convs = {c.id: [m.id for m in c.messages] for c in store.iter_conversations()}
        assert convs == {"c1": ["m1"], "c2": ["m2"]}

    def test_status_change_written_twice_is_one(self, store: Any) -> None:
        change = StatusChange(platform="test", conversation_id="c1", status="pending", at=T0)
        store.write(Batch(status_changes=[change]))
        store.write(Batch(status_changes=[change]))
        assert list(store.iter_status_changes()) == [change]

    # -- transactions and cursors --------------------------------------------------------

    def test_batch_and_cursor_in_one_write(self, store: Any) -> None:
        store.write(Batch(messages=[sample_message("m1")]), source="src", cursor="p1")
        assert store.get_cursor("src") == "p1"
        store.write(Batch(messages=[sample_message("m2")]), source="src", cursor="p2")
        assert store.get_cursor("src") == "p2"
        assert store.get_cursor("other") is None

    def test_failed_transaction_writes_nothing(self, store: Any) -> None:
        store.write(Batch(messages=[sample_message("m0")]), source="src", cursor="p0")

        class Boom(Exception):
            pass

        def fail_halfway() -> None:
            with store.transaction() as tx:
                tx.write(Batch(messages=[sample_message("m1")]))
                tx.set_cursor("src", "p1")
                tx.write(Batch(stakeholders=[Stakeholder(id="s1")]))
                raise Boom

        with pytest.raises(Boom):
            fail_halfway()
        assert [m.id for m in store.iter_messages()] == ["m0"]
        assert list(store.iter_stakeholders()) == []
        assert store.get_cursor("src") == "p0"

    def test_transaction_spanning_batches_commits_all(self, store: Any) -> None:
        with store.transaction() as tx:
            for i in range(5):
                tx.write(Batch(messages=[sample_message(f"m{i}", minutes=i)]))
            tx.set_cursor("src", "done")
        assert store.counts()["messages"] == 5
        assert store.get_cursor("src") == "done"

    def test_lock_source_is_exclusive(self, store: Any) -> None:
        with store.lock_source("a"):
            with pytest.raises(SourceLocked), store.lock_source("a"):
                pass
            with store.lock_source("b"):
                pass
        with store.lock_source("a"):
            pass

    # -- ordering and filters ------------------------------------------------------------

    def test_messages_ordered_by_time_then_id(self, store: Any) -> None:
        msgs = [
            sample_message("b", minutes=1),
            sample_message("a", minutes=1),
            sample_message("z", minutes=0),
            sample_message("c", minutes=2),
        ]
        store.write(Batch(messages=msgs))
        (conv,) = store.iter_conversations()
        assert [m.id for m in conv.messages] == ["z", "a", "b", "c"]

    def test_conversations_ordered_by_platform_then_id(self, store: Any) -> None:
        keys = [("x", "2"), ("a", "9"), ("x", "10"), ("a", "1"), ("m", "B"), ("m", "a")]
        store.write(Batch(messages=[sample_message(f"{p}{c}", c, platform=p) for p, c in keys]))
        got = [(c.platform, c.id) for c in store.iter_conversations()]
        assert got == sorted(keys)

    def test_conversation_without_messages_is_listed(self, store: Any) -> None:
        store.write(Batch(conversations=[Conversation(id="empty", platform="test")]))
        assert [c.id for c in store.iter_conversations()] == ["empty"]
        assert store.counts()["conversations"] == 1

    def test_filters_by_platform_and_channel(self, store: Any) -> None:
        store.write(
            Batch(
                messages=[
                    sample_message("1", "c1", platform="p1", channel_id="a"),
                    sample_message("2", "c2", platform="p1", channel_id="b"),
                    sample_message("3", "c3", platform="p2", channel_id="a"),
                ]
            )
        )
        assert [c.id for c in store.iter_conversations(platform="p1")] == ["c1", "c2"]
        assert [c.id for c in store.iter_conversations(channel="a")] == ["c1", "c3"]
        assert [m.id for m in store.iter_messages(platform="p2")] == ["3"]
        assert [m.id for m in store.iter_messages(channel="b")] == ["2"]

    def test_time_window(self, store: Any) -> None:
        store.write(
            Batch(
                messages=[
                    sample_message("early", "c1", minutes=0),
                    sample_message("mid", "c1", minutes=10),
                    sample_message("late", "c2", minutes=20),
                ],
                status_changes=[
                    StatusChange(
                        platform="test",
                        conversation_id="c1",
                        status="resolved",
                        at=T0 + timedelta(minutes=30),
                    )
                ],
            )
        )
        since = T0 + timedelta(minutes=5)
        until = T0 + timedelta(minutes=20)
        convs = list(store.iter_conversations(since=since, until=until))
        assert [(c.id, [m.id for m in c.messages]) for c in convs] == [("c1", ["mid"])]
        assert convs[0].status_history == ()
        assert [m.id for m in store.iter_messages(since=since)] == ["mid", "late"]
        assert [m.id for m in store.iter_messages(until=until)] == ["early", "mid"]

    # -- hostile input and size ----------------------------------------------------------

    @pytest.mark.parametrize("text", HOSTILE)
    def test_hostile_strings_round_trip(self, store: Any, text: str) -> None:
        m = sample_message(
            text, text, author_id=text, channel_id=text, text=text, tags=(text,), url=text
        )
        person = Stakeholder(id=text, display_name=text, identities={text: text})
        store.write(Batch(messages=[m], stakeholders=[person]), source=text, cursor=text)
        assert list(store.iter_messages()) == [m]
        assert list(store.iter_stakeholders()) == [person]
        assert store.get_cursor(text) == text
        conv = store.get_conversation("test", text)
        assert conv is not None
        assert conv.messages == (m,)

    def test_large_batch_streams_in_order(self, store: Any) -> None:
        n_conversations, per = 1_000, 12
        msgs = [
            sample_message(
                f"{c:05d}-{i:02d}",
                f"conv-{c:05d}",
                minutes=i,
                direction="inbound" if i % 2 == 0 else "outbound",
            )
            for c in range(n_conversations)
            for i in range(per)
        ]
        store.write(Batch(messages=msgs))
        assert store.counts()["messages"] == n_conversations * per
        seen = 0
        for index, conv in enumerate(store.iter_conversations()):
            assert conv.id == f"conv-{index:05d}"
            assert [m.id for m in conv.messages] == [f"{index:05d}-{i:02d}" for i in range(per)]
            seen += 1
        assert seen == n_conversations
