"""Business calendars: opening hours, holidays, closed dates, exact business time.

A :class:`Calendar` says when the clock of a commitment runs. The default calendar is
always open, so business time is wall-clock time. A business calendar has a timezone,
weekly opening hours (several slots a day), public holidays of a country and
subdivision (through the ``holidays`` package) and explicit closed dates.

**Definition.** An instant is *open* when its local wall-clock time (in the calendar's
timezone) falls inside a slot of its local weekday, and its local date is neither a
holiday nor a closed date. ``business_time(start, end)`` is the measure of the open
instants in ``[start, end)``; ``deadline(start, duration)`` is the earliest instant
``t >= start`` with ``business_time(start, t) == duration``. Both are exact to the
microsecond across DST changes: on a fall-back night a slot covering the repeated hour
is open for both occurrences of it; on a spring-forward night the skipped wall-clock
times do not exist and are never open.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta, tzinfo
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import attrs

from ._limits import show
from ._timeutil import require_aware, to_micros

__all__ = ["ALWAYS_OPEN", "Calendar", "TimeSlot", "parse_hours"]

_US = 1_000_000
_DAY_US = 86_400 * _US
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_DATE = date(1970, 1, 1)
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SLOT = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")
#: A search for a deadline gives up after this many days without enough open time.
_MAX_SEARCH_DAYS = 366 * 20
#: Days a calendar computes intervals for: all but the first and last day a ``date``
#: can hold, so that a local day's neighbours and offsets never leave the range.
_FIRST_ORDINAL = date.min.toordinal() + 2
_LAST_ORDINAL = date.max.toordinal() - 2
#: Instants (microseconds since the epoch) that a ``datetime`` can represent.
_MIN_US = to_micros(datetime.min.replace(tzinfo=UTC))
_MAX_US = to_micros(datetime.max.replace(tzinfo=UTC))
#: Public holidays a year assumed by :meth:`Calendar.guaranteed_open_us`.
HOLIDAYS_PER_YEAR = 30


@attrs.frozen(kw_only=True, order=True)
class TimeSlot:
    """Opening hours within one day, ``start <= t < end`` in local wall-clock time.

    Times are minutes after local midnight; ``end`` may be ``1440`` (``24:00``).
    """

    start: int = attrs.field()
    end: int = attrs.field()

    @start.validator
    def _check_start(self, attribute: attrs.Attribute[int], value: int) -> None:
        if not 0 <= value < 1440:
            raise ValueError(f"a slot starts between 00:00 and 23:59, found minute {value}")

    @end.validator
    def _check_end(self, attribute: attrs.Attribute[int], value: int) -> None:
        if not self.start < value <= 1440:
            raise ValueError(
                f"a slot ends after it starts and at the latest at 24:00, found "
                f"{_fmt_minute(self.start)}-{_fmt_minute(value)}"
            )

    @classmethod
    def parse(cls, text: str) -> TimeSlot:
        """Parse ``"09:00-12:30"``; raise ``ValueError`` saying what was expected."""
        if not isinstance(text, str):
            raise ValueError(f"expected a time slot like '09:00-17:00', found {show(text)}")
        match = _SLOT.match(text)
        if not match:
            raise ValueError(f"expected a time slot like '09:00-17:00', found {show(text)}")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if h1 > 23 or m1 > 59 or m2 > 59 or h2 > 24 or (h2 == 24 and m2):
            raise ValueError(f"expected a time slot like '09:00-17:00', found {show(text)}")
        start, end = h1 * 60 + m1, h2 * 60 + m2
        if end <= start:
            raise ValueError(
                f"expected a time slot whose end is after its start (e.g. '09:00-17:00'), "
                f"found {show(text)}"
            )
        return cls(start=start, end=end)

    def __str__(self) -> str:
        return f"{_fmt_minute(self.start)}-{_fmt_minute(self.end)}"


def _fmt_minute(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def _day_keys(key: str) -> list[int]:
    """``"mon-fri"`` → ``[0..4]``; ``"sat"`` → ``[5]``; ``"mon,wed"`` → ``[0, 2]``."""
    days: list[int] = []
    for part in key.lower().split(","):
        part = part.strip()
        if "-" in part:
            first, _, last = part.partition("-")
            if first.strip() not in _WEEKDAYS or last.strip() not in _WEEKDAYS:
                raise ValueError(
                    f"expected a weekday range like 'mon-fri', found {key!r} "
                    f"(weekdays: {', '.join(_WEEKDAYS)})"
                )
            a, b = _WEEKDAYS.index(first.strip()), _WEEKDAYS.index(last.strip())
            if b < a:
                raise ValueError(f"weekday range {key!r} runs backwards; expected e.g. 'mon-fri'")
            days.extend(range(a, b + 1))
        elif part in _WEEKDAYS:
            days.append(_WEEKDAYS.index(part))
        else:
            raise ValueError(
                f"expected a weekday like 'mon' or a range like 'mon-fri', found {key!r}"
            )
    return days


def parse_hours(
    hours: Mapping[str, Sequence[str] | str],
) -> tuple[tuple[TimeSlot, ...], ...]:
    """Parse ``{"mon-fri": ["09:00-12:30", "13:30-17:00"], "sat": "10:00-14:00"}``.

    Returns seven tuples of slots, Monday first. Raises ``ValueError`` naming the bad key
    or slot (the message starts with the key so callers can locate it).
    """
    week: list[list[TimeSlot]] = [[] for _ in range(7)]
    for key, value in hours.items():
        try:
            days = _day_keys(key)
        except ValueError as exc:
            raise ValueError(f"{key}: {exc}") from None
        values = [value] if isinstance(value, str) else value
        if not isinstance(values, Sequence):
            raise ValueError(
                f"{key}: expected a list of time slots like ['09:00-17:00'], found {show(value)}"
            )
        slots = []
        for raw in values:
            try:
                slots.append(TimeSlot.parse(raw))
            except ValueError as exc:
                raise ValueError(f"{key}: {exc}") from None
        for day in days:
            week[day].extend(slots)
    return tuple(_normalise_slots(day, _WEEKDAYS[i]) for i, day in enumerate(week))


def _normalise_slots(slots: Iterable[TimeSlot], day_name: str) -> tuple[TimeSlot, ...]:
    ordered = sorted(slots)
    for before, after in pairwise(ordered):
        if after.start < before.end:
            raise ValueError(f"{day_name}: slots {before} and {after} overlap")
    return tuple(ordered)


def _convert_week(value: Any) -> tuple[tuple[TimeSlot, ...], ...] | None:
    if value is None:
        return None
    if isinstance(value, Mapping):
        return parse_hours(value)
    week = tuple(tuple(day) for day in value)
    if len(week) != 7:
        raise ValueError(f"weekly hours need 7 days (Monday first), found {len(week)}")
    return tuple(_normalise_slots(day, _WEEKDAYS[i]) for i, day in enumerate(week))


def _convert_tz(value: str | tzinfo) -> tzinfo:
    if isinstance(value, str):
        try:
            return ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"expected an IANA timezone like 'America/New_York' or 'UTC', found {show(value)}"
            ) from None
    if isinstance(value, tzinfo):
        return value
    raise ValueError(f"expected an IANA timezone name, found {show(value)}")


def _convert_dates(value: Iterable[date | str]) -> frozenset[date]:
    out = set()
    for item in value:
        if isinstance(item, datetime):
            raise ValueError(f"expected a date like 2024-12-24, found the datetime {show(item)}")
        if isinstance(item, date):
            out.add(item)
        elif isinstance(item, str):
            try:
                out.add(date.fromisoformat(item))
            except ValueError:
                raise ValueError(f"expected a date like '2024-12-24', found {show(item)}") from None
        else:
            raise ValueError(f"expected a date like '2024-12-24', found {show(item)}")
    return frozenset(out)


@attrs.frozen(kw_only=True)
class Calendar:
    """When a commitment's clock runs.

    Attributes:
        name: a label for messages and reports.
        timezone: an IANA name (``"America/New_York"``) or a ``tzinfo``.
        hours: weekly opening hours, ``{"mon-fri": ["09:00-12:30", "13:30-17:00"]}``
            or seven sequences of :class:`TimeSlot` (Monday first). ``None`` (the
            default) means open around the clock on every day.
        holidays_country: ISO country code for public holidays (``"US"``), or ``None``.
        holidays_subdivision: subdivision of that country (``"NY"``), or ``None``.
        closed_dates: extra dates (local) on which the calendar is closed.

    ``Calendar()`` is always open: business time equals elapsed time.
    """

    name: str = "always"
    timezone: tzinfo = attrs.field(default=UTC, converter=_convert_tz)
    hours: tuple[tuple[TimeSlot, ...], ...] | None = attrs.field(
        default=None, converter=_convert_week
    )
    holidays_country: str | None = None
    holidays_subdivision: str | None = None
    closed_dates: frozenset[date] = attrs.field(default=frozenset(), converter=_convert_dates)
    _holidays: Any = attrs.field(init=False, repr=False, eq=False)
    _cache: dict[int, tuple[tuple[int, int], ...]] = attrs.field(
        init=False, repr=False, eq=False, factory=dict
    )

    def __attrs_post_init__(self) -> None:
        table: Any = None
        if self.holidays_country is not None:
            import holidays as holidays_pkg

            try:
                table = holidays_pkg.country_holidays(
                    self.holidays_country, subdiv=self.holidays_subdivision
                )
            except NotImplementedError:
                raise ValueError(
                    f"the holidays package has no country {self.holidays_country!r}; "
                    "expected an ISO 3166 code like 'US' or 'FR'"
                ) from None
            except Exception as exc:  # holidays raises various errors for bad subdivisions
                raise ValueError(
                    f"unknown holidays subdivision {self.holidays_subdivision!r} of "
                    f"{self.holidays_country!r}: {exc}"
                ) from None
        elif self.holidays_subdivision is not None:
            raise ValueError("a holidays subdivision needs a holidays country")
        object.__setattr__(self, "_holidays", table)
        if self.hours is not None and not any(self.hours):
            raise ValueError(f"calendar {self.name!r} has no opening hours on any day")

    # -- queries ---------------------------------------------------------------------

    @property
    def always_open(self) -> bool:
        """True when business time is plain elapsed time."""
        return self.hours is None and self._holidays is None and not self.closed_dates

    def is_closed_date(self, day: date) -> bool:
        """Whether ``day`` (local) is a holiday or an explicit closed date."""
        if day in self.closed_dates:
            return True
        return self._holidays is not None and day in self._holidays

    def is_open(self, at: datetime) -> bool:
        """Whether the clock runs at ``at`` (timezone-aware)."""
        us = to_micros(require_aware(at, "at"))
        if self.always_open:
            return True
        ordinal = self._local_date(us).toordinal()
        for day in range(max(ordinal - 1, _FIRST_ORDINAL), min(ordinal + 1, _LAST_ORDINAL) + 1):
            for a, b in self._day_intervals_ord(day):
                if a <= us < b:
                    return True
        return False

    def business_time(self, start: datetime, end: datetime) -> timedelta:
        """Open time in ``[start, end)``; zero when ``end <= start``."""
        us = self.business_us(
            to_micros(require_aware(start, "start")), to_micros(require_aware(end, "end"))
        )
        return timedelta(microseconds=us)

    def deadline(self, start: datetime, duration: timedelta) -> datetime:
        """The earliest instant at which ``duration`` of open time has run since ``start``.

        Raises ``ValueError`` when the calendar is not open long enough within
        ``_MAX_SEARCH_DAYS`` days (about 20 years) of ``start``, or before the last
        instant a ``datetime`` can hold.
        """
        if duration < timedelta(0):
            raise ValueError(f"duration must not be negative, found {duration}")
        us = self.deadline_us(to_micros(require_aware(start, "start")), _td_micros(duration))
        if us is None:
            raise ValueError(
                f"calendar {self.name!r} is not open long enough within {_MAX_SEARCH_DAYS} "
                f"days to cover the duration"
            )
        return _EPOCH + timedelta(microseconds=us)

    def guaranteed_open_us(self) -> int | None:
        """A lower bound of the open time in any deadline search window (microseconds),
        or ``None`` for a calendar that is always open (no bound needed).

        Counts the whole weeks of the window at the weekly opening hours, less an hour
        twice a year for daylight-saving changes, less the longest opening day for every
        explicit closed date and for :data:`HOLIDAYS_PER_YEAR` holidays a year. A policy
        duration above it cannot be promised on this calendar (the policy loader says so).
        """
        if self.always_open:
            return None
        week = self.hours if self.hours is not None else ((TimeSlot(start=0, end=1440),),) * 7
        day_us = [sum(slot.end - slot.start for slot in day) * 60 * _US for day in week]
        days = _MAX_SEARCH_DAYS - 2  # the search starts on the local day before
        years = days // 365 + 1
        closed = len(self.closed_dates)
        if self._holidays is not None:
            closed += HOLIDAYS_PER_YEAR * years
        total = (days // 7) * sum(day_us) - 2 * years * 3600 * _US - closed * max(day_us)
        return max(total, 0)

    # -- integer-microsecond versions (used in the evaluator's hot path) --------------

    def business_us(self, start: int, end: int) -> int:
        """:meth:`business_time` on microseconds since the epoch."""
        if end <= start:
            return 0
        if self.always_open:
            return end - start
        total = 0
        for a, b in self._intervals_from(start):
            if a >= end:
                break
            lo = a if a > start else start
            hi = b if b < end else end
            if hi > lo:
                total += hi - lo
        return total

    def deadline_us(self, start: int, duration: int) -> int | None:
        """:meth:`deadline` on microseconds since the epoch; ``None`` where
        :meth:`deadline` raises (not open long enough, or past the ``datetime`` range)."""
        if duration <= 0:
            return start
        if self.always_open:
            end = start + duration
            return end if end <= _MAX_US else None
        remaining = duration
        for a, b in self._intervals_from(start):
            lo = a if a > start else start
            if b <= lo:
                continue
            if b - lo >= remaining:
                end = lo + remaining
                return end if end <= _MAX_US else None
            remaining -= b - lo
        return None

    def open_intervals(self, start: datetime, end: datetime) -> Iterator[tuple[datetime, datetime]]:
        """The open intervals that intersect ``[start, end)``, clipped to it."""
        s, e = to_micros(require_aware(start)), to_micros(require_aware(end))
        if self.always_open:
            if e > s:
                yield start, end
            return
        for a, b in self._intervals_from(s):
            if a >= e:
                return
            lo, hi = max(a, s), min(b, e)
            if hi > lo:
                yield (
                    _EPOCH + timedelta(microseconds=lo),
                    _EPOCH + timedelta(microseconds=hi),
                )

    # -- internals -------------------------------------------------------------------

    def _intervals_from(self, start: int) -> Iterator[tuple[int, int]]:
        """Open intervals in time order, starting with the local day before ``start``'s."""
        first = max(self._local_date(start).toordinal() - 1, _FIRST_ORDINAL)
        last = min(first + _MAX_SEARCH_DAYS - 1, _LAST_ORDINAL)
        for ordinal in range(first, last + 1):
            yield from self._day_intervals_ord(ordinal)

    def _local_date(self, us: int) -> date:
        return _instant(us).astimezone(self.timezone).date()

    def _day_intervals(self, day: date) -> tuple[tuple[int, int], ...]:
        return self._day_intervals_ord(day.toordinal())

    def _day_intervals_ord(self, ordinal: int) -> tuple[tuple[int, int], ...]:
        cached = self._cache.get(ordinal)
        if cached is not None:
            return cached
        day = date.fromordinal(ordinal)
        result: tuple[tuple[int, int], ...] = ()
        if not self.is_closed_date(day):
            slots = (
                self.hours[day.weekday()]
                if self.hours is not None
                else (TimeSlot(start=0, end=1440),)
            )
            if slots:
                result = self._slots_to_intervals(day, slots)
        if len(self._cache) > 20_000:
            self._cache.clear()
        self._cache[ordinal] = result
        return result

    def _slots_to_intervals(
        self, day: date, slots: Sequence[TimeSlot]
    ) -> tuple[tuple[int, int], ...]:
        # Wall-clock midnight of `day` read as if it were UTC, in microseconds.
        wall0 = (day - _EPOCH_DATE).days * _DAY_US
        segments = self._offset_segments(wall0)
        out: list[tuple[int, int]] = []
        for slot in slots:
            wa, wb = wall0 + slot.start * 60 * _US, wall0 + slot.end * 60 * _US
            for seg_lo, seg_hi, offset in segments:
                lo, hi = wa - offset, wb - offset
                if seg_lo is not None and lo < seg_lo:
                    lo = seg_lo
                if seg_hi is not None and hi > seg_hi:
                    hi = seg_hi
                if hi > lo:
                    out.append((lo, hi))
        out.sort()
        merged: list[tuple[int, int]] = []
        for a, b in out:
            if merged and a <= merged[-1][1]:
                if b > merged[-1][1]:
                    merged[-1] = (merged[-1][0], b)
            else:
                merged.append((a, b))
        return tuple(merged)

    def _offset_us(self, instant: int) -> int:
        moment = _instant(instant)
        off = self.timezone.utcoffset(moment.astimezone(self.timezone))
        return _td_micros(off) if off is not None else 0

    def _offset_segments(self, wall0: int) -> list[tuple[int | None, int | None, int]]:
        """UTC-offset segments covering every instant whose local date is ``wall0``'s.

        Returns ``(lo, hi, offset)`` triples (``None`` = unbounded). Real zones change
        offset at most once in the ~2.5 days examined; the change instant is found
        exactly by bisection.
        """
        a, b = wall0 - 15 * 3600 * _US, wall0 + _DAY_US + 15 * 3600 * _US
        off_a, off_b = self._offset_us(a), self._offset_us(b)
        if off_a == off_b:
            return [(None, None, off_a)]
        lo, hi = a, b  # offset(lo) == off_a, offset(hi) == off_b
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if self._offset_us(mid) == off_a:
                lo = mid
            else:
                hi = mid
        return [(None, hi, off_a), (hi, None, off_b)]


def _instant(us: int) -> datetime:
    """The UTC datetime of ``us``, kept two days inside the range a ``datetime`` holds
    (so that converting it to any timezone cannot overflow)."""
    margin = 2 * _DAY_US
    us = min(max(us, _MIN_US + margin), _MAX_US - margin)
    return _EPOCH + timedelta(microseconds=us)


def _td_micros(value: timedelta) -> int:
    return (value.days * 86_400 + value.seconds) * _US + value.microseconds


ALWAYS_OPEN = Calendar()
"""The default calendar: open around the clock, every day."""
