"""The plugin as users run it: entry point, ``[[source]]`` keys, ``convokit sync`` then
``convokit check`` against a fake GitHub on a loopback port."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from convokit_github import GitHubConfig, create
from github_fake import TOKEN, FakeGitHub, serve

from convokit_core import ConfigError, PluginManager, load_config, load_sources

CONVOKIT = str(Path(sys.executable).with_name("convokit"))

SOURCE = """
[[source]]
name = "gh"
platform = "github"
repositories = ["acme/widgets"]
token = "${GITHUB_TOKEN}"
"""


@pytest.fixture
def plugins(monkeypatch: pytest.MonkeyPatch) -> PluginManager:
    monkeypatch.setenv("CONVOKIT_LOAD_PLUGINS", "github")
    return PluginManager()


def test_entry_point_registers_the_platform(plugins: PluginManager) -> None:
    registration = plugins.platforms["github"]
    assert registration.plugin == "github"
    assert registration.options["config"] is GitHubConfig
    assert registration.options["create"] is create


def test_the_plugin_can_be_excluded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONVOKIT_LOAD_PLUGINS", "mastodon")
    assert "github" not in PluginManager().platforms.names()


def _sources(plugins: PluginManager, tmp_path: Path, extra: str) -> GitHubConfig:
    path = tmp_path / "convokit.toml"
    path.write_text(SOURCE + extra, encoding="utf-8")
    (spec,) = load_sources(load_config(path), plugins, env={"GITHUB_TOKEN": TOKEN})
    assert TOKEN in spec.secrets
    assert isinstance(spec.config, GitHubConfig)
    return spec.config


def test_source_keys_build_the_config(plugins: PluginManager, tmp_path: Path) -> None:
    config = _sources(
        plugins,
        tmp_path,
        'include_pull_requests = false\nmaintainer_associations = ["owner", "MEMBER"]\n'
        'since = 2025-01-01T00:00:00Z\npage_size = 50\naccount = "acme-bot[bot]"\n',
    )
    assert config.repositories == ("acme/widgets",)
    assert config.include_pull_requests is False
    assert config.maintainer_associations == ("OWNER", "MEMBER")
    assert config.since is not None
    assert config.since.year == 2025
    assert config.account == "acme-bot[bot]"
    assert TOKEN not in repr(config)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ('repositories = ["acme"]', "'repositories[0]' must be an \"owner/repo\""),
        ('repositories = "acme/widgets"', "'repositories' must be a list"),
        ('repositories = ["a/b", "A/B"]', "listed twice"),
        ("repositories = []", "at least one"),
        ("page_size = 0", "'page_size' must be an integer from 1 to 100"),
        (
            'include_pull_requests = "yes"',
            "(source[0].include_pull_requests): source 'gh': expected true or false",
        ),
        ('maintainer_associations = ["BOSS"]', "'maintainer_associations[0]' must be one of"),
        ('since = "2025-01-01T00:00:00"', "'since'"),
        ('api_url = "http://ghe.example.com/api/v3"', "(source[0].api_url)"),
        ("retry_budget = -1", "'retry_budget'"),
        ('token = "ghp_with\\nnewline0123"', "control character U+000A"),
        ('reposs = ["acme/widgets"]', "reposs"),
    ],
)
def test_bad_keys_are_config_errors_naming_the_key(
    plugins: PluginManager, tmp_path: Path, extra: str, message: str
) -> None:
    text = SOURCE
    key = extra.split(" = ")[0]
    if key in ("repositories", "token"):
        text = "".join(line + "\n" for line in text.splitlines() if not line.startswith(key))
    path = tmp_path / "convokit.toml"
    path.write_text(text + extra + "\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_sources(load_config(path), plugins, env={"GITHUB_TOKEN": TOKEN})
    assert message in str(caught.value)
    assert "convokit.toml" in str(caught.value)
    assert "newline0123" not in str(caught.value)


POLICY = """
[[commitment]]
name = "issues-hear-back"
promise = "Every issue hears back from a maintainer within a day."
rule = "first_reply"
within = "1d"

[[commitment]]
name = "follow-ups-hear-back"
promise = "Every follow-up hears back within a day."
rule = "next_reply"
within = "1d"

