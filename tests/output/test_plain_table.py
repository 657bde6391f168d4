"""The table reporter writes plain tables itself when nothing needs styling; the text
must be rich's, byte for byte, and rich must still render everything else."""

from __future__ import annotations

import io
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rich.console import Console
from rich.table import Table
from rich.text import Text

from convokit_core._policy._findings import (
    CheckReport,
    CommitmentSummary,
    Finding,
    FindingList,
    FindingMeta,
    Status,
)
from convokit_core._report import _reporters
from convokit_core._report._plaintable import plain_table
from convokit_core._report._reporters import render_table

# wide (CJK, emoji, fullwidth, ideographic space), zero-width and combining characters,
# markup-looking brackets, and spaces to lead and trail
PIECES = [
    "a", "Z", "7", " ", "  ", "[b]", "]", "%", "—", "…", "é", "e\u0301", "中文", "😀",
    "\u200b", "\uff21", "\u3000", "ß", "\u00a0", "│", "━", "x" * 30,
]  # fmt: skip
cells = st.lists(st.sampled_from(PIECES), max_size=6).map("".join)


def _console(width: int) -> Console:
    return Console(file=io.StringIO(), width=width, no_color=True, highlight=False, soft_wrap=False)


def _by_rich(title: str, columns: list[tuple[str, Any]], rows: list[list[str]], width: int) -> str:
    console = _console(width)
    table = Table(title=Text(title), title_justify="left")
    for name, justify in columns:
        table.add_column(Text(name), justify=justify, overflow="fold")
    for row in rows:
        table.add_row(*map(Text, row))
    console.print(table)
    out = console.file
    assert isinstance(out, io.StringIO)
    return out.getvalue()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    title=cells,
    columns=st.lists(st.tuples(cells, st.sampled_from(["left", "right"])), min_size=1, max_size=6),
    data=st.data(),
    width=st.integers(min_value=10, max_value=200),
)
def test_a_plain_table_is_what_rich_writes(
    title: str, columns: list[tuple[str, Any]], data: st.DataObject, width: int
) -> None:
    rows = data.draw(
        st.lists(st.lists(cells, min_size=len(columns), max_size=len(columns)), max_size=6)
    )
    plain = plain_table(_console(width), title, columns, rows)
    if plain is not None:
        assert plain == _by_rich(title, columns, rows, width)


def test_a_table_that_fits_is_written_plain_and_one_that_does_not_by_rich() -> None:
    columns: list[tuple[str, Any]] = [("status", "left"), ("n", "right"), ("text", "left")]
    rows = [["breached", "12", "short"], ["met", "7 ", "中文 and 😀"]]
    plain = plain_table(_console(80), "Findings", columns, rows)
    assert plain == _by_rich("Findings", columns, rows, 80)
    assert plain_table(_console(20), "Findings", columns, rows) is None  # rich wraps it
    assert plain_table(_console(80), "Findings", columns, [["a\nb", "1", "x"]]) is None
    assert plain_table(_console(80), "Findings", columns, [["a\tb", "1", "x"]]) is None
    assert plain_table(_console(80), "t" * 60, columns, rows) is None  # the title wraps
    styled = Console(file=io.StringIO(), width=80, force_terminal=True, color_system="standard")
    assert plain_table(styled, "Findings", columns, rows) is None  # styles are rich's


def _report(messages: list[str]) -> CheckReport:
    meta = FindingMeta(
        commitment="first-reply", rule="first_reply", severity="error", composite=False
    )
    findings = FindingList([meta])
    statuses = [Status.BREACHED, Status.AT_RISK, Status.MET, Status.PENDING]
    for i, message in enumerate(messages):
        findings.append(
            Finding(
                commitment="first-reply",
                rule="first_reply",
                status=statuses[i % len(statuses)],
                subject=f"c{i:04d}",
                subject_kind="conversation",
                platform="twitter",
                conversation=f"c{i:04d}",
                channel=None,
                started_us=i * 1_000_000,
                deadline_us=None if i % 3 == 0 else 3_600_000_000 + i,
                stopped_us=None,
                elapsed_us=7_200_000_000 + i * 61_000_000,
                limit_us=3_600_000_000,
                evidence=(),
                note=message,
            )
        )
    summary = CommitmentSummary(
        name="first-reply",
        promise="answered within 1h",
        severity="error",
        rule="first_reply",
        counts={"breached": len(messages), "met": 3},
    )
    from datetime import UTC, datetime

    return CheckReport(
        as_of=datetime(2024, 4, 15, tzinfo=UTC), commitments=(summary,), findings=findings
    )


@pytest.mark.parametrize(
    "messages",
    [
        [f"reply {i} after a while" for i in range(40)],
        ["中文 😀 \u202e hostile", "x" * 200],  # the second is too wide: rich wraps it
        [],
    ],
    ids=["plain", "too-wide", "none"],
)
def test_the_table_report_is_the_same_written_plain_or_by_rich(
    messages: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    report = _report(messages)
    fast = io.StringIO()
    render_table(report, fast)
    monkeypatch.setattr(_reporters, "plain_table", lambda *args: None)
    slow = io.StringIO()
    render_table(report, slow)
    assert fast.getvalue() == slow.getvalue()
    assert "first-reply" in fast.getvalue()


def test_a_report_that_fits_never_builds_a_rich_table(monkeypatch: pytest.MonkeyPatch) -> None:
    import rich.table

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("rich laid out a table that fits")

    monkeypatch.setattr(rich.table.Table, "__init__", refuse)
    out = io.StringIO()
    render_table(_report([f"reply {i}" for i in range(1000)]), out)
    assert out.getvalue().count("\n") > 1000
