"""What the reporters and ``convokit check`` show: hostile text made harmless (table,
Markdown), well-formed JUnit whose failures are exactly the --fail-on decision, exact
JSON, business durations, --as-of latest and its hint, progress, clear errors."""

from __future__ import annotations

import io
import json
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from convokit_core import open_store
from convokit_core._cli import cli
from convokit_core._model import Batch, Message
from convokit_core._policy._findings import (
    CheckReport,
    CommitmentSummary,
    Finding,
    FindingList,
    FindingMeta,
    Status,
    format_duration,
)
from convokit_core._report._reporters import (
    render_json,
    render_junit,
    render_markdown,
    render_table,
)

T0 = datetime(2024, 3, 4, 9, 0, tzinfo=UTC)  # a Monday

HOSTILE = (
    "\x1b]0;pwned\x07\x1b[2J<script>alert(1)</script> <img src=x onerror=alert(1)> "
    "[click](javascript:alert(1)) `code` | pipe \r bare CR \u202egnp.exe\u2066 "
    "\x00nul \x0b\x0c \ufffe\uffff \ud800 lone & amp"
)


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def _hostile_report() -> CheckReport:
    findings = FindingList(
        [FindingMeta(commitment="x", rule="r", severity="error", composite=False)]
    )
    findings.append(
        Finding(
            commitment=HOSTILE,
            rule="first_reply",
            status=Status.BREACHED,
            subject=HOSTILE,
            subject_kind="conversation",
            platform="t",
            conversation=HOSTILE,
            channel=None,
            started_us=0,
            deadline_us=3_600_000_000,
            stopped_us=None,
            elapsed_us=7_200_000_000,
            limit_us=3_600_000_000,
            evidence=(HOSTILE,),
            note=HOSTILE,
        )
    )
    summary = CommitmentSummary(
        name=HOSTILE,
        promise=HOSTILE,
        severity="error",
        rule="first_reply",
        counts={"breached": 1},
    )
    return CheckReport(as_of=T0, commitments=(summary,), findings=findings)


def _render(render: object) -> str:
    out = io.StringIO()
    render(_hostile_report(), out)  # type: ignore[operator]
    return out.getvalue()


RAW_DANGER = ["\x1b", "\x07", "\x00", "\r", "\u202e", "\u2066", "\ud800", "\ufffe"]


@pytest.mark.parametrize("render", [render_table, render_markdown])
def test_table_and_markdown_show_no_control_or_bidi_characters(render: object) -> None:
    text = _render(render)
    assert [c for c in RAW_DANGER if c in text] == []
    assert "\\x1b" in text  # shown, not hidden
    assert "\\u202e" in text


def test_markdown_has_no_live_markup() -> None:
    text = _render(render_markdown)
    assert "<script>" not in text
    assert "<img" not in text
    assert re.search(r"(?<!\\)\]\(javascript:", text) is None  # no link syntax left
    assert "&lt;script&gt;" in text
    assert "\\[click\\](javascript:alert(1))" in text
    assert "\\`code\\`" in text
    assert "\\| pipe" in text
    assert "lone &amp; amp" in text
    finding_rows = [line for line in text.splitlines() if line.startswith("| **breached**")]
    assert len(finding_rows) == 1  # one row: no line break or pipe split it
    assert finding_rows[0].count(" | ") == 4


def test_junit_is_well_formed_xml_for_hostile_findings() -> None:
    text = _render(render_junit)
    root = ET.fromstring(text.split("\n", 1)[1])  # raises on invalid XML
    failure = root.find("testsuite/testcase/failure")
    assert failure is not None
    assert "<script>alert(1)</script>" in failure.get("message", "")  # escaped by XML
    assert "\\x1b" in failure.get("message", "")
    assert text.encode("utf-8")  # no lone surrogate left


def test_json_keeps_hostile_text_exactly() -> None:
    text = _render(render_json)
    text.encode("utf-8")  # writable as UTF-8 (lone surrogates escaped)
    doc = json.loads(text)
    (finding,) = doc["findings"]
    assert finding["subject"] == HOSTILE
    assert finding["evidence"] == [HOSTILE]
    assert finding["message"] == HOSTILE
    assert doc["commitments"][0]["promise"] == HOSTILE


# -- through the CLI ----------------------------------------------------------------


def _msg(mid: str, minutes: float, conversation: str, direction: str = "inbound") -> Message:
    return Message(
        id=mid,
        platform="t",
        conversation_id=conversation,
        author_id="agent" if direction == "outbound" else "ana",
        direction=direction,
        sent_at=T0 + timedelta(minutes=minutes),
        channel_id="support",
        text="hello",
    )


