"""End to end through the CLI: the entry point, `convokit sync`, then `convokit check`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import respx
from click.testing import CliRunner
from convokit_slack.testing import FakeSlack, generated_workspace, serve

from convokit_core import open_store, set_plugin_manager
from convokit_core._cli import cli

TOKEN = "xoxb-3141-5926-cliEndToEndToken"

CONFIG = """
store = "sqlite:///store.db"

[[source]]
name = "acme-slack"
platform = "slack"
token = "${SLACK_TOKEN}"
channels = ["#support", "C0BILLING"]
api_url = "https://slack.test/api"
page_size = 5

[[team]]
id = "kc"
name = "KC"
handles = { slack = "U0TEAMKC1" }

[[commitment]]
name = "customers-hear-back"
promise = "Every question in our Slack channels gets a human answer within an hour."
rule = "first_reply"
within = "1h"

[[commitment]]
name = "follow-ups-answered"
promise = "Every follow-up question gets an answer within two hours."
rule = "next_reply"
within = "2h"

[[commitment]]
name = "channels-stay-alive"
promise = "We post in every support channel at least once a week."
rule = "channel_activity"
max_gap = "7d"
"""


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeSlack]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CONVOKIT_LOAD_PLUGINS", "slack")
    monkeypatch.setenv("SLACK_TOKEN", TOKEN)
    (tmp_path / "convokit.toml").write_text(CONFIG, encoding="utf-8")
    fake = generated_workspace(token=TOKEN, threads=6)
    set_plugin_manager(None)
    with respx.mock(base_url="https://slack.test/api/", assert_all_called=False) as router:
        router.route().mock(side_effect=fake.handler)
        yield fake
    set_plugin_manager(None)


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_sync_then_check_reports_reply_clocks_and_channel_activity(
    workspace: FakeSlack, tmp_path: Path
) -> None:
    code, out, err = run("-q", "sync")
    assert code == 0, err
    store = open_store("sqlite:///store.db")
    try:
        stored = {m.id for m in store.iter_messages(platform="slack")}
        channels = {c.id: c.handle for c in store.iter_channels()}
    finally:
        store.close()
    assert stored == workspace.expected_ids()
    assert channels == {"T0ACME001/C0SUPPORT": "#support", "T0ACME001/C0BILLING": "#billing"}
    assert TOKEN.encode() not in (tmp_path / "store.db").read_bytes()

    # A second sync finds nothing new.
    code, _, err = run("-q", "sync")
    assert code == 0, err

    code, out, err = run("check", "--format", "json", "--as-of", "2026-01-01T07:00:00Z")
    assert code == 1, err  # threads only our bot answered breach the first-reply promise
    report = json.loads(out)
    findings = {(f["commitment"], f["subject"]): f["status"] for f in report["findings"]}
    answered = "T0ACME001/C0SUPPORT/1767225600.000100"  # KC answered after 25 minutes
    bot_only = "T0ACME001/C0SUPPORT/1767229200.000100"  # only the (automated) bot answered
    assert findings[("customers-hear-back", answered)] == "met"
    assert findings[("customers-hear-back", bot_only)] == "breached"
    # The follow-up asked after KC's answer has waited 6.5 hours.
    follow_ups = [
        f["status"]
        for f in report["findings"]
        if f["commitment"] == "follow-ups-answered" and f["conversation"] == answered
    ]
    assert follow_ups == ["breached"]
    # Our last post is recent: each channel's clock runs, well inside a week.
    assert findings[("channels-stay-alive", "T0ACME001/C0SUPPORT")] == "pending"
    assert findings[("channels-stay-alive", "T0ACME001/C0BILLING")] == "pending"

    # A month later with nothing new, both channels look abandoned.
    code, out, _ = run("check", "--format", "json", "--as-of", "2026-02-01T00:00:00Z")
    later = {(f["commitment"], f["subject"]): f["status"] for f in json.loads(out)["findings"]}
    assert later[("channels-stay-alive", "T0ACME001/C0SUPPORT")] == "breached"
    assert later[("channels-stay-alive", "T0ACME001/C0BILLING")] == "breached"


def test_the_plugin_is_listed_and_can_be_excluded(
    workspace: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, _ = run("plugins", "--format", "json")
    assert code == 0
    listed = {p["name"]: p for p in json.loads(out)["plugins"]}
    assert listed["slack"]["registered"]["platforms"] == ["slack"]

    monkeypatch.setenv("CONVOKIT_LOAD_PLUGINS", "")
    set_plugin_manager(None)
    code, out, _ = run("plugins", "--format", "json")
    assert code == 0
    assert "slack" not in {p["name"] for p in json.loads(out)["plugins"]}
    code, _, err = run("-q", "sync")
    assert code == 2
    assert "slack" in err  # an unknown platform, named


def test_a_token_slack_rejects_fails_the_source_without_showing_it(
    workspace: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLACK_TOKEN", "xoxb-0000-0000-revokedTokenValue")
    code, out, err = run("-q", "sync")
    assert code == 1
    assert "acme-slack" in err
    assert "invalid_auth" in err
    assert "revokedTokenValue" not in err + out


def test_sync_and_check_in_a_subprocess_against_a_loopback_server(tmp_path: Path) -> None:
    fake = generated_workspace(token=TOKEN, threads=6, limit_cap=4, ratelimit_every=0)
    cli_cmd = [
        sys.executable,
        "-c",
        "import sys; from convokit_core._cli import main; sys.exit(main())",
    ]
    env = {**os.environ, "CONVOKIT_LOAD_PLUGINS": "slack", "SLACK_TOKEN": TOKEN}
    with serve(fake) as api_url:
        config = CONFIG.replace('api_url = "https://slack.test/api"', f'api_url = "{api_url}"')
        (tmp_path / "convokit.toml").write_text(config, encoding="utf-8")
        synced = subprocess.run(
            [*cli_cmd, "-q", "sync"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert synced.returncode == 0, synced.stderr
    assert any(r.url.path.endswith("conversations.history") for r in fake.requests)
    checked = subprocess.run(
        [*cli_cmd, "check", "--format", "json", "--as-of", "2026-01-01T07:00:00Z"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert checked.returncode == 1, checked.stderr  # the bot-only threads are breached
    findings = json.loads(checked.stdout)["findings"]
    conversations = {
        f["conversation"] for f in findings if f["commitment"] == "customers-hear-back"
    }
    parents = {i for i in fake.expected_ids() if i.endswith(".000100")}  # every thread
    assert len(parents) == 12
    assert parents <= conversations
    assert {f["subject"] for f in findings if f["commitment"] == "channels-stay-alive"} == {
        "T0ACME001/C0SUPPORT",
        "T0ACME001/C0BILLING",
    }
