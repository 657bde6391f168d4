from __future__ import annotations

import json
import tomllib
from pathlib import Path

from click.testing import CliRunner

from convokit_core import open_store
from convokit_core._cli import cli
from convokit_core._demo import DEMO_POLICY


def test_demo_generates_checks_and_reports(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli,
        [
            "demo",
            "--conversations",
            "60",
            "--keep",
            str(tmp_path / "d"),
            "--format",
            "json",
            "--show",
            "5",
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["as_of"] == "2024-03-31T00:00:00Z"
    names = [c["name"] for c in report["commitments"]]
    assert names == [c["name"] for c in tomllib.loads(DEMO_POLICY)["commitment"]]
    assert len(names) == 5
    assert len(report["findings"]) == 5
    assert {f["status"] for f in report["findings"]} <= {"breached", "at_risk"}
    total = sum(sum(c["counts"].values()) for c in report["commitments"])
    assert total > 60
    # The kept store holds what the demo said it generated.
    with open_store(f"sqlite:///{tmp_path}/d/convokit.db") as store:
        counts = store.counts()
    assert counts["conversations"] == 60
    assert f"{counts['messages']:,} messages" in result.stderr
    assert "more breached or at-risk findings" in result.stderr


def test_demo_rejects_an_unknown_format() -> None:
    result = CliRunner().invoke(cli, ["demo", "--format", "nope"])
    assert result.exit_code == 2
    assert "unknown format 'nope'" in result.output


def test_init_writes_a_config_whose_policy_checks(tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(cli, ["init"]).exit_code == 0
    data = tomllib.loads(Path("convokit.toml").read_text(encoding="utf-8"))
    assert data["store"] == "sqlite:///convokit.db"
    assert len(data["commitment"]) == len(tomllib.loads(DEMO_POLICY)["commitment"])
    again = runner.invoke(cli, ["init"])
    assert again.exit_code == 2
    assert "already exists" in again.output
    msg = '{"id":"1","platform":"t","conversation":"c","author":"a","direction":"inbound","sent_at":"2024-01-01T00:00:00Z"}\n'
    assert runner.invoke(cli, ["import", "-"], input=msg).exit_code == 0
    checked = runner.invoke(cli, ["check", "--as-of", "2024-01-01T01:00:00Z", "--format", "json"])
    assert checked.exit_code in (0, 1), checked.output
    assert {c["name"] for c in json.loads(checked.stdout)["commitments"]} >= {"customers-hear-back"}


def test_demo_writes_the_html_report_and_says_where(tmp_path: Path) -> None:
    target = tmp_path / "demo.html"
    result = CliRunner().invoke(
        cli, ["demo", "--keep", str(tmp_path / "d"), "--html", str(target)], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    assert f"Wrote the HTML report to {target}" in result.stderr
    html = target.read_text(encoding="utf-8")
    # several platforms, and the Mastodon account nobody looks after any more
    with open_store(f"sqlite:///{tmp_path / 'd' / 'convokit.db'}") as store:
        platforms = {c.platform for c in store.iter_channels()}
        members = list(store.iter_team_members())
    assert platforms == {"twitter", "mastodon", "discourse"}
    assert any(m.active_until is not None for m in members)  # someone left
    abandoned = html[html.index('id="abandoned"') : html.index('id="orphaned"')]
    assert "acme@social.example" in abandoned


def test_the_demo_team_improves_over_the_weeks(tmp_path: Path) -> None:
    from convokit_core import check
    from convokit_core._demo import run_demo

    result = run_demo(tmp_path, conversations=400)
    with open_store(result.store_url) as store:
        report = check(store, result.policy_path, as_of=result.as_of)
    kept: dict[int, list[bool]] = {}
    for f in report.findings:
        if f.commitment == "quick-first-answer" and str(f.status) in ("met", "breached"):
            month = f.started_at.month if f.started_at else 0
            kept.setdefault(month, []).append(str(f.status) == "met")
    share = {m: sum(v) / len(v) for m, v in kept.items()}
    assert share[3] > share[1] + 0.15  # March answers first far more often than January
