"""End to end: ``convokit sync`` against a loopback fake X API, then ``convokit check``."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from x_fake import TOKEN, FakeX

from convokit_core.testing import serve_loopback

CONFIG = """
store = "sqlite:///{db}"

[[source]]
name = "x-support"
platform = "x"
account = "@acme"
bearer_token = "${{X_BEARER_TOKEN}}"
api_url = "{origin}"
page_size = {page_size}

[[commitment]]
name = "customers-hear-back"
promise = "Everyone who writes to @acme hears back within three hours."
rule = "first_reply"
within = "3h"

[[commitment]]
name = "follow-ups-too"
promise = "Every later question hears back within a day."
rule = "next_reply"
within = "1d"

[[commitment]]
name = "account-stays-alive"
promise = "We post at least once a week."
rule = "channel_activity"
max_gap = "7d"
"""


def convokit() -> list[str]:
    script = Path(sys.executable).with_name("convokit")
    if script.exists():
        return [str(script)]
    found = shutil.which("convokit")
    assert found, "the convokit command is not installed"
    return [found]


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, CONVOKIT_LOAD_PLUGINS="x", X_BEARER_TOKEN=TOKEN)
    return subprocess.run(
        [*convokit(), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def rows(db: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(db) as con:
        return con.execute(sql).fetchall()


@pytest.fixture
def x_api() -> Iterator[tuple[FakeX, str]]:
    fake = FakeX()
    with serve_loopback(fake) as origin:
        yield fake, origin


def test_sync_then_check(x_api: tuple[FakeX, str], tmp_path: Path) -> None:
    _, origin = x_api
    db = tmp_path / "store.db"
    (tmp_path / "convokit.toml").write_text(
        CONFIG.format(db=db, origin=origin, page_size=5), encoding="utf-8"
    )
    synced = run(["sync"], tmp_path)
    assert synced.returncode == 0, synced.stdout + synced.stderr
    stored = {
        row[0]: row[1:]
        for row in rows(db, "SELECT id, direction, in_reply_to, conversation_id FROM messages")
    }
    assert len(stored) == 12
    assert stored["1790000000000000004"] == (
        "outbound",
        "1790000000000000001",
        "1790000000000000001",
    )
    assert stored["1790000000000000002"][0] == "outbound"
    assert "1780000000000000002" not in stored  # beyond the 7-day search window
    assert rows(db, "SELECT id, platform FROM channels") == [("x:1500000000000000001", "x")]
    assert TOKEN.encode() not in db.read_bytes()

    checked = run(["check", "--as-of", "2026-03-10T12:00:00Z", "--format", "json"], tmp_path)
    assert checked.returncode == 1, checked.stdout + checked.stderr  # a breach
    findings = json.loads(checked.stdout)["findings"]
    first = {f["conversation"]: f["status"] for f in findings if f["rule"] == "first_reply"}
    assert first["1790000000000000001"] == "met"  # Ana heard back after 90 minutes
    assert first["1790000000000000007"] == "met"
    assert first["1780000000000000001"] == "met"
    assert first["1790000000000000000"] == "breached"  # a reply under a deleted post
    later = [
        f["status"]
        for f in findings
        if f["rule"] == "next_reply" and f["conversation"] == "1780000000000000001"
    ]
    assert "breached" in later  # Dora's "still down" was never answered
    # The account went quiet for 16 days in February and March (retweets do not count).
    channel = [
        (f["status"], f["started_at"], f["stopped_at"])
        for f in findings
        if f["rule"] == "channel_activity" and f["status"] != "met"
    ]
    assert channel == [("breached", "2026-02-20T11:00:00Z", "2026-03-08T09:30:00Z")]

    # Nothing new: the next sync stores nothing and keeps the cursor.
    cursor = rows(db, "SELECT * FROM cursors")
    again = run(["sync"], tmp_path)
    assert again.returncode == 0, again.stderr
    assert rows(db, "SELECT * FROM cursors") == cursor
    assert len(rows(db, "SELECT id FROM messages")) == 12


def test_a_bad_page_size_is_a_config_error_exit_2(x_api: tuple[FakeX, str], tmp_path: Path) -> None:
    _, origin = x_api
    db = tmp_path / "store.db"
    text = CONFIG.format(db=db, origin=origin, page_size=500)
    (tmp_path / "convokit.toml").write_text(text, encoding="utf-8")
    failed = run(["sync"], tmp_path)
    assert failed.returncode == 2, failed.stdout + failed.stderr
    assert "page_size" in failed.stderr
    assert "Traceback" not in failed.stderr
    assert TOKEN not in failed.stdout + failed.stderr
