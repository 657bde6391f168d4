"""Pure functions of the e-mail adapter: headers, MIME, automation markers, config,
cursors, folder names, threading rules. No server needed."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from convokit_email import EmailConfig, FolderState, MailCursor, Threads, html_to_text
from convokit_email._imap import decode_mutf7, encode_mutf7, parse_internaldate
from convokit_email._mime import Headers, parse_headers, parse_mail

from convokit_core import MalformedPayload


def raw(*headers: str, body: str = "x") -> bytes:
    return ("\r\n".join(headers) + "\r\n\r\n" + body + "\r\n").encode()


@pytest.mark.parametrize(
    ("value", "automated"),
    [
        ("auto-replied", True),
        ("Auto-Generated", True),
        ('auto-notified; owner-email="x@y.example"', True),
        ("auto-replied (vacation message)", True),
        ("no", False),
        ("No (a person wrote this)", False),
        ("(only a comment) no", False),
    ],
)
def test_auto_submitted_values(value: str, automated: bool) -> None:
    mail = parse_mail(raw("From: a@b.example", f"Auto-Submitted: {value}"))
    assert mail.automated is automated


@pytest.mark.parametrize(
    ("header", "automated"),
    [
        ("X-Autoreply: yes", True),
        ("X-Autorespond: Vacation", True),
        ("X-Autoreply: no", False),
        ("Precedence: bulk", True),
        ("Precedence: auto_reply", True),
        ("Precedence: list", False),
        ("X-Mailer: Outlook", False),
    ],
)
def test_out_of_office_markers(header: str, automated: bool) -> None:
    assert parse_mail(raw("From: a@b.example", header)).automated is automated


def test_message_ids_are_kept_exactly() -> None:
    first = parse_headers(raw("Message-ID: <ABC.1@Host.Example>"))
    second = parse_headers(raw("Message-ID: <abc.1@host.example>"))
    assert first.id == "<ABC.1@Host.Example>"
    assert first.id != second.id
    # Folded References, self-references dropped, brackets added where missing.
    folded = parse_headers(
        raw("Message-ID: <m@x>", "References: <r1@x>\r\n\t<r2@x> <m@x>", "In-Reply-To: p@x")
    )
    assert folded.references == ("<r1@x>", "<r2@x>")
    assert folded.in_reply_to == ("<p@x>",)


def test_a_mail_without_message_id_gets_a_stable_derived_id() -> None:
    one = parse_headers(raw("From: a@b.example", "Date: Mon, 04 Nov 2024 09:00:00 +0000"))
    two = parse_headers(raw("From: a@b.example", "Date: Mon, 04 Nov 2024 09:00:00 +0000"))
    other = parse_headers(raw("From: a@b.example", "Date: Mon, 04 Nov 2024 09:00:01 +0000"))
    assert one.id == two.id
    assert one.id.startswith("no-message-id:")
    assert one.id != other.id


def test_dates_keep_their_offset_and_minus_zero_is_utc() -> None:
    mail = parse_mail(raw("Date: Sun, 31 Mar 2024 01:30:00 -0930"))
    assert mail.sent_at == datetime(2024, 3, 31, 11, 0, tzinfo=UTC)
    assert parse_mail(raw("Date: Sun, 31 Mar 2024 01:30:00 -0000")).sent_at == datetime(
        2024, 3, 31, 1, 30, tzinfo=UTC
    )
    assert parse_mail(raw("Date: yesterday-ish")).sent_at is None


def test_charsets_and_transfer_encodings() -> None:
    latin = (
        b"From: =?ISO-8859-1?Q?Andr=E9?= <andre@b.example>\r\n"
        b"Subject: =?utf-8?b?w4Bnw6lu?=\r\n"
        b"Content-Type: text/plain; charset=iso-8859-1\r\n"
        b"Content-Transfer-Encoding: quoted-printable\r\n\r\nD=E9j=E0 vu\r\n"
    )
    mail = parse_mail(latin)
    assert mail.text == "Déjà vu"
    assert mail.sender_name == "André"
    assert mail.subject == "Àgén"
    unknown = b"Content-Type: text/plain; charset=x-no-such\r\n\r\nplain\r\n"
    assert parse_mail(unknown).text == "plain"


def test_plain_is_preferred_to_html_and_attachments_are_ignored() -> None:
    body = (
        b'Content-Type: multipart/mixed; boundary="M"\r\n\r\n'
        b'--M\r\nContent-Type: multipart/alternative; boundary="A"\r\n\r\n'
        b"--A\r\nContent-Type: text/html\r\n\r\n<p>html</p>\r\n"
        b"--A\r\nContent-Type: text/plain\r\n\r\nplain\r\n--A--\r\n"
        b"--M\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; filename=a.txt"
        b"\r\n\r\nattached\r\n--M--\r\n"
    )
    assert parse_mail(body).text == "plain"


def test_html_to_text() -> None:
    # blocks become paragraphs, as everywhere (convokit_core.html_to_text)
    assert html_to_text("<style>x{}</style><p>a&nbsp;b</p><br><div>c <i>d</i></div>") == (
        "a b\n\nc d"
    )


def test_threads_follow_references_not_subjects() -> None:
    headers = {
        "<r@x>": Headers(id="<r@x>", in_reply_to=(), references=()),
        "<c@x>": Headers(id="<c@x>", in_reply_to=(), references=("<r@x>", "<gone@x>")),
        "<d@x>": Headers(id="<d@x>", in_reply_to=("<c@x>",), references=()),
        "<loop1@x>": Headers(id="<loop1@x>", in_reply_to=("<loop2@x>",), references=()),
        "<loop2@x>": Headers(id="<loop2@x>", in_reply_to=("<loop1@x>",), references=()),
    }
    threads = Threads(headers)
    assert threads.place("<c@x>") == ("<r@x>", "<r@x>")
    assert threads.place("<d@x>") == ("<r@x>", "<c@x>")
    # A reply cycle ends instead of looping.
    assert threads.conversation("<loop1@x>") == "<loop1@x>"
    assert Threads(headers).conversation("<loop2@x>") == "<loop1@x>"


def test_folder_names_in_modified_utf7() -> None:
    for name in ("Gesendete Objekte", "Éléments envoyés", "送信済み", "A&B", "INBOX"):
        assert decode_mutf7(encode_mutf7(name)) == name
    assert encode_mutf7("Entwürfe") == "Entw&APw-rfe"
    assert encode_mutf7("A&B") == "A&-B"


def test_internaldate() -> None:
    assert parse_internaldate("04-Nov-2024 09:00:00 +0100") == datetime(
        2024, 11, 4, 8, 0, tzinfo=UTC
    )
    assert parse_internaldate(" 4-Nov-2024 09:00:00 -0000") == datetime(
        2024, 11, 4, 9, 0, tzinfo=UTC
    )
    assert parse_internaldate("not a date") is None


def test_cursor_round_trip_and_garbage() -> None:
    cursor = MailCursor(folders={"INBOX": FolderState(uidvalidity=7, last_uid=42)})
    assert MailCursor.decode(cursor.encode()) == cursor
    assert MailCursor.decode(None) == MailCursor()
    for bad in ("garbage!", "bnVsbA==", cursor.encode()[:-4], "eyJ2IjoyfQ=="):
        with pytest.raises(MalformedPayload, match="e-mail cursor"):
            MailCursor.decode(bad)


BASE = {"host": "imap.example.com", "username": "support@acme.example", "password": "pw-123456789"}


def test_config_defaults() -> None:
    config = EmailConfig(**BASE)  # type: ignore[arg-type]
    assert config.security == "tls"
    assert config.effective_port == 993
    assert config.folders is None
    assert config.own_addresses == ("support@acme.example",)
    starttls = EmailConfig(**BASE, security="starttls")  # type: ignore[arg-type]
    assert starttls.effective_port == 143
    assert "pw-123456789" not in repr(config)


@pytest.mark.parametrize(
    ("changes", "key"),
    [
        ({"security": "ssl"}, "security"),
        ({"security": "none"}, "security"),
        ({"port": 0}, "port"),
        ({"port": True}, "port"),
        ({"addresses": "support@acme.example"}, "addresses"),
        ({"addresses": ["not an address"]}, "addresses"),
        ({"folders": []}, "folders"),
        ({"folders": "INBOX"}, "folders"),
        ({"host": ""}, "host"),
        ({"password": ""}, "password"),
        ({"page_size": 0}, "page_size"),
        ({"timeout": -1}, "timeout"),
    ],
)
def test_config_errors_name_the_key(changes: dict[str, object], key: str) -> None:
    with pytest.raises(ValueError, match=f"'{key}'") as info:
        EmailConfig(**{**BASE, **changes})  # type: ignore[arg-type]
    assert "pw-123456789" not in str(info.value)


def test_none_is_fine_on_loopback() -> None:
    for host in ("127.0.0.1", "::1", "localhost"):
        config = EmailConfig(**{**BASE, "host": host, "security": "none"})  # type: ignore[arg-type]
        assert config.effective_port == 143


def test_a_trimmed_root_learns_its_thread_from_a_reply() -> None:
    """``<m@x>`` carries no headers, but its reply says it followed ``<gone@x>``: both
    are in the thread of ``<gone@x>``, and a reply shares its parent's conversation."""
    headers = {
        "<m@x>": Headers(id="<m@x>", in_reply_to=(), references=()),
        "<r@x>": Headers(id="<r@x>", in_reply_to=(), references=("<gone@x>", "<m@x>")),
        "<s@x>": Headers(id="<s@x>", in_reply_to=("<r@x>",), references=()),
        "<t@x>": Headers(id="<t@x>", in_reply_to=(), references=("<other@x>",)),
    }
    threads = Threads(headers)
    assert threads.place("<m@x>") == ("<gone@x>", None)
    assert threads.place("<r@x>") == ("<gone@x>", "<m@x>")
    assert threads.place("<s@x>") == ("<gone@x>", "<r@x>")
    assert threads.place("<t@x>") == ("<other@x>", None)


def test_raw_utf8_and_latin1_headers_and_bodies() -> None:
    utf8 = parse_mail(
        "From: Jürgen Groß <JG@x.example>\r\nSubject: Grüße\r\n\r\nHallo Jürgen\r\n".encode()
    )
    assert (utf8.sender_name, utf8.sender, utf8.subject, utf8.text) == (
        "Jürgen Groß",
        "jg@x.example",
        "Grüße",
        "Hallo Jürgen",
    )
    latin = parse_mail("Subject: Grüße\r\n\r\nCafé\r\n".encode("latin-1"))
    assert (latin.subject, latin.text) == ("Grüße", "Café")
