"""The ``[[source]]`` keys of an X source."""

from __future__ import annotations

import re
from typing import Any

import attrs

from convokit_core import ConfigError, check_url_scheme

__all__ = ["DEFAULT_API_URL", "XConfig"]

DEFAULT_API_URL = "https://api.x.com"

_USERNAME = re.compile(r"[A-Za-z0-9_]{1,15}")


def _username(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"account must be a string like '@acme', found {type(value).__name__}")
    name = value.strip().removeprefix("@")
    if not _USERNAME.fullmatch(name):
        raise ValueError(
            "account must be an X username like '@acme' (1 to 15 letters, digits or '_')"
        )
    return name


def _usernames(value: object) -> tuple[str, ...]:
    if not isinstance(value, list | tuple):
        raise TypeError(f"bots must be a list of usernames, found {type(value).__name__}")
    try:
        return tuple(_username(item).lower() for item in value)
    except (TypeError, ValueError):
        raise ValueError("bots must be a list of X usernames like ['@acme_status']") from None


def _token(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    # Never echo the value: it is a credential.
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{attribute.name} must be a non-empty string")
    if len(value) < 8:
        raise ValueError(f"{attribute.name} is too short to be an X bearer token")


def _api_url(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("api_url must be a URL like 'https://api.x.com'")
    url = value.strip().rstrip("/")
    try:
        check_url_scheme(url)
    except ConfigError:
        raise ValueError(
            "api_url must be an https:// URL (http:// only for a loopback host)"
        ) from None
    return url


@attrs.frozen(kw_only=True)
class XConfig:
    """An X source: our account and the app's bearer token.

    ``convokit.toml``::

        [[source]]
        name = "x-support"
        platform = "x"
        account = "@acme"
        bearer_token = "${X_BEARER_TOKEN}"
    """

    account: str = attrs.field(converter=_username)
    """Our account's username (a leading ``@`` is dropped). Resolved to its user id once
    per sync with ``/2/users/by/username/{username}``; its posts are outbound."""
    bearer_token: str = attrs.field(repr=False, validator=_token, metadata={"secret": True})
    """The app's bearer token (OAuth 2.0 app-only). Secret: never shown in ``repr``,
    logs, errors or the store."""
    api_url: str = attrs.field(default=DEFAULT_API_URL, converter=_api_url)
    """The API root (``https://api.x.com``); tests point it at a loopback fake."""
    page_size: int = attrs.field(
        default=100,
        validator=[attrs.validators.instance_of(int), attrs.validators.in_(range(5, 101))],
    )
    """``max_results`` of the timelines (5 to 100). Recent search takes 10 to 100, so
    thread searches ask for at least 10."""
    threads: bool = attrs.field(default=True, validator=attrs.validators.instance_of(bool))
    """Read each mentioned conversation with recent search (one or more requests per
    conversation per sync). ``false`` keeps only mentions, our posts and their parents."""
    bots: tuple[str, ...] = attrs.field(default=(), converter=_usernames)
    """Usernames whose posts are ``automated`` (status bots, auto-responders): X's API
    has no field for the automated-account label."""
