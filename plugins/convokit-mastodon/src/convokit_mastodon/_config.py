"""The ``[[source]]`` keys of the Mastodon platform."""

from __future__ import annotations

from typing import Any

import attrs
import httpx

from convokit_core import ConfigError, check_url_scheme

__all__ = ["MastodonConfig"]


def _instance_url(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(
            f"'instance' must be the server's URL, e.g. https://mastodon.social, found {value!r}"
        )
    text = value.strip().rstrip("/")
    if "://" not in text:
        text = "https://" + text
    try:
        url = check_url_scheme(text)
    except ConfigError as exc:
        raise ValueError(f"'instance': {exc}") from None
    except httpx.InvalidURL as exc:
        raise ValueError(f"'instance' is not a valid URL ({exc}): {value!r}") from None
    if url.path not in ("", "/") or url.query:
        raise ValueError(
            f"'instance' must be the server's root URL without a path, found {value!r}"
        )
    return str(url).rstrip("/")


def _account(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(
            f"'account' must be a handle like @acme or @acme@mastodon.example, found {value!r}"
        )
    text = value.strip().removeprefix("@")
    user, _, domain = text.partition("@")
    if not user or "@" in domain or " " in text:
        raise ValueError(
            f"'account' must be a handle like @acme or @acme@mastodon.example, found {value!r}"
        )
    return text


def _token(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(
            "'token' must be a non-empty access token (use token = \"${MASTODON_TOKEN}\")"
        )
    return value.strip()


def _page_size(instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 40:
        raise ValueError(f"'page_size' must be an integer from 1 to 40, found {value!r}")


@attrs.frozen(kw_only=True)
class MastodonConfig:
    """A Mastodon source: one of our accounts on one server.

    Attributes:
        instance: the server's root URL (``https://mastodon.example``; a bare host name
            means https). ``http://`` only for loopback test servers.
        account: our account's handle, ``@acme`` or ``@acme@mastodon.example``.
        token: an access token with ``read:notifications``, ``read:statuses`` and
            ``read:accounts`` scopes. Secret: never shown.
        page_size: items per request (notifications and statuses), 1 to 40.
    """

    instance: str = attrs.field(converter=_instance_url)
    account: str = attrs.field(converter=_account)
    token: str = attrs.field(converter=_token, repr=False, metadata={"secret": True})
    page_size: int = attrs.field(default=40, validator=_page_size)

    @property
    def host(self) -> str:
        """``host`` or ``host:port``: what instance-qualified ids end with."""
        url = httpx.URL(self.instance)
        default = {"https": 443, "http": 80}[url.scheme]
        port = url.port
        return url.host if port in (None, default) else f"{url.host}:{port}"

    @property
    def username(self) -> str:
        """The account's user name (the part before the domain)."""
        return self.account.partition("@")[0]

    @property
    def full_handle(self) -> str:
        """``user@domain``; the domain defaults to the instance's host."""
        user, _, domain = self.account.partition("@")
        return f"{user}@{(domain or self.host).lower()}"
