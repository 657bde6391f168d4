"""Built-in reporters for ``convokit check``: table, json, junit, markdown.

A reporter is ``render(report, stream)`` writing a
:class:`~convokit_core.CheckReport` to a text stream; register more through
``register_reporters``.

Text from the store (ids, subjects, messages, promises) is hostile until proven
otherwise: the table and Markdown show control characters, bidi overrides and bare
carriage returns as visible escapes (``\\x1b``, ``\\u202e``) and Markdown escapes HTML
and its own syntax, so nothing arrives as a terminal escape or live markup; JUnit drops
nothing but the characters XML 1.0 cannot hold (shown the same way); JSON is exact.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator, Sequence
from typing import TextIO

from .._policy._findings import STATUSES, CheckReport, Finding, FindingList, Status
from .._timeutil import format_datetime
from ._plaintable import Justify, plain_table

__all__ = [
    "FAILING",
    "render_json",
    "render_junit",
    "render_markdown",
    "render_table",
    "visible",
    "xml_text",
]

#: What table, Markdown and JUnit list by default (``--only all`` lists everything).
FAILING: tuple[str, ...] = (Status.BREACHED.value, Status.AT_RISK.value)

# C0 controls (tab, newline and CR included: cells are one line), DEL, C1 controls,
# bidi embeddings/overrides/isolates and marks, line/paragraph separators, lone
# surrogates, and the non-characters U+FFFE/U+FFFF.
_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e"
    "\u2066-\u2069\ud800-\udfff\ufffe\uffff]"
)
# What XML 1.0 cannot hold at all (tab, newline and CR are fine there).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _escape_char(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: object) -> str:
    """``text`` on one line with every control, bidi or otherwise invisible or unsafe
    character shown as an escape (``\\x1b``, ``\\u202e``); other text unchanged."""
    return _UNSAFE.sub(_escape_char, str(text))


def xml_text(text: object) -> str:
    """``text`` with the characters XML 1.0 cannot hold shown as escapes."""
    return _NOT_XML.sub(_escape_char, str(text))


_MD_SPECIAL = str.maketrans(
    {
        "\\": "\\\\",
        "`": "\\`",
        "|": "\\|",
        "[": "\\[",
        "]": "\\]",
        "*": "\\*",
        "_": "\\_",
        "<": "&lt;",
        ">": "&gt;",
        "&": "&amp;",
    }
)


def _md(text: object) -> str:
    """One Markdown table cell of plain text: no HTML, no links, no code, no pipes."""
    return visible(text).translate(_MD_SPECIAL)


def _json_safe(text: str) -> str:
    """JSON text with lone surrogates written as ``\\udXXX`` escapes (they cannot be
    encoded as UTF-8; the escape decodes back to the very same string)."""
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


_encode = json.encoder.encode_basestring  # what json.dumps(ensure_ascii=False) uses
_ITEM = ",\n        "


def _finding_json(f: Finding) -> str | None:
    """``json.dumps(f.to_dict(), indent=2)`` as written at depth 2 of the document,
    built directly (about 8 times faster than the encoder with ``indent``), or ``None``
    when a field is not of the type the template writes (then the encoder does it)."""
    fields = (f.commitment, f.rule, f.subject, f.subject_kind, f.severity)
    if not all(type(v) is str for v in fields) or not all(
        v is None or type(v) is str for v in (f.platform, f.conversation, f.channel, f.decided_by)
    ):
        return None
    evidence = f.evidence
    if not all(type(e) is str for e in evidence):
        return None
    elapsed = f.elapsed_us / 1_000_000
    if elapsed != elapsed or elapsed in (float("inf"), float("-inf")):
        return None
    ev = ("[\n        " + _ITEM.join(map(_encode, evidence)) + "\n      ]") if evidence else "[]"
    return (
        '{\n      "commitment": ' + _encode(f.commitment)
        + ',\n      "rule": ' + _encode(f.rule)
        + ',\n      "status": ' + _encode(str(f.status))
        + ',\n      "subject": ' + _encode(f.subject)
        + ',\n      "subject_kind": ' + _encode(f.subject_kind)
        + ',\n      "platform": ' + _opt(f.platform)
        + ',\n      "conversation": ' + _opt(f.conversation)
        + ',\n      "channel": ' + _opt(f.channel)
        + ',\n      "started_at": ' + _time(f.started_us)
        + ',\n      "deadline": ' + _time(f.deadline_us)
        + ',\n      "stopped_at": ' + _time(f.stopped_us)
        + ',\n      "elapsed_seconds": ' + float.__repr__(elapsed)
        + ',\n      "evidence": ' + ev
        + ',\n      "decided_by": ' + _opt(f.decided_by)
        + ',\n      "severity": ' + _encode(f.severity)
        + ',\n      "message": ' + _encode(f.message)
        + "\n    }"
    )  # fmt: skip


def _opt(value: str | None) -> str:
    return "null" if value is None else _encode(value)


_DAYS: dict[int, str] = {}


def _time(us: int | None) -> str:
    """``format_datetime`` of an instant in microseconds, JSON-quoted (``null`` for
    ``None``): the date part as ``strftime`` writes it (cached per day), the time of day
    from integers."""
    if us is None:
        return "null"
    day, rest = divmod(us, 86_400_000_000)
    prefix = _DAYS.get(day)
    if prefix is None:
        from datetime import UTC, datetime, timedelta

        prefix = (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(days=day)).strftime("%Y-%m-%dT")
        if len(_DAYS) > 100_000:
            _DAYS.clear()
        _DAYS[day] = prefix
    seconds, micro = divmod(rest, 1_000_000)
    minutes, second = divmod(seconds, 60)
    hour, minute = divmod(minutes, 60)
    if micro:
        return f'"{prefix}{hour:02d}:{minute:02d}:{second:02d}.{micro:06d}Z"'
    return f'"{prefix}{hour:02d}:{minute:02d}:{second:02d}Z"'


def _not_shown(report: CheckReport) -> str:
    """The sentence saying which findings a default listing left out, or ``""``."""
    hidden = report.hidden
    if not hidden:
        return ""
    shown = set(report.only or ())
    parts = [
        f"{report.count(s)} {str(s).replace('_', ' ')}"
        for s in STATUSES
        if s not in shown and report.count(s)
    ]
    return (
        f"{hidden} more finding{'s' if hidden != 1 else ''} not listed ({', '.join(parts)}); "
        "--only all lists every finding."
    )


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
    if isinstance(findings, FindingList) and limit is not None:
        # from the raw outcomes: a Finding only for the ones shown, and no further
        # once the worst status alone fills the listing
        raw: dict[str, list[Finding]] = {str(s): [] for s in STATUSES}
        worst = raw[str(STATUSES[0])]
        make = FindingList.make
        for meta, platform, conversation, channel, outcome in findings.iter_raw():
            kept = raw[outcome[0]]
            if len(kept) < limit:
                kept.append(make(meta, platform, conversation, channel, outcome))
                if len(worst) >= limit:
                    break
        return [f for s in STATUSES for f in raw[str(s)]][:limit]
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
        text = _json_safe(json.dumps(value, indent=2, ensure_ascii=False))
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
        text = _finding_json(finding)
        w(_json_safe(text) if text is not None else dumps(finding.to_dict(), 2))
        first = False
    w("]" if first else "\n  ]")
    w("\n}\n")


def render_table(report: CheckReport, stream: TextIO) -> None:
    """Rich tables: one line per commitment, then the kept findings (by default in the
    CLI: the failing ones, breached and at risk)."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    is_tty = stream.isatty() if hasattr(stream, "isatty") else False
    console = Console(
        file=stream,
        width=None if is_tty else 160,
        no_color=not is_tty,
        highlight=False,
        soft_wrap=False,
    )
    title = f"Commitments as of {format_datetime(report.as_of)}"
    columns: list[tuple[str, Justify]] = [("commitment", "left"), ("severity", "left")]
    columns += [(str(status).replace("_", " "), "right") for status in STATUSES]
    columns.append(("compliance", "right"))
    summary_rows = [
        [
            visible(c.name),
            visible(c.severity),
            *[str(c.counts.get(s, 0)) for s in STATUSES],
            _ratio(c.compliance),
        ]
        for c in report.commitments
    ]
    # a file or a pipe: the same text as rich's, written without laying out each cell
    plain = plain_table(console, title, columns, summary_rows)
    if plain is not None:
        stream.write(plain)
    else:
        summary = Table(title=title, title_justify="left")
        for name, justify in columns:
            summary.add_column(name, justify=justify)
        for row in summary_rows:
            summary.add_row(*map(Text, row))
        console.print(summary)
    findings = report.findings
    note = _not_shown(report)
    if not findings:
        console.print(Text("No findings to show." + (f" {note}" if note else "")))
        return
    shown = _by_status(findings, TABLE_LIMIT)
    names = ("status", "commitment", "subject", "elapsed", "deadline", "message")
    rows = [
        [
            str(f.status),
            visible(f.commitment),
            visible(f.subject),
            f.elapsed_text,
            _when(f),
            visible(f.message),
        ]
        for f in shown
    ]
    plain = plain_table(console, "Findings", [(name, "left") for name in names], rows)
    if plain is not None:
        stream.write(plain)
    else:
        table = Table(title="Findings", title_justify="left")
        for name in names:
            table.add_column(name, overflow="fold")
        for f, row in zip(shown, rows, strict=True):
            table.add_row(Text(row[0], style=_STYLE[f.status]), *map(Text, row[1:]))
        console.print(table)
    if len(findings) > TABLE_LIMIT:
        console.print(
            Text(
                f"… {len(findings) - TABLE_LIMIT} more findings not shown; use --only to "
                "narrow them or --format json for all."
            )
        )
    if note:
        console.print(Text(note))


