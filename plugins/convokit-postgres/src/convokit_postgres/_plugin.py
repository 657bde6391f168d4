"""The hooks convokit calls: the storage schemes and the ``migrate`` command.

This module is the ``convokit`` entry point; it imports psycopg only when a store is
opened or a command runs.
"""

from __future__ import annotations

from typing import Any

import click

from convokit_core.hookspecs import hookimpl

__all__ = ["open_store", "register_commands", "register_storage"]


def open_store(url: str, *, create: bool = True) -> Any:
    """Open the :class:`~convokit_postgres.PostgresStore` at ``url`` (``create=False``:
    a database without the convokit schema is a missing store, see the class)."""
    from ._store import PostgresStore

    return PostgresStore(url, create=create)


@hookimpl
def register_storage(register: Any) -> None:
    """Register ``postgresql:`` and its libpq alias ``postgres:``."""
    description = "PostgreSQL database shared by many workers (convokit-postgres)"
    register("postgresql", open_store, description=description)
    register("postgres", open_store, description=description + "; alias of postgresql:")


@hookimpl
def register_commands(cli: click.Group) -> None:
    """Add ``migrate`` to the core's ``convokit store`` group (or, without that group,
    add ``convokit postgres migrate``)."""
    from ._cli import migrate_command, postgres_group

    store = cli.commands.get("store")
    if isinstance(store, click.Group):
        if "migrate" not in store.commands:
            store.add_command(migrate_command)
    elif "postgres" not in cli.commands:
        cli.add_command(postgres_group)
