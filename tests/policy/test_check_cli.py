"""``convokit check``: formats, filters, exit codes, plugins and the findings_ready hook."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import attrs
import pytest
from click.testing import CliRunner

from convokit_core._cli import cli
from convokit_core._plugins import PluginManager, open_store, set_plugin_manager
from convokit_core._policy._findings import Status
from convokit_core._policy._rules import Rule
from convokit_core.hookspecs import hookimpl

from .helpers import conv, msg

POLICY = """\
[[commitment]]
name = "first"
promise = "We answer within an hour."
rule = "first_reply"
within = "1h"

[[commitment]]
name = "later"
severity = "warning"
rule = "next_reply"
within = "1h"
warn_before = "30m"
"""


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def store_url() -> str:
    url = "sqlite:///store.db"
    store = open_store(url)
    from convokit_core._model import Batch

    store.write(
        Batch(
            conversations=[
                # answered in 30 minutes, then a new turn waiting since minute 100
                conv(msg("1", 0), msg("2", 30, "outbound"), msg("3", 100), cid="c1"),
                # never answered
                conv(msg("4", 0, author_id="u2"), cid="c2", stakeholder_id="u2"),
                # a message after as_of
                conv(msg("5", 5000, author_id="u3"), cid="c3", stakeholder_id="u3"),
            ]
        )
    )
    store.close()
    Path("policy.toml").write_text(POLICY, encoding="utf-8")
    return url


AS_OF = "2024-03-04T11:15:00Z"  # minute 135


def test_json_report(store_url: str) -> None:
    code, out, _ = run(
        "--store",
        store_url,
        "check",
        "--policy",
        "policy.toml",
        "--as-of",
        AS_OF,
        "--format",
        "json",
    )
    assert code == 1  # c2 breached an error-severity commitment
    doc = json.loads(out)
    assert doc["as_of"] == AS_OF
    first, later = doc["commitments"]
    assert first["name"] == "first"
    assert first["promise"] == "We answer within an hour."
    assert first["counts"]["met"] == 1
    assert first["counts"]["breached"] == 1
    assert first["compliance"] == 0.5
    assert later["counts"]["at_risk"] == 1  # turn 2 waits 35 of 60 minutes, warn 30m
    assert later["counts"]["not_applicable"] == 1
    keys = {
        "commitment",
        "rule",
        "status",
        "subject",
        "conversation",
        "channel",
        "started_at",
        "deadline",
        "stopped_at",
        "elapsed_seconds",
        "evidence",
        "message",
    }
    assert all(keys <= set(f) for f in doc["findings"])
    breached = [f for f in doc["findings"] if f["status"] == "breached"]
    assert breached == [
        {
            "commitment": "first",
            "rule": "first_reply",
            "status": "breached",
            "subject": "c2",
            "subject_kind": "conversation",
            "platform": "twitter",
            "conversation": "c2",
            "channel": "acme",
            "started_at": "2024-03-04T09:00:00Z",
            "deadline": "2024-03-04T10:00:00Z",
            "stopped_at": None,
            "elapsed_seconds": 8100.0,
            "evidence": ["4"],
            "decided_by": None,
            "severity": "error",
            "message": "Conversation c2: no first reply for 2h 15m, over the 1h limit.",
        }
    ]
    assert "c3" not in out  # after as_of


def test_only_and_fail_on(store_url: str) -> None:
    base = (
        "--store",
        store_url,
        "check",
        "--policy",
        "policy.toml",
        "--as-of",
        AS_OF,
        "--format",
        "json",
    )
    code, out, _ = run(*base, "--only", "at_risk")
    assert code == 1
    doc = json.loads(out)
    assert [f["status"] for f in doc["findings"]] == ["at_risk"]
    assert doc["commitments"][0]["counts"]["breached"] == 1  # counts cover everything
    assert run(*base, "--fail-on", "never")[0] == 0
    # before c2's deadline nothing is breached; at_risk of a warning commitment never fails
    early = (
        "--store",
        store_url,
        "check",
        "--policy",
        "policy.toml",
        "--format",
        "json",
        "--as-of",
        "2024-03-04T09:40:00Z",
    )
    assert run(*early)[0] == 0
    assert run(*early, "--fail-on", "at_risk")[0] == 0
    code, _, err = run(*base, "--only", "broken")
    assert code == 2
    assert "expected 'all' or a comma list of statuses" in err


def test_table_markdown_and_junit(store_url: str) -> None:
    base = ("--store", store_url, "check", "--policy", "policy.toml", "--as-of", AS_OF)
    code, out, _ = run(*base, "--only", "all")
    assert code == 1
    assert "Commitments as of 2024-03-04T11:15:00Z" in out
    assert "\x1b[" not in out  # no colour codes in a pipe
    lines = out.splitlines()
    assert lines.index(next(x for x in lines if "breached" in x and "c2" in x)) < lines.index(
        next(x for x in lines if "met" in x and "c1" in x)
    )  # worst first
    code, out, _ = run(*base, "--format", "markdown")
    assert "| first | We answer within an hour. | error | 1 | 0 | 0 | 0 | 1 | 0 | 50.0% |" in out
    assert "| **breached** | first | c2 |" in out
    code, out, _ = run(*base, "--format", "junit", "--only", "all")
    root = ET.fromstring(out.split("\n", 1)[1])
    assert root.tag == "testsuites"
    assert root.get("failures") == "1"
    suites = {s.get("name"): s for s in root.findall("testsuite")}
    first = suites["first"]
    assert (first.get("tests"), first.get("failures")) == ("2", "1")
    failure = first.find("testcase[@name='conversation c2']/failure")
    assert failure is not None
    assert "no first reply" in failure.get("message", "")
    assert suites["later"].find("testcase/skipped") is not None


def test_table_markdown_and_junit_list_failing_findings_by_default(store_url: str) -> None:
    base = ("--store", store_url, "check", "--policy", "policy.toml", "--as-of", AS_OF)
    for fmt in ("table", "markdown"):
        code, out, _ = run(*base, "--format", fmt)
        assert code == 1
        assert "c2" in out  # breached
        assert "Turn 2 of conversation c1" in out  # at risk
        assert "within 1h" not in out  # c1's met first reply is not listed
        assert "2 more findings not listed (1 met, 1 not applicable)" in out
        assert "--only all lists every finding" in out
    code, out, _ = run(*base, "--format", "junit")
    root = ET.fromstring(out.split("\n", 1)[1])
    cases = [c.get("name") for c in root.iter("testcase")]
    assert cases == ["conversation c2", "turn c1#2"]
    summary = {p.get("name"): p.get("value") for p in root.find("testsuite/properties") or []}
    assert (summary["met"], summary["breached"]) == ("1", "1")  # counts cover everything
    code, out, _ = run(*base, "--format", "json")
    assert len(json.loads(out)["findings"]) == 4  # JSON keeps every finding


def test_output_file_and_config_policy(store_url: str) -> None:
    Path("convokit.toml").write_text(f'store = "{store_url}"\n\n' + POLICY, encoding="utf-8")
    code, out, _ = run("check", "--as-of", AS_OF, "--format", "json", "-o", "report.json")
    assert code == 1
    assert out == ""
    assert json.loads(Path("report.json").read_text())["commitments"][0]["name"] == "first"


def test_usage_and_policy_errors_exit_2(store_url: str) -> None:
    code, _, err = run(
        "--store", store_url, "check", "--policy", "policy.toml", "--as-of", "yesterday"
    )
    assert code == 2
    assert "--as-of" in err
    code, _, err = run("--store", store_url, "check", "--policy", "policy.toml", "--format", "pdf")
    assert code == 2
    assert "unknown format 'pdf'" in err
    Path("bad.toml").write_text('[[commitment]]\nname = "x"\nrule = "frist_reply"\n')
    code, _, err = run("--store", store_url, "check", "--policy", "bad.toml")
    assert code == 2
    assert err.startswith("Error: bad.toml:3 (commitment[0].rule): unknown rule 'frist_reply'")
    assert "Traceback" not in err
    code, _, err = run("--store", store_url, "check")
    assert code == 2
    assert "no commitments to check" in err


# -- plugins --------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class NoCapsLock(Rule):
    """A third-party rule: stakeholders' messages are not all capitals... of ours."""

    name = "no_caps"  # type: ignore[misc]

    def evaluate(self, thread: Any, ctx: Any) -> list[Any]:
        return [
            ctx.outcome(
                status=Status.MET,
                subject=thread.id,
                rule=self.label(),
                note=f"Conversation {thread.id} checked by a plugin.",
            )
        ]