@pytest.fixture
def store_url() -> str:
    url = "sqlite:///store.db"
    with open_store(url) as store:
        store.write(
            Batch(
                messages=[
                    _msg("1", 0, "c1"),
                    _msg("2", 30, "c1", "outbound"),
                    _msg("3", 100, "c1"),  # a second turn, waiting
                    _msg("4", 0, "c2"),  # never answered
                ],
                conversations=[],
            )
        )
    return url


POLICIES = {
    "warn.toml": (
        '[[commitment]]\nname = "soft"\nseverity = "warning"\nrule = "first_reply"\nwithin = "1h"\n'
    ),
    "risk.toml": (
        '[[commitment]]\nname = "turns"\nrule = "next_reply"\nwithin = "1h"\nwarn_before = "30m"\n'
    ),
}
AS_OF = ("--as-of", "2024-03-04T11:15:00Z")


def _junit(out: str) -> ET.Element:
    return ET.fromstring(out.split("\n", 1)[1])


def test_junit_warning_breaches_are_reported_not_failed(store_url: str) -> None:
    Path("warn.toml").write_text(POLICIES["warn.toml"], encoding="utf-8")
    code, out, _ = run("--store", store_url, "check", "--policy", "warn.toml", *AS_OF, "-q")
    assert code == 0
    code, out, _ = run(
        "--store", store_url, "check", "--policy", "warn.toml", *AS_OF, "--format", "junit"
    )
    assert code == 0
    root = _junit(out)
    assert root.get("failures") == "0"
    assert root.findall(".//failure") == []
    (case,) = root.iter("testcase")
    assert case.get("name") == "conversation c2"
    out_text = case.findtext("system-out") or ""
    assert out_text.startswith("breached (severity warning): Conversation c2: no first reply")


@pytest.mark.parametrize(
    ("fail_on", "code", "failures"), [("breached", 0, 0), ("at_risk", 1, 1), ("never", 0, 0)]
)
def test_junit_failures_follow_fail_on(
    store_url: str, fail_on: str, code: int, failures: int
) -> None:
    Path("risk.toml").write_text(POLICIES["risk.toml"], encoding="utf-8")
    args = ("--store", store_url, "check", "--policy", "risk.toml", *AS_OF, "--format", "junit")
    got, out, _ = run(*args, "--fail-on", fail_on)
    assert got == code
    root = _junit(out)
    assert root.get("failures") == str(failures)
    assert len(root.findall(".//failure")) == failures
    cases = [c.get("name") for c in root.iter("testcase")]
    assert cases == ["turn c1#2"]  # at risk: listed by default either way


def test_junit_breached_error_findings_fail_unless_never(store_url: str) -> None:
    Path("p.toml").write_text(
        '[[commitment]]\nname = "f"\nrule = "first_reply"\nwithin = "1h"\n', encoding="utf-8"
    )
    args = ("--store", store_url, "check", "--policy", "p.toml", *AS_OF, "--format", "junit")
    code, out, _ = run(*args)
    assert (code, _junit(out).get("failures")) == (1, "1")
    code, out, _ = run(*args, "--fail-on", "never")
    assert (code, _junit(out).get("failures")) == (0, "0")


def test_business_durations_say_so(store_url: str) -> None:
    Path("office.toml").write_text(
        '[calendars.office]\ntimezone = "UTC"\nhours = { mon-fri = ["09:00-17:00"] }\n\n'
        '[[commitment]]\nname = "f"\nrule = "first_reply"\nwithin = "4h"\n'
        'calendar = "office"\n',
        encoding="utf-8",
    )
    code, out, _ = run(
        "--store",
        store_url,
        "check",
        "--policy",
        "office.toml",
        "--as-of",
        "2024-03-05T12:00:00Z",  # Tuesday noon: 8 h on Monday + 3 h
        "--format",
        "json",
    )
    assert code == 1
    messages = {f["subject"]: f["message"] for f in json.loads(out)["findings"]}
    assert messages["c2"] == (
        "Conversation c2: no first reply for 1 business day 3 hours, over the 4 business "
        "hours limit."
    )
    assert (
        messages["c1"]
        == "Conversation c1: first reply after 30 business minutes, within 4 business hours."
    )


