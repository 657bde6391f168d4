"""The ``[[source]]`` keys of ``platform = "email"``."""

from __future__ import annotations

import ipaddress

import attrs

__all__ = ["EmailConfig", "Security"]

Security = str
"""``"tls"`` (implicit TLS, port 993), ``"starttls"`` or ``"none"`` (loopback only)."""

_SECURITY = ("tls", "starttls", "none")
_LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


def _is_loopback(host: str) -> bool:
    name = host.strip().strip("[]").lower()
    if name in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _host(value: object) -> str:
    if not isinstance(value, str) or not value.strip() or any(c.isspace() for c in value.strip()):
        raise ValueError("'host' must be the IMAP server's host name, e.g. imap.example.com")
    return value.strip()


def _security(value: object) -> str:
    if not isinstance(value, str) or value.strip().lower() not in _SECURITY:
        raise ValueError("'security' must be one of: tls, starttls, none")
    return value.strip().lower()


def _port(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise ValueError("'port' must be a whole number from 1 to 65535")
    return value


def _username(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("'username' must be the IMAP login, e.g. support@acme.example")
    return value.strip()


def _password(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError("'password' must be a non-empty string (use ${IMAP_PASSWORD})")
    return value


def _address_list(value: object) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise ValueError("'addresses' must be a list of e-mail addresses")
    out: list[str] = []
    for index, item in enumerate(value):
        if not isinstance(item, str) or "@" not in item or any(c.isspace() for c in item.strip()):
            raise ValueError(
                f"'addresses'[{index}] must be an e-mail address like help@acme.example"
            )
        out.append(item.strip())
    return tuple(out)


def _folders(value: object) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str) or not isinstance(value, list | tuple) or not value:
        raise ValueError("'folders' must be a non-empty list of folder names, e.g. [\"INBOX\"]")
    out: list[str] = []
    for index, item in enumerate(value):
        if not isinstance(item, str) or not item.strip() or any(ord(c) < 32 for c in item):
            raise ValueError(f"'folders'[{index}] must be a folder name")
        out.append(item.strip())
    return tuple(dict.fromkeys(out))


def _page_size(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 1000:
        raise ValueError("'page_size' must be a whole number from 1 to 1000")
    return value


def _timeout(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 3600:
        raise ValueError("'timeout' must be a number of seconds above 0 and at most 3600")
    return float(value)


@attrs.frozen(kw_only=True)
class EmailConfig:
    """The keys of a ``[[source]]`` table with ``platform = "email"``.

    ``host``, ``username`` and ``password`` are required. ``security = "none"`` is
    accepted only for a loopback host (a test server), so a password never crosses a
    network in clear text.
    """

    host: str = attrs.field(converter=_host)
    """The IMAP server, e.g. ``imap.example.com``."""
    username: str = attrs.field(converter=_username)
    """The IMAP login."""
    password: str = attrs.field(converter=_password, repr=False, metadata={"secret": True})
    """The password or app password. Secret: never in reprs, errors or logs."""
    security: str = attrs.field(default="tls", converter=_security)
    """``tls`` (implicit TLS), ``starttls`` or ``none`` (loopback hosts only)."""
    port: int | None = attrs.field(default=None, converter=_port)
    """Default 993 for ``tls``, 143 otherwise."""
    addresses: tuple[str, ...] = attrs.field(default=(), converter=_address_list)
    """Our addresses: mail *from* these is outbound. The username counts too when it
    is an address."""
    folders: tuple[str, ...] | None = attrs.field(default=None, converter=_folders)
    """Folders to read; default INBOX and the folder flagged ``\\Sent`` (RFC 6154)."""
    page_size: int = attrs.field(default=100, converter=_page_size)
    """Messages fetched per page (one IMAP FETCH, one store transaction)."""
    timeout: float = attrs.field(default=60.0, converter=_timeout)
    """Seconds to wait on the server before the connection counts as lost."""

    def __attrs_post_init__(self) -> None:
        if self.security == "none" and not _is_loopback(self.host):
            raise ValueError(
                "'security' = \"none\" is only allowed for a loopback host "
                "(127.0.0.1, ::1, localhost): use tls or starttls"
            )

    @property
    def effective_port(self) -> int:
        """``port``, or the default for ``security``."""
        if self.port is not None:
            return self.port
        return 993 if self.security == "tls" else 143

    @property
    def own_addresses(self) -> tuple[str, ...]:
        """``addresses`` plus the username when it is an address."""
        extra = (self.username,) if "@" in self.username else ()
        return tuple(dict.fromkeys(self.addresses + extra))
