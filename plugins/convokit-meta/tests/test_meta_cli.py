"""End to end: `convokit sync` then `convokit check` in a subprocess, on a loopback Graph API."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import respx
from meta_fake import FakeGraph

from convokit_core import set_plugin_manager
from convokit_core.testing import serve_loopback

TOKEN = "EAAGcliEndToEndPageToken24681357"

CONFIG = """
store = "sqlite:///store.db"

[[source]]
name = "acme-facebook"
platform = "facebook"
page_id = "104857600123456"
access_token = "${META_TOKEN}"
api_url = "API_URL"
page_size = 2

[[source]]
name = "acme-instagram"
platform = "instagram"
ig_user_id = "17841400008460056"
access_token = "${META_TOKEN}"
api_url = "API_URL"
page_size = 2

[[commitment]]
name = "comments-answered"
promise = "Every comment and message on Facebook and Instagram gets an answer within an hour."
rule = "first_reply"
within = "1h"
"""

CLI = [sys.executable, "-c", "import sys; from convokit_core._cli import main; sys.exit(main())"]


def both(fb: FakeGraph, ig: FakeGraph) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        node = request.url.path.strip("/").split("/")[1]
        if node in ig.objects or any(edge.startswith(f"{node}/") for edge in ig.edges):
            return ig.handler(request)
        return fb.handler(request)

    return handler


def test_sync_then_check_on_a_loopback_graph_api(tmp_path: Path) -> None:
    fb = FakeGraph("facebook.json", token=TOKEN)
    ig = FakeGraph("instagram.json", token=TOKEN)
    # A busy app: the usage header asks to slow down a little (0.05 s at 81 % with max_pause = 1).
    fb.usage = {"X-App-Usage": '{"call_count": 81, "total_cputime": 4, "total_time": 9}'}
    env = {**os.environ, "CONVOKIT_LOAD_PLUGINS": "meta", "META_TOKEN": TOKEN}
    with serve_loopback(both(fb, ig)) as base_url:
        config = CONFIG.replace("API_URL", base_url.rstrip("/"))
        config = config.replace("page_size = 2\n", "page_size = 2\nmax_pause = 1\n", 1)
        (tmp_path / "convokit.toml").write_text(config, encoding="utf-8")
        synced = subprocess.run(
            [*CLI, "-q", "sync"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert synced.returncode == 0, synced.stderr
        again = subprocess.run(
            [*CLI, "-q", "sync"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert again.returncode == 0, again.stderr
    assert TOKEN not in synced.stdout + synced.stderr
    checked = subprocess.run(
        [*CLI, "check", "--format", "json", "--as-of", "2026-03-07T00:00:00Z"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert checked.returncode == 1, checked.stderr
    findings = json.loads(checked.stdout)["findings"]
    status = {f["conversation"]: f["status"] for f in findings}
    assert status == {
        "104857600123456_900000000000001": "met",  # Ben asked, the Page answered in 45 min
        "104857600123456_900000000000002": "met",  # Dana's post on our feed, answered
        "104857600123456_900000000000003": "breached",  # Ben's question never answered
        "t_10160000000000001": "met",
        "t_10160000000000002": "met",
        "17900000000000001": "met",
        "17900000000000002": "breached",  # Sue's question under the medium
        "aWdfZAG06MTpJR01lc3NhZA2VUaHJlYWQ6MTc4NDE0MDAwMDg0NjAwNTY6MzQw": "met",
    }
    listed = subprocess.run(
        [*CLI, "plugins", "--format", "json"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert listed.returncode == 0, listed.stderr
    (plugin,) = json.loads(listed.stdout)["plugins"]
    assert plugin["name"] == "meta"
    assert plugin["registered"]["platforms"] == ["facebook", "instagram"]


def _cli(*args: str) -> tuple[int, str, str]:
    from click.testing import CliRunner

    from convokit_core._cli import cli

    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_a_config_error_names_the_key_and_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CONVOKIT_LOAD_PLUGINS", "meta")
    monkeypatch.setenv("META_TOKEN", TOKEN)
    config = CONFIG.replace('"API_URL"', '"https://graph.facebook.com"')
    config = config.replace('page_id = "104857600123456"', 'page_id = "acme"')
    (tmp_path / "convokit.toml").write_text(config, encoding="utf-8")
    set_plugin_manager(None)
    try:
        code, out, err = _cli("-q", "sync")
    finally:
        set_plugin_manager(None)
    assert code == 2
    assert "page_id" in err
    assert "convokit.toml" in err
    assert TOKEN not in out + err
    assert "Traceback" not in err


def test_a_throttled_source_fails_alone_and_names_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CONVOKIT_LOAD_PLUGINS", "meta")
    monkeypatch.setenv("META_TOKEN", TOKEN)
    fb = FakeGraph("facebook.json", token=TOKEN)
    ig = FakeGraph("instagram.json", token=TOKEN)
    entry = {"type": "pages", "call_count": 100, "total_cputime": 40, "total_time": 60}
    entry["estimated_time_to_regain_access"] = 1440
    blocked = json.dumps({"104857600123456": [entry]})
    fb.usage = {"X-Business-Use-Case-Usage": blocked}
    config = CONFIG.replace('"API_URL"', '"https://graph.facebook.com"')
    (tmp_path / "convokit.toml").write_text(config, encoding="utf-8")
    set_plugin_manager(None)
    try:
        with respx.mock(base_url="https://graph.facebook.com", assert_all_called=False) as router:
            router.route().mock(side_effect=both(fb, ig))
            code, out, err = _cli("-q", "sync")
    finally:
        set_plugin_manager(None)
    assert code == 1
    assert "acme-facebook" in err
    assert "estimated_time_to_regain_access" in err
    assert "1440 min" in err
    assert TOKEN not in out + err
    assert len(fb.requests) == 1  # it stopped instead of hammering a blocked Page
    assert any(r.url.path.endswith("/media") for r in ig.requests)  # the other source ran