def test_format_duration_business_units() -> None:
    day = 8 * 3600
    assert format_duration(3 * 3600, business_day=day) == "3 business hours"
    assert format_duration(2 * day, business_day=day) == "2 business days"
    assert format_duration(day + 3600, business_day=day) == "1 business day 1 hour"
    assert format_duration(90, business_day=day) == "1 business minute 30 seconds"
    assert format_duration(0, business_day=day) == "0 business seconds"
    assert format_duration(9000) == "2h 30m"  # always-open calendars keep plain units
    assert format_duration(2 * 86_400) == "2d"


def test_as_of_latest_is_the_newest_stored_message(store_url: str) -> None:
    Path("p.toml").write_text(
        '[[commitment]]\nname = "f"\nrule = "first_reply"\nwithin = "1h"\n', encoding="utf-8"
    )
    code, out, err = run(
        "--store", store_url, "check", "--policy", "p.toml", "--as-of", "latest", "--format", "json"
    )
    assert code == 1  # c2 is breached as of then
    assert json.loads(out)["as_of"] == "2024-03-04T10:40:00Z"  # message 3, minute 100
    assert err == ""


def test_a_stale_store_gets_a_hint_on_stderr(store_url: str) -> None:
    Path("p.toml").write_text(
        '[[commitment]]\nname = "f"\nrule = "first_reply"\nwithin = "1h"\n', encoding="utf-8"
    )
    code, out, err = run("--store", store_url, "check", "--policy", "p.toml", "--format", "json")
    assert code == 1
    assert err.startswith("Hint: the newest stored message is from 2024-03-04, ")
    assert "use --as-of latest" in err
    json.loads(out)  # stdout stays the report alone
    _, _, err = run("--store", store_url, "check", "--policy", "p.toml", *AS_OF)
    assert "Hint" not in err
    _, _, err = run("--store", store_url, "check", "--policy", "p.toml", "-q")
    assert err == ""  # -q: only errors and the report