def render_markdown(report: CheckReport, stream: TextIO) -> None:
    """GitHub-flavoured Markdown: a summary table and a findings table (by default in
    the CLI: the failing findings). Every cell is plain text: HTML, links, code spans
    and table syntax in the data are escaped."""
    w = stream.write
    w(f"## Commitments as of {format_datetime(report.as_of)}\n\n")
    w("| commitment | promise | severity | " + " | ".join(s.replace("_", " ") for s in STATUSES))
    w(" | compliance |\n")
    w("|---|---|---|" + "---:|" * len(STATUSES) + "---:|\n")
    for c in report.commitments:
        counts = " | ".join(str(c.counts.get(s, 0)) for s in STATUSES)
        ratio = _ratio(c.compliance)
        w(f"| {_md(c.name)} | {_md(c.promise)} | {_md(c.severity)} | {counts} | {ratio} |\n")
    w("\n")
    note = _not_shown(report)
    if not report.findings:
        w("No findings to show." + (f" {_md(note)}" if note else "") + "\n")
        return
    w("### Findings\n\n")
    w("| status | commitment | subject | deadline | message |\n")
    w("|---|---|---|---|---|\n")
    for f in _worst_first(report.findings):
        w(
            f"| **{_md(f.status)}** | {_md(f.commitment)} | {_md(f.subject)} | {_when(f)} | "
            f"{_md(f.message)} |\n"
        )
    if note:
        w(f"\n{_md(note)}\n")


