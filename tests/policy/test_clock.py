"""The rule clock: business time minus paused intervals, against a direct computation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from convokit_core._calendars import Calendar
from convokit_core._policy._context import RuleContext
from convokit_core._timeutil import to_micros

from .helpers import at, check, conv, msg, one

CAL = Calendar(timezone="Europe/Paris", hours={"mon-fri": ["09:00-12:00", "14:00-18:00"]})
BASE = to_micros(datetime(2024, 3, 29, 8, tzinfo=UTC))  # the Friday before a DST change
MIN = 60_000_000


def running(start: int, end: int, excluded: list[tuple[int, int | None]]) -> int:
    """Business time in [start, end) outside the excluded intervals, minute by minute."""
    total = 0
    for t in range(start, end, MIN):
        paused = any(a <= t < (b if b is not None else 2**62) for a, b in excluded)
        if not paused and CAL.is_open(datetime.fromtimestamp(t / 1e6, UTC)):
            total += MIN
    return total


@st.composite
def excluded_intervals(draw: st.DrawFn) -> list[tuple[int, int | None]]:
    points = sorted(draw(st.sets(st.integers(0, 6 * 24 * 60), max_size=6)))
    out: list[tuple[int, int | None]] = []
    for i in range(0, len(points) - 1, 2):
        out.append((BASE + points[i] * MIN, BASE + points[i + 1] * MIN))
    if draw(st.booleans()) and points and len(points) % 2:
        out.append((BASE + points[-1] * MIN, None))
    return out


@settings(max_examples=60, deadline=None)
@given(
    excluded=excluded_intervals(),
    start=st.integers(0, 3 * 24 * 60),
    length=st.integers(0, 3 * 24 * 60),
    limit=st.integers(1, 20 * 60),
    stopped=st.booleans(),
)
def test_clock_matches_a_direct_computation(
    excluded: list[tuple[int, int | None]], start: int, length: int, limit: int, stopped: bool
) -> None:
    s = BASE + start * MIN
    end = s + length * MIN
    # as a thread has it: nothing after as_of; a status still current is open-ended
    excluded = [(a, b) for a, b in excluded if a <= end and (b is None or b <= end)]
    ctx = RuleContext(as_of_us=end, calendar=CAL, warn_before_us=30 * MIN)
    status, elapsed, deadline = ctx.clock(s, end if stopped else None, limit * MIN, excluded)
    assert elapsed == running(s, end, excluded)
    if deadline is not None:
        # the deadline is where the running clock reaches the limit
        assert running(s, deadline, excluded) == limit * MIN
    paused_now = any(a <= end and b is None for a, b in excluded)
    if stopped:
        assert status == ("met" if elapsed <= limit * MIN else "breached")
    elif elapsed > limit * MIN:
        assert status == "breached"
    elif paused_now:
        assert status == "paused"
    else:
        assert status in ("pending", "at_risk")
        assert (status == "at_risk") == (limit * MIN - elapsed <= 30 * MIN)


def test_business_hours_pauses_and_at_risk_together() -> None:
    # Monday 4 March 2024 (UTC = Paris - 1h): message 08:30 UTC (09:30 Paris)
    c = conv(
        msg("1", -30),
        history=[(30, "pending"), (6 * 60, "open")],  # pending 09:30-15:00 UTC
    )
    rule_ctx = {"calendar": CAL, "warn_before": "1h"}
    from convokit_core._policy._rules import first_reply

    # as of 16:00 UTC (17:00 Paris): ran 09:30-10:30 Paris (1h) then 15:00-16:00 UTC
    # = 16:00-17:00 Paris (1h) → 2h of a 3h limit, 1h left → at risk
    f = one(check(first_reply("3h", pause_when="pending"), [c], 7 * 60, **rule_ctx))
    assert (f.status, f.elapsed_seconds) == ("at_risk", 2 * 3600)
    # the last hour runs 17:00-18:00 Paris on Monday
    assert f.deadline == at(8 * 60)
    assert f.deadline - timedelta(hours=1) == at(7 * 60)
