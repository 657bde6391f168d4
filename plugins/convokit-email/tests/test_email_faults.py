"""IMAP equivalents of the kit's fault checks: connections that drop, a server that
stays down, a server that answers garbage; and no secret in any error or log line."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import threading
from collections.abc import Iterator

import httpx
import pytest
from convokit_email import EmailAdapter, EmailConfig
from email_dovecot import OURS, PASSWORD, Dovecot, config, mail, start_dovecot

from convokit_core import ConvokitError, SyncContext, SyncError


@pytest.fixture(scope="module")
def dovecot() -> Iterator[Dovecot]:
    with start_dovecot() as server:
        yield server


class Proxy:
    """A loopback TCP proxy to the server that closes the first ``drop`` connections
    at once (or every one with ``drop=-1``), or answers ``garbage`` instead."""

    def __init__(self, target: tuple[str, int], drop: int = 0, garbage: bytes = b"") -> None:
        self.target, self.drop, self.garbage = target, drop, garbage
        self.accepted = 0
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(8)
        self.port = int(self._sock.getsockname()[1])
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self._sock.accept()
            except OSError:
                return
            self.accepted += 1
            if self.drop < 0 or self.accepted <= self.drop:
                client.close()
                continue
            if self.garbage:
                with contextlib.suppress(OSError):
                    client.sendall(self.garbage)
                    client.recv(4096)
                client.close()
                continue
            upstream = socket.create_connection(self.target)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pipe, args=(a, b), daemon=True).start()

    def close(self) -> None:
        self._sock.close()


def _pipe(src: socket.socket, dst: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := src.recv(65536):
            dst.sendall(data)
    with contextlib.suppress(OSError):
        dst.shutdown(socket.SHUT_WR)


def run(cfg: EmailConfig, sleeps: list[float]) -> list[str]:
    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    async def go() -> list[str]:
        adapter = EmailAdapter(cfg, SyncContext(source="m", platform="email"), sleep=sleep)
        return [m.id async for page in adapter.fetch(None) for m in page.messages]

    return asyncio.run(go())


@pytest.fixture(scope="module")
def user(dovecot: Dovecot) -> str:
    name = dovecot.new_user("faults")
    for i in range(3):
        dovecot.append(
            name,
            "INBOX",
            mail(
                f"From: f{i}@cust.example",
                f"Message-ID: <f{i}@cust.example>",
                "Date: Sat, 09 Nov 2024 10:00:00 +0000",
            ),
        )
    dovecot.append(name, "Sent", mail(f"From: {OURS}", "Message-ID: <f9@acme.example>",
        "In-Reply-To: <f0@cust.example>", "Date: Sat, 09 Nov 2024 11:00:00 +0000"))  # fmt: skip
    return name


def test_dropped_connections_are_retried(
    dovecot: Dovecot, user: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    proxy = Proxy((dovecot.host, dovecot.port), drop=2)
    try:
        sleeps: list[float] = []
        ids = run(config(dovecot, user, port=proxy.port), sleeps)
    finally:
        proxy.close()
    assert sorted(ids) == ["<f0@cust.example>", "<f1@cust.example>", "<f2@cust.example>",
                           "<f9@acme.example>"]  # fmt: skip
    assert sleeps == [1.0, 2.0]  # backoff, recorded instead of slept
    assert all(PASSWORD not in r.getMessage() for r in caplog.records)


def test_a_server_that_stays_down_fails_the_source(dovecot: Dovecot, user: str) -> None:
    proxy = Proxy((dovecot.host, dovecot.port), drop=-1)
    try:
        sleeps: list[float] = []
        with pytest.raises(SyncError, match="gave up after 3 reconnects") as info:
            run(config(dovecot, user, port=proxy.port), sleeps)
    finally:
        proxy.close()
    assert sleeps == [1.0, 2.0, 4.0]
    assert PASSWORD not in str(info.value)


@pytest.mark.parametrize(
    "garbage",
    [b"HTTP/1.1 200 OK\r\n\r\n", b"* BYE go away\r\n", b"\x00\xff" * 10 + b"\r\n"],
)
def test_a_server_that_answers_garbage_is_a_clear_error(
    dovecot: Dovecot, user: str, garbage: bytes
) -> None:
    proxy = Proxy((dovecot.host, dovecot.port), garbage=garbage)
    try:
        with pytest.raises(ConvokitError) as info:
            run(config(dovecot, user, port=proxy.port), [])
    finally:
        proxy.close()
    assert str(info.value).startswith("email:")
    assert PASSWORD not in repr(info.value)


def test_wrong_password_is_not_retried_and_not_echoed(dovecot: Dovecot, user: str) -> None:
    secret = "not-the-password-123"
    cfg = EmailConfig(host=dovecot.host, port=dovecot.port, security="none",
                      username=user, password=secret)  # fmt: skip
    sleeps: list[float] = []
    with pytest.raises(SyncError, match="login as") as info:
        run(cfg, sleeps)
    assert sleeps == []
    assert secret not in str(info.value)
    assert secret not in repr(info.value)


def test_starttls_and_tls_verify_the_certificate(
    dovecot: Dovecot, user: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Without trusting the self-signed certificate, TLS is refused.
    monkeypatch.setenv("SSL_CERT_FILE", str(dovecot.root / "no-such-ca.pem"))
    monkeypatch.setenv("SSL_CERT_DIR", str(dovecot.root / "no-such-dir"))
    with pytest.raises(SyncError, match="certificate"):
        run(config(dovecot, user, security="tls", port=dovecot.tls_port), [])
    monkeypatch.setenv("SSL_CERT_FILE", str(dovecot.cert))
    for security, port in (("tls", dovecot.tls_port), ("starttls", dovecot.port)):
        ids = run(config(dovecot, user, security=security, port=port), [])
        assert len(ids) == 4, security


def test_the_same_mail_in_two_folders_is_one_message(dovecot: Dovecot) -> None:
    name = dovecot.new_user("twice")
    raw = mail(
        f"From: {OURS}",
        "To: x@cust.example",
        f"Cc: {OURS}",
        "Message-ID: <Same@Acme.Example>",
        "Date: Sun, 10 Nov 2024 10:00:00 +0000",
    )
    other = mail("From: x@cust.example", "Message-ID: <same@acme.example>",
                 "Date: Sun, 10 Nov 2024 11:00:00 +0000")  # fmt: skip
    dovecot.append(name, "INBOX", raw)
    dovecot.append(name, "Sent", raw)
    dovecot.append(name, "INBOX", other)

    async def go() -> list[str]:
        async with httpx.AsyncClient() as client:
            from convokit_email import create_adapter

            adapter = create_adapter(
                config(dovecot, name), client, SyncContext(source="m", platform="email")
            )
            return [m.id async for p in adapter.fetch(None) for m in p.messages]

    ids = asyncio.run(go())
    # Distinct Message-IDs that differ only in case stay distinct.
    assert sorted(ids) == ["<Same@Acme.Example>", "<same@acme.example>"]
