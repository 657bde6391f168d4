"""Reading one mail: ids, threading headers, sender, date, text and automation markers."""

from __future__ import annotations

import email.errors
import email.header
import email.utils
import hashlib
import html
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from email.message import Message as MimeMessage
from email.parser import BytesParser
from email.policy import compat32
from html.parser import HTMLParser

import attrs

__all__ = ["Headers", "Mail", "html_to_text", "is_automated", "parse_headers", "parse_mail"]

_MSG_ID = re.compile(r"<([^<>]*)>")
_WS = re.compile(r"\s+")
_PARSER = BytesParser(policy=compat32)


@attrs.frozen(kw_only=True)
class Headers:
    """The headers threading needs, from a full mail or a header-only FETCH.

    ``id`` is the Message-ID as written (``<local@domain>``, case kept); a mail without
    one gets a derived id ``no-message-id:<sha256>`` of its sender, date, recipients
    and subject, which can never collide with a real Message-ID.
    """

    id: str
    in_reply_to: tuple[str, ...]
    references: tuple[str, ...]

    def ancestors_nearest_first(self) -> tuple[str, ...]:
        """In-Reply-To (the direct parent), then References from the newest back."""
        out = [*reversed(self.in_reply_to), *reversed(self.references)]
        return tuple(i for i in dict.fromkeys(out) if i != self.id)

    def root_hint(self) -> str | None:
        """The thread's first message by these headers: References' first entry (RFC
        5322 keeps it when it shortens the list), else In-Reply-To's."""
        for candidate in (*self.references, *self.in_reply_to):
            if candidate != self.id:
                return candidate
        return None


@attrs.frozen(kw_only=True)
class Mail:
    """A parsed mail: what becomes a :class:`~convokit_core.Message`."""

    headers: Headers
    sender: str | None
    """The From address, lower-cased (e-mail addresses compare case-insensitively)."""
    sender_name: str | None
    sent_at: datetime | None
    """From the Date header with its offset, in UTC; ``None`` if missing or invalid."""
    subject: str
    text: str
    automated: bool


def _unfold(value: str) -> str:
    return _WS.sub(" ", value).strip()


def _raw(msg: MimeMessage, name: str) -> str:
    value = msg.get(name)
    if value is None:
        return ""
    if isinstance(value, email.header.Header):
        return _unfold(str(value))
    return _unfold(str(value))


def _msg_ids(value: str) -> tuple[str, ...]:
    """Every ``<id>`` in a header, exactly as written (no case folding)."""
    ids = [f"<{m.strip()}>" for m in _MSG_ID.findall(value) if m.strip()]
    if not ids and value and " " not in value and "@" in value:
        ids = [f"<{value}>"]  # a Message-ID written without its angle brackets
    return tuple(dict.fromkeys(ids))


def decode_words(value: str) -> str:
    """A header with RFC 2047 encoded words decoded (``=?utf-8?q?…?=``)."""
    if "=?" not in value:
        return value
    try:
        return _unfold(str(email.header.make_header(email.header.decode_header(value))))
    except (LookupError, UnicodeError, ValueError, email.errors.HeaderParseError):
        return value


def _headers(msg: MimeMessage) -> Headers:
    ids = _msg_ids(_raw(msg, "Message-ID"))
    if ids:
        own = ids[0]
    else:
        basis = "\n".join(_raw(msg, name) for name in ("From", "Date", "To", "Cc", "Subject"))
        own = "no-message-id:" + hashlib.sha256(basis.encode("utf-8", "replace")).hexdigest()
    return Headers(
        id=own,
        in_reply_to=tuple(i for i in _msg_ids(_raw(msg, "In-Reply-To")) if i != own),
        references=tuple(i for i in _msg_ids(_raw(msg, "References")) if i != own),
    )


def parse_headers(raw: bytes) -> Headers:
    """The threading headers of a header block (or a whole mail)."""
    return _headers(_PARSER.parsebytes(raw, headersonly=True))


def _strip_comments(value: str) -> str:
    """An RFC 5322 header value without its (possibly nested) comments."""
    out: list[str] = []
    depth = 0
    escaped = False
    for char in value:
        if escaped:
            escaped = False
            if depth == 0:
                out.append(char)
            continue
        if char == "\\":
            escaped = True
            continue
        if char == "(":
            depth += 1
        elif char == ")" and depth:
            depth -= 1
        elif depth == 0:
            out.append(char)
    return "".join(out)


_OOO_HEADERS = ("X-Autoreply", "X-Autorespond", "X-Autoresponder", "X-Auto-Reply")
_BULK_PRECEDENCE = {"bulk", "junk", "auto_reply", "auto-reply"}
_FALSE = {"", "no", "false", "0", "off"}


