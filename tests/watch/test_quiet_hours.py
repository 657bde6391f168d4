"""Quiet hours: outside a notifier's calendar alerts wait, except error-severity breaches."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from .receiver import Receiver
from .test_watch_e2e import CONFIG, NOW, receiver, watch_once

__all__ = ["receiver"]  # the loopback receiver fixture, with the e2e history imported

CALENDAR = """
[calendars.office]
hours = { mon-fri = "12:05-17:00" }
"""


def _configure(receiver: Receiver, severity: str) -> None:
    text = CONFIG.format(url=receiver.url).replace(
        'rule = "first_reply"', f'severity = "{severity}"\nrule = "first_reply"'
    )
    text = text.replace('commitments = ["customers-hear-back"]', 'calendar = "office"')
    Path("convokit.toml").write_text(text + CALENDAR, encoding="utf-8")


def test_at_risk_waits_for_the_calendar_but_an_error_breach_does_not(receiver: Receiver) -> None:
    _configure(receiver, "error")
    code, err = watch_once()  # Monday 12:00 UTC: closed until 12:05
    assert code == 0, err
    assert [(b["conversation"], b["event"]) for b in receiver.bodies()] == [("c2", "breached")]
    assert "1 held for quiet hours" in err
    code, err = watch_once(NOW + timedelta(minutes=10))
    assert code == 0, err
    assert [(b["conversation"], b["event"]) for b in receiver.bodies()][1:] == [("c1", "at_risk")]


def test_a_warning_severity_breach_waits_too(receiver: Receiver) -> None:
    _configure(receiver, "warning")
    assert watch_once()[0] == 0
    assert receiver.requests == []
    assert watch_once(NOW + timedelta(minutes=10))[0] == 0
    assert sorted((b["conversation"], b["event"]) for b in receiver.bodies()) == [
        ("c1", "at_risk"),
        ("c2", "breached"),
    ]
