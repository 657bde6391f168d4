"""End to end: ``convokit sync`` against a loopback Discourse, then ``convokit check``."""

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
from convokit_discourse.testing import FakeDiscourse, serve

KEY = "d1sc0urse-admin-key-0123456789abcdef"


def convokit() -> list[str]:
    script = Path(sys.executable).with_name("convokit")
    if script.exists():
        return [str(script)]
    found = shutil.which("convokit")
    assert found, "the convokit command is not installed"
    return [found]


@pytest.fixture
def forum() -> Iterator[tuple[FakeDiscourse, str]]:
    fake = FakeDiscourse(topics=5, api_key=KEY, forum="http://placeholder/community")
    with serve(fake) as origin:
        fake.forum = f"{origin}/community"
        yield fake, origin


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, CONVOKIT_LOAD_PLUGINS="discourse", DISCOURSE_API_KEY=KEY)
    return subprocess.run(
        [*convokit(), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def rows(db: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(db) as con:
        return con.execute(sql).fetchall()


def test_sync_then_check(forum: tuple[FakeDiscourse, str], tmp_path: Path) -> None:
    fake, origin = forum
    db = tmp_path / "store.db"
    (tmp_path / "convokit.toml").write_text(
        f"""
store = "sqlite:///{db}"

[[source]]
name = "community"
platform = "discourse"
forum = "{origin}/community"
api_key = "${{DISCOURSE_API_KEY}}"
api_username = "system"
username = "acme_support"
categories = ["support", "feature-requests"]

[[team]]
id = "kc"
name = "KC"
handles = {{ discourse = "kc" }}

[[commitment]]
name = "first-answer"
promise = "Every forum question gets a first answer within a day."
rule = "first_reply"
within = "1d"

[[commitment]]
name = "forum-presence"
promise = "We post in each of our categories at least every two weeks."
rule = "channel_activity"
max_gap = "14d"
""",
        encoding="utf-8",
    )
    synced = run(["sync"], tmp_path)
    assert synced.returncode == 0, synced.stdout + synced.stderr
    key = fake.site_key
    stored = {
        row[0]: row[1:]
        for row in rows(
            db, "SELECT id, direction, conversation_id, channel_id, deleted FROM messages"
        )
    }
    assert set(stored) == fake.expected_ids({5, 8})
    assert {r[0] for r in rows(db, "SELECT id FROM channels")} == {f"{key}/c/5", f"{key}/c/8"}
    ours = {"acme_support", "kc", "jo_admin", "system"}
    for topic in fake.topics.values():
        for post in fake.visible_posts(topic, staff=True):
            got = stored.get(f"{key}/p/{post['id']}")
            if got is None:
                continue
            direction = got[0]
            if post["post_type"] == 4:
                assert direction == "internal"
            else:
                expected = "outbound" if post["username"] in ours or post["staff"] else "inbound"
                assert direction == expected, post
            assert got[1] == f"{key}/t/{topic['id']}"
    assert KEY.encode() not in db.read_bytes()

    checked = run(["check", "--as-of", "2026-05-20T00:00:00Z", "--format", "json"], tmp_path)
    assert checked.returncode == 1, checked.stdout + checked.stderr
    report = json.loads(checked.stdout)
    channels = {
        f["subject"]: f["status"] for f in report["findings"] if f["rule"] == "channel_activity"
    }
    # Both categories last saw one of our posts in early May: two weeks passed by the 20th.
    assert channels == {f"{key}/c/5": "breached", f"{key}/c/8": "breached"}
    first = {
        f["conversation"]: f["status"] for f in report["findings"] if f["rule"] == "first_reply"
    }
    topics = fake.topics_in({5, 8}) | fake.mentioned_topics()
    assert set(first) == {f"{key}/t/{t}" for t in topics}  # a clock for every conversation
    about = next(t for t in topics if fake.topics[t]["posts"][0]["username"] == "system")
    assert first[f"{key}/t/{about}"] == "not_applicable"  # nobody asked anything there
    assert "met" in first.values()

    # Nothing new, nothing written; then a reply bumps a topic and arrives alone.
    before = rows(db, "SELECT * FROM cursors")
    assert run(["sync"], tmp_path).returncode == 0
    assert rows(db, "SELECT * FROM cursors") == before
    topic = min(fake.topics_in({5}))
    new = fake.add_reply(
        topic, "ana", "<p>Any news?</p>", when=datetime(2026, 5, 25, 8, 0, tzinfo=UTC)
    )
    assert run(["sync"], tmp_path).returncode == 0
    now = {r[0] for r in rows(db, "SELECT id FROM messages")}
    assert now - set(stored) == {f"{key}/p/{new['id']}"}