def render_junit(report: CheckReport, stream: TextIO) -> None:
    """JUnit XML: a test suite per commitment, a test case per kept finding.

    A ``<failure>`` is exactly a finding that fails the run at the report's
    ``fail_on`` (an error-severity breach; at risk too under ``--fail-on at_risk``;
    nothing under ``never``), so a CI UI shows red exactly when the exit code is 1.
    Other breached or at-risk findings (warning or info severity, or below the
    ``fail_on`` level) are reported in ``<system-out>``; not-applicable ones are
    skipped. Each suite carries the commitment's counts by status as properties.
    """
    x = xml_text
    stamp = format_datetime(report.as_of)
    root = ET.Element("testsuites", name="convokit check", timestamp=stamp)
    by_commitment: dict[str, list[Finding]] = {c.name: [] for c in report.commitments}
    for f in report.findings:
        by_commitment.setdefault(f.commitment, []).append(f)
    total = failures = skipped = 0
    for c in report.commitments:
        findings = by_commitment.get(c.name, [])
        n_fail = sum(1 for f in findings if report.fails(f))
        n_skip = sum(1 for f in findings if f.status is Status.NOT_APPLICABLE)
        total += len(findings)
        failures += n_fail
        skipped += n_skip
        suite = ET.SubElement(
            root,
            "testsuite",
            name=x(c.name),
            tests=str(len(findings)),
            failures=str(n_fail),
            errors="0",
            skipped=str(n_skip),
            timestamp=stamp,
        )
        props = ET.SubElement(suite, "properties")
        if c.promise:
            ET.SubElement(props, "property", name="promise", value=x(c.promise))
        ET.SubElement(props, "property", name="severity", value=x(c.severity))
        for status in STATUSES:
            ET.SubElement(props, "property", name=status.value, value=str(c.counts.get(status, 0)))
        for f in findings:
            case = ET.SubElement(
                suite,
                "testcase",
                classname=x(f"{c.name}.{f.rule}"),
                name=x(f"{f.subject_kind} {f.subject}"),
                time=f"{f.elapsed_seconds:.0f}",
            )
            if report.fails(f):
                failure = ET.SubElement(case, "failure", message=x(f.message), type=str(f.status))
                failure.text = x(json.dumps(f.to_dict(), indent=2, ensure_ascii=False))
            elif f.status is Status.NOT_APPLICABLE:
                ET.SubElement(case, "skipped", message=x(f.message))
            else:
                out = ET.SubElement(case, "system-out")
                level = "" if f.severity == "error" else f" (severity {f.severity})"
                out.text = x(f"{f.status}{level}: {f.message}")
    note = _not_shown(report)
    if note:
        ET.SubElement(root, "system-out").text = x(note)
    root.set("tests", str(total))
    root.set("failures", str(failures))
    root.set("skipped", str(skipped))
    root.set("errors", "0")
    ET.indent(root)
    stream.write('<?xml version="1.0" encoding="UTF-8"?>\n')
    stream.write(ET.tostring(root, encoding="unicode"))
    stream.write("\n")
