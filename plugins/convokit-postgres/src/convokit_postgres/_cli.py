"""``convokit postgres migrate`` and ``convokit postgres status``.

Both act on the store selected by the global ``--store`` option (or ``CONVOKIT_STORE``,
or ``store`` in ``convokit.toml``), which must be a ``postgresql://`` URL.
"""

from __future__ import annotations

import json

import click

from convokit_core._cli import CliState, pass_state
from convokit_core._errors import ConfigError

__all__ = ["postgres"]


def _postgres_url(state: CliState) -> str:
    url = state.store_url
    if url.partition(":")[0].lower() not in ("postgresql", "postgres"):
        raise ConfigError(
            f"`convokit postgres` needs a postgresql:// store, but the store is {url!r}; "
            "pass --store postgresql://user@host/dbname or set CONVOKIT_STORE"
        )
    return url


@click.group()
def postgres() -> None:
    """Manage a PostgreSQL store (convokit-postgres)."""


@postgres.command()
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@pass_state
def migrate(state: CliState, fmt: str) -> None:
    """Apply pending schema migrations to the --store database.

    Stores migrate on first use unless their URL says auto_migrate=false; run this in a
    deployment step when workers should never change the schema themselves. Safe to
    run repeatedly and concurrently.
    """
    from ._store import migrate as run_migrations

    report = run_migrations(_postgres_url(state))
    if fmt == "json":
        payload = {
            "store": report.url,
            "before": report.before,
            "after": report.after,
            "applied": [
                {"version": m.version, "description": m.description} for m in report.applied
            ],
        }
        click.echo(json.dumps(payload))
        return
    for step in report.applied:
        state.echo(f"applied migration {step.version}: {step.description}")
    if report.applied:
        state.echo(f"{report.url}: schema version {report.before} -> {report.after}")
    else:
        state.echo(f"{report.url}: schema is up to date (version {report.after})")


@postgres.command()
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@pass_state
def status(state: CliState, fmt: str) -> None:
    """Show the schema version of the --store database and whether migrations are pending.

    Exits with 1 when migrations are pending (the store is not touched).
    """
    from ._schema import SCHEMA_VERSION
    from ._store import schema_version

    url = _postgres_url(state)
    found = schema_version(url)
    pending = max(SCHEMA_VERSION - found, 0)
    if fmt == "json":
        click.echo(
            json.dumps({"schema_version": found, "expected": SCHEMA_VERSION, "pending": pending})
        )
    else:
        state.echo(
            f"schema version {found} (this release: {SCHEMA_VERSION}); "
            + (f"{pending} migration(s) pending" if pending else "up to date")
        )
    if pending:
        raise click.exceptions.Exit(1)
