"""A calendar as a cumulative open-time function, for whole arrays of instants.

``F(t)`` is the open time (microseconds) before ``t`` counted from the start of a table
of the calendar's open intervals; business time between two instants is
``F(stop) - F(start)`` and a deadline is ``F⁻¹(F(start) + limit)`` (the earliest such
instant), each one ``searchsorted`` over the whole array. The intervals are the very
ones :class:`~convokit_core.Calendar` computes day by day (DST, holidays, closed
dates), so the results equal ``Calendar.business_us`` / ``deadline_us`` exactly.

Where the table cannot answer exactly — instants outside it or outside 1901-2199,
spans near the calendar's 20-year search window, a zone whose local dates are not
monotonic in time — the scalar ``Calendar`` method answers instead.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import numpy.typing as npt

from .._calendars import _MAX_SEARCH_DAYS, Calendar

__all__ = ["CumulativeCalendar"]

I64 = npt.NDArray[np.int64]
_US = 1_000_000
_DAY_US = 86_400 * _US
_MAX_US = 253402300799999999
#: Instants the table covers at most (a ``datetime`` far from its limits).
_LO_US = (date(1901, 1, 1).toordinal() - date(1970, 1, 1).toordinal()) * _DAY_US
_HI_US = (date(2199, 12, 31).toordinal() - date(1970, 1, 1).toordinal()) * _DAY_US
#: Spans at least this long are left to the scalar calendar (its search window).
_LONG_US = (_MAX_SEARCH_DAYS - 60) * _DAY_US
#: Days added beyond what a call needs when the table grows.
_PAD_DAYS = 45
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


class CumulativeCalendar:
    """``business_us`` and ``deadline_us`` of one :class:`Calendar` over numpy arrays."""

    def __init__(self, calendar: Calendar) -> None:
        self.calendar = calendar
        self._first = 0  # ordinals of the first and last local day in the table
        self._last = -1
        self._a: I64 = np.empty(0, np.int64)
        self._b: I64 = np.empty(0, np.int64)
        self._cum: I64 = np.empty(0, np.int64)  # open time before interval i
        self._cum_end: I64 = np.empty(0, np.int64)
        self._monotonic = True

    # -- the table -----------------------------------------------------------------

    def _ordinal(self, us: int) -> int:
        return self.calendar._local_date(us).toordinal()

    def _ensure(self, lo_us: int, hi_us: int) -> None:
        """Cover every instant in ``[lo_us, hi_us]`` (clipped to the table's range)."""
        lo_us, hi_us = max(lo_us, _LO_US), min(hi_us, _HI_US)
        if hi_us < lo_us:
            return
        first = self._ordinal(lo_us) - 2
        last = self._ordinal(hi_us) + 2
        if self._last >= self._first and first >= self._first and last <= self._last:
            return
        if self._last >= self._first:
            first = min(first, self._first)
            last = max(last, self._last)
        first -= _PAD_DAYS // 3
        last += _PAD_DAYS
        starts: list[int] = []
        ends: list[int] = []
        for ordinal in range(first, last + 1):
            for a, b in self.calendar._day_intervals_ord(ordinal):
                starts.append(a)
                ends.append(b)
        self._a = np.array(starts, dtype=np.int64)
        self._b = np.array(ends, dtype=np.int64)
        lengths = self._b - self._a
        self._cum_end = np.cumsum(lengths)
        self._cum = self._cum_end - lengths
        self._monotonic = bool(np.all(self._a[1:] >= self._b[:-1]))
        self._first, self._last = first, last

    def _covered(self, t: I64) -> npt.NDArray[np.bool_]:
        """Instants the table answers for: their local day and its neighbours are in it."""
        if self._last < self._first or not self._monotonic or not len(self._a):
            return np.zeros(len(t), dtype=bool)
        # local dates are within 2 days of UTC dates; the table keeps 2 spare days a side
        lo = (self._first + 2 - _EPOCH_ORDINAL) * _DAY_US
        hi = (self._last - 2 - _EPOCH_ORDINAL) * _DAY_US
        return (t >= lo) & (t < hi)

    def _open_before(self, t: I64) -> I64:
        """``F(t)`` for instants the table covers."""
        i = np.searchsorted(self._a, t, side="right") - 1
        inside = i >= 0
        j = np.where(inside, i, 0)
        within = np.minimum(t - self._a[j], self._b[j] - self._a[j])
        return np.where(inside, self._cum[j] + np.maximum(within, 0), 0)

    # -- queries -------------------------------------------------------------------

    def business_us(self, start: I64, stop: I64) -> I64:
        """``Calendar.business_us(start[i], stop[i])`` for every ``i``."""
        start = np.asarray(start, dtype=np.int64)
        stop = np.asarray(stop, dtype=np.int64)
        out = np.zeros(len(start), dtype=np.int64)
        if not len(start):
            return out
        if self.calendar.always_open:
            gap: I64 = np.maximum(stop - start, 0)
            return gap
        work = stop > start
        if not work.any():
            return out
        self._ensure(int(start[work].min()), int(stop[work].max()))
        fast = work & self._covered(start) & self._covered(stop) & (stop - start < _LONG_US)
        out[fast] = self._open_before(stop[fast]) - self._open_before(start[fast])
        for i in np.flatnonzero(work & ~fast).tolist():
            out[i] = self.calendar.business_us(int(start[i]), int(stop[i]))
        return out

    def deadline_us(self, start: I64, limit: I64) -> tuple[I64, npt.NDArray[np.bool_]]:
        """``Calendar.deadline_us(start[i], limit[i])`` as ``(values, has_value)``
        (``has_value`` False where the scalar method returns ``None``)."""
        start = np.asarray(start, dtype=np.int64)
        limit = np.broadcast_to(np.asarray(limit, dtype=np.int64), start.shape)
        out = np.zeros(len(start), dtype=np.int64)
        ok = np.ones(len(start), dtype=bool)
        if not len(start):
            return out, ok
        cal = self.calendar
        if cal.always_open:
            due = start + np.maximum(limit, 0)
            # start + limit overflows nothing here: both are far below 2**63
            ok = (limit <= 0) | (due <= _MAX_US)
            return np.where(limit <= 0, start, due), ok
        zero = limit <= 0
        out[zero] = start[zero]
        work = ~zero
        fast = np.zeros(len(start), dtype=bool)
        if work.any():
            self._ensure(int(start[work].min()), int(start[work].max()))
            fast = work & self._covered(start) & (limit < _LONG_US)
            if fast.any():
                s = start[fast]
                target = self._open_before(s) + limit[fast]
                pos = np.searchsorted(self._cum_end, target, side="left")
                found = pos < len(self._a)
                j = np.where(found, pos, 0)
                due = self._a[j] + (target - self._cum[j])
                # the answer must lie where the table is exact and within the window
                good = found & self._covered(due) & (due - s < _LONG_US)
                idx = np.flatnonzero(fast)
                out[idx[good]] = due[good]
                fast[idx[~good]] = False
        for i in np.flatnonzero(work & ~fast).tolist():
            value = cal.deadline_us(int(start[i]), int(limit[i]))
            if value is None:
                ok[i] = False
            else:
                out[i] = value
        return out, ok
