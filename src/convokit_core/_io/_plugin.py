"""Built-in plugin adding ``convokit import`` and ``convokit export``."""

from __future__ import annotations

import contextlib
import io
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import click

from .._cli import CliState, pass_state
from .._errors import ConfigError
from .._output import atomic_output
from ..hookspecs import hookimpl
from ._csv import import_csv, load_mapping
from ._importer import ImportResult
from ._jsonl import export_jsonl, import_jsonl

__all__ = ["register_commands"]


@contextlib.contextmanager
def _open_input(path: str, *, newline: str | None = None) -> Iterator[tuple[IO[str], str]]:
    if path == "-":
        stream = io.TextIOWrapper(
            sys.stdin.buffer, encoding="utf-8", errors="surrogateescape", newline=newline
        )
        yield stream, "<stdin>"
        return
    try:
        # Undecodable bytes become lone surrogates, which the readers report per line
        # (and --skip-invalid skips) instead of aborting the whole input.
        handle = open(path, encoding="utf-8", errors="surrogateescape", newline=newline)  # noqa: SIM115
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, expected a file") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot open: {exc.strerror}") from None
    with handle:
        yield handle, path


_PLURALS = {
    "message": "messages",
    "conversation": "conversations",
    "status": "status changes",
    "stakeholder": "stakeholders",
    "channel": "channels",
    "team_member": "team members",
}


def _describe(result: ImportResult) -> str:
    parts = [
        f"{n} {kind.replace('_', ' ') if n == 1 else _PLURALS[kind]}"
        for kind, n in result.counts.items()
        if n
    ]
    text = ", ".join(parts) if parts else "nothing"
    if result.derived_conversations:
        text += f" ({result.derived_conversations} conversations derived from reply chains)"
    return text


@hookimpl
def register_commands(cli: click.Group) -> None:
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
                        result = import_jsonl(
                            store, stream, source=source, skip_invalid=skip_invalid
                        )
                except UnicodeDecodeError as exc:
                    raise ConfigError(f"{source}: not UTF-8 text ({exc.reason})") from None
        finally:
            store.close()
        for error in result.skipped:
            click.echo(f"skipped: {error}", err=True)
        state.echo(f"Imported {_describe(result)} into {store.url}")
        if result.skipped:
            state.echo(f"Skipped {len(result.skipped)} invalid record(s).", err=True)

    @cli.command("export")
    @click.option(
        "--format", "fmt", type=click.Choice(["jsonl"]), default="jsonl", show_default=True
    )
    @click.option(
        "-o", "--output", metavar="FILE", help="Write to FILE instead of standard output."
    )
    @pass_state
    def export_command(state: CliState, fmt: str, output: str | None) -> None:
        """Write the whole store out (round-trip exact: export → import → export is stable)."""
        store = state.open_store(create=False)
        try:
            with atomic_output(output) as stream:
                count = export_jsonl(store, stream)
        finally:
            store.close()
        if output not in (None, "-"):
            state.echo(f"Exported {count} records to {output}", err=True)
