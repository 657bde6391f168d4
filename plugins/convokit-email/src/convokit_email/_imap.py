"""A small blocking IMAP session on :mod:`imaplib`, run in a worker thread.

Read-only by construction: folders are opened with ``EXAMINE`` and bodies fetched with
``BODY.PEEK``, so no ``\\Seen`` flag is ever set. The adapter calls every method through
:func:`asyncio.to_thread`, one call at a time.
"""

from __future__ import annotations

import contextlib
import imaplib
import re
import ssl
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta, timezone

import attrs

from convokit_core import MalformedPayload, SyncError

from ._config import EmailConfig

__all__ = [
    "Folder",
    "ImapSession",
    "LostConnection",
    "decode_mutf7",
    "encode_mutf7",
    "parse_internaldate",
]

# imaplib's default limit on one response line is 1 MB; large header blocks pass.
_LIST_LINE = re.compile(
    rb'^\((?P<flags>[^)]*)\) (?P<delim>NIL|"(?:[^"\\]|\\.)*") (?P<name>.*)$', re.DOTALL
)
_UID = re.compile(rb"\bUID (\d+)")
_INTERNALDATE = re.compile(rb'INTERNALDATE "([^"]+)"')
_MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTHS = {m: i for i, m in enumerate(_MONTH_NAMES, start=1)}
_SCAN_FIELDS = (
    "(UID BODY.PEEK[HEADER.FIELDS (MESSAGE-ID IN-REPLY-TO REFERENCES FROM DATE TO CC SUBJECT)])"
)


class LostConnection(Exception):
    """The connection broke (network, TLS, timeout, server abort): worth a reconnect."""


@attrs.frozen(kw_only=True)
class Folder:
    """A folder as ``LIST`` names it: its IMAP (modified UTF-7) name and flags."""

    name: str
    flags: frozenset[str]


def encode_mutf7(name: str) -> str:
    """A folder name in IMAP's modified UTF-7 (RFC 3501 5.1.3)."""
    out: list[str] = []
    pending: list[str] = []

    def flush() -> None:
        if pending:
            raw = "".join(pending).encode("utf-16-be")
            import base64

            out.append("&" + base64.b64encode(raw).decode().rstrip("=").replace("/", ",") + "-")
            pending.clear()

    for char in name:
        if 0x20 <= ord(char) <= 0x7E:
            flush()
            out.append("&-" if char == "&" else char)
        else:
            pending.append(char)
    flush()
    return "".join(out)


def decode_mutf7(name: str) -> str:
    """A modified UTF-7 folder name decoded for people (unchanged if invalid)."""
    import base64
    import binascii

    def one(match: re.Match[str]) -> str:
        body = match.group(1)
        if not body:
            return "&"
        data = body.replace(",", "/")
        data += "=" * (-len(data) % 4)
        try:
            return base64.b64decode(data).decode("utf-16-be")
        except (binascii.Error, UnicodeDecodeError):
            return match.group(0)

    return re.sub(r"&([A-Za-z0-9+,]*)-", one, name)


