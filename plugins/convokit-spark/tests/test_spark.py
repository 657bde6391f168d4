"""The Spark engine gives the local engine's report, byte for byte."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import attrs
import pytest
from click.testing import CliRunner
from conftest import AS_OF, need_java

from convokit_core import ConvokitError
from convokit_core._cli import cli
from convokit_core._policy._policyfile import Policy, load_policy
from convokit_core._policy._run import check
from convokit_core._report._reporters import render_json
from convokit_core.testing import DEMO_POLICY

OWN_POLICY = """\
classifiers = ["keywords"]

[calendars.office]
timezone = "America/New_York"
hours = { mon-fri = ["09:00-12:30", "13:30-17:00"] }
holidays = { country = "US", subdivision = "NY" }

[[commitment]]
name = "customers-next-reply"
rule = "next_reply"
within = "4h"
calendar = "office"
warn_before = "1h"
pause_when = "pending"
where = { stakeholder_kind = ["customer"] }

[[commitment]]
name = "updates"
rule = "periodic_update"
every = "2d"
replies = { count_automated = true }

[[commitment]]
name = "questions"
rule = "follow_up"
tags = ["question"]
acknowledge_within = "2h"
resolve_within = "5d"
calendar = "office"

[[commitment]]
name = "public-first"
rule = "first_reply"
within = "30m"
replies = { public_only = true }
unless = { channel = ["acme_billing"] }

[[commitment]]
name = "either"
any_of = [
  { rule = "first_reply", within = "10m" },
  { rule = "resolution_within", duration = "2d" },
]

[[commitment]]
name = "owners"
rule = "owner_assigned"
severity = "warning"

[[commitment]]
name = "help-channels"
rule = "channel_activity"
max_gap = "12h"
calendar = "office"
where = { channel = ["acme_help", "acme_quiet", "acme_unborn", "acme@m"] }

