"""``convokit watch`` end to end: imported history, a real loopback webhook receiver."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from convokit_core._cli import cli
from convokit_core._timeutil import format_datetime
from convokit_core._watch._settings import idempotency_key

from .receiver import Receiver, running_receiver

NOW = datetime(2024, 5, 6, 12, 0, tzinfo=UTC)
SECRET = "whsec-0123456789abcdef"

CONFIG = """\
store = "sqlite:///watch.db"

[[commitment]]
name = "customers-hear-back"
promise = "Every customer hears back within an hour."
rule = "first_reply"
within = "1h"
warn_before = "30m"

[[notify]]
name = "support-webhook"
kind = "webhook"
url = "{url}"
secret = "${{WEBHOOK_SECRET}}"
on = ["at_risk", "breached", "recovered"]
commitments = ["customers-hear-back"]
"""


def ts(minutes: float, base: datetime = NOW) -> str:
    return format_datetime(base + timedelta(minutes=minutes))


def inbound(mid: str, conversation: str, minutes: float) -> dict[str, Any]:
    return {
        "id": mid,
        "platform": "helpdesk",
        "conversation": conversation,
        "author": f"customer-{conversation}",
        "direction": "inbound",
        "sent_at": ts(minutes),
        "text": f"Hello, any news on {conversation}?",
        "url": f"https://help.example/tickets/{conversation}",
    }


def outbound(mid: str, conversation: str, minutes: float, in_reply_to: str) -> dict[str, Any]:
    return {
        "id": mid,
        "platform": "helpdesk",
        "conversation": conversation,
        "author": "agent-kc",
        "direction": "outbound",
        "sent_at": ts(minutes),
        "in_reply_to": in_reply_to,
        "text": "On it.",
    }


HISTORY = [
    {"type": "team_member", "id": "kc", "handles": {"helpdesk": "agent-kc", "email": "kc@x.test"}},
    {"type": "conversation", "id": "c1", "platform": "helpdesk", "owner": "kc"},
    inbound("m1", "c1", -40),  # 20 minutes left: at risk
    inbound("m2", "c2", -120),  # an hour overdue: breached
    inbound("m3", "c3", -10),  # 50 minutes left: pending
    inbound("m4", "c4", -180),  # answered in time: met, never warned
    outbound("m5", "c4", -170, "m4"),
]


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(
        cli, list(args), catch_exceptions=False, env={"WEBHOOK_SECRET": SECRET, **(env or {})}
    )
    return result.exit_code, result.stderr


def import_records(records: list[dict[str, Any]], name: str = "history.jsonl") -> None:
    Path(name).write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    code, err = run("import", name)
    assert code == 0, err


def watch_once(now: datetime = NOW, *extra: str) -> tuple[int, str]:
    return run("watch", "--once", "--retries", "0", "--now", format_datetime(now), *extra)


@pytest.fixture
def receiver() -> Any:
    with running_receiver() as found:
        Path("convokit.toml").write_text(CONFIG.format(url=found.url), encoding="utf-8")
        import_records(HISTORY)
        yield found


def test_the_done_means_sequence(receiver: Receiver) -> None:
    # 1. one notification per at-risk and breached conversation, each signed
    code, err = watch_once()
    assert code == 0, err
    bodies = receiver.bodies()
    assert sorted((b["conversation"], b["event"]) for b in bodies) == [
        ("c1", "at_risk"),
        ("c2", "breached"),
    ]
    for request in receiver.requests:
        assert request.signature_ok(SECRET)
        assert request.headers["idempotency-key"] == request.json["idempotency_key"]
        assert request.headers["content-type"] == "application/json"
    c1 = next(b for b in bodies if b["conversation"] == "c1")
    assert c1 == {
        "event": "at_risk",
        "idempotency_key": idempotency_key(
            "customers-hear-back", "c1", "at_risk", int((NOW.timestamp() + 20 * 60) * 1e6)
        ),
        "commitment": "customers-hear-back",
        "promise": "Every customer hears back within an hour.",
        "status": "at_risk",
        "subject": "c1",
        "conversation": "c1",
        "platform": "helpdesk",
        "channel": None,
        "owner": "kc",
        "deadline": ts(20),
        "elapsed_seconds": 2400.0,
        "message": c1["message"],
        "url": "https://help.example/tickets/c1",
    }
    assert "c1" in c1["message"]
    c2 = next(b for b in bodies if b["conversation"] == "c2")
    assert c2["owner"] is None
    assert c2["status"] == "breached"

    # 2. a second run sends nothing
    code, err = watch_once()
    assert code == 0, err
    assert len(receiver.requests) == 2

    # 3. a receiver answering 500 fails the run, and the next run delivers
    import_records([inbound("m6", "c5", -45)], "more.jsonl")
    receiver.status = 500
    code, err = watch_once()
    assert code == 1
    assert "FAILED at_risk customers-hear-back c5" in err
    assert SECRET not in err
    failed = receiver.requests[-1]
    assert failed.json["conversation"] == "c5"
    receiver.status = 200
    code, err = watch_once()
    assert code == 0, err
    assert len(receiver.requests) == 4
    delivered = receiver.requests[-1]
    assert delivered.json["conversation"] == "c5"
    assert delivered.headers["idempotency-key"] == failed.headers["idempotency-key"]
    code, err = watch_once()
    assert (code, len(receiver.requests)) == (0, 4)

    # 4. a reply arriving sends "recovered" for the warned conversation only
    import_records([outbound("m7", "c1", 5, "m1"), outbound("m8", "c4", 6, "m4")], "reply.jsonl")
    later = NOW + timedelta(minutes=10)
    code, err = watch_once(later)
    assert code == 0, err
    assert len(receiver.requests) == 5
    recovered = receiver.requests[-1]
    assert recovered.signature_ok(SECRET)
    assert (recovered.json["event"], recovered.json["conversation"]) == ("recovered", "c1")
    assert recovered.json["status"] == "met"
    code, err = watch_once(later)
    assert (code, len(receiver.requests)) == (0, 5)


def test_baseline_records_without_sending(receiver: Receiver) -> None:
    code, err = run("watch", "--baseline", "--now", format_datetime(NOW))
    assert code == 0, err
    assert "baseline recorded 2 without sending" in err
    assert receiver.requests == []
    code, err = watch_once()
    assert (code, receiver.requests) == (0, [])
    # new transitions after the baseline are sent: c1 breaches, c3 has 25 minutes left
    code, err = watch_once(NOW + timedelta(minutes=25))
    assert code == 0, err
    assert sorted((b["conversation"], b["event"]) for b in receiver.bodies()) == [
        ("c1", "breached"),
        ("c3", "at_risk"),
    ]


def test_recovered_is_only_sent_when_asked_for(receiver: Receiver) -> None:
    Path("convokit.toml").write_text(
        CONFIG.format(url=receiver.url).replace(', "recovered"]', "]"), encoding="utf-8"
    )
    assert watch_once()[0] == 0
    import_records([outbound("m7", "c1", 5, "m1")], "reply.jsonl")
    assert watch_once(NOW + timedelta(minutes=10))[0] == 0
    assert [b["event"] for b in receiver.bodies()] == ["at_risk", "breached"]


def _child(now: datetime) -> subprocess.Popen[bytes]:
    env = {**os.environ, "WEBHOOK_SECRET": SECRET}
    code = "from convokit_core._cli import main; main()"
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            code,
            "watch",
            "--once",
            "--retries",
            "0",
            "--now",
            format_datetime(now),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def test_sigkill_loses_nothing(receiver: Receiver) -> None:
    receiver.block_on = 2
    child = _child(NOW)
    try:
        assert receiver.arrived.wait(timeout=120), "the second delivery never arrived"
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=120)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        child.stdout.close()  # type: ignore[union-attr]
        child.stderr.close()  # type: ignore[union-attr]
    assert child.returncode == -signal.SIGKILL
    first, cut = receiver.requests
    receiver.block_on = None
    receiver.release.set()
    # the next run sends again what was not recorded as delivered, with the same key
    code, err = watch_once()
    assert code == 0, err
    assert len(receiver.requests) == 3
    again = receiver.requests[2]
    assert again.headers["idempotency-key"] == cut.headers["idempotency-key"]
    assert again.body == cut.body
    assert first.headers["idempotency-key"] != cut.headers["idempotency-key"]
    assert watch_once()[0] == 0
    assert len(receiver.requests) == 3


def test_sigterm_finishes_the_current_delivery_and_records_it(receiver: Receiver) -> None:
    receiver.block_on = 1
    child = _child(NOW)
    try:
        assert receiver.arrived.wait(timeout=120), "the first delivery never arrived"
        child.send_signal(signal.SIGTERM)
        receiver.release.set()
        _, err = child.communicate(timeout=120)
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()
    assert child.returncode == 0, err
    assert b"interrupted by SIGTERM" in err
    assert len(receiver.requests) == 1
    first = receiver.requests[0]
    code, err2 = watch_once()
    assert code == 0, err2
    assert len(receiver.requests) == 2
    assert receiver.requests[1].headers["idempotency-key"] != first.headers["idempotency-key"]


def test_a_terminal_gets_the_rich_status(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    from convokit_core._watch import _plugin

    monkeypatch.setattr(_plugin, "_stderr_is_terminal", lambda: True)
    receiver.status = 500
    code, err = watch_once()
    assert code == 1
    assert "failed at_risk customers-hear-back c1 → support-webhook: " in err
    assert "[red]" not in err
    receiver.status = 200
    code, err = watch_once()
    assert code == 0, err
    assert "sent breached customers-hear-back c2 → support-webhook" in err
    assert "2 of 2 sent" in err
