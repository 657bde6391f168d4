"""``convokit queue``: one item per waiting conversation, earliest deadline first."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from convokit_core._cli import cli
from convokit_core._timeutil import format_datetime

from .test_watch_e2e import NOW, inbound, outbound, ts

CONFIG = """\
store = "sqlite:///queue.db"

[[commitment]]
name = "first"
rule = "first_reply"
within = "1h"
warn_before = "30m"

[[commitment]]
name = "resolved"
severity = "warning"
rule = "resolution_within"
duration = "4h"
"""


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def setup_history() -> None:
    Path("convokit.toml").write_text(CONFIG, encoding="utf-8")
    records = [
        {"type": "team_member", "id": "kc", "handles": {"helpdesk": "agent-kc"}},
        {"type": "team_member", "id": "jo", "handles": {"helpdesk": "agent-jo"}},
        {"type": "conversation", "id": "c1", "platform": "helpdesk", "owner": "kc"},
        {"type": "conversation", "id": "c2", "platform": "helpdesk", "owner": "jo"},
        {"type": "conversation", "id": "c3", "platform": "helpdesk", "owner": "kc"},
        inbound("m1", "c1", -40),
        inbound("m2", "c2", -120),
        inbound("m3", "c3", -10),
        inbound("m4", "c4", -300),
        outbound("m5", "c4", -290, "m4"),
    ]
    Path("h.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    assert run("import", "h.jsonl")[0] == 0


def test_json_lists_each_waiting_conversation_once_overdue_first() -> None:
    setup_history()
    code, out, err = run("queue", "--format", "json", "--now", format_datetime(NOW))
    assert code == 0, err
    items = json.loads(out)
    # c4 was answered but never resolved: its resolution clock is overdue by 1h
    assert [(i["conversation"], i["commitment"], i["status"]) for i in items] == [
        ("c2", "first", "breached"),
        ("c4", "resolved", "breached"),
        ("c1", "first", "at_risk"),
        ("c3", "first", "pending"),
    ]
    c2 = items[0]
    assert c2["deadline"] == ts(-60)
    assert c2["time_left_seconds"] == -3600.0
    assert c2["owner"] == "jo"
    assert c2["last_message"] == "Hello, any news on c2?"
    assert {"conversation", "commitment", "status", "deadline", "owner"} <= set(c2)


def test_owner_filter_and_table() -> None:
    setup_history()
    code, out, _ = run("queue", "--owner", "kc", "--now", format_datetime(NOW))
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == [
        "time",
        "left",
        "conversation",
        "commitment",
        "status",
        "owner",
        "last",
        "message",
    ]
    assert [line.split()[:2] for line in lines[1:]] == [["20m", "c1"], ["50m", "c3"]]
    assert "c1" in lines[1]
    assert "at_risk" in lines[1]
    assert "kc" in lines[1]


def test_queue_never_creates_a_store() -> None:
    Path("convokit.toml").write_text(CONFIG, encoding="utf-8")
    result = CliRunner().invoke(cli, ["queue"])
    assert result.exit_code == 2
    assert not Path("queue.db").exists()
