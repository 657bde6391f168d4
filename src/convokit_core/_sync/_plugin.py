"""Built-in plugin adding ``convokit sync [--source NAME] [--status]``."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import click
from rich.console import Console

from convokit_core._cli import CliState
from convokit_core._timeutil import format_datetime
from convokit_core.hookspecs import hookimpl

from ._config import load_sources, load_team, select_sources
from ._engine import DEFAULT_CONCURRENCY, SourceResult, SyncObserver, run_sync

__all__ = ["register_commands"]


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _summary(result: SourceResult) -> str:
    took = f"{result.duration:.1f}s"
    done = f"{_plural(result.pages, 'page')}, {_plural(result.records, 'record')} in {took}"
    return f"{result.source}: {done}" if result.ok else f"{result.source}: FAILED after {done}"


class LineObserver:
    """Plain log lines on stderr (not a terminal)."""

    def source_started(self, source: str, platform: str) -> None:
        click.echo(f"{source}: syncing ({platform})", err=True)

    def page_written(self, source: str, pages: int, records: int) -> None:
        click.echo(
            f"{source}: page {pages} written ({_plural(records, 'record')} so far)", err=True
        )

    def source_finished(self, result: SourceResult) -> None:
        click.echo(_summary(result), err=True)


class RichObserver:
    """One progress line per source on a terminal."""

    def __init__(self, console: Console | None = None) -> None:
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.fields[source]}"),
            TextColumn("{task.fields[detail]}"),
            TimeElapsedColumn(),
            console=console or Console(stderr=True),
            transient=False,
        )
        self._tasks: dict[str, Any] = {}

    @contextmanager
    def running(self) -> Iterator[None]:
        with self._progress:
            yield

    def source_started(self, source: str, platform: str) -> None:
        self._tasks[source] = self._progress.add_task(
            source, total=None, source=source, detail=f"{platform}: starting"
        )

    def page_written(self, source: str, pages: int, records: int) -> None:
        self._progress.update(
            self._tasks[source],
            detail=f"{_plural(pages, 'page')}, {_plural(records, 'record')}",
            advance=1,
        )

    def source_finished(self, result: SourceResult) -> None:
        task = self._tasks[result.source]
        state = "done" if result.ok else "[red]failed"
        self._progress.update(
            task,
            detail=f"{state}: {_plural(result.pages, 'page')}, {_plural(result.records, 'record')}",
            total=1,
            completed=1,
        )


def _stderr_is_terminal() -> bool:
    return sys.stderr.isatty()


def _show_status(state: CliState, sources: Sequence[str], limit: int) -> None:
    store = state.open_store()
    wanted = set(sources)
    shown: dict[str, int] = {}
    rows = []
    try:
        for run in store.iter_sync_runs():  # newest first
            if wanted and run.source not in wanted:
                continue
            if shown.get(run.source, 0) < limit:
                shown[run.source] = shown.get(run.source, 0) + 1
                rows.append(run)
    finally:
        store.close()
    if not rows:
        click.echo("no sync runs recorded yet")
        return
    width = max(len(r.source) for r in rows)
    click.echo(
        f"{'source':<{width}}  {'started':<20}  {'took':>7}  {'pages':>5}  {'records':>7}  result"
    )
    for run in rows:
        took = (run.finished_at - run.started_at).total_seconds()
        result = "ok" if run.ok else f"failed: {run.error}"
        click.echo(
            f"{run.source:<{width}}  {format_datetime(run.started_at.replace(microsecond=0)):<20}"
            f"  {took:>6.1f}s  {run.pages:>5}  {run.records:>7}  {result}"
        )


@hookimpl
def register_commands(cli: click.Group) -> None:
    @cli.command("sync")
    @click.option(
        "--source",
        "sources",
        multiple=True,
        metavar="NAME",
        help="Sync only this [[source]] (repeatable) [default: all].",
    )
    @click.option("--status", is_flag=True, help="Show the recorded sync runs instead.")
    @click.option(
        "--limit",
        type=click.IntRange(min=1),
        default=20,
        show_default=True,
        help="With --status: runs shown per source.",
    )
    @click.option(
        "--concurrency",
        type=click.IntRange(min=1),
        default=DEFAULT_CONCURRENCY,
        show_default=True,
        help="Sources synced at the same time.",
    )
    @click.pass_context
    def sync(
        ctx: click.Context,
        sources: tuple[str, ...],
        status: bool,
        limit: int,
        concurrency: int,
    ) -> None:
        """Fetch new conversations from every configured [[source]] into the store.

        Each page is committed with its cursor, so an interrupted sync resumes where it
        stopped. Exits 1 naming each source that failed; the others still sync.
        """
        state = ctx.find_object(CliState)
        assert state is not None, "convokit sync runs under the convokit group"
        if status:
            _show_status(state, sources, limit)
            return
        specs = select_sources(load_sources(state.config, state.plugins), sources)
        team = load_team(state.config)
        if not specs:
            state.echo("no [[source]] configured in convokit.toml; nothing to sync", err=True)
            return
        observer: SyncObserver | None
        rich_observer: RichObserver | None = None
        if state.quiet:
            observer = None
        elif _stderr_is_terminal():
            observer = rich_observer = RichObserver()
        else:
            observer = LineObserver()
        store = state.open_store()
        try:

            async def go() -> Any:
                return await run_sync(
                    specs, store, team=team, concurrency=concurrency, observer=observer
                )

            if rich_observer is not None:
                with rich_observer.running():
                    report = asyncio.run(go())
            else:
                report = asyncio.run(go())
        finally:
            store.close()
        if not report.ok:
            for result in report.failed:
                click.echo(f"Error: source {result.source!r} failed: {result.error}", err=True)
            ctx.exit(1)