def is_automated(msg: MimeMessage) -> bool:
    """Whether a mail was sent by a machine.

    RFC 3834 ``Auto-Submitted`` with any value but ``no`` (comments and parameters
    allowed: ``auto-replied (vacation); owner-email=x``), the out-of-office headers
    ``X-Autoreply`` / ``X-Autorespond`` / ``X-Autoresponder`` / ``X-Auto-Reply``, and
    ``Precedence: bulk | junk | auto_reply``.
    """
    submitted = msg.get_all("Auto-Submitted") or []
    for value in submitted:
        token = _strip_comments(_unfold(str(value))).split(";", 1)[0].strip().lower()
        if token and token != "no":
            return True
    for name in _OOO_HEADERS:
        for value in msg.get_all(name) or []:
            if _strip_comments(_unfold(str(value))).strip().lower() not in _FALSE:
                return True
    for value in msg.get_all("Precedence") or []:
        if _strip_comments(_unfold(str(value))).strip().lower() in _BULK_PRECEDENCE:
            return True
    return False


def _sender(msg: MimeMessage) -> tuple[str | None, str | None]:
    value = _raw(msg, "From")
    if not value:
        return None, None
    pairs = email.utils.getaddresses([value])
    for name, address in pairs:
        address = address.strip()
        if "@" in address:
            return address.lower(), (decode_words(name).strip() or None)
    return None, None


def _date(msg: MimeMessage) -> datetime | None:
    value = _raw(msg, "Date")
    if not value:
        return None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:  # "-0000": UTC, local offset unknown (RFC 5322 3.3)
        when = when.replace(tzinfo=UTC)
    try:
        return when.astimezone(UTC)
    except (OverflowError, ValueError):
        return None


def _is_attachment(part: MimeMessage) -> bool:
    disposition = (part.get("Content-Disposition") or "").split(";", 1)[0].strip().lower()
    return disposition == "attachment"


def _find(part: MimeMessage, subtype: str) -> MimeMessage | None:
    """The first ``text/<subtype>`` body part, outside attachments and forwarded
    ``message/rfc822`` parts (their text is not this mail's)."""
    if part.is_multipart():
        if part.get_content_type() == "message/rfc822":
            return None
        payload = part.get_payload()
        if not isinstance(payload, list):
            return None
        for child in payload:
            if isinstance(child, MimeMessage):
                found = _find(child, subtype)
                if found is not None:
                    return found
        return None
    if part.get_content_type() == f"text/{subtype}" and not _is_attachment(part):
        return part
    return None


def _decode_part(part: MimeMessage) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    charset = part.get_content_charset() or "us-ascii"
    try:
        return payload.decode(charset, errors="replace")
    except LookupError:  # an unknown charset name
        return payload.decode("utf-8", errors="replace")


class _TextExtractor(HTMLParser):
    _BLOCK = frozenset(
        {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote"}
        | {"pre", "table", "ul", "ol", "section", "article", "header", "footer", "hr"}
    )
    _SKIP = frozenset({"script", "style", "head", "title"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: Sequence[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self._skipping += 1
        elif tag in self._BLOCK:
            self.parts.append("\n")

    def handle_startendtag(self, tag: str, attrs: Sequence[tuple[str, str | None]]) -> None:
        if tag in self._BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP and self._skipping:
            self._skipping -= 1
        elif tag in self._BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def html_to_text(markup: str) -> str:
    """Readable plain text from HTML: no tags, scripts or styles; entities decoded;
    block elements on lines of their own."""
    parser = _TextExtractor()
    try:
        parser.feed(markup)
        parser.close()
    except (AssertionError, ValueError):  # pragma: no cover - HTMLParser is lenient
        return html.unescape(re.sub(r"<[^>]*>", " ", markup)).strip()
    lines = (" ".join(line.split()) for line in "".join(parser.parts).splitlines())
    return "\n".join(line for line in lines if line)


def _text(msg: MimeMessage) -> str:
    plain = _find(msg, "plain")
    if plain is not None:
        return _decode_part(plain).replace("\r\n", "\n").strip()
    markup = _find(msg, "html")
    if markup is not None:
        return html_to_text(_decode_part(markup))
    return ""


def parse_mail(raw: bytes) -> Mail:
    """Parse a whole mail (RFC 5322 bytes as ``BODY[]`` returns them)."""
    msg = _PARSER.parsebytes(raw)
    sender, name = _sender(msg)
    return Mail(
        headers=_headers(msg),
        sender=sender,
        sender_name=name,
        sent_at=_date(msg),
        subject=decode_words(_raw(msg, "Subject")),
        text=_text(msg),
        automated=is_automated(msg),
    )
