"""Progress on a terminal for long commands (import, export, check), silent elsewhere.

Commands report progress per batch, never per record: :func:`progress` yields an
``advance(n)`` callable that costs one attribute update when nothing is shown.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator

__all__ = ["Advance", "progress"]

Advance = Callable[[int], None]
"""Called with how many more units (records, conversations …) are done."""


def _noop(_n: int) -> None:
    return None


@contextlib.contextmanager
def progress(description: str, *, unit: str, quiet: bool = False) -> Iterator[Advance]:
    """A rich progress line on stderr while the block runs, when stderr is a terminal.

    In a pipe, under CI logs or with ``quiet`` nothing is printed and ``advance`` does
    nothing. The line is removed when the block ends (the command prints its summary).
    """
    if quiet or not sys.stderr.isatty():
        yield _noop
        return
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    bar = Progress(
        SpinnerColumn(),
        TextColumn(description),
        TextColumn("{task.completed:,} " + unit),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    with bar:
        task = bar.add_task(description, total=None)

        def advance(n: int) -> None:
            bar.advance(task, n)

        yield advance
