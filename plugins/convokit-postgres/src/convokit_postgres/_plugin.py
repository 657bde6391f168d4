"""The hooks convokit calls: the storage schemes and the ``convokit postgres`` commands.

This module is the ``convokit`` entry point; it imports psycopg only when a store is
opened or a command runs.
"""

from __future__ import annotations

from typing import Any

import click

from convokit_core.hookspecs import hookimpl

__all__ = ["register_commands", "register_storage"]


def open_store(url: str) -> Any:
    """Open the :class:`~convokit_postgres.PostgresStore` at ``url``."""
    from ._store import PostgresStore

    return PostgresStore(url)


@hookimpl
def register_storage(register: Any) -> None:
    """Register ``postgresql:`` and its libpq alias ``postgres:``."""
    description = "PostgreSQL database shared by many workers (convokit-postgres)"
    register("postgresql", open_store, description=description)
    register("postgres", open_store, description=description + "; alias of postgresql:")


@hookimpl
def register_commands(cli: click.Group) -> None:
    """Add the ``convokit postgres`` group (``migrate``, ``status``)."""
    from ._cli import postgres

    if "postgres" not in cli.commands:
        cli.add_command(postgres)
