"""Aware datetimes, canonical timestamps and durations."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta, tzinfo

__all__ = [
    "MAX_DURATION",
    "MAX_TIMESTAMP",
    "MIN_TIMESTAMP",
    "check_timestamp",
    "format_datetime",
    "from_micros",
    "parse_datetime",
    "parse_duration",
    "parse_timestamp",
    "require_aware",
    "to_micros",
]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

MIN_TIMESTAMP = datetime(1900, 1, 1, tzinfo=UTC)
"""The earliest timestamp accepted from input (files, options, config): 1900-01-01Z."""
MAX_TIMESTAMP = datetime(3000, 1, 1, tzinfo=UTC)
"""Timestamps from input are before this instant (3000-01-01Z), so that a deadline
(a timestamp plus at most :data:`MAX_DURATION` of business time on a calendar) never
leaves the range a ``datetime`` can represent."""
MAX_DURATION = timedelta(weeks=520)
"""The longest duration a policy may give (520 weeks, about ten years)."""


def require_aware(value: datetime, what: str = "datetime") -> datetime:
    """Return ``value`` converted to UTC; raise ``ValueError`` if it is naive, or if its
    UTC equivalent is outside the ``datetime`` range (``0001-01-01T00:00:00+01:00``)."""
    if not isinstance(value, datetime):
        raise TypeError(f"{what} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise ValueError(
            f"{what} must be timezone-aware (got naive {value.isoformat()}); "
            "attach a tzinfo, e.g. datetime(..., tzinfo=timezone.utc)"
        )
    if value.tzinfo is UTC:
        return value
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError(
            f"{what} {value.isoformat()} cannot be represented in UTC (out of range)"
        ) from None


def check_timestamp(value: datetime, what: str = "timestamp") -> datetime:
    """``value`` (aware) in UTC, or ``ValueError`` when it is naive or outside
    ``[MIN_TIMESTAMP, MAX_TIMESTAMP)``: the one bound check for every timestamp that
    comes from input (files, options, config)."""
    value = require_aware(value, what)
    if not MIN_TIMESTAMP <= value < MAX_TIMESTAMP:
        raise ValueError(
            f"{what} {value.isoformat().replace('+00:00', 'Z')} is out of range; expected a "
            f"time from {format_datetime(MIN_TIMESTAMP)[:10]} to before "
            f"{format_datetime(MAX_TIMESTAMP)[:10]} (docs/limits.md)"
        )
    return value


def parse_timestamp(text: str, what: str = "timestamp") -> datetime:
    """:func:`parse_datetime` plus the range check of :func:`check_timestamp`.

    Use it for every timestamp read from input (``--as-of``, config, files): it raises
    ``ValueError`` (never ``OverflowError``) with one clear sentence.
    """
    try:
        value = parse_datetime(text)
    except OverflowError:
        raise ValueError(
            f"{what} {text!r} is out of range; expected a time from "
            f"{format_datetime(MIN_TIMESTAMP)[:10]} to before "
            f"{format_datetime(MAX_TIMESTAMP)[:10]} (docs/limits.md)"
        ) from None
    return check_timestamp(value, what)


def parse_datetime(text: str, *, naive: tzinfo | None = None) -> datetime:
    """Parse an ISO 8601 timestamp with an offset or ``Z`` into an aware UTC datetime.

    ``naive`` is the zone a timestamp *without* an offset is in, for platforms that
    document theirs (``naive=UTC`` for Lemmy 0.18's ``"2024-03-01T12:00:00.123456"``).
    By default such a timestamp is rejected: a naive time is never guessed.

    Raises ``ValueError`` naming what was found for naive (unless ``naive`` is given)
    or malformed input.
    """
    if not isinstance(text, str):
        raise ValueError(f"expected an ISO 8601 timestamp string, found {text!r}")
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"expected an ISO 8601 timestamp like 2017-10-31T21:46:24Z, found {text!r}"
        ) from None
    if value.tzinfo is None:
        if naive is None:
            raise ValueError(f"timestamp {text!r} has no timezone; add 'Z' or an offset")
        value = value.replace(tzinfo=naive)
    return value.astimezone(UTC)


def format_datetime(value: datetime) -> str:
    """The canonical form: UTC, ``Z`` suffix, microseconds only when non-zero."""
    value = value.astimezone(UTC)
    if value.microsecond:
        return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def to_micros(value: datetime) -> int:
    """Whole microseconds since the Unix epoch (exact, no float rounding)."""
    delta = value - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(value: int) -> datetime:
    """Inverse of :func:`to_micros`."""
    return _EPOCH + timedelta(microseconds=value)


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}
_COMPOUND = re.compile(r"^(?:\d+(?:\.\d+)?[smhdw])+$")
_PART = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")
_ISO = re.compile(
    r"^P(?:(?P<w>\d+(?:\.\d+)?)W)?(?:(?P<d>\d+(?:\.\d+)?)D)?"
    r"(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<m>\d+(?:\.\d+)?)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)


def parse_duration(value: str | int | float | timedelta) -> timedelta:
    """Parse ``90s``, ``45m``, ``4h``, ``3d``, ``2w``, ``1h30m`` or ISO 8601 ``PT4H``.

    Numbers are seconds. Raises ``ValueError`` describing what was expected, also for a
    duration longer than :data:`MAX_DURATION` (never ``OverflowError``).
    """
    try:
        result: timedelta | None = _parse_duration(value)
    except OverflowError:
        if isinstance(value, int | float) and value < 0:
            raise ValueError(f"a duration cannot be negative, found {_short(value)}") from None
        result = None
    if result is None or result > MAX_DURATION:
        raise ValueError(
            f"a duration is at most {MAX_DURATION.days // 7}w (about ten years), "
            f"found {_short(value)}"
        )
    if result < timedelta(0):
        raise ValueError(f"a duration cannot be negative, found {_short(value)}")
    return result


def _short(value: object) -> str:
    try:
        text = repr(value)
    except ValueError:  # an int too long to print
        text = f"<{type(value).__name__}>"
    return text if len(text) <= 40 else text[:37] + "..."


def _parse_duration(value: str | int | float | timedelta) -> timedelta:
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"expected a finite duration, found {value!r}")
    if isinstance(value, timedelta):
        result = value
    elif isinstance(value, bool):
        raise ValueError(f"expected a duration like '4h' or 'PT4H', found {value!r}")
    elif isinstance(value, int | float):
        result = timedelta(seconds=value)
    elif isinstance(value, str):
        text = value.strip()
        if _COMPOUND.match(text.replace(" ", "")):
            total = sum(float(n) * _UNITS[u] for n, u in _PART.findall(text.replace(" ", "")))
            result = timedelta(seconds=total)
        elif (m := _ISO.match(text.upper())) and text.upper() not in ("P", "PT"):
            parts = {k: float(v) for k, v in m.groupdict().items() if v}
            if not parts:
                raise ValueError(f"expected a duration like '4h' or 'PT4H', found {value!r}")
            result = timedelta(
                weeks=parts.get("w", 0),
                days=parts.get("d", 0),
                hours=parts.get("h", 0),
                minutes=parts.get("m", 0),
                seconds=parts.get("s", 0),
            )
        else:
            raise ValueError(
                f"expected a duration like '90s', '45m', '4h', '3d', '2w' or 'PT4H', "
                f"found {_short(value)}"
            )
    else:
        raise ValueError(f"expected a duration like '4h' or 'PT4H', found {_short(value)}")
    return result
