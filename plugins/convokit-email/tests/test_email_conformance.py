"""The conformance kit against a real Dovecot, plus IMAP equivalents of its HTTP checks.

The kit injects HTTP faults through an httpx transport; this adapter speaks IMAP, so the
kit's ``fake_server`` here is a handler that must never be called (asserted), and the
data lives in a Dovecot planted by APPEND. Checks that measure HTTP responses (times
named by response bodies, injected 429/5xx, malformed JSON bodies, credentials echoed by
a 401) are replaced below by their IMAP equivalents.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from convokit_email import EmailConfig, FolderState, MailCursor, create_adapter
from email_dovecot import OURS, PASSWORD, Dovecot, config, mail, start_dovecot

from convokit_core import ConvokitError, SyncContext, SyncError, open_store, sync_adapter
from convokit_core.testing import AdapterConformance, FaultInjector

DATES = [f"Fri, 08 Nov 2024 {9 + i:02d}:15:00 +0100" for i in range(6)]


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[Dovecot, str]]:
    with start_dovecot() as dovecot:
        user = dovecot.new_user("kit")
        dovecot.append(
            user,
            "INBOX",
            mail(
                "From: Kim <kim@cust.example>",
                f"To: {OURS}",
                "Message-ID: <k1@cust.example>",
                f"Date: {DATES[0]}",
            ),
        )
        dovecot.append(
            user,
            "INBOX",
            mail(
                "From: lee@cust.example",
                f"To: {OURS}",
                "Message-ID: <l1@cust.example>",
                f"Date: {DATES[1]}",
            ),
        )
        dovecot.append(
            user,
            "INBOX",
            mail(
                "From: kim@cust.example",
                f"To: {OURS}",
                "Message-ID: <k3@cust.example>",
                f"Date: {DATES[3]}",
                "References: <k1@cust.example> <k2@acme.example>",
            ),
        )
        dovecot.append(
            user,
            "Sent",
            mail(
                f"From: {OURS}",
                "To: kim@cust.example",
                "Message-ID: <k2@acme.example>",
                f"Date: {DATES[2]}",
                "In-Reply-To: <k1@cust.example>",
                "References: <k1@cust.example>",
            ),
        )
        dovecot.append(
            user,
            "Sent",
            mail(
                f"From: {OURS}",
                "To: lee@cust.example",
                "Message-ID: <l2@acme.example>",
                f"Date: {DATES[4]}",
                "In-Reply-To: <l1@cust.example>",
            ),
        )
        yield dovecot, user  # fmt: skip


def _never_called(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"the e-mail adapter made an HTTP request: {request.url}")


class TestEmailConformance(AdapterConformance):
    @pytest.fixture
    def platform(self) -> str:
        return "email"

    @pytest.fixture
    def adapter_config(self, server: tuple[Dovecot, str]) -> EmailConfig:
        dovecot, user = server
        return config(dovecot, user, page_size=2)

    @pytest.fixture
    def create_adapter(self) -> Any:
        return create_adapter

    @pytest.fixture
    def fake_server(self) -> Any:
        return _never_called

    @pytest.fixture
    def expected_ids(self) -> set[str]:
        return {"<k1@cust.example>", "<l1@cust.example>", "<k3@cust.example>",
                "<k2@acme.example>", "<l2@acme.example>"}  # fmt: skip

    @pytest.fixture
    def outbound_ids(self) -> set[str]:
        return {"<k2@acme.example>", "<l2@acme.example>"}

    @pytest.fixture
    def future_cursor(self, adapter_config: EmailConfig) -> str:
        pages = self.collect(
            create_adapter,
            adapter_config,
            SyncContext(source="s", platform="email"),
            _Injector(),
        )
        final = MailCursor.decode(pages[-1].cursor)
        return MailCursor(
            folders={
                name: FolderState(uidvalidity=s.uidvalidity, last_uid=10**9)
                for name, s in final.folders.items()
            }
        ).encode()

    # -- the HTTP-shaped checks, replaced by their IMAP equivalents ----------------------

    def test_times_are_the_payload_times_in_utc(self, **_: Any) -> None:  # type: ignore[override]
        pytest.skip("HTTP-shaped (reads times from response bodies): see test_date_headers_*")

    def test_transient_faults_give_the_same_set(self, **_: Any) -> None:  # type: ignore[override]
        pytest.skip("HTTP faults: see test_email_faults.py (dropped connections, reconnects)")

    def test_persistent_rate_limit_fails_the_source(self, **_: Any) -> None:  # type: ignore[override]
        pytest.skip("IMAP has no 429: see test_email_faults.py (a server that stays down)")

    def test_malformed_response_fails_without_advancing_the_cursor(self, **_: Any) -> None:  # type: ignore[override]
        pytest.skip("HTTP bodies: see test_email_faults.py (a server that answers garbage)")

    def test_engine_records_a_failed_source(self, **_: Any) -> None:  # type: ignore[override]
        pytest.skip("HTTP bodies: see test_engine_records_a_failed_login below")

    def test_secrets_never_leak_from_malformed_payloads(self, **_: Any) -> None:  # type: ignore[override]
        pytest.skip("HTTP bodies: see test_email_faults.py (garbage answers, secrets)")

    def test_date_headers_with_offsets_are_utc(
        self, adapter_config: EmailConfig, expected_ids: set[str]
    ) -> None:
        pages = self.collect(
            create_adapter, adapter_config, SyncContext(source="s", platform="email"), _Injector()
        )
        times = sorted(m.sent_at.isoformat() for p in pages for m in p.messages)
        assert times == [f"2024-11-08T{8 + i:02d}:15:00+00:00" for i in range(5)]

    def test_engine_records_a_failed_login(
        self, adapter_config: EmailConfig, caplog: pytest.LogCaptureFixture
    ) -> None:
        caplog.set_level(logging.DEBUG)
        wrong = "wrong-password-" + PASSWORD[::-1]
        cfg = EmailConfig(
            host=adapter_config.host, port=adapter_config.port, security="none",
            username=adapter_config.username, password=wrong,
        )  # fmt: skip
        store = open_store("memory:")

        async def run() -> Any:
            async with httpx.AsyncClient() as client:
                adapter = create_adapter(cfg, client, SyncContext(source="m", platform="email"))
                return await sync_adapter(adapter, store, source="m", in_thread=False)

        result = asyncio.run(run())
        assert not result.ok
        assert "login as" in (result.error or "")
        assert wrong not in (result.error or "")
        assert store.get_cursor("m") is None
        assert [r.ok for r in store.iter_sync_runs("m")] == [False]
        assert all(wrong not in r.getMessage() for r in caplog.records)

    def test_unknown_folder_is_a_clear_error(self, adapter_config: EmailConfig) -> None:
        cfg = config_like(adapter_config, folders=["INBOX", "Archive 2019"])
        with pytest.raises(SyncError, match="folder 'Archive 2019'"):
            self.collect(
                create_adapter, cfg, SyncContext(source="s", platform="email"), _Injector()
            )

    def test_garbage_cursor_messages_are_convokit_errors(self, adapter_config: EmailConfig) -> None:
        bad = MailCursor(folders={"INBOX": FolderState(uidvalidity=1, last_uid=0)}).encode()
        for cursor in (bad[:-3], "eyJ2IjoxLCJmb2xkZXJzIjp7IklOQk9YIjpbMCwxXX19"):
            with pytest.raises(ConvokitError, match="e-mail cursor"):
                self.collect(
                    create_adapter, adapter_config, SyncContext(source="s", platform="email"),
                    _Injector(), cursor,
                )  # fmt: skip


def config_like(base: EmailConfig, **changes: Any) -> EmailConfig:
    values = {
        "host": base.host, "port": base.port, "security": base.security,
        "username": base.username, "password": base.password,
        "addresses": list(base.addresses), "page_size": base.page_size,
    }  # fmt: skip
    values.update(changes)
    return EmailConfig(**values)


def _Injector() -> FaultInjector:
    return FaultInjector(_never_called)
