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

import attrs
import click

from ._cli import CliState, cli, pass_state
from ._errors import ConfigError
from ._io._csv import import_csv, load_mapping
from ._io._importer import ImportResult
from ._io._jsonl import export_jsonl, import_jsonl
from ._plugins import open_store
from ._timeutil import format_datetime


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


@cli.command("demo")
@click.option("--conversations", default=400, show_default=True, type=click.IntRange(1, 200_000))
@click.option("--seed", default=2024, show_default=True, type=int)
@click.option(
    "--keep",
    "keep_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Keep the store and policy in this directory instead of a temporary one.",
)
@click.option(
    "--format", "fmt", default="table", show_default=True, help="Report format (as for check)."
)
@click.option(
    "--show",
    default=12,
    show_default=True,
    type=click.IntRange(0),
    help="How many breached or at-risk findings to list.",
)
@pass_state
def demo_command(
    state: CliState, conversations: int, seed: int, keep_dir: Path | None, fmt: str, show: int
) -> None:
    """Generate a realistic support history, check five commitments on it, report.

    The history lives in a temporary SQLite store (kept with --keep DIR): customer
    threads on three channels over 90 days, response times shaped like a real support
    queue, some complaints, some threads never answered, a team in which people left.
    """
    from ._demo import run_demo
    from ._policy._run import check

    reporter = state.plugins.reporters.get(fmt)
    if reporter is None:
        known = ", ".join(state.plugins.reporters.names())
        raise click.BadParameter(f"unknown format {fmt!r} (known: {known})", param_hint="--format")
    with contextlib.ExitStack() as stack:
        if keep_dir is None:
            directory = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="convokit-")))
        else:
            directory = keep_dir
        result = run_demo(directory, conversations=conversations, seed=seed)
        counts = result.counts
        state.echo(
            f"Generated {counts['conversations']:,} conversations, {counts['messages']:,} "
            f"messages, {counts['channels']} channels and {counts['team_members']} team "
            f"members into {result.store_url}",
            err=True,
        )
        state.echo(
            f"Checking the commitments of {result.policy_path} as of "
            f"{format_datetime(result.as_of)}, the end of that history …\n",
            err=True,
        )
        store = open_store(result.store_url)
        try:
            report = check(
                store, result.policy_path, as_of=result.as_of, only={"breached", "at_risk"}
            )
        finally:
            store.close()
        shown = attrs.evolve(report, findings=list(report.findings[:show]))
        reporter.value(shown, sys.stdout)
        sys.stdout.flush()
        hidden = len(report.findings) - len(shown.findings)
        if hidden > 0:
            state.echo(
                f"… and {hidden} more breached or at-risk findings (--show N, or keep the "
                "store with --keep DIR and run convokit check --format json).",
                err=True,
            )
    if keep_dir is not None:
        state.echo(
            f"\nExplore it: convokit --store {result.store_url} check --policy "
            f"{result.policy_path}",
            err=True,
        )
    state.echo(
        "\nYour own data: convokit init, then convokit import FILE (JSONL or CSV) or "
        "convokit sync, then convokit check. See docs/index.md.",
        err=True,
    )


@cli.command("init")
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
@click.argument(
    "path", required=False, default="convokit.toml", type=click.Path(dir_okay=False, path_type=Path)
)
@pass_state
def init_command(state: CliState, force: bool, path: Path) -> None:
    """Write a starter convokit.toml (store, source and team examples, a policy)."""
    from ._demo import write_starter_config

    if path.exists() and not force:
        raise ConfigError(f"{path} already exists; use --force to overwrite it")
    with _atomic_output(str(path)) as stream:
        write_starter_config(stream)
    state.echo(f"Wrote {path}. Edit it, then: convokit import FILE, convokit check.")
