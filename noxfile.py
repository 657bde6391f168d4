"""Developer tasks: ``nox`` runs them all (tests, typecheck, lint, plugins)."""

from __future__ import annotations

from pathlib import Path

import nox
from nox.command import CommandFailed

nox.options.sessions = ["lint", "typecheck", "tests", "plugins", "docs"]
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = False

# Linters are pinned so a new release never turns main red on its own.
RUFF = "ruff==0.17.6"
MYPY = "mypy==2.4.1"
DOCS = (
    "mkdocs==1.6.1",
    "mkdocs-material==9.8.2",
    "mkdocstrings==1.0.8",
    "mkdocstrings-python==2.0.11",
    RUFF,  # formats the signatures in the API reference
)

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


@nox.session
def docs(session: nox.Session) -> None:
    """Build the documentation site into site/ (``mkdocs build --strict``): a broken link,
    a missing page or a docstring that does not match its signature fails the build.

    ``nox -s docs -- serve`` serves it on http://127.0.0.1:8000 instead.
    """
    session.install(*DOCS, "-e", ".")
    session.env["NO_MKDOCS_2_WARNING"] = "1"
    if session.posargs[:1] == ["serve"]:
        session.run("mkdocs", "serve", "--strict", *session.posargs[1:])
    else:
        session.run("mkdocs", "build", "--strict", *session.posargs)


def _has_test_extra(plugin: Path) -> bool:
    import tomllib

    data = tomllib.loads((plugin / "pyproject.toml").read_text(encoding="utf-8"))
    return "test" in data.get("project", {}).get("optional-dependencies", {})
