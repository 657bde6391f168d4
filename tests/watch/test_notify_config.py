"""``[[notify]]`` tables: validation, ``${ENV}`` interpolation, file:line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from convokit_core import ConfigError, PluginManager
from convokit_core._config import load_config
from convokit_core._watch._notifiers import SlackNotifier, WebhookNotifier
from convokit_core._watch._settings import load_notifiers

SECRET = "s3cret-value-for-tests"


def _load(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> list:  # type: ignore[type-arg]
    path = tmp_path / "convokit.toml"
    path.write_text(text, encoding="utf-8")
    manager = PluginManager(load_entry_points=False)
    return load_notifiers(
        load_config(path), manager, commitments=["customers-hear-back"], env=env or {}
    )


def test_the_issue_tables_load(tmp_path: Path) -> None:
    specs = _load(
        tmp_path,
        """
[[notify]]
name = "support-webhook"
kind = "webhook"
url = "https://hooks.example.com/convokit"
secret = "${WEBHOOK_SECRET}"
on = ["at_risk", "breached"]
commitments = ["customers-hear-back"]

[[notify]]
name = "leads"
kind = "slack"
url = "${SLACK_WEBHOOK_URL}"
on = ["breached", "recovered"]
""",
        env={
            "WEBHOOK_SECRET": SECRET,
            "SLACK_WEBHOOK_URL": "https://hooks.slack.test/T1/B2/abcdefgh",
        },
    )
    hook, leads = specs
    assert isinstance(hook.notifier, WebhookNotifier)
    assert hook.settings.secret == SECRET
    assert SECRET not in repr(hook)
    assert SECRET not in repr(hook.settings)
    assert hook.wants("at_risk", "customers-hear-back")
    assert not hook.wants("at_risk", "other")
    assert not hook.wants("recovered", "customers-hear-back")
    assert isinstance(leads.notifier, SlackNotifier)
    assert leads.settings.commitments is None
    assert leads.wants("recovered", "anything")
    assert not leads.wants("at_risk", "anything")


@pytest.mark.parametrize(
    ("body", "env", "match"),
    [
        (
            'name = "a"\nkind = "webhook"\nurl = "https://x.test"\ncolour = 1',
            {},
            r"convokit.toml:6 \(notify\[0\]\.colour\): unknown key 'colour'",
        ),
        (
            'name = "a"\nkind = "webhok"\nurl = "https://x.test"',
            {},
            r"convokit.toml:4 \(notify\[0\]\.kind\).*did you mean 'webhook'",
        ),
        (
            'name = "a"\nkind = "webhook"\nurl = "https://x.test"\nsecret = "${NOPE}"',
            {},
            r":6 \(notify\[0\]\.secret\): needs the environment variable NOPE",
        ),
        (
            'name = "a"\nkind = "webhook"\nurl = "https://x.test"\nsecret = "${S}"',
            {"S": "short"},
            r":6 \(notify\[0\]\.secret\).*too short",
        ),
        (
            'name = "a"\nkind = "webhook"\nurl = "https://x.test"\non = ["at-risk"]',
            {},
            r":6 \(notify\[0\]\.on\): unknown value 'at-risk'",
        ),
        (
            'name = "a"\nkind = "webhook"\nurl = "https://x.test"\ncommitments = ["nope"]',
            {},
            r":6 \(notify\[0\]\.commitments\).*unknown commitment 'nope'",
        ),
        (
            'name = "a"\nkind = "webhook"\nurl = "http://remote.example/x"',
            {},
            r"notify\[0\].*refusing plain http://",
        ),
        ('name = "a"\nkind = "webhook"', {}, r"notify\[0\].*'url' is required"),
        (
            'name = "a"\nkind = "webhook"\nurl = "https://x.test"\nsmtp = "smtp://h:25"',
            {},
            r"notifier 'a' \(kind 'webhook'\): 'smtp' is not used by the 'webhook' kind",
        ),
        (
            'name = "a"\nkind = "email"\nsmtp = "smtp://h:25"\nfrom = "a@x.test"\nto = "owner"',
            {},
            r"to = \"owner\" needs a 'fallback' list",
        ),
        (
            'name = "a"\nkind = "email"\nsmtp = "smtp://u:pw-long-enough@remote.test:25"\n'
            'from = "a@x.test"\nto = ["b@x.test"]',
            {},
            r"refusing to send a password over plain smtp://",
        ),
        (
            'name = "a"\nkind = "webhook"\nurl = "https://x.test"\ncalendar = "office"',
            {},
            r"unknown calendar 'office'",
        ),
    ],
)
def test_bad_tables_name_file_line_and_key(
    tmp_path: Path, body: str, env: dict[str, str], match: str
) -> None:
    with pytest.raises(ConfigError, match=match) as info:
        _load(tmp_path, "\n[[notify]]\n" + body + "\n", env=env)
    assert "short" not in str(info.value).replace("too short", "")


def test_duplicate_names_are_refused(tmp_path: Path) -> None:
    text = '[[notify]]\nname = "a"\nkind = "webhook"\nurl = "https://x.test"\n' * 2
    with pytest.raises(ConfigError, match=r"notify\[1\]\.name.*two \[\[notify\]\] tables"):
        _load(tmp_path, text)
