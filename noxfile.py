"""Developer tasks: ``nox`` runs them all (tests, typecheck, lint, plugins)."""

from __future__ import annotations

from pathlib import Path

import nox
from nox.command import CommandFailed

nox.options.sessions = ["lint", "typecheck", "tests", "plugins"]
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = False

# Linters are pinned so a new release never turns main red on its own.
RUFF = "ruff==0.17.6"
MYPY = "mypy==2.4.1"

ROOT = Path(__file__).parent
PLUGINS = sorted(p for p in (ROOT / "plugins").iterdir() if (p / "pyproject.toml").exists())


@nox.session
def tests(session: nox.Session) -> None:
    """The core test suite."""
    session.install("-e", ".[test]")
    session.run("pytest", "-q", *session.posargs)


@nox.session
def typecheck(session: nox.Session) -> None:
    """``mypy --strict`` over src/ and every plugins/*/src."""
    session.install(MYPY, "-e", ".[test]", *[arg for p in PLUGINS for arg in ("-e", str(p))])
    session.run("mypy", "--strict", "src", *[str(p / "src") for p in PLUGINS])


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check."""
    session.install(RUFF)
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def plugins(session: nox.Session) -> None:
    """Install each distribution under plugins/ and run its tests."""
    session.install("-e", ".[test]")
    for plugin in PLUGINS:
        session.install("-e", f"{plugin}[test]" if _has_test_extra(plugin) else str(plugin))
    # Every plugin's tests run even when an earlier plugin's fail; all failures are named.
    failed = []
    for plugin in PLUGINS:
        if (plugin / "tests").is_dir():
            try:
                session.run("pytest", "-q", str(plugin / "tests"), *session.posargs)
            except CommandFailed:
                failed.append(plugin.name)
    if failed:
        session.error(f"tests failed in {len(failed)} plugin(s): {', '.join(failed)}")


def _has_test_extra(plugin: Path) -> bool:
    import tomllib

    data = tomllib.loads((plugin / "pyproject.toml").read_text(encoding="utf-8"))
    return "test" in data.get("project", {}).get("optional-dependencies", {})
