"""End to end: ``convokit sync`` against a loopback WordPress, then ``convokit check``.

The blog went quiet (its last post is from 2021) while readers still comment in 2026:
the sync must store every post and comment with its thread and direction, and the
``channel_activity`` commitment must report the abandoned blog as breached.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from convokit_wordpress.testing import FakeWordPress, serve

PASSWORD = "abcd EFGH 1234 ijkl MNOP 5678"


def convokit() -> list[str]:
    script = Path(sys.executable).with_name("convokit")
    if script.exists():
        return [str(script)]
    found = shutil.which("convokit")
    assert found, "the convokit command is not installed"
    return [found]


@pytest.fixture
def blog() -> Iterator[tuple[FakeWordPress, str]]:
    fake = FakeWordPress(posts=6, site="http://placeholder/news")
    with serve(fake) as origin:
        fake.site = f"{origin}/news"
        yield fake, origin


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, CONVOKIT_LOAD_PLUGINS="wordpress", WP_APP_PASSWORD=PASSWORD)
    return subprocess.run(
        [*convokit(), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def rows(db: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(db) as con:
        return con.execute(sql).fetchall()


def test_sync_then_check_reports_the_abandoned_blog(
    blog: tuple[FakeWordPress, str], tmp_path: Path
) -> None:
    fake, origin = blog
    db = tmp_path / "store.db"
    (tmp_path / "convokit.toml").write_text(
        f"""
store = "sqlite:///{db}"

[[source]]
name = "news"
platform = "wordpress"
site = "{origin}/news/"
username = "editor"
app_password = "${{WP_APP_PASSWORD}}"
page_size = 5

[[commitment]]
name = "blog-stays-alive"
promise = "We post on our blog at least once a month."
rule = "channel_activity"
max_gap = "30d"

[[commitment]]
name = "readers-hear-back"
promise = "Every reader who comments hears back within three days."
rule = "first_reply"
within = "3d"

[[commitment]]
name = "follow-ups-too"
promise = "Every later comment hears back within three days too."
rule = "next_reply"
within = "3d"
""",
        encoding="utf-8",
    )
    synced = run(["sync"], tmp_path)
    assert synced.returncode == 0, synced.stdout + synced.stderr
    key = fake.site_key
    stored = {
        row[0]: row[1:]
        for row in rows(
            db, "SELECT id, direction, in_reply_to, conversation_id, channel_id FROM messages"
        )
    }
    assert set(stored) == fake.expected_ids()
    for post in fake.public_posts():
        assert stored[f"{key}/posts/{post['id']}"] == (
            "outbound",
            None,
            f"{key}/posts/{post['id']}",
            key,
        )
    authors = {p["author"] for p in fake.public_posts()}
    for comment in fake.public_comments():
        direction, parent, conversation, channel = stored[f"{key}/comments/{comment['id']}"]
        assert direction == ("outbound" if comment["author"] in authors else "inbound")
        assert conversation == f"{key}/posts/{comment['post']}"
        expected_parent = (
            f"{key}/comments/{comment['parent']}" if comment["parent"] else conversation
        )
        assert parent == expected_parent
        assert channel == f"{key}/comments"
    assert rows(db, "SELECT id, platform FROM channels") == [(key, "wordpress")]
    assert PASSWORD.encode() not in db.read_bytes()

    checked = run(["check", "--as-of", "2026-12-01T00:00:00Z", "--format", "json"], tmp_path)
    assert checked.returncode == 1, checked.stdout + checked.stderr  # a breach
    report = json.loads(checked.stdout)
    channel = [f for f in report["findings"] if f["rule"] == "channel_activity"]
    # the blog has not posted for years; nobody has answered its comments for months
    assert sorted((f["subject"], f["status"]) for f in channel) == [
        (key, "breached"),
        (f"{key}/comments", "breached"),
    ]
    first = {
        f["conversation"]: f["status"] for f in report["findings"] if f["rule"] == "first_reply"
    }
    assert set(first) == {f"{key}/posts/{p['id']}" for p in fake.public_posts()}
    last_post = f"{key}/posts/{fake.public_posts()[-1]['id']}"
    assert first[last_post] == "met"  # its first comment was answered by its author
    assert sorted(set(first.values())) == ["met"]
    later = [
        f
        for f in report["findings"]
        if f["rule"] == "next_reply" and f["conversation"] == last_post
    ]
    # Readers still ask on the last post in 2026 and nobody answers.
    assert "breached" in {f["status"] for f in later}

    # Nothing new: a second sync stores nothing and keeps the cursor.
    cursor = rows(db, "SELECT * FROM cursors")
    again = run(["sync"], tmp_path)
    assert again.returncode == 0, again.stderr
    assert rows(db, "SELECT * FROM cursors") == cursor
    assert len(rows(db, "SELECT id FROM messages")) == len(stored)

    # A reader comments on the old post: exactly that one comment arrives.
    new = fake.add_comment(
        fake.public_posts()[0]["id"],
        datetime(2026, 11, 28, 9, 0, tzinfo=UTC),
        "Hello?",
        guest="Zoe",
    )
    more = run(["sync"], tmp_path)
    assert more.returncode == 0, more.stderr
    now = {row[0] for row in rows(db, "SELECT id FROM messages")}
    assert now - set(stored) == {f"{key}/comments/{new['id']}"}
    late = run(["check", "--as-of", "2026-12-02T12:00:00Z", "--format", "json"], tmp_path)
    assert late.returncode == 1, late.stderr
    first_post = f"{key}/posts/{fake.public_posts()[0]['id']}"
    turns = [
        f
        for f in json.loads(late.stdout)["findings"]
        if f["rule"] == "next_reply" and f["conversation"] == first_post
    ]
    zoe = [f for f in turns if f["started_at"] == "2026-11-28T09:00:00Z"]
    assert [f["status"] for f in zoe] == ["breached"]  # 4 days 3 hours without an answer
