"""The ``email`` notifier against a real SMTP server on loopback (aiosmtpd), and the
``slack`` notifier against the loopback receiver."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from .receiver import Receiver
from .test_watch_e2e import import_records, inbound, receiver, run, watch_once

__all__ = ["receiver"]  # the loopback receiver fixture, with the e2e history imported


class Inbox:
    def __init__(self) -> None:
        self.mails: list[tuple[str, list[str], Message]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.mails.append(
            (envelope.mail_from, list(envelope.rcpt_tos), message_from_bytes(envelope.content))
        )
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    handler = Inbox()
    port = _free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


CONFIG = """\
store = "sqlite:///watch.db"

[[commitment]]
name = "customers-hear-back"
promise = "Every customer hears back within an hour."
rule = "first_reply"
within = "1h"
warn_before = "30m"

[[notify]]
name = "leads"
kind = "slack"
url = "{slack}"

[[notify]]
name = "owners"
kind = "email"
smtp = "smtp://127.0.0.1:{port}"
from = "convokit@acme.example"
to = "owner"
fallback = ["support-leads@acme.example"]
"""


def test_email_to_the_owner_else_the_fallback_and_slack(
    receiver: Receiver, inbox: tuple[Inbox, int]
) -> None:
    handler, port = inbox
    Path("convokit.toml").write_text(
        CONFIG.format(slack=receiver.url.replace("/hook", "/services/T1/B2/XyZsecret"), port=port),
        encoding="utf-8",
    )
    code, err = watch_once()
    assert code == 0, err
    by_to = {tuple(rcpt): (sender, mail) for sender, rcpt, mail in handler.mails}
    assert set(by_to) == {("kc@x.test",), ("support-leads@acme.example",)}
    sender, owned = by_to[("kc@x.test",)]
    assert sender == "convokit@acme.example"
    assert owned["Subject"] == "[convokit] customers-hear-back at risk: c1"
    body = owned.get_payload()
    assert "Link: https://help.example/tickets/c1" in body
    assert "Owner: kc" in body
    assert by_to[("support-leads@acme.example",)][1]["Subject"].endswith("breached: c2")
    slack = [r for r in receiver.requests if r.path.startswith("/services/")]
    texts = sorted(r.json["text"] for r in slack)
    assert len(texts) == 2
    assert texts[0].startswith(
        "*customers-hear-back* is at risk: <https://help.example/tickets/c1|c1>"
    )
    assert "owner: kc" in texts[0]
    assert texts[1].startswith("*customers-hear-back* is breached:")
    # nothing twice
    assert watch_once()[0] == 0
    assert len(handler.mails) == 2
    assert len(receiver.requests) == 2


def test_smtp_server_down_fails_the_run_and_resends_nothing_else(receiver: Receiver) -> None:
    Path("convokit.toml").write_text(
        CONFIG.format(slack=receiver.url, port=_free_port()), encoding="utf-8"
    )
    code, err = watch_once()
    assert code == 1
    assert "FAILED at_risk customers-hear-back c1 to owners" in err
    assert len(receiver.requests) == 2  # slack went through, and is not resent
    assert watch_once()[0] == 1
    assert len(receiver.requests) == 2


def test_a_failing_slack_webhook_never_shows_its_url_path(receiver: Receiver) -> None:
    slack = receiver.url.replace("/hook", "/services/T1/B2/XyZsecretPath")
    text = CONFIG.format(slack=slack, port=_free_port())
    Path("convokit.toml").write_text(text.split('[[notify]]\nname = "owners"')[0], encoding="utf-8")
    receiver.status = 500
    code, err = watch_once()
    assert code == 1
    assert "FAILED at_risk customers-hear-back c1 to leads" in err
    assert "HTTP 500" in err
    assert "XyZsecretPath" not in err
    assert "/services/" not in err


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
def test_smtp_login_with_the_password_from_the_environment(receiver: Receiver) -> None:
    from aiosmtpd.smtp import AuthResult, LoginPassword

    password = "mail-password-123"
    logins: list[tuple[str, str]] = []

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
        if isinstance(data, LoginPassword):
            logins.append((data.login.decode(), data.password.decode()))
            ok = data.login == b"watcher" and data.password == password.encode()
            return AuthResult(success=ok)
        return AuthResult(success=False)

    handler = Inbox()
    port = _free_port()
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=port,
        authenticator=authenticator,
        auth_require_tls=False,
        auth_required=True,
    )
    controller.start()
    try:
        text = CONFIG.format(slack=receiver.url, port=port).replace(
            f"smtp://127.0.0.1:{port}", f"smtp://watcher:${{SMTP_PASSWORD}}@127.0.0.1:{port}"
        )
        Path("convokit.toml").write_text(
            text.replace('kind = "slack"', 'kind = "slack"\non = ["recovered"]'), encoding="utf-8"
        )
        code, err = run(
            "watch",
            "--once",
            "--retries",
            "0",
            "--now",
            "2024-05-06T12:00:00Z",
            env={"SMTP_PASSWORD": password},
        )
        assert code == 0, err
        assert logins == [("watcher", password), ("watcher", password)]
        assert len(handler.mails) == 2
        # a wrong password fails the run, and the password never shows
        import_records([inbound("m9", "c9", -50)], "more.jsonl")
        code, err = run(
            "watch",
            "--once",
            "--retries",
            "0",
            "--now",
            "2024-05-06T12:00:00Z",
            env={"SMTP_PASSWORD": "wrong-password-456"},
        )
        assert code == 1
        assert "FAILED at_risk customers-hear-back c9 to owners" in err
        assert "wrong-password-456" not in err
        assert len(handler.mails) == 2
    finally:
        controller.stop()


def _certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (openssl), trusted through SSL_CERT_FILE."""
    import shutil
    import subprocess

    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


@pytest.mark.parametrize("scheme", ["smtps", "smtp+starttls"])
def test_email_over_tls_verifies_the_server_certificate(
    receiver: Receiver, tmp_path: Path, scheme: str
) -> None:
    import ssl

    cert, key = _certificate(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    handler = Inbox()
    port = _free_port()
    if scheme == "smtps":
        controller = Controller(handler, hostname="127.0.0.1", port=port, ssl_context=context)
    else:
        controller = Controller(
            handler, hostname="127.0.0.1", port=port, tls_context=context, require_starttls=True
        )
    controller.start()
    try:
        text = CONFIG.format(slack=receiver.url, port=port).replace(
            f"smtp://127.0.0.1:{port}", f"{scheme}://127.0.0.1:{port}"
        )
        Path("convokit.toml").write_text(text, encoding="utf-8")
        args = ("watch", "--once", "--retries", "0", "--now", "2024-05-06T12:00:00Z")
        # Without our certificate trusted the server is refused, and nothing is sent.
        code, err = run(*args)
        assert code == 1
        assert handler.mails == []
        code, err = run(*args, env={"SSL_CERT_FILE": str(cert)})
        assert code == 0, err
        assert len(handler.mails) == 2
    finally:
        controller.stop()
