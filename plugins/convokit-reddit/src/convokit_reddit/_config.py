"""The ``[[source]]`` keys of the Reddit platform."""

from __future__ import annotations

import re
from typing import Any

import attrs
import httpx

from convokit_core import ConfigError, check_url_scheme

__all__ = ["RedditConfig", "reddit_name"]

API_URL = "https://oauth.reddit.com"
AUTH_URL = "https://www.reddit.com"

_USERNAME = re.compile(r"[A-Za-z0-9_-]{3,20}")
_SUBREDDIT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_]{1,20}")


def reddit_name(handle: str) -> str:
    """A Reddit user name from a handle: ``/u/Acme``, ``u/Acme``, ``@Acme`` -> ``acme``.

    Case-folded, for comparing (Reddit user names are case-insensitive).
    """
    text = handle.strip().removeprefix("@").removeprefix("/")
    if text[:2].lower() == "u/":
        text = text[2:]
    return text.casefold()


def _username(value: Any) -> str:
    if isinstance(value, str):
        text = value.strip().removeprefix("/")
        if text[:2].lower() == "u/":
            text = text[2:]
        if _USERNAME.fullmatch(text):
            return text
    raise ValueError(
        "'username' must be our Reddit account's name like acme_support or u/acme_support "
        f"(3 to 20 letters, digits, _ or -), found {value!r}"
    )


def _subreddits(value: Any) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise ValueError(
            f"'subreddits' must be a list of subreddit names like [\"acme\"], found {value!r}"
        )
    names: list[str] = []
    for index, item in enumerate(value):
        text = item.strip().removeprefix("/") if isinstance(item, str) else ""
        if text[:2].lower() == "r/":
            text = text[2:]
        if not _SUBREDDIT.fullmatch(text):
            raise ValueError(
                f"'subreddits[{index}]' must be a subreddit name like acme or r/acme, "
                f"found {item!r}"
            )
        if text.casefold() not in (n.casefold() for n in names):
            names.append(text)
    return tuple(names)


def _bot_accounts(value: Any) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise ValueError(f"'bot_accounts' must be a list of user names, found {value!r}")
    out: list[str] = []
    for index, item in enumerate(value):
        if not isinstance(item, str) or not reddit_name(item):
            raise ValueError(f"'bot_accounts[{index}]' must be a user name, found {item!r}")
        out.append(reddit_name(item))
    return tuple(out)


