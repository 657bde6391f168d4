"""The text rich renders for a simple table, written without rich's per-cell machinery.

``rich`` lays out every cell as a renderable (measure, wrap, pad, crop, shape): about a
millisecond a row, which made a 1,000-row findings table cost as much as checking a
million messages. When nothing needs styling (the console writes no ANSI codes, as for
a file or a pipe) and every cell fits on one line at the column's natural width, the
result is fully determined by cell widths, so this module writes it directly. In any
other case it returns ``None`` and rich renders the table as before. The output is
equal to rich's byte for byte (tests/output/test_plain_table.py compares them over
generated tables).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["plain_table"]

Justify = Literal["left", "right"]
#: Characters a one-line cell must not hold: rich would break lines or expand tabs.
_BREAKS = frozenset("\n\r\t\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")


def _simple(text: str) -> bool:
    """Whether rich lays ``text`` out as one line whose every character takes at least
    one cell (rich drops or merges zero-width ones). Printable ASCII always does."""
    from rich.cells import get_character_cell_size

    if text.isascii():
        return text.isprintable()
    return _BREAKS.isdisjoint(text) and all(get_character_cell_size(c) for c in text)


def plain_table(
    console: Console,
    title: str,
    columns: Sequence[tuple[str, Justify]],
    rows: Sequence[Sequence[str]],
) -> str | None:
    """What ``console.print(Table(title=title, title_justify="left"))`` with these
    columns (heavy-head box, header shown, padding one each side) and plain-text rows
    writes, or ``None`` when this shortcut does not apply: the console styles its
    output, substitutes ASCII boxes, or a cell, the header or the title does not fit
    on one line at its natural width."""
    from rich.box import HEAVY_HEAD
    from rich.cells import cell_len

    options = console.options
    if console.color_system is not None or options.ascii_only or console.legacy_windows:
        return None
    header = [name for name, _ in columns]
    header_lengths = [cell_len(name) for name in header]
    sizes = list(header_lengths)
    lengths: list[list[int]] = []
    for row in rows:
        if len(row) != len(columns):
            return None
        row_lengths = []
        for i, cell in enumerate(row):
            if not _simple(cell):
                return None
            n = cell_len(cell)
            row_lengths.append(n)
            if n > sizes[i]:
                sizes[i] = n
        lengths.append(row_lengths)
    if not all(_simple(text) for text in (title, *header)):
        return None
    widths = [size + 2 for size in sizes]
    table_width = sum(widths) + len(widths) + 1
    title_length = cell_len(title)
    if table_width > options.max_width or title_length > table_width:
        return None
    justify = [how for _, how in columns]

    def line(cells: Sequence[str], cell_lengths: Sequence[int], edges: tuple[str, ...]) -> str:
        left, mid, right = edges
        parts = []
        for cell, n, size, how in zip(cells, cell_lengths, sizes, justify, strict=True):
            if how == "right":  # rich strips a right-justified line's trailing space
                stripped = cell.rstrip()
                parts.append(f" {' ' * (size - cell_len(stripped))}{stripped} ")
            else:
                parts.append(f" {cell}{' ' * (size - n)} ")
        return left + mid.join(parts) + right + "\n"

    box = HEAVY_HEAD
    out = [title + " " * (table_width - title_length) + "\n"] if title else []
    out.append(box.get_top(widths) + "\n")
    out.append(line(header, header_lengths, (box.head_left, box.head_vertical, box.head_right)))
    out.append(box.get_row(widths, "head", edge=True) + "\n")
    body = (box.mid_left, box.mid_vertical, box.mid_right)
    foot = (box.foot_left, box.foot_vertical, box.foot_right)
    for k, (row, row_lengths) in enumerate(zip(rows, lengths, strict=True)):
        out.append(line(row, row_lengths, foot if k == len(rows) - 1 else body))
    out.append(box.get_bottom(widths) + "\n")
    return "".join(out)
