"""What a rule sees besides the conversation: the clock, the calendar, the run."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._calendars import ALWAYS_OPEN, Calendar
from ..protocols import TeamMemberLike
from ._facts import DEFAULT_COUNTING, CountingPolicy
from ._findings import Outcome, Status

__all__ = ["RuleContext"]

#: The last instant a ``datetime`` holds, in microseconds since the epoch: a deadline past
#: it is reported as no deadline (the finding stays pending; docs/limits.md).
_MAX_US = 253402300799999999

MET = Status.MET.value
BREACHED = Status.BREACHED.value
PENDING = Status.PENDING.value
AT_RISK = Status.AT_RISK.value
PAUSED = Status.PAUSED.value
NOT_APPLICABLE = Status.NOT_APPLICABLE.value


class RuleContext:
    """Per commitment and run: ``as_of``, the calendar, what counts, shared run data.

    Attributes:
        as_of_us: the evaluation instant, microseconds since the epoch.
        calendar: the commitment's :class:`~convokit_core.Calendar`.
        counting: the commitment's :class:`CountingPolicy`.
        warn_before_us: ``at_risk`` threshold (0 = never at risk).
        team: team members by id (empty when the store has none).
        channels: known channels by ``(platform, id)`` (objects with ``created_at``).
        state: scratch space for channel-level rules, per run.
    """

    __slots__ = (
        "as_of_us",
        "calendar",
        "channels",
        "counting",
        "simple",
        "state",
        "team",
        "warn_before_us",
    )

    def __init__(
        self,
        *,
        as_of_us: int,
        calendar: Calendar = ALWAYS_OPEN,
        counting: CountingPolicy = DEFAULT_COUNTING,
        warn_before_us: int = 0,
        team: Mapping[str, TeamMemberLike] | None = None,
        channels: Mapping[tuple[str, str], Any] | None = None,
    ) -> None:
        self.as_of_us = as_of_us
        self.calendar = calendar
        self.simple = calendar.always_open
        """Business time is elapsed time (no calendar arithmetic needed)."""
        self.counting = counting
        self.warn_before_us = warn_before_us
        self.team: Mapping[str, TeamMemberLike] = team or {}
        self.channels: Mapping[tuple[str, str], Any] = channels or {}
        self.state: dict[Any, Any] = {}

    def clock(
        self,
        start: int,
        stop: int | None,
        limit: int,
        excluded: list[tuple[int, int | None]] = [],  # noqa: B006 - never mutated
    ) -> tuple[str, int, int | None]:
        """Run a clock from ``start`` to ``stop`` (``None``: still running at ``as_of``).

        The clock runs on the calendar and not during ``excluded`` intervals. Returns
        ``(status, elapsed_us, deadline_us)``: ``met``/``breached`` once stopped;
        ``breached`` while running past ``limit``; else ``paused`` when an excluded
        interval holds at ``as_of``, ``at_risk`` within ``warn_before`` of the limit,
        ``pending``. ``deadline_us`` is ``None`` when the clock is paused short of it, or
        when it falls where no deadline exists: after the last instant a ``datetime``
        holds, or beyond the calendar's search window (about 20 years of days).
        """
        end = stop if stop is not None else self.as_of_us
        if end < start:
            end = start
        if self.simple and not excluded:
            elapsed = end - start
            due: int | None = start + limit
            if due > _MAX_US:  # type: ignore[operator]
                due = None
            if stop is not None:
                return (MET if elapsed <= limit else BREACHED), elapsed, due
            if elapsed > limit:
                return BREACHED, elapsed, due
            if self.warn_before_us and limit - elapsed <= self.warn_before_us:
                return AT_RISK, elapsed, due
            return PENDING, elapsed, due
        cal = self.calendar
        paused_now = False
        if not excluded:
            elapsed = cal.business_us(start, end)
            deadline: int | None = cal.deadline_us(start, limit)
        else:
            elapsed = 0
            deadline = None
            remaining = limit
            cursor: int | None = start
            for a, b in excluded:
                assert cursor is not None
                if b is not None and b <= cursor:
                    continue
                if a > end or (a == end and b is not None):
                    break
                seg_end = a if a < end else end
                if seg_end > cursor:
                    bt = cal.business_us(cursor, seg_end)
                    elapsed += bt
                    if deadline is None:
                        if bt >= remaining:
                            deadline = cal.deadline_us(cursor, remaining)
                        else:
                            remaining -= bt
                if b is None:
                    cursor = None
                    break
                if b > cursor:
                    cursor = b
            if cursor is None:
                paused_now = stop is None
            else:
                if cursor < end:
                    bt = cal.business_us(cursor, end)
                    elapsed += bt
                    if deadline is None:
                        if bt >= remaining:
                            deadline = cal.deadline_us(cursor, remaining)
                        else:
                            remaining -= bt
                if deadline is None:
                    deadline = cal.deadline_us(cursor if cursor > end else end, remaining)
        if stop is not None:
            return (MET if elapsed <= limit else BREACHED), elapsed, deadline
        if elapsed > limit:
            return BREACHED, elapsed, deadline
        if paused_now:
            return PAUSED, elapsed, deadline
        if self.warn_before_us and limit - elapsed <= self.warn_before_us:
            return AT_RISK, elapsed, deadline
        return PENDING, elapsed, deadline

    @staticmethod
    def outcome(
        *,
        status: str,
        subject: str,
        rule: str,
        subject_kind: str = "conversation",
        started: int | None = None,
        deadline: int | None = None,
        stopped: int | None = None,
        elapsed: int = 0,
        limit: int | None = None,
        evidence: tuple[str, ...] = (),
        what: str = "reply",
        note: str = "",
    ) -> Outcome:
        """Build an :class:`Outcome` by keyword (for third-party rules)."""
        return Outcome(
            str(Status(status)),
            subject_kind,
            subject,
            started,
            deadline,
            stopped,
            elapsed,
            limit,
            evidence,
            what,
            note,
            rule,
        )
