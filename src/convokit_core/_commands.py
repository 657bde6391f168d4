"""Built-in sub-commands: ``import``, ``export``, ``plugins``, ``store``."""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import click

from ._cli import CliState, cli, pass_state
from ._errors import ConfigError
from ._io._csv import import_csv, load_mapping
from ._io._importer import ImportResult
from ._io._jsonl import export_jsonl, import_jsonl


@contextlib.contextmanager
def _open_input(path: str, *, newline: str | None = None) -> Iterator[tuple[IO[str], str]]:
    if path == "-":
        stream = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", newline=newline)
        yield stream, "<stdin>"
        return
    try:
        handle = open(path, encoding="utf-8", newline=newline)  # noqa: SIM115
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, expected a file") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot open: {exc.strerror}") from None
    with handle:
        yield handle, path


def _describe(result: ImportResult) -> str:
    parts = [f"{n} {kind}{'' if n == 1 else 's'}" for kind, n in result.counts.items() if n]
    text = ", ".join(parts) if parts else "nothing"
    if result.derived_conversations:
        text += f" ({result.derived_conversations} conversations derived from reply chains)"
    return text


@cli.command("import")
@click.argument("file", metavar="FILE|-")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["jsonl", "csv"]),
    help="Input format [default: csv for *.csv, else jsonl].",
)
@click.option(
    "--mapping",
    type=click.Path(dir_okay=False, path_type=Path),
    help="CSV column mapping (TOML); required with --format csv.",
)
@click.option(
    "--skip-invalid", is_flag=True, help="Import the valid records; report the invalid ones."
)
@pass_state
def import_command(
    state: CliState, file: str, fmt: str | None, mapping: Path | None, skip_invalid: bool
) -> None:
    """Load records from FILE (or - for standard input) into the store.

    By default the whole input is validated first and nothing is written if any record
    is invalid; every bad record is reported with its line number and field.
    """
    fmt = fmt or ("csv" if file.lower().endswith(".csv") else "jsonl")
    if fmt == "csv" and mapping is None:
        raise ConfigError("--format csv needs --mapping FILE (see docs/import-export.md)")
    if fmt == "jsonl" and mapping is not None:
        raise ConfigError("--mapping applies to --format csv only")
    column_mapping = load_mapping(mapping) if mapping is not None else None
    store = state.open_store()
    try:
        with _open_input(file, newline="" if fmt == "csv" else None) as (stream, source):
            try:
                if column_mapping is not None:
                    result = import_csv(
                        store, stream, column_mapping, source=source, skip_invalid=skip_invalid
                    )
                else:
                    result = import_jsonl(store, stream, source=source, skip_invalid=skip_invalid)
            except UnicodeDecodeError as exc:
                raise ConfigError(f"{source}: not UTF-8 text ({exc.reason})") from None
    finally:
        store.close()
    for error in result.skipped:
        click.echo(f"skipped: {error}", err=True)
    state.echo(f"Imported {_describe(result)} into {store.url}")
    if result.skipped:
        state.echo(f"Skipped {len(result.skipped)} invalid record(s).", err=True)


@contextlib.contextmanager
def _atomic_output(path: str | None) -> Iterator[IO[str]]:
    """stdout, or a temporary file renamed over ``path`` only when all went well."""
    if path is None or path == "-":
        yield sys.stdout
        sys.stdout.flush()
        return
    target = Path(path)
    if not target.parent.exists():
        raise ConfigError(f"{path}: directory {str(target.parent)!r} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            yield handle
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@cli.command("export")
@click.option("--format", "fmt", type=click.Choice(["jsonl"]), default="jsonl", show_default=True)
@click.option("-o", "--output", metavar="FILE", help="Write to FILE instead of standard output.")
@pass_state
def export_command(state: CliState, fmt: str, output: str | None) -> None:
    """Write the whole store out (round-trip exact: export → import → export is stable)."""
    store = state.open_store()
    try:
        with _atomic_output(output) as stream:
            count = export_jsonl(store, stream)
    finally:
        store.close()
    if output not in (None, "-"):
        state.echo(f"Exported {count} records to {output}", err=True)


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
            "No third-party plugins installed." + ("" if show_all else " (--all shows built-ins)")
        )
    else:
        table = Table(show_header=True, header_style="bold")
        for column in ("name", "version", "hooks", "registers"):
            table.add_column(column)
        for i in infos:
            registers = "; ".join(f"{k}: {', '.join(v)}" for k, v in i.registered.items())
            table.add_row(
                i.name + (" (built-in)" if i.builtin else ""),
                i.version or "",
                ", ".join(i.hooks),
                registers,
            )
        console.print(table)
    for failure in manager.failures:
        click.echo(f"plugin {failure.name!r} failed to load: {failure.error}", err=True)


@cli.group("store")
def store_group() -> None:
    """Inspect and maintain the store."""


@store_group.command("info")
@pass_state
def store_info(state: CliState) -> None:
    """Show the store URL and how many records of each kind it holds."""
    store = state.open_store()
    try:
        counts = store.counts()
    finally:
        store.close()
    click.echo(store.url)
    for kind, n in counts.items():
        click.echo(f"  {kind:<15} {n}")
