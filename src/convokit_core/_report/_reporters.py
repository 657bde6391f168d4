"""Built-in reporters for ``convokit check``: table, json, junit, markdown.

A reporter is ``render(report, stream)`` writing a
:class:`~convokit_core.CheckReport` to a text stream; register more through
``register_reporters``.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator, Sequence
from typing import TextIO

from .._policy._findings import STATUSES, CheckReport, Finding, Status, format_duration
from .._timeutil import format_datetime

__all__ = ["render_json", "render_junit", "render_markdown", "render_table"]

#: The table reporter lists at most this many findings (the counts cover all of them).
TABLE_LIMIT = 1000

_STYLE = {
    Status.BREACHED: "bold red",
    Status.AT_RISK: "yellow",
    Status.PENDING: "cyan",
    Status.PAUSED: "blue",
    Status.MET: "green",
    Status.NOT_APPLICABLE: "dim",
}


def _ratio(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def _when(finding: Finding) -> str:
    deadline = finding.deadline
    return "" if deadline is None else format_datetime(deadline)


def _by_status(findings: Iterable[Finding], limit: int | None) -> list[Finding]:
    """Findings ordered worst status first (breached, at risk, …), stable within a
    status; at most ``limit`` of them."""
    buckets: dict[Status, list[Finding]] = {s: [] for s in STATUSES}
    for f in findings:
        bucket = buckets[f.status]
        if limit is None or len(bucket) < limit:
            bucket.append(f)
    ordered = [f for s in STATUSES for f in buckets[s]]
    return ordered if limit is None else ordered[:limit]


def _worst_first(findings: Sequence[Finding]) -> Iterator[Finding]:
    """Every finding, worst status first, in one pass per status (no copy in memory)."""
    for status in STATUSES:
        for f in findings:
            if f.status is status:
                yield f


def render_json(report: CheckReport, stream: TextIO) -> None:
    """``{"as_of", "store", "commitments": [...], "findings": [...]}``, indented.

    Findings are written one by one, so a report of millions of findings never exists
    as one document in memory; the output equals ``json.dumps(report.to_dict(),
    indent=2)``."""

    def dumps(value: object, depth: int) -> str:
        text = json.dumps(value, indent=2, ensure_ascii=False)
        return text.replace("\n", "\n" + "  " * depth)

    w = stream.write
    w("{\n")
    w(f'  "as_of": {dumps(format_datetime(report.as_of), 1)},\n')
    w(f'  "store": {dumps(report.store, 1)},\n')
    w(f'  "commitments": {dumps([c.to_dict() for c in report.commitments], 1)},\n')
    w('  "findings": [')
    first = True
    for finding in report.findings:
        w("\n    " if first else ",\n    ")
        w(dumps(finding.to_dict(), 2))
        first = False
    w("]" if first else "\n  ]")
    w("\n}\n")


def render_table(report: CheckReport, stream: TextIO) -> None:
    """Rich tables: one line per commitment, then the kept findings."""
    from rich.console import Console
    from rich.table import Table

    is_tty = stream.isatty() if hasattr(stream, "isatty") else False
    console = Console(
        file=stream,
        width=None if is_tty else 160,
        no_color=not is_tty,
        highlight=False,
        soft_wrap=False,
    )
    summary = Table(
        title=f"Commitments as of {format_datetime(report.as_of)}", title_justify="left"
    )
    summary.add_column("commitment")
    summary.add_column("severity")
    for status in STATUSES:
        summary.add_column(str(status).replace("_", " "), justify="right")
    summary.add_column("compliance", justify="right")
    for c in report.commitments:
        counts = [str(c.counts.get(s, 0)) for s in STATUSES]
        summary.add_row(c.name, c.severity, *counts, _ratio(c.compliance))
    console.print(summary)
    findings = report.findings
    if not findings:
        console.print("No findings to show.")
        return
    table = Table(title="Findings", title_justify="left")
    for name in ("status", "commitment", "subject", "elapsed", "deadline", "message"):
        table.add_column(name, overflow="fold")
    for f in _by_status(findings, TABLE_LIMIT):
        table.add_row(
            f"[{_STYLE[f.status]}]{f.status}[/]",
            f.commitment,
            f.subject,
            format_duration(f.elapsed_seconds),
            _when(f),
            f.message,
        )
    console.print(table)
    if len(findings) > TABLE_LIMIT:
        console.print(
            f"… {len(findings) - TABLE_LIMIT} more findings not shown; use --only to narrow "
            "them or --format json for all."
        )


def render_markdown(report: CheckReport, stream: TextIO) -> None:
    """GitHub-flavoured Markdown: a summary table and a findings table."""

    def cell(text: object) -> str:
        return str(text).replace("|", "\\|").replace("\n", " ")

    w = stream.write
    w(f"## Commitments as of {format_datetime(report.as_of)}\n\n")
    w("| commitment | promise | severity | " + " | ".join(s.replace("_", " ") for s in STATUSES))
    w(" | compliance |\n")
    w("|---|---|---|" + "---:|" * len(STATUSES) + "---:|\n")
    for c in report.commitments:
        counts = " | ".join(str(c.counts.get(s, 0)) for s in STATUSES)
        ratio = _ratio(c.compliance)
        w(f"| {cell(c.name)} | {cell(c.promise)} | {c.severity} | {counts} | {ratio} |\n")
    w("\n")
    if not report.findings:
        w("No findings to show.\n")
        return
    w("### Findings\n\n")
    w("| status | commitment | subject | deadline | message |\n")
    w("|---|---|---|---|---|\n")
    for f in _worst_first(report.findings):
        w(
            f"| **{f.status}** | {cell(f.commitment)} | {cell(f.subject)} | {_when(f)} | "
            f"{cell(f.message)} |\n"
        )


def render_junit(report: CheckReport, stream: TextIO) -> None:
    """JUnit XML: a test suite per commitment, a test case per kept finding; breached
    findings are failures, not-applicable ones are skipped."""
    root = ET.Element("testsuites", name="convokit check", timestamp=format_datetime(report.as_of))
    by_commitment: dict[str, list[Finding]] = {c.name: [] for c in report.commitments}
    for f in report.findings:
        by_commitment.setdefault(f.commitment, []).append(f)
    total = failures = skipped = 0
    for c in report.commitments:
        findings = by_commitment.get(c.name, [])
        n_fail = sum(1 for f in findings if f.status is Status.BREACHED)
        n_skip = sum(1 for f in findings if f.status is Status.NOT_APPLICABLE)
        total += len(findings)
        failures += n_fail
        skipped += n_skip
        suite = ET.SubElement(
            root,
            "testsuite",
            name=c.name,
            tests=str(len(findings)),
            failures=str(n_fail),
            errors="0",
            skipped=str(n_skip),
            timestamp=format_datetime(report.as_of),
        )
        if c.promise:
            props = ET.SubElement(suite, "properties")
            ET.SubElement(props, "property", name="promise", value=c.promise)
            ET.SubElement(props, "property", name="severity", value=c.severity)
        for f in findings:
            case = ET.SubElement(
                suite,
                "testcase",
                classname=f"{c.name}.{f.rule}",
                name=f"{f.subject_kind} {f.subject}",
                time=f"{f.elapsed_seconds:.0f}",
            )
            if f.status is Status.BREACHED:
                failure = ET.SubElement(case, "failure", message=f.message, type="breached")
                failure.text = json.dumps(f.to_dict(), indent=2, ensure_ascii=False)
            elif f.status is Status.NOT_APPLICABLE:
                ET.SubElement(case, "skipped", message=f.message)
            else:
                out = ET.SubElement(case, "system-out")
                out.text = f"{f.status}: {f.message}"
    root.set("tests", str(total))
    root.set("failures", str(failures))
    root.set("skipped", str(skipped))
    root.set("errors", "0")
    ET.indent(root)
    stream.write('<?xml version="1.0" encoding="UTF-8"?>\n')
    stream.write(ET.tostring(root, encoding="unicode"))
    stream.write("\n")
