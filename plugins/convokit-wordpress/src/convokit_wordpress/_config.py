"""The ``[[source]]`` keys of the WordPress platform."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import attrs
import httpx

from convokit_core import ConfigError, check_url_scheme, parse_duration

__all__ = ["WordPressConfig"]


def _site_url(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(
            "'site' must be the blog's base URL, e.g. https://example.org or "
            "https://example.org/blog"
        )
    text = value.strip()
    if "://" not in text:
        text = "https://" + text
    try:
        url = check_url_scheme(text)
    except ConfigError as exc:
        raise ValueError(f"'site': {exc}") from None
    except httpx.InvalidURL as exc:
        raise ValueError(f"'site' is not a valid URL ({exc})") from None
    if url.query or url.fragment:
        raise ValueError("'site' must be the blog's base URL without a query or fragment")
    if url.userinfo:
        raise ValueError("'site' must not carry credentials; use 'username' and 'app_password'")
    path = url.path.rstrip("/")
    if path.endswith("/wp-json") or "/wp-json/" in path + "/":
        raise ValueError(
            "'site' is the blog's base URL, not its REST API root: leave out '/wp-json…'"
        )
    return str(url.copy_with(path=path or "/")).rstrip("/")


def _optional_text(name: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"'{name}' must be a non-empty string")
    return value.strip()


def _username(value: Any) -> str | None:
    return _optional_text("username", value)


def _app_password(value: Any) -> str | None:
    return _optional_text("app_password", value)


def _authors(value: Any) -> tuple[str, ...]:
    if isinstance(value, str | int) and not isinstance(value, bool):
        value = [value]
    if not isinstance(value, list | tuple):
        raise ValueError("'authors' must be a list of WordPress user ids or slugs")
    out: list[str] = []
    for index, item in enumerate(value):
        if isinstance(item, bool) or not isinstance(item, str | int):
            raise ValueError(f"'authors[{index}]' must be a user id or a slug")
        text = str(item).strip()
        if not text or any(c.isspace() for c in text):
            raise ValueError(
                f"'authors[{index}]' must be a user id (a number) or a user slug without spaces"
            )
        if isinstance(item, int) and item <= 0:
            raise ValueError(f"'authors[{index}]' must be a positive user id")
        out.append(text.lower())
    return tuple(dict.fromkeys(out))


def _page_size(instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 100:
        raise ValueError("'page_size' must be an integer from 1 to 100 (WordPress's per_page)")


def _lookback(value: Any) -> timedelta:
    try:
        result = parse_duration(value)
    except (TypeError, ValueError):
        raise ValueError("'lookback' must be a duration like '7d', '36h' or 'P7D'") from None
    if result < timedelta(0):
        raise ValueError("'lookback' must not be negative")
    return result


@attrs.frozen(kw_only=True)
class WordPressConfig:
    """A WordPress source: one blog, read through its REST API (``/wp-json/wp/v2/``).

    Attributes:
        site: the blog's base URL, with its sub-path if it has one
            (``https://example.org/blog``); a bare host means https. ``http://`` only
            for loopback test servers.
        username: the WordPress user of an application password (optional: public
            blogs are read without authentication).
        app_password: that user's application password (HTTP basic auth). Secret: never
            shown. Give both or neither.
        authors: WordPress user ids or slugs whose comments are ours (outbound), besides
            ``[[team]]`` handles and every author of a post on the blog.
        page_size: items per request (``per_page``), 1 to 100.
        lookback: how far behind the newest item already synced each sync looks again,
            for comments approved late and posts published with an earlier date.
    """

    site: str = attrs.field(converter=_site_url)
    username: str | None = attrs.field(default=None, converter=_username)
    app_password: str | None = attrs.field(
        default=None,
        converter=_app_password,
        repr=False,
        metadata={"secret": True},
    )
    authors: tuple[str, ...] = attrs.field(default=(), converter=_authors)
    page_size: int = attrs.field(default=100, validator=_page_size)
    lookback: timedelta = attrs.field(default=timedelta(days=7), converter=_lookback)

    def __attrs_post_init__(self) -> None:
        if (self.username is None) != (self.app_password is None):
            missing = "app_password" if self.app_password is None else "username"
            raise ValueError(
                f"'{missing}' is missing: application-password authentication needs both "
                "'username' and 'app_password' (leave both out for a public blog)"
            )

    @property
    def api_root(self) -> str:
        """The REST API's ``wp/v2`` root, ending with a slash (relative routes join under it)."""
        return f"{self.site}/wp-json/wp/v2/"

    @property
    def site_key(self) -> str:
        """``host[:port]/path``: what qualifies this blog's ids (``example.org/blog``)."""
        url = httpx.URL(self.site)
        default = {"https": 443, "http": 80}[url.scheme]
        host = url.host.lower()
        if url.port not in (None, default):
            host = f"{host}:{url.port}"
        return host + url.path.rstrip("/")