[[commitment]]
name = "repositories-stay-alive"
promise = "We post in every repository at least once a week."
rule = "channel_activity"
max_gap = "1w"
"""


def _run(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CONVOKIT, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def test_sync_then_check_through_the_cli(tmp_path: Path) -> None:
    fake = FakeGitHub.scenario()
    with serve(fake) as url:
        fake.api = url
        host = url.removeprefix("http://")
        (tmp_path / "convokit.toml").write_text(
            f'store = "sqlite:///{tmp_path / "store.db"}"\n'
            + SOURCE
            + f'api_url = "{url}"\npage_size = 2\n'
            + '\n[[team]]\nid = "sam"\nname = "Sam"\nhandles = { github = "sam" }\n',
            encoding="utf-8",
        )
        (tmp_path / "policy.toml").write_text(POLICY, encoding="utf-8")
        env = {**os.environ, "GITHUB_TOKEN": TOKEN, "CONVOKIT_LOAD_PLUGINS": "github"}
        synced = _run("sync", cwd=tmp_path, env=env)
        assert synced.returncode == 0, synced.stderr
        first_run = len(fake.requests)
        again = _run("sync", cwd=tmp_path, env=env)
        assert again.returncode == 0, again.stderr
        second_run = [url for url, _ in fake.requests[first_run:]]

    con = sqlite3.connect(tmp_path / "store.db")
    try:
        stored = {row[0] for row in con.execute("SELECT id FROM messages")}
        directions = dict(con.execute("SELECT id, direction FROM messages").fetchall())
    finally:
        con.close()
    assert stored == fake.expected_ids(host=host)
    assert directions[f"{host}/acme/widgets#2/comments/101003"] == "outbound"  # team
    assert directions[f"{host}/acme/widgets#1"] == "inbound"
    # The second sync asks each list once, from the stored watermark, and stops.
    assert len(second_run) == 2
    assert all("since=2026-03-06T10%3A30%3A00Z" in url for url in second_run), second_run
    assert TOKEN.encode() not in (tmp_path / "store.db").read_bytes()

    checked = _run(
        "check",
        "--policy",
        "policy.toml",
        "--as-of",
        "2026-03-10T12:00:00Z",
        "--format",
        "json",
        "--fail-on",
        "never",
        cwd=tmp_path,
        env=env,
    )
    assert checked.returncode == 0, checked.stderr
    report = json.loads(checked.stdout)
    findings = {(f["commitment"], f["subject"]): f for f in report["findings"]}
    prefix = f"{host}/acme/widgets"
    # Answered by kc (MEMBER) half an hour later.
    assert findings[("issues-hear-back", f"{prefix}#1")]["status"] == "met"
    # Answered by sam, a [[team]] member.
    assert findings[("issues-hear-back", f"{prefix}#2")]["status"] == "met"
    # ana's follow-up on #1 (10:30) was answered by lee (COLLABORATOR) at 11:00.
    follow_ups = [
        f
        for f in report["findings"]
        if f["commitment"] == "follow-ups-hear-back" and f["conversation"] == f"{prefix}#1"
    ]
    assert [f["status"] for f in follow_ups] == ["met"]
    assert follow_ups[0]["started_at"] == "2026-03-02T10:30:00Z"
    # Reopened and never answered in words: breached.
    assert findings[("issues-hear-back", f"{prefix}#6")]["status"] == "breached"
    # The repository is a channel; our last post there (lee, 6 March) is 4 days old:
    # the clock runs, within the week.
    channel = findings[("repositories-stay-alive", prefix)]
    assert channel["subject_kind"] == "channel"
    assert channel["status"] == "pending"
    assert channel["started_at"] == "2026-03-06T10:30:00Z"

    # Three weeks later with no post from us, the repository has gone quiet.
    later = _run(
        "check",
        "--policy",
        "policy.toml",
        "--as-of",
        "2026-03-31T12:00:00Z",
        "--format",
        "json",
        cwd=tmp_path,
        env=env,
    )
    assert later.returncode == 1, later.stderr  # a breached commitment fails the run
    quiet = {
        f["subject"]: f
        for f in json.loads(later.stdout)["findings"]
        if f["commitment"] == "repositories-stay-alive"
    }
    assert quiet[prefix]["status"] == "breached"