[[commitment]]
name = "both-gaps"
all_of = [
  { rule = "channel_activity", max_gap = "1d" },
  { rule = "channel_activity", max_gap = "3d" },
]
"""


def _policy(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _json(report: Any) -> str:
    out = io.StringIO()
    render_json(report, out)
    return out.getvalue()


def _both(spark: Any, generated: tuple[str, Path], policy: Policy, only: Any = None) -> Any:
    from convokit_spark import check_spark

    url, dataset = generated
    local = check(url, policy, as_of=AS_OF, only=only, engine="python")
    result = check_spark(spark, str(dataset), policy, as_of=AS_OF, only=only)
    remote = result.report()
    assert remote.store == str(dataset)
    return local, attrs.evolve(remote, store=local.store), result


@pytest.fixture(scope="module")
def demo(spark: Any, generated: tuple[str, Path], tmp_path_factory: Any) -> Any:
    policy = load_policy(_policy(tmp_path_factory.mktemp("demo"), DEMO_POLICY))
    return _both(spark, generated, policy)


def test_demo_policy_gives_the_local_report_byte_for_byte(demo: Any) -> None:
    local, remote, _ = demo
    assert len(local.findings) > 1000
    assert _json(remote) == _json(local)


def test_own_policy_every_rule_kind_and_the_edge_cases(
    spark: Any, generated: tuple[str, Path], tmp_path: Path
) -> None:
    policy = load_policy(_policy(tmp_path, OWN_POLICY))
    local, remote, result = _both(spark, generated, policy)
    assert _json(remote) == _json(local)
    found = {(f.commitment, f.conversation, f.channel, f.subject) for f in local.findings}
    # the edge cases are really there: a derived conversation, ids in binary order,
    # a known channel with no post, a channel without a creation date, two platforms
    assert ("public-first", "d1", "acme_help", "d1") in found
    assert ("help-channels", None, "acme_quiet", "acme_quiet") in found
    assert ("both-gaps", None, "acme_unborn", "acme_unborn") in found
    assert ("both-gaps", None, "acme@m", "acme@m") in found
    order = [f.conversation for f in local.findings if f.conversation in ("Z", "a", "é")]
    assert order == sorted(order)
    assert set(order) == {"Z", "a", "é"}
    assert result.conversations > 300


def test_only_keeps_some_and_counts_all(
    spark: Any, generated: tuple[str, Path], tmp_path: Path
) -> None:
    policy = load_policy(_policy(tmp_path, OWN_POLICY))
    local, remote, _ = _both(spark, generated, policy, only={"breached", "at_risk"})
    assert local.hidden > 0
    assert {str(f.status) for f in local.findings} <= {"breached", "at_risk"}
    assert _json(remote) == _json(local)


def test_findings_dataframe_and_write(demo: Any, spark: Any, tmp_path: Path) -> None:
    local, _, result = demo
    rows = [r.asDict(recursive=True) for r in result.findings.collect()]
    assert rows == [f.to_dict() for f in local.findings]
    counts: dict[int, dict[str, int]] = {}
    for r in result.summaries.collect():
        counts.setdefault(r["meta"], {})[r["status"]] = r["n"]
    for i, summary in enumerate(local.commitments):
        assert {s: n for s, n in summary.counts.items() if n} == counts.get(i, {})
    result.write(str(tmp_path / "out"), format="json")
    lines = [
        json.loads(line)
        for part in sorted((tmp_path / "out" / "findings").glob("part-*.json"))
        for line in part.read_text(encoding="utf-8").splitlines()
    ]
    assert lines == [f.to_dict() for f in local.findings]
    head, *summaries = [
        json.loads(line)
        for part in sorted((tmp_path / "out" / "commitments").glob("part-*"))
        for line in part.read_text(encoding="utf-8").splitlines()
    ]
    assert head["as_of"] == "2024-03-31T12:00:00Z"
    assert summaries == [c.to_dict() for c in local.commitments]
    result.write(str(tmp_path / "pq"), format="parquet")
    back = spark.read.parquet(str(tmp_path / "pq" / "findings")).count()
    assert back == len(local.findings)


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_cli_spark_engine_json_is_byte_identical_to_the_local_check(
    spark: Any, generated: tuple[str, Path], tmp_path: Path
) -> None:
    url, dataset = generated
    policy = str(_policy(tmp_path, DEMO_POLICY))
    common = ("--policy", policy, "--as-of", "latest", "--format", "json", "--fail-on", "never")
    code, local, _ = run("--store", url, "check", *common)
    assert code == 0
    code, remote, err = run("check", "--engine", "spark", "--input", str(dataset), *common)
    assert code == 0, err
    assert json.loads(remote)["store"] == str(dataset)
    # byte for byte, but for the line that names where the data came from
    expected = local.replace(json.dumps(url), json.dumps(str(dataset)), 1)
    assert remote == expected


def test_cli_missing_or_bad_dataset_is_a_clear_error(tmp_path: Path) -> None:
    need_java()
    policy = str(_policy(tmp_path, DEMO_POLICY))
    code, _, err = run(
        "check", "--engine", "spark", "--input", str(tmp_path / "nope"), "--policy", policy
    )
    assert code == 2
    assert "Traceback" not in err
    assert "nope: no such directory; expected a Parquet dataset directory" in err
    (tmp_path / "empty").mkdir()
    code, _, err = run(
        "check", "--engine", "spark", "--input", str(tmp_path / "empty"), "--policy", policy
    )
    assert code == 2
    assert "not a convokit Parquet dataset" in err


def test_without_java_the_tests_skip_or_fail_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    import convokit_spark._check as module
    from convokit_spark import SparkUnavailable, spark_session

    monkeypatch.setattr(module, "_java_missing", lambda: True)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="apt-get install openjdk-17-jre-headless"):
        need_java()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI is set"):
        need_java()
    with pytest.raises(SparkUnavailable, match="needs a Java 17 runtime") as info:
        spark_session()
    assert isinstance(info.value, ConvokitError)
