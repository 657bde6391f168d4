"""A fresh virtual environment with convokit-core installed from its built wheel."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import attrs
import pytest

REPO = Path(__file__).resolve().parents[2]
# What the core needs, what the kits need, and the type checker the project pins.
# The core's own dependencies, as its pyproject.toml names them (so this list never
# drifts), plus what the generated plugin's tests run with.
DEPENDENCIES = (
    *tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"][
        "dependencies"
    ],
    "pytest",
    "respx",
)
TOOLS = ("mypy==2.4.1", "hatchling", "editables")
_OFFLINE = ("No matching distribution", "Could not find a version", "NewConnectionError")


@attrs.frozen(kw_only=True)
class FreshVenv:
    """A venv outside the repo holding the core's wheel (not the checkout)."""

    root: Path
    wheel: Path

    def bin(self, name: str) -> Path:
        return self.root / ("Scripts" if os.name == "nt" else "bin") / name

    def run(self, *args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        return subprocess.run(
            [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, check=False
        )


def _pip(venv: FreshVenv, *args: str | Path, cwd: Path) -> None:
    done = venv.run(venv.bin("python"), "-m", "pip", "install", "-q", *args, cwd=cwd)
    if done.returncode != 0:
        if any(marker in done.stderr for marker in _OFFLINE):
            pytest.skip(f"pip cannot reach the package index: {done.stderr.strip()[-300:]}")
        raise AssertionError(f"pip install {args} failed:\n{done.stdout}\n{done.stderr}")


@pytest.fixture(scope="session")
def fresh_venv(tmp_path_factory: pytest.TempPathFactory) -> FreshVenv:
    base = tmp_path_factory.mktemp("fresh-venv")
    wheels = base / "wheels"
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels), str(REPO)],
        capture_output=True,
        text=True,
        check=False,
    )
    if built.returncode != 0 and any(m in built.stderr for m in _OFFLINE):
        pytest.skip(f"pip cannot reach the package index to build: {built.stderr[-300:]}")
    assert built.returncode == 0, built.stderr
    (wheel,) = wheels.glob("convokit_core-*.whl")
    subprocess.run([sys.executable, "-m", "venv", str(base / "venv")], check=True)
    venv = FreshVenv(root=base / "venv", wheel=wheel)
    _pip(venv, "--no-deps", wheel, cwd=base)
    _pip(venv, *DEPENDENCIES, *TOOLS, cwd=base)
    return venv


def wheel_names(wheel: Path) -> set[str]:
    with zipfile.ZipFile(wheel) as archive:
        return set(archive.namelist())
