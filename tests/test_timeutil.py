from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from convokit_core import format_datetime, parse_datetime, parse_duration
from convokit_core._timeutil import from_micros, to_micros


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90),
        ("45m", 2700),
        ("4h", 14400),
        ("3d", 259200),
        ("2w", 1209600),
        ("1h30m", 5400),
        ("PT4H", 14400),
        ("P1DT2H", 93600),
        ("P2W", 1209600),
        ("pt30m", 1800),
        (120, 120),
    ],
)
def test_durations(text: str | int, seconds: int) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("bad", ["", "4 hours", "h4", "P", "PT", "-3h", True, "4x"])
def test_bad_durations_say_what_was_expected(bad: object) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(bad)  # type: ignore[arg-type]


def test_parse_datetime_requires_an_offset() -> None:
    assert parse_datetime("2017-10-31T21:46:24Z") == datetime(2017, 10, 31, 21, 46, 24, tzinfo=UTC)
    assert parse_datetime("2017-10-31T23:46:24+02:00").hour == 21
    with pytest.raises(ValueError, match="no timezone"):
        parse_datetime("2017-10-31T21:46:24")
    with pytest.raises(ValueError, match="ISO 8601"):
        parse_datetime("yesterday")


@given(
    st.datetimes(
        timezones=st.just(UTC), min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1)
    )
)
def test_micros_and_canonical_form_round_trip(value: datetime) -> None:
    assert from_micros(to_micros(value)) == value
    assert parse_datetime(format_datetime(value)) == value
