"""The cumulative open-time calendar equals ``Calendar`` exactly (holidays, DST, slots)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from policy.test_calendars import ANCHORS, SUPPORT, calendars

from convokit_core._calendars import ALWAYS_OPEN, Calendar
from convokit_core._columnar._calendar import CumulativeCalendar
from convokit_core._timeutil import to_micros

US = 1_000_000
FIXED = [
    ALWAYS_OPEN,
    Calendar(timezone="America/New_York", hours=SUPPORT),
    Calendar(
        timezone="America/New_York",
        hours=SUPPORT,
        holidays_country="US",
        holidays_subdivision="NY",
        closed_dates=["2024-07-05"],
    ),
    Calendar(timezone="America/New_York", hours={"sun": ["00:00-24:00"]}),
    Calendar(timezone="America/New_York", hours={"sun": ["01:30-02:00"]}),
    Calendar(timezone="America/New_York", hours={"sun": ["02:00-03:00"]}),
    Calendar(timezone="Europe/Paris", hours={"mon-fri": ["09:00-12:00", "14:00-18:00"]}),
    Calendar(timezone="UTC", hours={"mon-fri": "09:00-17:00"}, holidays_country="GB"),
    Calendar(timezone="Pacific/Kiritimati", hours={"sun": "00:00-01:00"}),
    Calendar(holidays_country="GB"),
]

instants = st.builds(
    lambda anchor, us: to_micros(anchor) + us,
    st.sampled_from(ANCHORS),
    st.integers(-3 * 86400 * US, 9 * 86400 * US),
)


def check_against_python(
    cal: Calendar, starts: list[int], stops: list[int], limits: list[int]
) -> None:
    cum = CumulativeCalendar(cal)
    s, e, lim = (np.array(v, dtype=np.int64) for v in (starts, stops, limits))
    got = cum.business_us(s, e)
    assert got.tolist() == [cal.business_us(a, b) for a, b in zip(starts, stops, strict=True)]
    due, ok = cum.deadline_us(s, lim)
    expected = [cal.deadline_us(a, n) for a, n in zip(starts, limits, strict=True)]
    assert [int(d) if k else None for d, k in zip(due, ok, strict=True)] == expected


@settings(
    max_examples=80, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(
    cal=st.one_of(calendars(), st.sampled_from(FIXED)),
    pairs=st.lists(
        st.tuples(instants, instants, st.integers(0, 6 * 86400 * US)), min_size=1, max_size=40
    ),
)
def test_business_us_and_deadlines_equal_the_calendar(
    cal: Calendar, pairs: list[tuple[int, int, int]]
) -> None:
    check_against_python(cal, [p[0] for p in pairs], [p[1] for p in pairs], [p[2] for p in pairs])


def test_far_apart_and_extreme_instants_fall_back_exactly() -> None:
    t0 = to_micros(datetime(2024, 3, 9, tzinfo=UTC))
    year = 365 * 86400 * US
    lo = to_micros(datetime(1, 1, 3, tzinfo=UTC))
    hi = to_micros(datetime(9999, 12, 29, tzinfo=UTC))
    for cal in (FIXED[0], FIXED[2]):
        check_against_python(
            cal,
            [t0, t0, t0 - 30 * year, lo, hi, t0],
            [t0 + 25 * year, t0 + 3 * year, t0, lo + 10 * 86400 * US, hi + 3600 * US, t0 - 5],
            [20 * year, year, 0, 3600 * US, 86400 * US * 3, 1],
        )


def test_a_dst_night_and_a_holiday_are_exact() -> None:
    cal = FIXED[2]
    start = to_micros(datetime(2024, 7, 3, 20, tzinfo=UTC))  # 16:00 in New York
    check_against_python(cal, [start], [start + 6 * 86400 * US], [2 * 3600 * US])
    due, ok = CumulativeCalendar(cal).deadline_us(np.array([start]), np.array([2 * 3600 * US]))
    assert ok[0]
    assert int(due[0]) == to_micros(datetime(2024, 7, 8, 14, tzinfo=UTC))
    assert timedelta(
        microseconds=int(
            CumulativeCalendar(FIXED[3]).business_us(
                np.array([to_micros(datetime(2024, 11, 3, 4, tzinfo=UTC))]),
                np.array([to_micros(datetime(2024, 11, 4, 5, tzinfo=UTC))]),
            )[0]
        )
    ) == timedelta(hours=25)
