"""End to end: ``convokit sync`` against a loopback fake YouTube, then ``convokit check``.

Readers comment under our videos; we answer two threads and leave four waiting. The
sync must store every upload, thread and reply with its direction, and ``check`` must
report the threads nobody answered as breached while the channel, which uploads
regularly, keeps its activity promise.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from convokit_youtube.testing import comment
from youtube_data import API_KEY, CHANNEL, IDA, KC, T0, channel_fake

from convokit_core.testing import serve_loopback

T1 = "UgzT1aaaaaaaaaaaaaaaaaaa4AaABAg"
T2 = "UgxT2bbbbbbbbbbbbbbbbbbb4AaABAg"
T3 = "UgyT3ccccccccccccccccccc4AaABAg"
T4 = "UgwT4ddddddddddddddddddd4AaABAg"
T5 = "UgzT5eeeeeeeeeeeeeeeeeee4AaABAg"
T6 = "UgxT6fffffffffffffffffff4AaABAg"


def convokit() -> list[str]:
    script = Path(sys.executable).with_name("convokit")
    if script.exists():
        return [str(script)]
    found = shutil.which("convokit")
    assert found, "the convokit command is not installed"
    return [found]


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, CONVOKIT_LOAD_PLUGINS="youtube", YOUTUBE_API_KEY=API_KEY)
    return subprocess.run(
        [*convokit(), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )


def rows(db: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(db) as con:
        return con.execute(sql).fetchall()


def test_sync_then_check(tmp_path: Path) -> None:
    fake = channel_fake()
    db = tmp_path / "store.db"
    with serve_loopback(fake.handler) as origin:
        (tmp_path / "convokit.toml").write_text(
            f"""
store = "sqlite:///{db}"

[[source]]
name = "youtube"
platform = "youtube"
channel_id = "{CHANNEL}"
api_key = "${{YOUTUBE_API_KEY}}"
api_url = "{origin}/youtube/v3"
page_size = 2

[[team]]
id = "kc"
name = "KC"
handles = {{ youtube = "{KC}" }}

[[commitment]]
name = "viewers-hear-back"
promise = "Every viewer who comments hears back within a day."
rule = "first_reply"
within = "1d"

[[commitment]]
name = "channel-stays-alive"
promise = "We upload at least once every two weeks."
rule = "channel_activity"
max_gap = "14d"
where = {{ channel = ["{CHANNEL}"] }}
""",
            encoding="utf-8",
        )
        synced = run(["sync"], tmp_path)
        assert synced.returncode == 0, synced.stdout + synced.stderr
        stored = {
            row[0]: row[1:]
            for row in rows(db, "SELECT id, direction, in_reply_to, conversation_id FROM messages")
        }
        assert set(stored) == fake.message_ids()
        assert stored["video:vid0000004D"] == ("outbound", None, "video:vid0000004D")
        assert stored[T1] == ("inbound", None, T1)
        assert stored[f"{T1}.A01rEpLy01xYz0001QQ"] == ("outbound", T1, T1)  # our channel
        assert stored[f"{T2}.A06rEpLy06xYz0006QQ"] == ("outbound", T2, T2)  # KC, a team member
        assert stored[f"{T2}.A07rEpLy07xYz0007QQ"] == ("inbound", T2, T2)  # beyond the five
        assert rows(db, "SELECT id, platform, handle FROM channels") == [
            (CHANNEL, "youtube", "@acme")
        ]
        assert API_KEY.encode() not in db.read_bytes()

        checked = run(["check", "--as-of", "2026-10-26T00:00:00Z", "--format", "json"], tmp_path)
        assert checked.returncode == 1, checked.stdout + checked.stderr  # breaches
        report = json.loads(checked.stdout)
        first = {
            f["conversation"]: f["status"]
            for f in report["findings"]
            if f["rule"] == "first_reply" and not f["conversation"].startswith("video:")
        }
        assert first == {
            T1: "met",  # we answered within three hours
            T2: "met",
            T3: "breached",
            T4: "breached",
            T5: "breached",  # our own comment, then a viewer's question nobody answered
            T6: "breached",
        }
        activity = [f for f in report["findings"] if f["rule"] == "channel_activity"]
        # Uploads on days 0, 10 and 20 (the private one does not count); as of day 25.
        assert [(f["subject"], f["status"]) for f in activity] == [(CHANNEL, "pending")]

        # A viewer answers in an old thread; we reply: exactly those two arrive.
        cursor = rows(db, "SELECT * FROM cursors")
        again = run(["sync"], tmp_path)
        assert again.returncode == 0, again.stderr
        assert rows(db, "SELECT * FROM cursors") == cursor
        fake.add_reply(
            T4,
            comment(
                f"{T4}.B01",
                text="Glad you like it!",
                author=CHANNEL,
                name="@acme",
                at=T0 + timedelta(days=22),
                parent=T4,
            ),
        )
        fake.add_reply(
            T4,
            comment(
                f"{T4}.B02",
                text="It is!",
                author=IDA,
                name="@ida",
                at=T0 + timedelta(days=22, hours=1),
                parent=T4,
            ),
        )
        more = run(["sync"], tmp_path)
        assert more.returncode == 0, more.stderr
    now = {row[0] for row in rows(db, "SELECT id FROM messages")}
    assert now - set(stored) == {f"{T4}.B01", f"{T4}.B02"}

    # Answering comments is no upload: on day 35 the channel has been quiet for 15 days.
    late = run(["check", "--as-of", "2026-11-05T00:00:00Z", "--format", "json"], tmp_path)
    assert late.returncode == 1, late.stderr
    activity = [f for f in json.loads(late.stdout)["findings"] if f["rule"] == "channel_activity"]
    assert [(f["subject"], f["status"]) for f in activity] == [(CHANNEL, "breached")]
