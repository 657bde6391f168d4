"""Fixtures shared by the GitHub plugin's tests."""

from __future__ import annotations

import pytest
from github_runner import Runner


@pytest.fixture
def runner() -> Runner:
    """A fresh runner: runs ``fetch`` against a fake and records requests and waits."""
    return Runner()