class ThirdParty:
    def __init__(self) -> None:
        self.calls: list[tuple[int, dict[str, Any]]] = []

    @hookimpl
    def register_rules(self, register: Callable[..., None]) -> None:
        register("no_caps", lambda: NoCapsLock(), description="plugin rule")

    @hookimpl
    def register_reporters(self, register: Callable[..., None]) -> None:
        def render(report: Any, stream: Any) -> None:
            stream.write(f"{len(report.findings)} findings\n")

        register("count", render, description="plugin reporter")

    @hookimpl
    def findings_ready(self, findings: Sequence[Any], context: dict[str, Any]) -> None:
        self.calls.append((len(findings), context))


@pytest.fixture
def plugin() -> Iterator[ThirdParty]:
    third = ThirdParty()
    set_plugin_manager(PluginManager(plugins=[third], load_entry_points=False))
    yield third
    set_plugin_manager(None)


def test_third_party_rule_reporter_and_hook(store_url: str, plugin: ThirdParty) -> None:
    Path("plugin.toml").write_text(
        '[[commitment]]\nname = "caps"\nrule = "no_caps"\n\n'
        '[[commitment]]\nname = "both"\nall_of = [{ rule = "no_caps" }, '
        '{ rule = "first_reply", within = "1h" }]\n'
    )
    code, out, _ = run(
        "--store",
        store_url,
        "check",
        "--policy",
        "plugin.toml",
        "--as-of",
        AS_OF,
        "--format",
        "count",
    )
    assert (code, out) == (1, "4 findings\n")
    assert len(plugin.calls) == 1  # once per run, not per finding
    count, context = plugin.calls[0]
    assert count == 4
    assert context["commitments"] == ["caps", "both"]
    assert context["store"] == store_url
    code, out, _ = run(
        "--store",
        store_url,
        "check",
        "--policy",
        "plugin.toml",
        "--as-of",
        AS_OF,
        "--format",
        "json",
        "--only",
        "met",
    )
    doc = json.loads(out)
    caps = [f for f in doc["findings"] if f["commitment"] == "caps"]
    assert [f["message"] for f in caps] == [
        "Conversation c1 checked by a plugin.",
        "Conversation c2 checked by a plugin.",
    ]


def test_failing_hook_is_reported_and_does_not_change_the_exit_code(store_url: str) -> None:
    class Broken:
        @hookimpl
        def findings_ready(self, findings: Sequence[Any], context: dict[str, Any]) -> None:
            raise RuntimeError("webhook down")

    set_plugin_manager(PluginManager(plugins=[Broken()], load_entry_points=False))
    try:
        code, _, err = run(
            "--store",
            store_url,
            "check",
            "--policy",
            "policy.toml",
            "--as-of",
            "2024-03-04T09:40:00Z",
            "--format",
            "json",
        )
    finally:
        set_plugin_manager(None)
    assert code == 0
    assert "Warning: a findings_ready hook failed: RuntimeError: webhook down" in err


def test_streamed_json_equals_the_report_document(store_url: str) -> None:
    import io

    from convokit_core._policy._run import check
    from convokit_core._report._reporters import render_json

    store = open_store(store_url)
    from convokit_core._timeutil import parse_datetime

    for only in (None, {"paused"}):
        report = check(store, "policy.toml", as_of=parse_datetime(AS_OF), only=only)
        out = io.StringIO()
        render_json(report, out)
        assert out.getvalue() == json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n"
    store.close()
