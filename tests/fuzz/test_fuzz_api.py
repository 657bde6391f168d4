"""Fuzzing the parsing and time functions behind the CLI: on any input they answer or
raise their documented error (``ValueError``; :class:`InvalidRecord` per line), never
``OverflowError``, ``RecursionError`` or anything else."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from convokit_core import Calendar, InvalidRecord
from convokit_core._io._jsonl import read_jsonl
from convokit_core._io._records import parse_record
from convokit_core._timeutil import MAX_DURATION, parse_duration, parse_timestamp, to_micros

API = settings(max_examples=300, deadline=None, derandomize=True, database=None)

numbers = st.one_of(
    st.integers(),
    st.integers(min_value=10**18, max_value=10**60),
    st.floats(allow_nan=True, allow_infinity=True),
)
duration_text = st.one_of(
    st.text(max_size=20),
    st.from_regex(r"\A[0-9]{1,30}(\.[0-9]{1,5})?[smhdw]\Z"),
    st.from_regex(r"\AP([0-9]{1,20}W)?([0-9]{1,20}D)?(T[0-9]{1,20}H)?\Z"),
)


@API
@given(st.one_of(numbers, duration_text, st.timedeltas()))
def test_parse_duration_answers_or_raises_value_error(value: object) -> None:
    try:
        result = parse_duration(value)  # type: ignore[arg-type]
    except ValueError:
        return
    assert timedelta(0) <= result <= MAX_DURATION


@API
@given(
    st.one_of(
        st.text(max_size=40),
        st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()),
        st.builds(
            lambda d, h: d.isoformat() + f"{h:+03d}:00",
            st.datetimes(),
            st.integers(-23, 23),
        ),
    )
)
def test_parse_timestamp_answers_in_range_or_raises_value_error(text: str) -> None:
    try:
        value = parse_timestamp(text)
    except ValueError:
        return
    assert value.tzinfo is UTC
    assert datetime(1900, 1, 1, tzinfo=UTC) <= value < datetime(3000, 1, 1, tzinfo=UTC)


_CALENDARS = [
    Calendar(),
    Calendar(name="ny", timezone="America/New_York", hours={"mon-fri": ["09:00-17:00"]}),
    Calendar(name="kiritimati", timezone="Pacific/Kiritimati", hours={"sun": "00:00-00:01"}),
    Calendar(name="hol", timezone="Europe/Paris", hours={"mon-sat": "08:00-20:00"},
             holidays_country="FR"),
]  # fmt: skip


@API
@given(
    calendar=st.sampled_from(_CALENDARS),
    start=st.datetimes(timezones=st.just(UTC)),
    span=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=30)),
    duration=st.timedeltas(min_value=timedelta(0), max_value=MAX_DURATION),
)
def test_calendars_never_overflow_anywhere_in_the_datetime_range(
    calendar: Calendar, start: datetime, span: timedelta, duration: timedelta
) -> None:
    end = min(start + span, datetime.max.replace(tzinfo=UTC)) if span else start
    assert calendar.business_time(start, end) <= end - start
    assert calendar.is_open(start) in (True, False)
    us = calendar.deadline_us(to_micros(start), duration // timedelta(microseconds=1))
    assert us is None or us >= to_micros(start)


json_noise = st.one_of(
    st.binary(max_size=200),
    st.text(max_size=100).map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.integers(1, 2000).map(lambda n: b"[" * n + b"]" * n),
    st.integers(4000, 5000).map(lambda n: b'{"id": ' + b"7" * n + b"}"),
)


@API
@given(st.lists(json_noise, max_size=5))
def test_read_jsonl_and_parse_record_never_raise_unexpected_errors(lines: list[bytes]) -> None:
    for number, obj in read_jsonl(lines):
        assert 1 <= number <= len(lines)
        if isinstance(obj, InvalidRecord):
            assert obj.reason
            continue
        message = ""
        try:
            parse_record(obj)
        except InvalidRecord as exc:
            message = str(exc)
        assert len(message) < 1000


def test_the_api_fuzz_targets_reject_what_they_must() -> None:
    """The properties above are not vacuous: each function does reject hostile input."""
    with pytest.raises(ValueError):
        parse_duration(1180591620717411303424)
    with pytest.raises(ValueError):
        parse_timestamp("0001-01-01T00:00:00+01:00")
    ((_, error),) = list(read_jsonl([b"[" * 5000 + b"]" * 5000]))
    assert isinstance(error, InvalidRecord)