def _quote(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _unquote(raw: bytes) -> str:
    text = raw.decode("ascii", errors="replace").strip()
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        return re.sub(r"\\(.)", r"\1", text[1:-1])
    return text


def parse_internaldate(text: str) -> datetime | None:
    """``17-Jul-1996 02:44:25 -0700`` (IMAP INTERNALDATE) in UTC, locale-free."""
    match = re.fullmatch(
        r"\s*(\d{1,2})-([A-Za-z]{3})-(\d{4}) (\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})", text
    )
    if not match:
        return None
    day, mon, year, hh, mm, ss, sign, oh, om = match.groups()
    month = _MONTHS.get(mon.capitalize())
    if month is None:
        return None
    offset = timedelta(hours=int(oh), minutes=int(om))
    try:
        zone = timezone(-offset if sign == "-" else offset)
        when = datetime(int(year), month, int(day), int(hh), int(mm), int(ss), tzinfo=zone)
    except ValueError:
        return None
    return when.astimezone(UTC)


def _ssl_context() -> ssl.SSLContext:
    # Verifies the certificate and host name against the system's CAs (SSL_CERT_FILE
    # and SSL_CERT_DIR are honoured, e.g. for a private CA).
    return ssl.create_default_context()


class ImapSession:
    """One logged-in connection. Not thread-safe: one call at a time."""

    def __init__(self, config: EmailConfig) -> None:
        """Not connected yet: call :meth:`connect`."""
        self._config = config
        self._conn: imaplib.IMAP4 | None = None
        self._selected: str | None = None
        self._secret = config.password

    @property
    def selected(self) -> str | None:
        """The folder open now, or ``None``."""
        return self._selected

    def __repr__(self) -> str:
        return f"<ImapSession {self._config.username}@{self._config.host}>"

    def _scrub(self, text: str) -> str:
        return text.replace(self._secret, "***") if self._secret else text

    def _server_text(self, exc: BaseException) -> str:
        return self._scrub(str(exc))[:300]

    # -- connection ------------------------------------------------------------------

    def connect(self) -> None:
        """Open the connection (TLS, STARTTLS or plain on loopback) and log in."""
        self.close()
        config = self._config
        where = f"{config.host}:{config.effective_port}"
        try:
            if config.security == "tls":
                conn: imaplib.IMAP4 = imaplib.IMAP4_SSL(
                    config.host,
                    config.effective_port,
                    ssl_context=_ssl_context(),
                    timeout=config.timeout,
                )
            else:
                conn = imaplib.IMAP4(config.host, config.effective_port, timeout=config.timeout)
                if config.security == "starttls":
                    if "STARTTLS" not in conn.capabilities:
                        with contextlib.suppress(imaplib.IMAP4.error, OSError):
                            conn.shutdown()
                        raise SyncError(f"email: {where} does not offer STARTTLS")
                    conn.starttls(ssl_context=_ssl_context())
        except ssl.SSLCertVerificationError as exc:
            raise SyncError(
                f"email: the TLS certificate of {where} was rejected: {exc.verify_message}"
            ) from None
        except (OSError, imaplib.IMAP4.abort) as exc:
            raise LostConnection(f"cannot connect to {where}: {self._server_text(exc)}") from None
        except imaplib.IMAP4.error as exc:
            raise SyncError(
                f"email: {where} refused the session: {self._server_text(exc)}"
            ) from None
        try:
            conn.login(config.username, config.password)
        except imaplib.IMAP4.abort as exc:
            raise LostConnection(
                f"lost {where} while logging in: {self._server_text(exc)}"
            ) from None
        except imaplib.IMAP4.error as exc:
            with contextlib.suppress(imaplib.IMAP4.error, OSError):
                conn.shutdown()
            raise SyncError(
                f"email: login as {config.username!r} on {where} failed: {self._server_text(exc)}"
            ) from None
        except OSError as exc:
            raise LostConnection(
                f"lost {where} while logging in: {self._server_text(exc)}"
            ) from None
        self._conn = conn
        self._selected = None

    def close(self) -> None:
        """Log out (best effort) and forget the connection."""
        conn, self._conn, self._selected = self._conn, None, None
        if conn is not None:
            with contextlib.suppress(imaplib.IMAP4.error, OSError, AttributeError):
                conn.logout()

    def _uid(self, what: str, command: str, *args: str) -> list[object]:
        conn = self._conn
        if conn is None:
            raise LostConnection("not connected")
        try:
            typ, data = conn.uid(command, *args)
        except imaplib.IMAP4.abort as exc:
            raise LostConnection(f"{what}: {self._server_text(exc)}") from None
        except imaplib.IMAP4.error as exc:
            raise SyncError(f"email: {what} failed: {self._server_text(exc)}") from None
        except OSError as exc:
            raise LostConnection(f"{what}: {self._server_text(exc)}") from None
        if typ != "OK":
            text = b" ".join(d for d in data if isinstance(d, bytes)).decode("utf-8", "replace")
            raise SyncError(f"email: {what} failed: {self._scrub(text)[:300]}")
        return list(data or [])

    # -- commands --------------------------------------------------------------------

    def list_folders(self) -> list[Folder]:
        """Every folder ``LIST "" "*"`` names, with its flags (``\\Sent`` …)."""
        conn = self._conn
        if conn is None:
            raise LostConnection("not connected")
        try:
            typ, data = conn.list('""', '"*"')
        except imaplib.IMAP4.abort as exc:
            raise LostConnection(f"LIST: {self._server_text(exc)}") from None
        except imaplib.IMAP4.error as exc:
            raise SyncError(f"email: LIST failed: {self._server_text(exc)}") from None
        except OSError as exc:
            raise LostConnection(f"LIST: {self._server_text(exc)}") from None
        if typ != "OK":
            raise SyncError("email: LIST failed")
        folders: list[Folder] = []
        for item in data or []:
            if item is None:
                continue
            if isinstance(item, tuple):  # a name sent as a literal
                head, literal = item[0], item[1]
                match = _LIST_LINE.match(head.rsplit(b" {", 1)[0] + b" x")
                name = literal.decode("ascii", errors="replace")
            elif isinstance(item, bytes):
                match = _LIST_LINE.match(item)
                name = _unquote(match.group("name")) if match else ""
            else:
                continue
            if match is None or not name:
                raise MalformedPayload("email: a LIST answer is not of the form (FLAGS) DELIM NAME")
            flags = frozenset(
                f.decode("ascii", errors="replace").lower() for f in match.group("flags").split()
            )
            folders.append(Folder(name=name, flags=flags))
        return folders

    def examine(self, folder: str) -> tuple[int, int]:
        """Open ``folder`` read-only (``EXAMINE``); its ``(UIDVALIDITY, EXISTS)``."""
        conn = self._conn
        if conn is None:
            raise LostConnection("not connected")
        try:
            typ, data = conn.select(_quote(folder), readonly=True)
        except imaplib.IMAP4.abort as exc:
            raise LostConnection(f"EXAMINE {folder}: {self._server_text(exc)}") from None
        except imaplib.IMAP4.error as exc:
            raise SyncError(
                f"email: cannot open folder {decode_mutf7(folder)!r}: {self._server_text(exc)}"
            ) from None
        except OSError as exc:
            raise LostConnection(f"EXAMINE {folder}: {self._server_text(exc)}") from None
        if typ != "OK":
            text = b" ".join(d for d in data if isinstance(d, bytes)).decode("utf-8", "replace")
            raise SyncError(f"email: cannot open folder {decode_mutf7(folder)!r}: {text[:300]}")
        _, validity = conn.response("UIDVALIDITY")
        try:
            uidvalidity = int(validity[0]) if validity and validity[0] is not None else 0
            exists = int(data[0]) if data and data[0] is not None else 0
        except (TypeError, ValueError):
            raise MalformedPayload(
                f"email: EXAMINE {decode_mutf7(folder)!r}: UIDVALIDITY or EXISTS is not a number"
            ) from None
        if uidvalidity < 1:
            raise MalformedPayload(f"email: EXAMINE {decode_mutf7(folder)!r} gave no UIDVALIDITY")
        self._selected = folder
        return uidvalidity, exists

    def _fetch(self, folder: str, uids: str, items: str) -> list[tuple[int, bytes, bytes]]:
        if self._selected != folder:
            raise LostConnection("folder not selected")  # pragma: no cover - adapter bug
        data = self._uid(f"FETCH in {decode_mutf7(folder)!r}", "FETCH", uids, items)
        out: list[tuple[int, bytes, bytes]] = []
        for index, item in enumerate(data):
            if not isinstance(item, tuple) or len(item) != 2:
                continue  # the closing ")" and unsolicited FLAGS updates
            head, literal = item
            if not isinstance(head, bytes) or not isinstance(literal, bytes):
                raise MalformedPayload("email: a FETCH answer is not a literal")
            after = data[index + 1] if index + 1 < len(data) else b""
            tail = after if isinstance(after, bytes) else b""
            found = _UID.search(head) or _UID.search(tail)
            if found is None:
                raise MalformedPayload("email: a FETCH answer carries no UID")
            out.append((int(found.group(1)), head + b" " + tail, literal))
        return out

    def scan(self, folder: str) -> list[tuple[int, bytes]]:
        """``(UID, threading header block)`` of every message in the open folder."""
        return [(uid, block) for uid, _, block in self._fetch(folder, "1:*", _SCAN_FIELDS)]

    def bodies(self, folder: str, uids: Iterable[int]) -> list[tuple[int, datetime | None, bytes]]:
        """``(UID, INTERNALDATE, whole mail)`` for ``uids`` of the open folder (PEEK)."""
        wanted = sorted(set(uids))
        if not wanted:
            return []
        out: list[tuple[int, datetime | None, bytes]] = []
        for uid, meta, raw in self._fetch(
            folder, _uid_set(wanted), "(UID INTERNALDATE BODY.PEEK[])"
        ):
            found = _INTERNALDATE.search(meta)
            arrived = (
                parse_internaldate(found.group(1).decode("ascii", "replace")) if found else None
            )
            out.append((uid, arrived, raw))
        return out


def _uid_set(uids: Sequence[int]) -> str:
    """``1:3,7,9:10`` for sorted ``uids``."""
    parts: list[str] = []
    start = prev = uids[0]
    for uid in uids[1:]:
        if uid == prev + 1:
            prev = uid
            continue
        parts.append(f"{start}:{prev}" if prev != start else str(start))
        start = prev = uid
    parts.append(f"{start}:{prev}" if prev != start else str(start))
    return ",".join(parts)
