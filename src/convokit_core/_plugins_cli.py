"""Built-in plugin adding ``convokit plugins``: what is installed and what it registered."""

from __future__ import annotations

import json
import sys

import click

from ._cli import CliState, pass_state
from .hookspecs import hookimpl

__all__ = ["register_commands"]


@hookimpl
def register_commands(cli: click.Group) -> None:
    @cli.command("plugins")
    @click.option("--all", "show_all", is_flag=True, help="Include the built-in plugins.")
    @click.option(
        "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True
    )
    @pass_state
    def plugins_command(state: CliState, show_all: bool, fmt: str) -> None:
        """List installed plugins: name, version, hooks, and what each registered."""
        manager = state.plugins
        infos = manager.plugin_infos(include_builtins=show_all)
        if fmt == "json":
            payload = {
                "plugins": [
                    {
                        "name": i.name,
                        "version": i.version,
                        "builtin": i.builtin,
                        "hooks": list(i.hooks),
                        "registered": {k: list(v) for k, v in i.registered.items()},
                        "columnar_rules": list(i.columnar_rules),
                    }
                    for i in infos
                ],
                "failed": [{"name": f.name, "error": f.error} for f in manager.failures],
            }
            click.echo(json.dumps(payload, indent=2))
            return
        from rich.console import Console
        from rich.table import Table

        console = Console(width=None if sys.stdout.isatty() else 160)
        if not infos:
            console.print(
                "No third-party plugins installed."
                + ("" if show_all else " (--all shows built-ins)")
            )
        else:
            table = Table(show_header=True, header_style="bold")
            for column in ("name", "version", "hooks", "registers"):
                table.add_column(column)
            for i in infos:
                registers = "; ".join(
                    f"{k}: {', '.join(v)}"
                    + (_columnar_note(v, i.columnar_rules) if k == "rules" else "")
                    for k, v in i.registered.items()
                )
                table.add_row(
                    i.name + (" (built-in)" if i.builtin else ""),
                    i.version or "",
                    ", ".join(i.hooks),
                    registers,
                )
            console.print(table)
        for failure in manager.failures:
            click.echo(f"plugin {failure.name!r} failed to load: {failure.error}", err=True)


def _columnar_note(rules: tuple[str, ...], columnar: tuple[str, ...]) -> str:
    """Which of a plugin's rules the columnar engine runs (the rest run in Python)."""
    if not columnar:
        return " (none columnar)"
    if len(columnar) == len(rules):
        return " (all columnar)"
    return f" (columnar: {', '.join(columnar)})"
