"""parse_datetime(naive=...): a platform that documents naive times as UTC."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from convokit_core import parse_datetime


def test_naive_is_rejected_by_default() -> None:
    with pytest.raises(ValueError, match="no timezone"):
        parse_datetime("2024-03-01T12:00:00.123456")


def test_naive_utc_is_declared_by_the_adapter() -> None:
    value = parse_datetime("2024-03-01T12:00:00.123456", naive=UTC)
    assert value == datetime(2024, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
    assert value.tzinfo is UTC


def test_naive_in_another_zone_is_converted_to_utc() -> None:
    value = parse_datetime("2024-07-01T12:00:00", naive=ZoneInfo("Europe/Paris"))
    assert value == datetime(2024, 7, 1, 10, 0, tzinfo=UTC)


def test_an_explicit_offset_wins_over_naive() -> None:
    assert parse_datetime("2024-03-01T12:00:00+02:00", naive=UTC).hour == 10
    with pytest.raises(ValueError, match="ISO 8601"):
        parse_datetime("yesterday", naive=UTC)
