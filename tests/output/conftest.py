from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest


@pytest.fixture
def unwritable() -> Iterator[Callable[[Path], None]]:
    """Make a directory unwritable for this process, root included: ``chmod`` for a
    normal user, the immutable attribute for root (which ignores modes). The trick is
    proven before the test relies on it; the test is skipped where it cannot hold."""
    made: list[tuple[Path, int]] = []

    def make(path: Path) -> None:
        mode = path.stat().st_mode
        if os.geteuid() != 0:
            path.chmod(0o555)
        elif subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode:
            pytest.skip("running as root and chattr +i is not available here")
        made.append((path, mode))
        with pytest.raises(PermissionError):
            os.close(os.open(path / "probe", os.O_WRONLY | os.O_CREAT))

    yield make
    for path, mode in made:
        if os.geteuid() == 0:
            subprocess.run(["chattr", "-i", str(path)], check=True)
        path.chmod(mode)
