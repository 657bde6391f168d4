"""The kit's reading of the moments a response body names (test_times_are_…)."""

from __future__ import annotations

from datetime import UTC, datetime

from convokit_core.testing._adapters import _moments

NOON = datetime(2024, 3, 1, 12, 0, 0, tzinfo=UTC)


def test_moments_in_every_common_spelling() -> None:
    for body in (
        b'{"t": "2024-03-01T12:00:00Z"}',
        b'{"t": "2024-03-01T12:00:00.123456"}',  # naive: read as UTC
        b'{"t": "2024-03-01T13:00:00+01:00"}',
        b'{"t": "2024-03-01T12:00:00+0000"}',  # Meta's offset without a colon
        b'{"t": "2024-03-01 12:00:00"}',
        b'{"t": 1709294400}',
        b'{"t": 1709294400.25}',
        b'{"t": "1709294400123"}',  # milliseconds
        b'{"t": "Fri, 01 Mar 2024 12:00:00 +0000"}',
    ):
        assert NOON in _moments(body), body


def test_no_moment_in_ids_and_counts() -> None:
    assert _moments(b'{"id": 123456789, "count": 42, "text": "2024 was a year"}') == set()
