from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# Hypothesis measures wall-clock time twice by default: a 200 ms deadline per example and
# the ``too_slow`` health check on data generation. Both fail on a busy machine (a first
# example that pays for an import can take 600 ms), and the suite must not depend on
# timing (README): neither is used. (The plugins' property tests set the same.)
settings.register_profile("convokit", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("convokit")

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture
def twcs_csv() -> Path:
    """The real Twitter customer-support sample from ../shared/data (skip when absent)."""
    path = SHARED_DATA / "twcs-sample.csv"
    if not path.exists():
        pytest.skip(f"real data set not found at {path}")
    return path


@pytest.fixture(autouse=True)
def _isolated_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run every test in its own directory so no test picks up a convokit.toml or db."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CONVOKIT_STORE", raising=False)
