"""Built-in plugin adding the ``convokit store`` group and ``convokit store info``.

Registered first (``tryfirst``) so that backend plugins can add their own sub-commands to
the group (``convokit store migrate`` from convokit-postgres).
"""

from __future__ import annotations

import click

from .._cli import CliState, pass_state
from ..hookspecs import hookimpl

__all__ = ["register_commands"]


@hookimpl(tryfirst=True)
def register_commands(cli: click.Group) -> None:
    @cli.group("store")
    def store_group() -> None:
        """Inspect and maintain the store."""

    @store_group.command("info")
    @pass_state
    def store_info(state: CliState) -> None:
        """Show the store URL and how many records of each kind it holds (a store that
        does not exist is an error: this command never creates one)."""
        store = state.open_store(create=False)
        try:
            counts = store.counts()
        finally:
            store.close()
        click.echo(store.url)
        for kind, n in counts.items():
            click.echo(f"  {kind:<15} {n}")
