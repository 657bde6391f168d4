"""Business calendars: exact business time and deadlines across DST, holidays, slots."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from convokit_core._calendars import ALWAYS_OPEN, Calendar, TimeSlot, parse_hours

NY = ZoneInfo("America/New_York")
SUPPORT = {"mon-fri": ["09:00-12:30", "13:30-17:00"]}


def ny(*args: int) -> datetime:
    return datetime(*args, tzinfo=NY)  # type: ignore[misc]


def test_default_calendar_is_always_open() -> None:
    start = datetime(2024, 3, 9, 23, 0, tzinfo=UTC)
    assert ALWAYS_OPEN.always_open
    assert ALWAYS_OPEN.business_time(start, start + timedelta(days=3)) == timedelta(days=3)
    assert ALWAYS_OPEN.deadline(start, timedelta(hours=5)) == start + timedelta(hours=5)
    assert ALWAYS_OPEN.business_time(start, start - timedelta(hours=1)) == timedelta(0)


def test_two_slots_a_day_skip_lunch_and_the_weekend() -> None:
    cal = Calendar(timezone="America/New_York", hours=SUPPORT)
    # Friday 16:00 → Monday 10:00: 1h on Friday, 1h on Monday
    assert cal.business_time(ny(2024, 3, 1, 16), ny(2024, 3, 4, 10)) == timedelta(hours=2)
    # lunch does not count
    assert cal.business_time(ny(2024, 3, 4, 12), ny(2024, 3, 4, 14)) == timedelta(hours=1)
    assert cal.deadline(ny(2024, 3, 4, 12), timedelta(hours=1)) == ny(2024, 3, 4, 14)
    # a deadline landing exactly at a slot end stays there (not the next opening)
    assert cal.deadline(ny(2024, 3, 4, 12), timedelta(minutes=30)) == ny(2024, 3, 4, 12, 30)
    # started while closed: the clock starts at the next opening
    assert cal.deadline(ny(2024, 3, 2, 8), timedelta(minutes=1)) == ny(2024, 3, 4, 9, 1)
    assert not cal.is_open(ny(2024, 3, 4, 12, 45))
    assert cal.is_open(ny(2024, 3, 4, 13, 30))


def test_holidays_by_country_and_subdivision_and_closed_dates() -> None:
    cal = Calendar(
        timezone="America/New_York",
        hours=SUPPORT,
        holidays_country="US",
        holidays_subdivision="NY",
        closed_dates=["2024-07-05"],
    )
    # Wed 3 July 16:00 → 4 July is Independence Day, 5 July closed: Monday 8 July 10:00
    assert cal.deadline(ny(2024, 7, 3, 16), timedelta(hours=2)) == ny(2024, 7, 8, 10)
    assert cal.business_time(ny(2024, 7, 3, 0), ny(2024, 7, 9, 0)) == timedelta(hours=7 * 2)
    assert cal.is_closed_date(date(2024, 7, 4))
    assert cal.is_closed_date(date(2024, 7, 5))
    assert not cal.is_closed_date(date(2024, 7, 3))


def test_dst_spring_forward_and_fall_back_are_exact() -> None:
    sundays = Calendar(timezone="America/New_York", hours={"sun": ["00:00-24:00"]})
    # 10 March 2024: 23 real hours; 3 November 2024: 25 real hours
    assert sundays.business_time(ny(2024, 3, 10), ny(2024, 3, 11)) == timedelta(hours=23)
    assert sundays.business_time(ny(2024, 11, 3), ny(2024, 11, 4)) == timedelta(hours=25)
    # the repeated hour is open twice: 01:30-02:00 local lasts a real hour that night
    early = Calendar(timezone="America/New_York", hours={"sun": ["01:30-02:00"]})
    assert early.business_time(ny(2024, 11, 3), ny(2024, 11, 4)) == timedelta(hours=1)
    # skipped wall-clock times never exist: 02:00-03:00 on spring-forward night is empty
    skipped = Calendar(timezone="America/New_York", hours={"sun": ["02:00-03:00"]})
    assert skipped.business_time(ny(2024, 3, 10), ny(2024, 3, 11)) == timedelta(0)
    # a 09:00-17:00 day across the change still gives 8 real hours
    office = Calendar(timezone="America/New_York", hours={"mon-sun": "09:00-17:00"})
    assert office.business_time(ny(2024, 3, 9, 12), ny(2024, 3, 11, 12)) == timedelta(hours=16)
    assert office.deadline(ny(2024, 3, 9, 16), timedelta(hours=2)) == ny(2024, 3, 10, 10)


def test_microsecond_precision() -> None:
    cal = Calendar(timezone="Europe/Paris", hours={"mon-fri": "09:00-17:00"})
    start = datetime(2024, 5, 6, 16, 59, 59, 999_999, tzinfo=ZoneInfo("Europe/Paris"))
    end = cal.deadline(start, timedelta(microseconds=2))
    assert end == datetime(2024, 5, 7, 9, 0, 0, 1, tzinfo=ZoneInfo("Europe/Paris"))
    assert cal.business_time(start, end) == timedelta(microseconds=2)


@pytest.mark.parametrize(
    ("hours", "message"),
    [
        ({"mon-fri": ["9-17"]}, "expected a time slot like '09:00-17:00'"),
        ({"mon-fri": ["17:00-09:00"]}, "end is after its start"),
        ({"mon-fri": ["25:00-26:00"]}, "expected a time slot"),
        ({"funday": ["09:00-17:00"]}, "expected a weekday"),
        ({"fri-mon": ["09:00-17:00"]}, "runs backwards"),
        ({"mon": ["09:00-12:00", "11:00-13:00"]}, "overlap"),
    ],
)
def test_bad_hours_say_what_was_expected(hours: dict[str, list[str]], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_hours(hours)


def test_bad_timezone_country_and_never_open() -> None:
    with pytest.raises(ValueError, match="IANA timezone"):
        Calendar(timezone="Mars/Olympus_Mons")
    with pytest.raises(ValueError, match="no country"):
        Calendar(holidays_country="XX")
    with pytest.raises(ValueError, match="no opening hours"):
        Calendar(hours={"mon": []})
    with pytest.raises(ValueError, match="timezone-aware"):
        ALWAYS_OPEN.business_time(datetime(2024, 1, 1), datetime(2024, 1, 2))


def test_slot_parse_and_str_round_trip() -> None:
    slot = TimeSlot.parse("13:30-24:00")
    assert (slot.start, slot.end, str(slot)) == (810, 1440, "13:30-24:00")


# -- properties ------------------------------------------------------------------------

ZONES = ["America/New_York", "Europe/London", "Australia/Lord_Howe", "UTC"]
# around DST changes of those zones, plus ordinary weeks and a holiday season
ANCHORS = [
    datetime(2024, 3, 9, tzinfo=UTC),
    datetime(2024, 3, 30, tzinfo=UTC),
    datetime(2024, 4, 6, tzinfo=UTC),
    datetime(2024, 10, 5, tzinfo=UTC),
    datetime(2024, 10, 26, tzinfo=UTC),
    datetime(2024, 11, 2, tzinfo=UTC),
    datetime(2024, 12, 23, tzinfo=UTC),
    datetime(2025, 6, 2, tzinfo=UTC),
]


@st.composite
def calendars(draw: st.DrawFn) -> Calendar:
    week = []
    for _ in range(7):
        points = sorted(draw(st.sets(st.integers(0, 48), max_size=6)))
        if len(points) % 2:
            points = points[:-1]
        week.append(
            tuple(
                TimeSlot(start=points[i] * 30, end=points[i + 1] * 30)
                for i in range(0, len(points), 2)
                if points[i] < 48
            )
        )
    if not any(week):
        week[0] = (TimeSlot(start=0, end=1440),)
    closed = draw(st.lists(st.dates(date(2024, 3, 1), date(2025, 6, 30)), max_size=3))
    return Calendar(
        timezone=draw(st.sampled_from(ZONES)),
        hours=tuple(week),
        holidays_country=draw(st.sampled_from([None, "US", "GB"])),
        closed_dates=closed,
    )


def oracle_is_open(cal: Calendar, at: datetime) -> bool:
    """Independent definition: local wall time inside a slot of an open local date."""
    local = at.astimezone(cal.timezone)
    if cal.is_closed_date(local.date()):
        return False
    assert cal.hours is not None
    minute = local.hour * 60 + local.minute
    return any(s.start <= minute < s.end for s in cal.hours[local.weekday()])


starts = st.builds(
    lambda anchor, minutes: anchor + timedelta(minutes=minutes),
    st.sampled_from(ANCHORS),
    st.integers(0, 4 * 1440),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cal=calendars(), start=starts, minutes=st.integers(0, 3 * 1440))
def test_business_time_matches_minute_by_minute_oracle(
    cal: Calendar, start: datetime, minutes: int
) -> None:
    end = start + timedelta(minutes=minutes)
    expected = sum(1 for i in range(minutes) if oracle_is_open(cal, start + timedelta(minutes=i)))
    assert cal.business_time(start, end) == timedelta(minutes=expected)


@settings(max_examples=80, deadline=None)
@given(cal=calendars(), start=starts, seconds=st.integers(0, 5 * 86400))
def test_deadline_inverts_business_time(cal: Calendar, start: datetime, seconds: int) -> None:
    duration = timedelta(seconds=seconds)
    due = cal.deadline(start, duration)
    assert due >= start
    assert cal.business_time(start, due) == duration
    if seconds:
        # earliest such instant: a second earlier is not enough
        assert cal.business_time(start, due - timedelta(seconds=1)) < duration


@settings(max_examples=60, deadline=None)
@given(cal=calendars(), start=starts, a=st.integers(0, 3 * 86400), b=st.integers(0, 3 * 86400))
def test_business_time_is_additive(cal: Calendar, start: datetime, a: int, b: int) -> None:
    mid = start + timedelta(seconds=a)
    end = mid + timedelta(seconds=b)
    assert cal.business_time(start, end) == cal.business_time(start, mid) + cal.business_time(
        mid, end
    )
