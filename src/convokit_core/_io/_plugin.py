"""Built-in plugin: the ``jsonl``, ``csv``, ``convokit-corpus`` and ``parquet`` import formats
(registered through ``register_importers``, like a plugin's), ``convokit import`` and
``convokit export``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click

from .._cancel import checkpointed
from .._cli import CliState, pass_state
from .._errors import ConfigError
from .._output import atomic_output
from .._plugins import get_plugin_manager
from .._progress import progress
from ..hookspecs import hookimpl
from ..protocols import StorageBackend
from ._corpus import CORPUS_OPTIONS, read_convokit_corpus
from ._csv import load_mapping, read_csv
from ._importer import ImportResult, ObjectBlock, import_records
from ._jsonl import export_jsonl, read_jsonl_blocks
from ._source import ImportSource

__all__ = ["default_format", "import_with", "register_commands", "register_importers"]


def _no_options(source: ImportSource, fmt: str, allowed: tuple[str, ...] = ()) -> None:
    unknown = sorted(set(source.options) - set(allowed))
    if unknown:
        known = f" (known: {', '.join(allowed)})" if allowed else ""
        raise ConfigError(f"--format {fmt} takes no option {unknown[0]!r}{known}")


def _jsonl(source: ImportSource) -> Iterator[tuple[int, Any]]:
    _no_options(source, "jsonl")
    with source.open_text() as stream:
        yield from read_jsonl_blocks(stream, source=source.name)


def _csv(source: ImportSource) -> Iterator[tuple[int, Any]]:
    _no_options(source, "csv", ("mapping",))
    mapping_path = source.options.get("mapping")
    if mapping_path is None:
        raise ConfigError("--format csv needs --mapping FILE (see docs/import-export.md)")
    mapping = load_mapping(Path(mapping_path))
    with source.open_text(newline="") as stream:
        yield from read_csv(stream, mapping, source=source.name)


def _corpus(source: ImportSource) -> Iterator[tuple[int, Any]]:
    directory = source.require_path("a ConvoKit corpus directory")
    return read_convokit_corpus(directory, source.options)


def _parquet(source: ImportSource) -> Iterator[tuple[Any, Any]]:
    from ._parquet import read_parquet  # pyarrow is imported only when used

    _no_options(source, "parquet")
    return read_parquet(source.require_path("a Parquet dataset directory"))


#: The manifest of a Parquet dataset (``_parquet.MANIFEST``, without importing pyarrow).
_MANIFEST = "convokit-dataset.json"


@hookimpl
def register_importers(register: Callable[..., None]) -> None:
    register("jsonl", _jsonl, description="the JSONL interchange format (default)")
    register("csv", _csv, description="CSV through a column mapping (--mapping FILE)")
    register(
        "convokit-corpus",
        _corpus,
        description="a ConvoKit corpus directory (utterances.jsonl, speakers.json); "
        f"options: {', '.join(CORPUS_OPTIONS)}",
    )
    register(
        "parquet",
        _parquet,
        description="a Parquet dataset directory (convokit export --format parquet)",
    )


def default_format(argument: str) -> str:
    """``csv`` for ``*.csv``, ``convokit-corpus`` for a corpus directory, ``parquet`` for
    a Parquet dataset directory, else ``jsonl``."""
    if argument.lower().endswith(".csv"):
        return "csv"
    if argument != "-" and (Path(argument) / _MANIFEST).is_file():
        return "parquet"
    if argument != "-" and (Path(argument) / "utterances.jsonl").is_file():
        return "convokit-corpus"
    return "jsonl"


def _parse_options(pairs: tuple[str, ...]) -> dict[str, str]:
    options: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"expected KEY=VALUE, found {pair!r}", param_hint="--option")
        options[key.strip()] = value
    return options


def import_with(
    store: StorageBackend,
    source: ImportSource,
    fmt: str,
    *,
    skip_invalid: bool = False,
    plugins: Any = None,
    advance: Callable[[int], None] | None = None,
) -> ImportResult:
    """Import ``source`` through the importer registered as ``fmt`` (what ``convokit
    import`` and the async API both do). An unknown format is a PluginError naming the
    known ones."""
    importer = (plugins or get_plugin_manager()).importers[fmt]
    read: Callable[[ImportSource], Any] = importer.value
    items: Iterator[Any] = checkpointed(iter(read(source)))
    if advance is not None:
        items = _counted(items, advance)
    lenient = bool(importer.options.get("lenient", False))
    return import_records(store, items, source=source.name, skip_invalid=skip_invalid or lenient)


def _counted(items: Iterator[tuple[int, Any]], advance: Callable[[int], None]) -> Iterator[Any]:
    """``items``, telling ``advance`` of every 1,000 records read (a block of lines
    counts its records)."""
    unreported = 0
    for item in items:
        obj = item[1]
        unreported += len(obj) if type(obj) is ObjectBlock else 1
        if unreported >= 1000:
            advance(unreported)
            unreported = 0
        yield item


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
    @click.argument("file", metavar="FILE|DIR|-")
    @click.option(
        "--format",
        "fmt",
        metavar="FORMAT",
        help="Input format: jsonl, csv, convokit-corpus, parquet or a plugin's (convokit "
        "plugins lists them) [default: csv for *.csv, convokit-corpus for a corpus "
        "directory, parquet for a dataset directory, else jsonl].",
    )
    @click.option(
        "--mapping",
        type=click.Path(dir_okay=False, path_type=Path),
        help="CSV column mapping (TOML); required with --format csv.",
    )
    @click.option(
        "--option",
        "option_pairs",
        multiple=True,
        metavar="KEY=VALUE",
        help="An option of the format (repeatable), e.g. ours=agent1 for convokit-corpus.",
    )
    @click.option(
        "--skip-invalid", is_flag=True, help="Import the valid records; report the invalid ones."
    )
    @pass_state
    def import_command(
        state: CliState,
        file: str,
        fmt: str | None,
        mapping: Path | None,
        option_pairs: tuple[str, ...],
        skip_invalid: bool,
    ) -> None:
        """Load records from FILE (or a directory, or - for standard input) into the store.

        By default the whole input is validated first and nothing is written if any record
        is invalid; every bad record is reported with its line number and field.
        """
        fmt = fmt or default_format(file)
        importer = state.plugins.importers.get(fmt)
        if importer is None:
            known = ", ".join(state.plugins.importers.names())
            raise click.BadParameter(
                f"unknown format {fmt!r} (known: {known})", param_hint="--format"
            )
        options = _parse_options(option_pairs)
        if mapping is not None:
            if fmt != "csv":
                raise ConfigError("--mapping applies to --format csv only")
            options["mapping"] = str(mapping)
        source = ImportSource.of(file, options)
        store = state.open_store()
        try:
            with progress("Importing", unit="records", quiet=state.quiet) as advance:
                result = import_with(
                    store, source, fmt, skip_invalid=skip_invalid, plugins=state.plugins,
                    advance=advance,
                )  # fmt: skip
        finally:
            store.close()
        for error in result.skipped:
            click.echo(f"skipped: {error}", err=True)
        state.echo(f"Imported {_describe(result)} into {store.url}")
        if result.skipped:
            state.echo(f"Skipped {len(result.skipped)} invalid record(s).", err=True)

    @cli.command("export")
    @click.option(
        "--format",
        "fmt",
        type=click.Choice(["jsonl", "parquet"]),
        default="jsonl",
        show_default=True,
        help="jsonl: one file (or standard output); parquet: a dataset directory (-o DIR).",
    )
    @click.option(
        "-o",
        "--output",
        metavar="FILE|DIR",
        help="Write to FILE instead of standard output; with --format parquet, the new "
        "directory DIR (required; an existing non-empty directory is refused).",
    )
    @pass_state
    def export_command(state: CliState, fmt: str, output: str | None) -> None:
        """Write the whole store out (round-trip exact: export → import → export is stable)."""
        if fmt == "parquet" and output in (None, "-"):
            raise click.UsageError("--format parquet writes a directory: give -o DIR")
        store = state.open_store(create=False)
        try:
            with progress("Exporting", unit="records", quiet=state.quiet) as advance:
                if fmt == "parquet":
                    from ._parquet import export_parquet

                    assert output is not None
                    rows = export_parquet(store, output, advance=advance)
                    count = sum(rows.values())
                else:
                    with atomic_output(output) as stream:
                        count = export_jsonl(store, stream, advance=advance)
        finally:
            store.close()
        if output not in (None, "-"):
            state.echo(f"Exported {count} records to {output}", err=True)
