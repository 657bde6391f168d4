"""Slack message timestamps (``ts``): string ids that are also moments.

A ``ts`` such as ``"1700000000.000100"`` is the message's id within its channel *and*
its time (Unix seconds with six decimal places). It is kept as the exact string Slack
sent — never a float, which would turn ``.000100`` into ``.0001`` or round it — and
compared by its integer parts.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Final

__all__ = ["format_ts", "is_ts", "ts_from_datetime", "ts_key", "ts_shift", "ts_to_datetime"]

_TS: Final = re.compile(r"^(\d{1,12})(?:\.(\d{1,6}))?$")
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def is_ts(value: object) -> bool:
    """Whether ``value`` is a string in Slack's ``ts`` form (``"1700000000.000100"``)."""
    return isinstance(value, str) and _TS.match(value) is not None


def ts_key(ts: str) -> tuple[int, int]:
    """``(seconds, microseconds)`` of ``ts``, for exact ordering. ``ValueError`` if not a ts."""
    match = _TS.match(ts) if isinstance(ts, str) else None
    if match is None:
        raise ValueError(f"expected a Slack ts like '1700000000.000100', found {ts!r}")
    return int(match.group(1)), int((match.group(2) or "").ljust(6, "0"))


def format_ts(key: tuple[int, int]) -> str:
    """The canonical ``ts`` string of ``(seconds, microseconds)``."""
    seconds, micros = key
    return f"{seconds}.{micros:06d}"


def ts_to_datetime(ts: str) -> datetime:
    """The aware UTC moment of ``ts``, exact to the microsecond."""
    seconds, micros = ts_key(ts)
    return _EPOCH + timedelta(seconds=seconds, microseconds=micros)


def ts_from_datetime(moment: datetime) -> str:
    """The ``ts`` of an aware moment (for ``oldest=``)."""
    if moment.tzinfo is None:
        raise ValueError(f"{moment.isoformat()} has no timezone")
    delta = moment.astimezone(UTC) - _EPOCH
    total = delta.days * 86_400_000_000 + delta.seconds * 1_000_000 + delta.microseconds
    if total < 0:
        raise ValueError(f"{moment.isoformat()} is before 1970")
    return format_ts(divmod(total, 1_000_000))


def ts_shift(ts: str, seconds: int) -> str:
    """``ts`` moved by whole ``seconds`` (clamped at zero)."""
    sec, micros = ts_key(ts)
    return format_ts((max(0, sec + seconds), micros if sec + seconds >= 0 else 0))
