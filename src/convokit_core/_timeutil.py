"""Aware datetimes, canonical timestamps and durations."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, tzinfo

__all__ = [
    "format_datetime",
    "from_micros",
    "parse_datetime",
    "parse_duration",
    "require_aware",
    "to_micros",
]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def require_aware(value: datetime, what: str = "datetime") -> datetime:
    """Return ``value`` converted to UTC; raise ``ValueError`` if it is naive."""
    if not isinstance(value, datetime):
        raise TypeError(f"{what} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise ValueError(
            f"{what} must be timezone-aware (got naive {value.isoformat()}); "
            "attach a tzinfo, e.g. datetime(..., tzinfo=timezone.utc)"
        )
    if value.tzinfo is UTC:
        return value
    return value.astimezone(UTC)


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

    Numbers are seconds. Raises ``ValueError`` describing what was expected.
    """
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
                f"found {value!r}"
            )
    else:
        raise ValueError(f"expected a duration like '4h' or 'PT4H', found {value!r}")
    if result < timedelta(0):
        raise ValueError(f"a duration cannot be negative, found {value!r}")
    return result
