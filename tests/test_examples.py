"""The runnable examples keep running (they are documentation)."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_check_api_example_reports_its_broken_promise(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "argv", ["check_api.py"])
    with pytest.raises(SystemExit) as info:
        runpy.run_path(str(EXAMPLES / "check_api.py"), run_name="__main__")
    out = capsys.readouterr().out
    assert info.value.code == 1
    assert "customers-hear-back:" in out
    assert "owner bo left on 2024-03-04" in out
    assert out.rstrip().endswith("verdict: a promise was broken")
