"""A planted mailbox on a real Dovecot: threads, directions, automated mail, MIME."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
from convokit_email import EmailAdapter, EmailConfig, MailCursor, create_adapter
from email_dovecot import OURS, PASSWORD, Dovecot, config, mail, start_dovecot

from convokit_core import Direction, Message, Page, SyncContext, SyncError, Visibility


@pytest.fixture(scope="module")
def dovecot() -> Iterator[Dovecot]:
    with start_dovecot() as server:
        yield server


def sync(
    cfg: EmailConfig, cursor: str | None = None, team: frozenset[str] = frozenset()
) -> list[Page]:
    async def run() -> list[Page]:
        async with httpx.AsyncClient() as client:
            context = SyncContext(source="mail", platform="email", team_handles=team)
            adapter = create_adapter(cfg, client, context)
            return [page async for page in adapter.fetch(cursor)]

    return asyncio.run(run())


def by_id(pages: list[Page]) -> dict[str, Message]:
    out: dict[str, Message] = {}
    for page in pages:
        for message in page.messages:
            assert message.id not in out, f"{message.id} delivered twice"
            out[message.id] = message
    return out


def plant(server: Dovecot, user: str) -> None:
    """Two threads both called "Help", a References-only reply to a missing parent, an
    out-of-office reply, an HTML-only mail, encoded headers, a forward, our reply in
    INBOX (Cc to ourselves) and in Sent."""
    inbox = [
        mail(
            "From: Ana Lima <ana@customer.example>",
            f"To: {OURS}",
            "Subject: Help",
            "Date: Mon, 04 Nov 2024 09:00:00 +0100",
            "Message-ID: <a1@customer.example>",
            body="My invoice is wrong.",
        ),
        mail(
            "From: Bo <bo@other.example>",
            f"To: {OURS}",
            "Subject: Help",
            "Date: Mon, 04 Nov 2024 10:00:00 +0000",
            "Message-ID: <b1@other.example>",
            body="The app crashes.",
        ),
        # Ana again, replying to our answer (absent from INBOX) with References only.
        mail(
            "From: ana@CUSTOMER.example",
            f"To: {OURS}",
            "Subject: Re: Help",
            "Date: Mon, 04 Nov 2024 13:30:00 -0500",
            "Message-ID: <a3@customer.example>",
            "References: <a1@customer.example> <a2@acme.example> <lost@acme.example>",
            body="Still wrong.",
        ),
        # Our own reply sits in INBOX too (we Cc'd ourselves): outbound, one message.
        mail(
            f"From: Support <{OURS.upper()}>",
            "To: ana@customer.example",
            f"Cc: {OURS}",
            "Subject: Re: Help",
            "Date: Mon, 04 Nov 2024 11:00:00 +0000",
            "Message-ID: <a2@acme.example>",
            "In-Reply-To: <a1@customer.example>",
            "References: <a1@customer.example>",
            body="We are on it.",
        ),
        # Bo's out-of-office, with a comment in Auto-Submitted.
        mail(
            "From: bo@other.example",
            f"To: {OURS}",
            "Subject: =?utf-8?q?Abwesenheitsnotiz=3A_B=C3=BCro_geschlossen?=",
            "Date: Mon, 04 Nov 2024 12:05:00 +0000",
            "Message-ID: <b3@other.example>",
            "In-Reply-To: <b2@acme.example>",
            "References: <b1@other.example> <b2@acme.example>",
            "Auto-Submitted: auto-replied (vacation)",
            body="I am away until Monday.",
        ),
        # A different out-of-office marker.
        mail(
            "From: =?iso-8859-1?q?Jos=E9_P=E9rez?= <jose@third.example>",
            f"To: {OURS}",
            "Subject: Out of office",
            "Date: Tue, 05 Nov 2024 08:00:00 +0000",
            "Message-ID: <j1@third.example>",
            "X-Autoreply: yes",
            body="Back soon.",
        ),
        # HTML only, quoted-printable.
        (
            "From: Chen <chen@fourth.example>\r\n"
            f"To: {OURS}\r\n"
            "Subject: =?utf-8?b?UHJvYmzDqG1l?=\r\n"
            "Date: Tue, 05 Nov 2024 09:00:00 +0200\r\n"
            "Message-ID: <c1@fourth.example>\r\n"
            "MIME-Version: 1.0\r\n"
            "Content-Type: text/html; charset=utf-8\r\n"
            "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
            "<html><head><style>p{color:red}</style></head><body><p>Caf=C3=A9 &amp; "
            "<b>cr=C3=AApes</b></p><p>second line</p></body></html>\r\n"
        ).encode(),
        # A forward: the forwarded mail inside has its own Message-ID and References.
        (
            "From: Dee <dee@fifth.example>\r\n"
            f"To: {OURS}\r\n"
            "Subject: Fwd: order\r\n"
            "Date: Tue, 05 Nov 2024 10:00:00 +0000\r\n"
            "Message-ID: <d1@fifth.example>\r\n"
            "MIME-Version: 1.0\r\n"
            'Content-Type: multipart/mixed; boundary="XX"\r\n\r\n'
            "--XX\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nSee below.\r\n"
            "--XX\r\nContent-Type: message/rfc822\r\n\r\n"
            "From: shop@shop.example\r\nMessage-ID: <inner@shop.example>\r\n"
            "References: <a1@customer.example>\r\nSubject: order\r\n\r\nInner text.\r\n"
            "--XX\r\nContent-Type: application/pdf; name=x.pdf\r\n"
            "Content-Disposition: attachment; filename=x.pdf\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\nJVBERi0=\r\n--XX--\r\n"
        ).encode(),
    ]
    sent = [
        mail(
            f"From: {OURS}",
            "To: ana@customer.example",
            f"Cc: {OURS}",
            "Subject: Re: Help",
            "Date: Mon, 04 Nov 2024 11:00:00 +0000",
            "Message-ID: <a2@acme.example>",
            "In-Reply-To: <a1@customer.example>",
            "References: <a1@customer.example>",
            body="We are on it.",
        ),
        mail(
            "From: help@acme.example",
            "To: bo@other.example",
            "Subject: Re: Help",
            "Date: Mon, 04 Nov 2024 12:00:00 +0000",
            "Message-ID: <b2@acme.example>",
            "In-Reply-To: <b1@other.example>",
            "References: <b1@other.example>",
            body="Which version?",
        ),
    ]
    for raw in inbox:
        server.append(user, "INBOX", raw)
    for raw in sent:
        server.append(user, "Sent", raw, flags="(\\Seen)")


@pytest.fixture(scope="module")
def planted(dovecot: Dovecot) -> tuple[Dovecot, str, list[Page]]:
    user = dovecot.new_user("box")
    plant(dovecot, user)
    return dovecot, user, sync(config(dovecot, user, page_size=3))


def test_threads_come_from_headers_never_subjects(planted: tuple[Dovecot, str, list[Page]]) -> None:
    _, _, pages = planted
    got = by_id(pages)
    assert set(got) == {
        "<a1@customer.example>",
        "<a2@acme.example>",
        "<a3@customer.example>",
        "<b1@other.example>",
        "<b2@acme.example>",
        "<b3@other.example>",
        "<j1@third.example>",
        "<c1@fourth.example>",
        "<d1@fifth.example>",
    }
    threads = {m.id: m.conversation_id for m in got.values()}
    ana = {k for k, v in threads.items() if v == "<a1@customer.example>"}
    bo = {k for k, v in threads.items() if v == "<b1@other.example>"}
    assert ana == {"<a1@customer.example>", "<a2@acme.example>", "<a3@customer.example>"}
    assert bo == {"<b1@other.example>", "<b2@acme.example>", "<b3@other.example>"}
    # The forward is its own thread: the forwarded mail's References are not its own.
    assert threads["<d1@fifth.example>"] == "<d1@fifth.example>"
    assert got["<d1@fifth.example>"].in_reply_to is None
    # References only, last entry missing: the nearest present ancestor is the parent.
    assert got["<a3@customer.example>"].in_reply_to == "<a2@acme.example>"
    assert got["<a2@acme.example>"].in_reply_to == "<a1@customer.example>"
    assert got["<b3@other.example>"].in_reply_to == "<b2@acme.example>"
    assert got["<a1@customer.example>"].in_reply_to is None


def test_directions_and_automated(planted: tuple[Dovecot, str, list[Page]]) -> None:
    _, _, pages = planted
    got = by_id(pages)
    outbound = {i for i, m in got.items() if m.direction is Direction.OUTBOUND}
    assert outbound == {"<a2@acme.example>", "<b2@acme.example>"}
    automated = {i for i, m in got.items() if m.automated}
    assert automated == {"<b3@other.example>", "<j1@third.example>"}
    assert all(m.visibility is Visibility.PRIVATE for m in got.values())
    assert got["<a3@customer.example>"].author_id == "email:ana@customer.example"


def test_times_text_and_encoded_headers(planted: tuple[Dovecot, str, list[Page]]) -> None:
    _, _, pages = planted
    got = by_id(pages)
    assert got["<a1@customer.example>"].sent_at == datetime(2024, 11, 4, 8, 0, tzinfo=UTC)
    assert got["<a3@customer.example>"].sent_at == datetime(2024, 11, 4, 18, 30, tzinfo=UTC)
    assert got["<c1@fourth.example>"].text == "Café & crêpes\n\nsecond line"
    assert got["<d1@fifth.example>"].text == "See below."
    people = {s.id: s for page in pages for s in page.stakeholders}
    assert people["email:jose@third.example"].display_name == "José Pérez"
    assert "email:support@acme.example" not in people
    channels = [c for page in pages for c in page.channels]
    assert len(channels) == 1


def test_sync_is_read_only(planted: tuple[Dovecot, str, list[Page]]) -> None:
    server, user, _ = planted
    with server.client(user) as conn:
        conn.select("INBOX", readonly=True)
        typ, data = conn.search(None, "UNSEEN")
        assert typ == "OK"
        assert len(data[0].split()) == 8  # nothing was marked \Seen


def test_incremental_sync_and_late_parent(dovecot: Dovecot) -> None:
    user = dovecot.new_user("late")
    dovecot.append(
        user,
        "INBOX",
        mail(
            "From: eve@cust.example",
            "Subject: Re: order",
            "Date: Wed, 06 Nov 2024 10:00:00 +0000",
            "Message-ID: <e3@cust.example>",
            "In-Reply-To: <e2@acme.example>",
            body="Thanks",
        ),
    )
    cfg = config(dovecot, user)
    first = sync(cfg)
    got = by_id(first)
    assert got["<e3@cust.example>"].conversation_id == "<e2@acme.example>"
    assert got["<e3@cust.example>"].in_reply_to is None
    cursor = first[-1].cursor
    assert sync(cfg, cursor) == []  # nothing new: no page
    # The missing parent arrives (it names its own root): the reply moves with it.
    dovecot.append(
        user,
        "Sent",
        mail(
            f"From: {OURS}",
            "Subject: Re: order",
            "Date: Wed, 06 Nov 2024 09:00:00 +0000",
            "Message-ID: <e2@acme.example>",
            "In-Reply-To: <e1@cust.example>",
            "References: <e1@cust.example>",
        ),
    )
    second = by_id(sync(cfg, cursor))
    assert set(second) == {"<e2@acme.example>", "<e3@cust.example>"}
    assert second["<e3@cust.example>"].in_reply_to == "<e2@acme.example>"
    assert second["<e3@cust.example>"].conversation_id == "<e1@cust.example>"


def test_changed_uidvalidity_rereads_cleanly(dovecot: Dovecot) -> None:
    user = dovecot.new_user("valid")
    raws = [
        mail(f"From: x{i}@cust.example", f"Message-ID: <v{i}@cust.example>",
             "Date: Thu, 07 Nov 2024 10:00:00 +0000")
        for i in range(4)
    ]  # fmt: skip
    for raw in raws:
        dovecot.append(user, "INBOX", raw)
    cfg = config(dovecot, user, folders=["INBOX"], page_size=2)
    first = sync(cfg)
    cursor = MailCursor.decode(first[-1].cursor)
    state = cursor.state("INBOX")
    assert state is not None
    assert state.last_uid == 4
    # The cursor says another UIDVALIDITY: the folder is read again, each mail once.
    stale = MailCursor(
        folders={"INBOX": type(state)(uidvalidity=state.uidvalidity + 7, last_uid=4)}
    )
    again = sync(cfg, stale.encode())
    assert sorted(m.id for p in again for m in p.messages) == sorted(
        f"<v{i}@cust.example>" for i in range(4)
    )
    resumed = MailCursor.decode(again[-1].cursor).state("INBOX")
    assert resumed == state


def test_uids_below_the_cursor_are_not_read_again(dovecot: Dovecot) -> None:
    """``UID n+1:*`` names the last mail even when its UID is below n+1: the adapter
    must not deliver it again on every sync."""
    user = dovecot.new_user("star")
    dovecot.append(user, "INBOX", mail("From: q@cust.example", "Message-ID: <q1@cust.example>"))
    cfg = config(dovecot, user, folders=["INBOX"])
    first = sync(cfg)
    assert [m.id for p in first for m in p.messages] == ["<q1@cust.example>"]
    assert sync(cfg, first[-1].cursor) == []
    assert sync(cfg, first[-1].cursor) == []


def test_team_members_are_outbound(planted: tuple[Dovecot, str, list[Page]]) -> None:
    server, user, _ = planted
    pages = sync(config(server, user), team=frozenset({"Bo@Other.Example"}))
    got = by_id(pages)
    assert got["<b1@other.example>"].direction is Direction.OUTBOUND
    assert got["<a1@customer.example>"].direction is Direction.INBOUND


def test_adapter_repr_has_no_password(dovecot: Dovecot) -> None:
    cfg = config(dovecot, "someone@acme.example")
    adapter = EmailAdapter(cfg, SyncContext(source="s", platform="email"))
    assert PASSWORD not in repr(adapter) + repr(cfg) + str(cfg)


def test_a_recreated_folder_is_read_again_without_duplicates(dovecot: Dovecot) -> None:
    """The server gives a folder a new UIDVALIDITY (here: deleted and created again,
    its mail appended anew, so the UIDs restart): a clean re-read, each mail once."""
    user = dovecot.new_user("recreate")
    raws = [
        mail(f"From: r{i}@cust.example", f"Message-ID: <r{i}@cust.example>",
             "Date: Thu, 07 Nov 2024 10:00:00 +0000")
        for i in range(3)
    ]  # fmt: skip
    with dovecot.client(user) as conn:
        assert conn.create('"Support"')[0] == "OK"
    for raw in raws:
        dovecot.append(user, "Support", raw)
    cfg = config(dovecot, user, folders=["Support"])
    first = sync(cfg)
    before = MailCursor.decode(first[-1].cursor).state("Support")
    with dovecot.client(user) as conn:
        assert conn.delete('"Support"')[0] == "OK"
        assert conn.create('"Support"')[0] == "OK"
    for raw in [*reversed(raws), raws[0]]:  # new order, and one mail twice
        dovecot.append(user, "Support", raw)
    again = sync(cfg, first[-1].cursor)
    after = MailCursor.decode(again[-1].cursor).state("Support")
    assert before is not None
    assert after is not None
    assert after.uidvalidity != before.uidvalidity
    ids = [m.id for p in again for m in p.messages]
    assert sorted(ids) == ["<r0@cust.example>", "<r1@cust.example>", "<r2@cust.example>"]
    assert sync(cfg, again[-1].cursor) == []


def test_without_special_use_the_sent_folder_is_found_by_name(
    dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from convokit_email import _imap

    user = dovecot.new_user("nosent")
    dovecot.append(user, "Sent", mail(f"From: {OURS}", "Message-ID: <s1@acme.example>"))
    real = _imap.ImapSession.list_folders

    def without_flags(self: _imap.ImapSession) -> list[_imap.Folder]:
        return [_imap.Folder(name=f.name, flags=frozenset()) for f in real(self)]

    monkeypatch.setattr(_imap.ImapSession, "list_folders", without_flags)
    pages = sync(config(dovecot, user))
    assert [m.id for p in pages for m in p.messages] == ["<s1@acme.example>"]
    assert any("flagged \\Sent" in r.getMessage() for r in caplog.records)

    def inbox_only(self: _imap.ImapSession) -> list[_imap.Folder]:
        return [f for f in without_flags(self) if f.name == "INBOX"]

    monkeypatch.setattr(_imap.ImapSession, "list_folders", inbox_only)
    with pytest.raises(SyncError, match=r"\\Sent"):
        sync(config(dovecot, user))


def test_non_ascii_folder_names(dovecot: Dovecot) -> None:
    user = dovecot.new_user("utf7")
    with dovecot.client(user) as conn:
        assert conn.create('"Entw&APw-rfe"')[0] == "OK"
    dovecot.append(user, "Entw&APw-rfe", mail("From: u@cust.example", "Message-ID: <u1@x>"))
    pages = sync(config(dovecot, user, folders=["Entwürfe"]))
    assert [m.id for p in pages for m in p.messages] == ["<u1@x>"]
    assert "Entw&APw-rfe" in MailCursor.decode(pages[-1].cursor).folders


def test_mail_deleted_during_the_sync_is_skipped(
    dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch
) -> None:
    from convokit_email import _imap

    user = dovecot.new_user("gone")
    for i in range(3):
        dovecot.append(user, "INBOX", mail(f"From: g{i}@cust.example", f"Message-ID: <g{i}@x>"))
    real = _imap.ImapSession.bodies

    def expunged(self: _imap.ImapSession, folder: str, uids: object) -> list[object]:
        return [row for row in real(self, folder, uids) if row[0] != 1]  # type: ignore[arg-type]

    monkeypatch.setattr(_imap.ImapSession, "bodies", expunged)
    cfg = config(dovecot, user, folders=["INBOX"], page_size=1)
    pages = sync(cfg)
    assert [m.id for p in pages for m in p.messages] == ["<g1@x>", "<g2@x>"]
    assert all(len(p) for p in pages[:-1])
    state = MailCursor.decode(pages[-1].cursor).state("INBOX")
    assert state is not None
    assert state.last_uid == 3


@pytest.mark.parametrize("header", ["X-Autogenerated: Reply", "X-AutoReply-From: bo@other.example"])
def test_more_out_of_office_markers(dovecot: Dovecot, header: str) -> None:
    user = dovecot.new_user("ooo")
    dovecot.append(user, "INBOX", mail("From: o@cust.example", "Message-ID: <o@x>", header))
    (message,) = [m for p in sync(config(dovecot, user, folders=["INBOX"])) for m in p.messages]
    assert message.automated
