"""End to end: ``convokit sync`` against a loopback Zendesk, then ``convokit check``.

The account holds a ticket answered first by an internal note (which must not count),
one answered only by a trigger's auto-reply (which must not count either), and one
waiting on the customer (``pending``), whose clock pauses under ``pause_when``.
"""

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
from convokit_zendesk.testing import FakeZendesk, basic_auth

from convokit_core.testing import serve_loopback

FIXTURES = Path(__file__).parent / "fixtures"
EMAIL = "sam@acme.example"
TOKEN = "zd-api-token-7Q2mX9pL4vR8"


def convokit() -> list[str]:
    script = Path(sys.executable).with_name("convokit")
    if script.exists():
        return [str(script)]
    found = shutil.which("convokit")
    assert found, "the convokit command is not installed"
    return [found]


@pytest.fixture
def account() -> Iterator[tuple[FakeZendesk, str]]:
    fake = FakeZendesk.from_directory(FIXTURES, authorization=basic_auth(EMAIL, TOKEN))
    with serve_loopback(fake) as origin:
        fake.origin = origin
        yield fake, origin


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, CONVOKIT_LOAD_PLUGINS="zendesk", ZENDESK_API_TOKEN=TOKEN)
    return subprocess.run(
        [*convokit(), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def rows(db: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(db) as con:
        return con.execute(sql).fetchall()


def test_sync_then_check(account: tuple[FakeZendesk, str], tmp_path: Path) -> None:
    fake, origin = account
    db = tmp_path / "store.db"
    (tmp_path / "convokit.toml").write_text(
        f"""
store = "sqlite:///{db}"

[[source]]
name = "helpdesk"
platform = "zendesk"
subdomain = "acme"
base_url = "{origin}"
email = "{EMAIL}"
api_token = "${{ZENDESK_API_TOKEN}}"
page_size = 2
comments_page_size = 2

[[commitment]]
name = "first-answer"
promise = "Every customer gets a first answer from a person within 48 minutes."
rule = "first_reply"
within = "48m"

[[commitment]]
name = "resolved-in-a-day"
promise = "Every ticket is solved within a day, not counting time we wait on the customer."
rule = "resolution_within"
duration = "1d"
pause_when = "pending"
""",
        encoding="utf-8",
    )
    synced = run(["sync"], tmp_path)
    assert synced.returncode == 0, synced.stdout + synced.stderr
    stored = {
        row[0]: row[1:]
        for row in rows(
            db, "SELECT id, direction, visibility, automated, conversation_id FROM messages"
        )
    }
    assert set(stored) == fake.message_ids()
    assert stored["acme/comments/1002"][:2] == ("internal", "note")
    assert stored["acme/comments/1011"][2] in (1, True)
    statuses = dict(rows(db, "SELECT id, status FROM conversations"))
    assert statuses == {
        "acme/tickets/101": "resolved",
        "acme/tickets/102": "open",
        "acme/tickets/103": "open",
        "acme/tickets/104": "closed",
        "acme/tickets/105": "pending",
        "acme/tickets/106": "closed",
    }
    assert TOKEN.encode() not in db.read_bytes()

    checked = run(["check", "--as-of", "2026-03-08T12:00:00Z", "--format", "json"], tmp_path)
    assert checked.returncode == 1, checked.stdout + checked.stderr  # breaches
    report = json.loads(checked.stdout)
    first = {
        f["conversation"]: f["status"] for f in report["findings"] if f["rule"] == "first_reply"
    }
    assert first == {
        # The note at 47 minutes is no reply: the public answer came at 50.
        "acme/tickets/101": "breached",
        # Only the trigger's auto-reply answered.
        "acme/tickets/102": "breached",
        "acme/tickets/103": "breached",
        "acme/tickets/105": "met",
        "acme/tickets/106": "breached",
    }
    resolution = {
        f["conversation"]: f["status"]
        for f in report["findings"]
        if f["rule"] == "resolution_within"
    }
    assert resolution["acme/tickets/101"] == "met"
    # Pending since 13:05 on the 5th, 17 minutes after Ines wrote: the clock is paused.
    assert resolution["acme/tickets/105"] == "paused"
    # Open (on hold counts as open by default) for days: breached.
    assert resolution["acme/tickets/103"] == "breached"

    # Nothing new: a second sync stores nothing and keeps the cursor.
    cursor = rows(db, "SELECT * FROM cursors")
    again = run(["sync"], tmp_path)
    assert again.returncode == 0, again.stderr
    assert rows(db, "SELECT * FROM cursors") == cursor
