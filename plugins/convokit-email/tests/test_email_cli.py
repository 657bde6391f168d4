"""End to end: `convokit sync` against a real Dovecot, then `convokit check`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from email_dovecot import OURS, PASSWORD, Dovecot, mail, start_dovecot

from convokit_core import open_store, set_plugin_manager
from convokit_core._cli import cli

CONFIG = """
store = "sqlite:///store.db"

[[source]]
name = "support-mail"
platform = "email"
host = "127.0.0.1"
port = {port}
security = "none"
username = "{user}"
password = "${{IMAP_PASSWORD}}"
addresses = ["{ours}", "help@acme.example"]

[[team]]
id = "kc"
name = "KC"
handles = {{ email = "KC@acme.example" }}

[[commitment]]
name = "customers-hear-back"
promise = "Every customer e-mail gets a human answer within an hour."
rule = "first_reply"
within = "1h"
"""


@pytest.fixture
def mailbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Dovecot]:
    with start_dovecot() as server:
        user = server.new_user("cli")
        # Answered by KC (a team member) from her own address after 20 minutes.
        server.append(
            user,
            "INBOX",
            mail(
                "From: ana@cust.example",
                "Message-ID: <a1@cust.example>",
                "Subject: Help",
                "Date: Mon, 04 Nov 2024 09:00:00 +0000",
            ),
        )
        server.append(
            user,
            "Sent",
            mail(
                "From: kc@acme.example",
                "Message-ID: <a2@acme.example>",
                "In-Reply-To: <a1@cust.example>",
                "Subject: Re: Help",
                "Date: Mon, 04 Nov 2024 09:20:00 +0000",
            ),
        )
        # Same subject, another thread: only our auto-acknowledgement answered it.
        server.append(
            user,
            "INBOX",
            mail(
                "From: bo@cust.example",
                "Message-ID: <b1@cust.example>",
                "Subject: Help",
                "Date: Mon, 04 Nov 2024 10:00:00 +0000",
            ),
        )
        server.append(user, "Sent", mail(f"From: {OURS}", "Message-ID: <b2@acme.example>",
            "References: <b1@cust.example>", "Auto-Submitted: auto-replied; owner=x",
            "Subject: We got your mail", "Date: Mon, 04 Nov 2024 10:00:05 +0000"))  # fmt: skip
        monkeypatch.chdir(tmp_path)
        monkeypatch.setenv("CONVOKIT_LOAD_PLUGINS", "email")
        monkeypatch.setenv("IMAP_PASSWORD", PASSWORD)
        (tmp_path / "convokit.toml").write_text(
            CONFIG.format(port=server.port, user=user, ours=OURS), encoding="utf-8"
        )
        set_plugin_manager(None)
        yield server
        set_plugin_manager(None)


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_sync_then_check(mailbox: Dovecot, tmp_path: Path) -> None:
    code, _, err = run("-q", "sync")
    assert code == 0, err
    store = open_store("sqlite:///store.db")
    try:
        stored = {m.id: m for m in store.iter_messages(platform="email")}
    finally:
        store.close()
    assert set(stored) == {"<a1@cust.example>", "<a2@acme.example>",
                           "<b1@cust.example>", "<b2@acme.example>"}  # fmt: skip
    assert stored["<a2@acme.example>"].direction.value == "outbound"
    assert stored["<b2@acme.example>"].automated
    assert PASSWORD.encode() not in (tmp_path / "store.db").read_bytes()

    code, _, err = run("-q", "sync")  # nothing new
    assert code == 0, err

    code, out, err = run("check", "--format", "json", "--as-of", "2024-11-05T00:00:00Z")
    assert code == 1, err
    findings = {f["subject"]: f["status"] for f in json.loads(out)["findings"]}
    assert findings == {"<a1@cust.example>": "met", "<b1@cust.example>": "breached"}


def test_config_errors_name_the_key(mailbox: Dovecot, tmp_path: Path) -> None:
    text = (tmp_path / "convokit.toml").read_text()
    (tmp_path / "convokit.toml").write_text(text.replace('"127.0.0.1"', '"imap.example.com"'))
    code, _, err = run("-q", "sync")
    assert code == 2
    assert "security" in err
    assert "Traceback" not in err
    (tmp_path / "convokit.toml").write_text(text.replace('security = "none"', 'security = "ssl"'))
    code, _, err = run("-q", "sync")
    assert code == 2
    assert "tls, starttls, none" in err


def test_wrong_password_fails_the_source(mailbox: Dovecot, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMAP_PASSWORD", "a-wrong-password-42")
    code, out, err = run("sync")
    assert code == 1
    assert "support-mail" in out + err
    assert "a-wrong-password-42" not in out + err


def test_the_plugin_is_listed_and_can_be_excluded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONVOKIT_LOAD_PLUGINS", "email")
    set_plugin_manager(None)
    try:
        code, out, _ = run("plugins", "--format", "json")
        assert code == 0
        listed = {p["name"]: p for p in json.loads(out)["plugins"]}
        assert listed["email"]["registered"]["platforms"] == ["email"]
        monkeypatch.setenv("CONVOKIT_LOAD_PLUGINS", "")
        set_plugin_manager(None)
        code, out, _ = run("plugins", "--format", "json")
        assert code == 0
        assert "email" not in {p["name"] for p in json.loads(out)["plugins"]}
    finally:
        set_plugin_manager(None)


def test_missing_dovecot_skips_or_fails_in_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    import email_dovecot

    monkeypatch.setattr(email_dovecot, "dovecot_binary", lambda: None)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="apt-get install -y dovecot-imapd"):
        email_dovecot.require_dovecot()
    monkeypatch.setenv("CI", "1")
    with pytest.raises(pytest.fail.Exception, match="apt-get install -y dovecot-imapd"):
        email_dovecot.require_dovecot()


def test_sync_and_check_in_a_subprocess(mailbox: Dovecot, tmp_path: Path) -> None:
    command = [
        sys.executable,
        "-c",
        "import sys; from convokit_core._cli import main; sys.exit(main())",
    ]
    env = {**os.environ, "CONVOKIT_LOAD_PLUGINS": "email", "IMAP_PASSWORD": PASSWORD}
    synced = subprocess.run(
        [*command, "sync"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert synced.returncode == 0, synced.stderr
    assert PASSWORD not in synced.stdout + synced.stderr
    checked = subprocess.run(
        [*command, "check", "--format", "json", "--as-of", "2024-11-05T00:00:00Z"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert checked.returncode == 1, checked.stderr
    statuses = sorted(f["status"] for f in json.loads(checked.stdout)["findings"])
    assert statuses == ["breached", "met"]
