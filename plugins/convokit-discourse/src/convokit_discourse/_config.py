"""The ``[[source]]`` keys of the Discourse platform."""

from __future__ import annotations

from typing import Any

import attrs
import httpx

from convokit_core import ConfigError, check_url_scheme

__all__ = ["DiscourseConfig"]


def _forum_url(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(
            "'forum' must be the forum's base URL, e.g. https://forum.example.com or "
            "https://example.com/community"
        )
    text = value.strip()
    if "://" not in text:
        text = "https://" + text
    try:
        url = check_url_scheme(text)
    except ConfigError as exc:
        raise ValueError(f"'forum': {exc}") from None
    except httpx.InvalidURL as exc:
        raise ValueError(f"'forum' is not a valid URL ({exc})") from None
    if url.query or url.fragment or url.userinfo:
        raise ValueError("'forum' must be the forum's base URL without a query or credentials")
    path = url.path.rstrip("/")
    return str(url.copy_with(path=path or "/")).rstrip("/")


def _optional(name: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"'{name}' must be a non-empty string")
    return value.strip()


def _api_key(value: Any) -> str | None:
    return _optional("api_key", value)


def _username(name: str, value: Any) -> str | None:
    text = _optional(name, value)
    if text is None:
        return None
    text = text.removeprefix("@")
    if not text or any(c.isspace() or c == "/" for c in text):
        raise ValueError(f"'{name}' must be a Discourse username like 'acme_support'")
    return text


def _api_username(value: Any) -> str | None:
    return _username("api_username", value)


def _our_username(value: Any) -> str | None:
    return _username("username", value)


def _usernames(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list | tuple):
        raise ValueError("'usernames' must be a list of Discourse usernames")
    out: list[str] = []
    for index, item in enumerate(value):
        name = _username(f"usernames[{index}]", item)
        if name is None:
            raise ValueError(f"'usernames[{index}]' must be a Discourse username")
        out.append(name)
    return tuple(dict.fromkeys(out))


def _categories(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list | tuple):
        raise ValueError("'categories' must be a list of category slugs or ids")
    out: list[str] = []
    for index, item in enumerate(value):
        if isinstance(item, bool) or not isinstance(item, str | int):
            raise ValueError(f"'categories[{index}]' must be a category slug or id")
        text = str(item).strip().strip("/").lower()
        if not text or any(c.isspace() for c in text):
            raise ValueError(
                f"'categories[{index}]' must be a category slug ('support', "
                "'support/billing') or a numeric id"
            )
        out.append(text)
    return tuple(dict.fromkeys(out))


def _bool(name: str) -> Any:
    def check(instance: object, attribute: attrs.Attribute[bool], value: bool) -> None:
        if not isinstance(value, bool):
            raise ValueError(f"'{name}' must be true or false")

    return check


@attrs.frozen(kw_only=True)
class DiscourseConfig:
    """A Discourse source: chosen categories of one forum, and where we are mentioned.

    Attributes:
        forum: the forum's base URL, with its sub-folder if it has one
            (``https://example.com/community``); a bare host means https.
        api_key: an API key (``Api-Key`` header). Optional: public forums are read
            without one. Secret: never shown.
        api_username: the user the key acts as (``Api-Username``); required with a key.
        username: our account on the forum: its posts are ours and the topics it is
            mentioned in are synced. Defaults to ``api_username``.
        usernames: more usernames whose posts are ours (besides ``[[team]]`` handles).
        categories: category slugs (``support``, ``support/billing``) or ids whose topics
            are synced; each is a channel.
        mentions: also sync every topic ``username`` is mentioned in.
        staff_are_ours: posts by the forum's staff (admins and moderators) are ours.
    """

    forum: str = attrs.field(converter=_forum_url)
    api_key: str | None = attrs.field(
        default=None, converter=_api_key, repr=False, metadata={"secret": True}
    )
    api_username: str | None = attrs.field(default=None, converter=_api_username)
    username: str | None = attrs.field(default=None, converter=_our_username)
    usernames: tuple[str, ...] = attrs.field(default=(), converter=_usernames)
    categories: tuple[str, ...] = attrs.field(default=(), converter=_categories)
    mentions: bool = attrs.field(default=True, validator=_bool("mentions"))
    staff_are_ours: bool = attrs.field(default=True, validator=_bool("staff_are_ours"))

    def __attrs_post_init__(self) -> None:
        if self.api_key is not None and self.api_username is None:
            raise ValueError(
                "'api_username' is missing: an API key acts as a user (use 'system' for an "
                "all-users key)"
            )
        if self.api_key is None and self.api_username is not None:
            raise ValueError("'api_key' is missing: 'api_username' is only used with a key")
        if not self.categories and not (self.mentions and self.our_username):
            raise ValueError(
                "'categories' is empty and no 'username' is set for mentions: give "
                "categories to sync, or our username"
            )

    @property
    def our_username(self) -> str | None:
        """Our account: ``username``, else the key's ``api_username`` (unless ``system``)."""
        if self.username:
            return self.username
        if self.api_username and self.api_username.lower() != "system":
            return self.api_username
        return None

    @property
    def site_key(self) -> str:
        """``host[:port]/path``: what qualifies this forum's ids (``forum.example.com``)."""
        url = httpx.URL(self.forum)
        default = {"https": 443, "http": 80}[url.scheme]
        host = url.host.lower()
        if url.port not in (None, default):
            host = f"{host}:{url.port}"
        return host + url.path.rstrip("/")
