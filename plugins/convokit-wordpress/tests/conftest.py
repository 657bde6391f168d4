"""Fixtures shared by the tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def sleeps() -> list[float]:
    """Where the tests' adapters record the retry waits the HTTP helper chose."""
    return []