def _client_id(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(
            "'client_id' must be the app's client id (under the app's name on "
            "https://www.reddit.com/prefs/apps)"
        )
    return value.strip()


def _secret_text(key: str, value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError(f"'{key}' must be a string (the value is not shown: it is secret)")
    return value.strip()


def _client_secret(value: Any) -> str:
    return _secret_text("client_secret", value)


def _password(value: Any) -> str:
    return _secret_text("password", value)


def _refresh_token(value: Any) -> str:
    return _secret_text("refresh_token", value)


def _user_agent(value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError(f"'user_agent' must be a string, found {value!r}")
    return value.strip()


def _url(key: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"'{key}' must be a URL like {API_URL}, found {value!r}")
    try:
        url = check_url_scheme(value.strip().rstrip("/"))
    except ConfigError as exc:
        raise ValueError(f"'{key}': {exc}") from None
    except httpx.InvalidURL as exc:
        raise ValueError(f"'{key}' is not a valid URL ({exc}): {value!r}") from None
    if url.path not in ("", "/") or url.query:
        raise ValueError(f"'{key}' must be a root URL without a path, found {value!r}")
    return str(url).rstrip("/")


def _api_url(value: Any) -> str:
    return _url("api_url", value)


def _auth_url(value: Any) -> str:
    return _url("auth_url", value)


def _page_size(instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 100:
        raise ValueError(f"'page_size' must be an integer from 1 to 100, found {value!r}")


def _flag(instance: object, attribute: attrs.Attribute[bool], value: bool) -> None:
    if not isinstance(value, bool):
        raise ValueError(f"'{attribute.name}' must be true or false, found {value!r}")


@attrs.frozen(kw_only=True)
class RedditConfig:
    """A Reddit source: our account, reached through an OAuth 2 app.

    Authenticate either as a *script* app (``client_id``, ``client_secret``,
    ``username`` and ``password`` of an account registered as the app's developer) or
    with a ``refresh_token`` obtained once through the authorization-code flow
    (``duration=permanent``; scopes ``read``, ``history``, ``privatemessages``). Give
    exactly one of ``password`` and ``refresh_token``.

    Attributes:
        username: our account's name (``acme_support`` or ``u/acme_support``). Its
            comments and posts are outbound and its inbox is read.
        client_id: the app's client id (shown under the app's name on
            https://www.reddit.com/prefs/apps).
        client_secret: the app's secret (empty for an *installed* app). Secret.
        password: the account's password (script apps). Secret.
        refresh_token: a permanent refresh token (any app type). Secret.
        user_agent: the ``User-Agent`` every request sends; Reddit requires a descriptive
            one. Default ``python:convokit-reddit:<version> (by /u/<username>)``.
        subreddits: subreddits we run; each is a channel, and messages posted in one
            belong to it (the others belong to our account's channel).
        bot_accounts: authors whose messages are ``automated`` (default AutoModerator).
        own_threads: also fetch the whole thread of every post we commented on or
            submitted (default true); false keeps only our own messages from those.
        page_size: items per listing request, 1 to 100.
        api_url: the OAuth API root (default https://oauth.reddit.com).
        auth_url: where tokens come from (default https://www.reddit.com).
    """

    username: str = attrs.field(converter=_username)
    client_id: str = attrs.field(converter=_client_id)
    client_secret: str = attrs.field(
        default="", converter=_client_secret, repr=False, metadata={"secret": True}
    )
    password: str = attrs.field(
        default="", converter=_password, repr=False, metadata={"secret": True}
    )
    refresh_token: str = attrs.field(
        default="", converter=_refresh_token, repr=False, metadata={"secret": True}
    )
    user_agent: str = attrs.field(default="", converter=_user_agent)
    subreddits: tuple[str, ...] = attrs.field(default=(), converter=_subreddits)
    bot_accounts: tuple[str, ...] = attrs.field(default=("AutoModerator",), converter=_bot_accounts)
    own_threads: bool = attrs.field(default=True, validator=_flag)
    page_size: int = attrs.field(default=100, validator=_page_size)
    api_url: str = attrs.field(default=API_URL, converter=_api_url)
    auth_url: str = attrs.field(default=AUTH_URL, converter=_auth_url)

    def __attrs_post_init__(self) -> None:
        if bool(self.password) == bool(self.refresh_token):
            raise ValueError(
                "give exactly one of 'password' (a script app) and 'refresh_token' "
                f"({'both are' if self.password else 'neither is'} set)"
            )
        if self.password and not self.client_secret:
            raise ValueError("'client_secret' is required with 'password' (a script app)")
        if self.user_agent and len(self.user_agent) < 10:
            raise ValueError(
                "'user_agent' must describe the app, e.g. "
                f"'python:acme-support-sync:1.0 (by /u/{self.username})', "
                f"found {self.user_agent!r}"
            )

    @property
    def grant(self) -> str:
        """The OAuth grant used: ``password`` or ``refresh_token``."""
        return "password" if self.password else "refresh_token"

    def effective_user_agent(self, version: str) -> str:
        """``user_agent``, or the default naming the plugin ``version`` and our account."""
        return self.user_agent or f"python:convokit-reddit:{version} (by /u/{self.username})"

    @property
    def channel_id(self) -> str:
        """Our account as a channel: ``u/<username>``."""
        return f"u/{self.username}"

    def subreddit_channel(self, subreddit: str | None) -> str | None:
        """``r/<name>`` when ``subreddit`` is one of ours, else ``None``."""
        if not subreddit:
            return None
        for name in self.subreddits:
            if name.casefold() == subreddit.casefold():
                return f"r/{name}"
        return None
