"""Times at the edges of what a ``datetime`` holds: evaluation never overflows, and options
outside the supported range are one clear error (docs/limits.md)."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from convokit_core import Batch, Calendar, Channel, Message, StatusChange, TeamMember, open_store
from convokit_core._cli import cli
from convokit_core._policy._evaluate import Commitment, check_commitments
from convokit_core._policy._rules import (
    channel_activity,
    first_reply,
    max_silence,
    owner_assigned,
    periodic_update,
    resolution_within,
)
from convokit_core._report._reporters import render_json
from convokit_core._timeutil import (
    MAX_TIMESTAMP,
    MIN_TIMESTAMP,
    check_timestamp,
    parse_timestamp,
    require_aware,
)

LATE = datetime(9999, 12, 31, 22, 0, tzinfo=UTC)
OFFICE = Calendar(name="office", timezone="America/New_York", hours={"mon-fri": ["09:00-17:00"]})


def _late_store(url: str) -> None:
    """A store holding year-9999 data, as an older version or the Python API wrote it."""
    with open_store(url) as store:
        store.write(
            Batch(
                messages=[
                    Message(
                        id="q",
                        platform="p",
                        conversation_id="c",
                        author_id="s",
                        direction="inbound",
                        sent_at=LATE,
                        channel_id="ch",
                    ),
                    Message(
                        id="a",
                        platform="p",
                        conversation_id="c",
                        author_id="us",
                        direction="outbound",
                        sent_at=LATE + timedelta(minutes=30),
                        channel_id="ch",
                    ),
                    Message(
                        id="q2",
                        platform="p",
                        conversation_id="c",
                        author_id="s",
                        direction="inbound",
                        sent_at=LATE + timedelta(minutes=40),
                        channel_id="ch",
                    ),
                ],
                status_changes=[
                    StatusChange(platform="p", conversation_id="c", status="pending", at=LATE)
                ],
                channels=[Channel(id="ch", platform="p", created_at=LATE)],
                team_members=[TeamMember(id="us", active_from=LATE)],
            )
        )


@pytest.mark.parametrize("calendar", [Calendar(), OFFICE], ids=["always-open", "office"])
def test_a_stored_message_in_year_9999_never_overflows_the_evaluation(
    tmp_path: Path, calendar: Calendar
) -> None:
    url = f"sqlite:///{tmp_path / 'late.db'}"
    _late_store(url)
    rules = [
        first_reply("4h"),
        max_silence("4h"),
        periodic_update("1w"),
        resolution_within("520w"),
        owner_assigned(),
        channel_activity("1d"),
    ]
    commitments = [
        Commitment(name=f"c{i}", rule=rule, calendar=calendar) for i, rule in enumerate(rules)
    ]
    as_of = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)
    with open_store(url) as store:
        for fast in (True, False):
            report = check_commitments(store, commitments, as_of=as_of, classifiers=[], fast=fast)
            stream = io.StringIO()
            render_json(report, stream)
            document = json.loads(stream.getvalue())  # complete, not truncated
            assert document["findings"]
            by_commitment = {f["commitment"]: f for f in document["findings"]}
            # first_reply was answered in 30 minutes: met, with its deadline
            assert by_commitment["c0"]["status"] == "met"
            # the second turn's 4h deadline is past the last datetime: pending, no deadline
            silence = [f for f in document["findings"] if f["commitment"] == "c1"]
            assert silence[-1]["status"] == "pending"
            assert silence[-1]["deadline"] is None


def test_a_deadline_past_the_last_datetime_is_pending_without_a_deadline() -> None:
    from convokit_core._model import Conversation
    from convokit_core._policy._evaluate import evaluate

    conversation = Conversation(
        id="c",
        platform="p",
        messages=[
            Message(
                id="q",
                platform="p",
                conversation_id="c",
                author_id="s",
                direction="inbound",
                sent_at=LATE,
            ),
        ],
    )
    for calendar in (Calendar(), OFFICE):
        (finding,) = evaluate(
            [conversation],
            [Commitment(name="x", rule=first_reply("520w"), calendar=calendar)],
            as_of=LATE + timedelta(hours=1),
            classifiers=[],
        )
        assert finding.status == "pending"
        assert finding.deadline is None


def test_calendars_work_up_to_the_edges_of_the_datetime_range() -> None:
    start = datetime(1, 1, 1, tzinfo=UTC)
    end = datetime.max.replace(tzinfo=UTC)
    for calendar in (OFFICE, Calendar(timezone="Pacific/Kiritimati", hours={"sun": "00:00-01:00"})):
        assert calendar.business_time(end - timedelta(days=3), end) >= timedelta(0)
        assert calendar.business_time(start, start + timedelta(days=10)) > timedelta(0)
        assert calendar.is_open(end) in (True, False)
        assert calendar.is_open(start) in (True, False)
        assert calendar.deadline_us(to_us(end - timedelta(days=1)), 10 * 3600 * 10**6) is None
        with pytest.raises(ValueError, match="not open long enough"):
            calendar.deadline(end - timedelta(days=1), timedelta(hours=10))
        assert calendar.deadline(start, timedelta(hours=1)) > start


def to_us(value: datetime) -> int:
    from convokit_core._timeutil import to_micros

    return to_micros(value)


@pytest.mark.parametrize(
    "value",
    [
        "0001-01-01T00:00:00+01:00",
        "0001-01-01T00:00:00Z",
        "9999-12-31T23:59:59-01:00",
        "9999-12-31T23:59:59Z",
        "1899-12-31T23:59:59.999999Z",
        "3000-01-01T00:00:00Z",
        "2999-12-31T23:00:00-01:00",
    ],
)
def test_extreme_as_of_values_are_one_clear_error(tmp_path: Path, value: str) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    with open_store(url):
        pass
    policy = tmp_path / "p.toml"
    policy.write_text('[[commitment]]\nname = "a"\nrule = "first_reply"\nwithin = "1h"\n')
    result = CliRunner().invoke(
        cli, ["--store", url, "check", "--policy", str(policy), "--as-of", value]
    )
    assert result.exit_code == 2
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Invalid value for --as-of" in result.output
    assert "out of range" in result.output


def test_the_timestamp_range_is_inclusive_below_and_exclusive_above() -> None:
    assert parse_timestamp("1900-01-01T00:00:00Z") == MIN_TIMESTAMP
    assert parse_timestamp("1900-01-01T01:00:00+01:00") == MIN_TIMESTAMP
    last = parse_timestamp("2999-12-31T23:59:59.999999Z")
    assert last == MAX_TIMESTAMP - timedelta(microseconds=1)
    with pytest.raises(ValueError, match="out of range"):
        parse_timestamp("1900-01-01T00:30:00+01:00")
    with pytest.raises(ValueError, match="out of range"):
        check_timestamp(MAX_TIMESTAMP)
    with pytest.raises(ValueError, match="naive"):
        check_timestamp(datetime(2020, 1, 1))


def test_an_unrepresentable_utc_conversion_is_a_value_error() -> None:
    plus_one = timezone(timedelta(hours=1))
    with pytest.raises(ValueError, match="cannot be represented in UTC"):
        require_aware(datetime(1, 1, 1, tzinfo=plus_one))
    with pytest.raises(ValueError, match="cannot be represented in UTC"):
        Message(
            id="m", platform="p", conversation_id="c", author_id="a", direction="inbound",
            sent_at=datetime(1, 1, 1, tzinfo=plus_one),
        )  # fmt: skip
