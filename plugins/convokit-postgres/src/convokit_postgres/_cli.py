"""``convokit store migrate``: apply pending PostgreSQL schema migrations explicitly.

The command joins the core's ``convokit store`` group; should a convokit-core without
that group load the plugin, it is offered as ``convokit postgres migrate`` instead. It
acts on the store selected by the global ``--store`` option (or ``CONVOKIT_STORE``, or
``store`` in ``convokit.toml``).
"""

from __future__ import annotations

import json

import click

from convokit_core._cli import CliState, pass_state

__all__ = ["migrate_command", "postgres_group"]


def _is_postgres(url: str) -> bool:
    return url.partition(":")[0].lower() in ("postgresql", "postgres")


@click.command("migrate")
@click.option(
    "--check",
    is_flag=True,
    help="Change nothing; exit with 1 if migrations are pending.",
)
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@pass_state
def migrate_command(state: CliState, check: bool, fmt: str) -> None:
    """Apply pending schema migrations to the --store database.

    PostgreSQL stores migrate on first use unless their URL says auto_migrate=false; run
    this in a deployment step when workers must never change the schema themselves. It
    is safe to run repeatedly and from several places at once. Other stores migrate when
    they are opened, which this command does.
    """
    url = state.store_url
    if not _is_postgres(url):
        if check:
            raise click.UsageError("--check applies to postgresql:// stores only")
        store = state.open_store()
        store.close()
        _emit(state, fmt, {"store": store.url, "applied": []}, f"{store.url}: up to date")
        return

    from convokit_core._storage._common import redact_url

    from ._schema import SCHEMA_VERSION
    from ._store import migrate, schema_version

    if check:
        found = schema_version(url)
        pending = max(SCHEMA_VERSION - found, 0)
        text = f"{redact_url(url)}: schema version {found}, this release needs {SCHEMA_VERSION}"
        text += f"; {pending} migration(s) pending" if pending else "; up to date"
        payload = {
            "store": redact_url(url),
            "schema_version": found,
            "expected": SCHEMA_VERSION,
            "pending": pending,
        }
        _emit(state, fmt, payload, text)
        if pending:
            raise click.exceptions.Exit(1)
        return

    report = migrate(url)
    lines = [f"applied migration {m.version}: {m.description}" for m in report.applied]
    if report.applied:
        lines.append(f"{report.url}: schema version {report.before} -> {report.after}")
    else:
        lines.append(f"{report.url}: schema is up to date (version {report.after})")
    payload = {
        "store": report.url,
        "before": report.before,
        "after": report.after,
        "applied": [{"version": m.version, "description": m.description} for m in report.applied],
    }
    _emit(state, fmt, payload, "\n".join(lines))


def _emit(state: CliState, fmt: str, payload: dict[str, object], text: str) -> None:
    if fmt == "json":
        click.echo(json.dumps(payload))
    else:
        state.echo(text)


@click.group("postgres")
def postgres_group() -> None:
    """Maintain a PostgreSQL store (convokit-postgres)."""


postgres_group.add_command(migrate_command)
