"""Built-in plugin adding ``convokit new-plugin NAME [--dir DIR]``."""

from __future__ import annotations

from pathlib import Path

import click

from convokit_core.hookspecs import hookimpl

from . import generate

__all__ = ["register_commands"]


@hookimpl
def register_commands(cli: click.Group) -> None:
    @cli.command("new-plugin")
    @click.argument("name")
    @click.option(
        "--dir",
        "directory",
        type=click.Path(file_okay=True, dir_okay=True, path_type=Path),
        help="Folder to create [default: ./convokit-NAME]; it must not exist.",
    )
    def new_plugin(name: str, directory: Path | None) -> None:
        """Create the platform plugin distribution convokit-NAME from the template.

        NAME is the platform name (lowercase letters, digits, _). The plugin registers
        ``platform = "NAME"`` through its entry point and passes its own tests right
        away: pip install -e 'DIR[test]' && pytest DIR.
        """
        target = generate(name, directory)
        click.echo(f"created {target}/ (distribution convokit-{name}, package convokit_{name})")
        click.echo(f"next: pip install -e '{target}[test]' && pytest {target}")