def test_as_of_latest_on_a_store_without_messages(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    open_store(url).close()
    Path("p.toml").write_text(
        '[[commitment]]\nname = "f"\nrule = "first_reply"\nwithin = "1h"\n', encoding="utf-8"
    )
    code, _, err = run("--store", url, "check", "--policy", "p.toml", "--as-of", "latest")
    assert code == 2
    assert "--as-of latest: store" in err
    assert "holds no message" in err


@pytest.mark.parametrize(
    "value", ["9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00", "yesterday"]
)
def test_extreme_as_of_is_a_usage_error(store_url: str, value: str) -> None:
    Path("p.toml").write_text(
        '[[commitment]]\nname = "f"\nrule = "first_reply"\nwithin = "1h"\n', encoding="utf-8"
    )
    code, _, err = run("--store", store_url, "check", "--policy", "p.toml", "--as-of", value)
    assert code == 2
    assert "Invalid value for --as-of" in err
    assert "Traceback" not in err


def test_no_commitments_names_the_real_place(store_url: str) -> None:
    code, _, err = run("--store", store_url, "check")
    assert code == 2
    assert "<config>" not in err
    assert "no --policy FILE given and no convokit.toml in the current directory" in err
    Path("convokit.toml").write_text(f'store = "{store_url}"\n', encoding="utf-8")
    code, _, err = run("check")
    assert code == 2
    assert err.startswith("Error: convokit.toml: no [[commitment]] tables")


def test_check_reports_progress_per_batch_of_conversations(tmp_path: Path) -> None:
    from convokit_core._policy._evaluate import PROGRESS_EVERY
    from convokit_core._policy._run import check

    url = f"sqlite:///{tmp_path / 'many.db'}"
    n = PROGRESS_EVERY * 2 + 17
    with open_store(url) as store:
        store.write(Batch(messages=[_msg(f"m{i}", i % 50, f"c{i}") for i in range(n)]))
        Path("p.toml").write_text(
            '[[commitment]]\nname = "f"\nrule = "first_reply"\nwithin = "1h"\n',
            encoding="utf-8",
        )
        calls: list[int] = []
        check(store, "p.toml", as_of=T0 + timedelta(days=1), progress=calls.append)
    assert calls == [PROGRESS_EVERY, PROGRESS_EVERY, 17]


def test_progress_is_shown_at_a_terminal_and_silent_elsewhere(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import sys

    from convokit_core._progress import progress

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    with progress("Checking", unit="conversations") as advance:
        advance(1000)
    assert "Checking" in terminal.getvalue()
    quiet = Terminal()
    monkeypatch.setattr(sys, "stderr", quiet)
    with progress("Checking", unit="conversations", quiet=True) as advance:
        advance(1000)
    assert quiet.getvalue() == ""
    pipe = io.StringIO()
    monkeypatch.setattr(sys, "stderr", pipe)
    with progress("Checking", unit="conversations") as advance:
        advance(1000)
    assert pipe.getvalue() == ""


def test_latest_message_at_scans_a_backend_without_the_query() -> None:
    from convokit_core._policy._run import latest_message_at

    class Plain:  # a third-party backend that predates latest_message_at
        def iter_messages(self) -> object:
            return iter([_msg("a", 30, "c1"), _msg("b", 90, "c2"), _msg("c", 10, "c1")])

    assert latest_message_at(Plain()) == T0 + timedelta(minutes=90)  # type: ignore[arg-type]


# -- the JSON template equals the encoder ------------------------------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_MIN_US = -62135596800 * 1_000_000  # 0001-01-01
_MAX_US = 253402300799999999  # 9999-12-31T23:59:59.999999
texts = st.text(
    alphabet=st.characters(codec=None, exclude_categories=()), max_size=12
) | st.sampled_from([HOSTILE, "", '"\\'])
instants = st.none() | st.integers(_MIN_US, _MAX_US) | st.sampled_from([0, -1, 999_999, 1_000_000])


@settings(max_examples=400, derandomize=True)
@given(
    strings=st.tuples(texts, texts, texts, texts, texts),
    optional=st.tuples(st.none() | texts, st.none() | texts, st.none() | texts, st.none() | texts),
    times=st.tuples(instants, instants, instants),
    elapsed=st.integers(0, 10**17) | st.sampled_from([0, 1, 10**6, 1234567]),
    limit=st.none() | st.integers(0, 10**15),
    evidence=st.lists(texts, max_size=3),
    status=st.sampled_from(list(Status)),
    what=st.sampled_from(["", "reply", "first reply", "update"]),
    note=st.sampled_from(["", "a note", HOSTILE]),
)
def test_the_json_template_writes_what_the_encoder_writes(
    strings: tuple[str, ...],
    optional: tuple[str | None, ...],
    times: tuple[int | None, ...],
    elapsed: int,
    limit: int | None,
    evidence: list[str],
    status: Status,
    what: str,
    note: str,
) -> None:
    from convokit_core._report._reporters import _finding_json, _json_safe

    commitment, rule, subject, kind, severity = strings
    platform, conversation, channel, decided_by = optional
    started, deadline, stopped = times
    finding = Finding(
        commitment=commitment, rule=rule, status=status, subject=subject, subject_kind=kind,
        platform=platform, conversation=conversation, channel=channel, started_us=started,
        deadline_us=deadline, stopped_us=stopped, elapsed_us=elapsed, limit_us=limit,
        evidence=tuple(evidence), decided_by=decided_by, what=what, note=note,
        severity=severity,
    )  # fmt: skip
    expected = _json_safe(json.dumps(finding.to_dict(), indent=2, ensure_ascii=False))
    text = _finding_json(finding)
    assert text is not None
    assert _json_safe(text) == expected.replace("\n", "\n    ")


def test_a_finding_the_template_cannot_write_goes_through_the_encoder() -> None:
    from convokit_core._report._reporters import _finding_json

    finding = Finding(
        commitment="c", rule="r", status=Status.MET, subject="s", subject_kind="conversation",
        platform=None, conversation=None, channel=None, started_us=None, deadline_us=None,
        stopped_us=None, elapsed_us=0, limit_us=None, evidence=(7,),  # type: ignore[arg-type]
    )  # fmt: skip
    assert _finding_json(finding) is None
    findings = FindingList(
        [FindingMeta(commitment="c", rule="r", severity="error", composite=False)]
    )
    findings.append(finding)
    report = CheckReport(as_of=T0, commitments=(), findings=findings, store=None)
    buffer = io.StringIO()
    render_json(report, buffer)
    assert json.loads(buffer.getvalue())["findings"][0]["evidence"] == [7]


def test_the_table_listing_from_raw_outcomes_equals_the_one_from_findings() -> None:
    from convokit_core._report._reporters import _by_status

    meta = FindingMeta(commitment="c", rule="r", severity="error", composite=False)
    findings = FindingList([meta])
    order = ["met", "breached", "pending", "at_risk", "breached", "met", "breached", "paused"]
    for i, status in enumerate(order * 3):
        findings.append_raw(
            0,
            (status, "conversation", f"s{i}", 0, None, None, i, 60, (), "reply", "", "r"),
            "x",
            f"s{i}",
            None,
        )
    for limit in (1, 2, 3, 9, 10, 1000, None):
        assert _by_status(findings, limit) == _by_status(list(findings), limit)
