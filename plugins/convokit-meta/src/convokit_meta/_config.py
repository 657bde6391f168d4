"""The ``[[source]]`` keys of the ``facebook`` and ``instagram`` platforms."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any, Final

import attrs
import httpx

from convokit_core import ConfigError, check_url_scheme, parse_datetime, parse_duration

__all__ = [
    "DEFAULT_API_URL",
    "DEFAULT_API_VERSION",
    "FACEBOOK_SURFACES",
    "INSTAGRAM_SURFACES",
    "FacebookConfig",
    "InstagramConfig",
]

DEFAULT_API_URL: Final = "https://graph.facebook.com"
DEFAULT_API_VERSION: Final = "v24.0"
FACEBOOK_SURFACES: Final = ("posts", "messenger")
INSTAGRAM_SURFACES: Final = ("media", "direct")
_ID: Final = re.compile(r"^[0-9]{1,32}$")
_VERSION: Final = re.compile(r"^v[0-9]{1,3}\.[0-9]{1,2}$")


def _object_id(key: str, value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        raise ValueError(f"'{key}' must be a string of digits (quote it: ids are not numbers)")
    if not isinstance(value, str) or not _ID.match(value.strip()):
        raise ValueError(f"'{key}' must be a numeric Graph id as a string, e.g. \"1784…\"")
    return value.strip()


def _page_id(value: Any) -> str:
    return _object_id("page_id", value)


def _ig_user_id(value: Any) -> str:
    return _object_id("ig_user_id", value)


def _opt_page_id(value: Any) -> str | None:
    return None if value is None else _object_id("page_id", value)


def _token(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("'access_token' must be an access token, found nothing")
    text = value.strip()
    # Never echo the value: say what is wrong with it.
    if len(text) < 8:
        raise ValueError("'access_token' is too short to be a Graph access token")
    if any(c.isspace() or not c.isprintable() for c in text):
        raise ValueError("'access_token' contains whitespace or control characters")
    return text


def _api_url(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"'api_url' must be a URL like {DEFAULT_API_URL}, found {value!r}")
    try:
        url = check_url_scheme(value.strip())
    except ConfigError as exc:
        raise ValueError(f"'api_url': {exc}") from None
    except httpx.InvalidURL as exc:
        raise ValueError(f"'api_url' is not a valid URL ({exc}): {value!r}") from None
    if url.query or url.fragment:
        raise ValueError(f"'api_url' must not have a query or fragment, found {value!r}")
    return str(url).rstrip("/")


def _version(value: Any) -> str:
    if not isinstance(value, str) or not _VERSION.match(value.strip()):
        raise ValueError(
            f"'api_version' must be a Graph API version like {DEFAULT_API_VERSION!r}, "
            f"found {value!r}"
        )
    return value.strip()


def _surfaces(allowed: tuple[str, ...], value: Any) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, list | tuple) or not value:
        raise ValueError(f"'surfaces' must be a non-empty list of {list(allowed)}")
    out: list[str] = []
    for index, item in enumerate(value):
        if item not in allowed:
            raise ValueError(f"'surfaces[{index}]' must be one of {list(allowed)}, found {item!r}")
        if item in out:
            raise ValueError(f"'surfaces[{index}]': {item!r} is listed twice")
        out.append(item)
    return tuple(out)


def _fb_surfaces(value: Any) -> tuple[str, ...]:
    return _surfaces(FACEBOOK_SURFACES, value)


def _ig_surfaces(value: Any) -> tuple[str, ...]:
    return _surfaces(INSTAGRAM_SURFACES, value)


def _edge(value: Any) -> str:
    if value not in ("feed", "posts"):
        raise ValueError(f'\'post_edge\' must be "feed" or "posts", found {value!r}')
    return str(value)


def _page_size(instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 100:
        raise ValueError(f"'page_size' must be an integer from 1 to 100, found {value!r}")


def _lookback(value: Any) -> timedelta:
    try:
        result = parse_duration(value)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"'lookback': {exc}") from None
    if result < timedelta(0):
        raise ValueError(f"'lookback' must not be negative, found {value!r}")
    return result


def _since(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("'since' has no timezone; add 'Z' or an offset")
        return value
    if isinstance(value, str):
        try:
            return parse_datetime(value)
        except ValueError as exc:
            raise ValueError(f"'since': {exc}") from None
    raise ValueError(f"'since' must be a timestamp like 2026-01-01T00:00:00Z, found {value!r}")


def _number(name: str, low: float, high: float) -> Any:
    def check(instance: object, attribute: attrs.Attribute[float], value: float) -> None:
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not low <= value <= high
        ):
            raise ValueError(f"'{name}' must be a number from {low:g} to {high:g}, found {value!r}")

    return check


def _retries(instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 100:
        raise ValueError(f"'max_retries' must be an integer from 0 to 100, found {value!r}")


@attrs.frozen(kw_only=True)
class _Common:
    """Keys shared by both platforms (see :class:`FacebookConfig`)."""

    access_token: str = attrs.field(converter=_token, repr=False, metadata={"secret": True})
    api_url: str = attrs.field(default=DEFAULT_API_URL, converter=_api_url)
    api_version: str = attrs.field(default=DEFAULT_API_VERSION, converter=_version)
    page_size: int = attrs.field(default=50, validator=_page_size)
    lookback: timedelta = attrs.field(default=timedelta(days=14), converter=_lookback)
    since: datetime | None = attrs.field(default=None, converter=_since)
    retry_budget: float = attrs.field(default=900.0, validator=_number("retry_budget", 0, 86400))
    max_retries: int = attrs.field(default=5, validator=_retries)
    slow_down_at: float = attrs.field(default=80.0, validator=_number("slow_down_at", 0, 99))
    max_pause: float = attrs.field(default=300.0, validator=_number("max_pause", 0, 3600))

    @property
    def graph_url(self) -> str:
        """``https://graph.facebook.com/v24.0/``: the root requests are joined to."""
        return f"{self.api_url}/{self.api_version}/"


@attrs.frozen(kw_only=True)
class FacebookConfig(_Common):
    """A Facebook Page: its posts with their comments, and its Messenger conversations.

    Attributes:
        page_id: the Page's numeric id (a string). Its posts, comments and messages are
            outbound.
        access_token: a **Page** access token for that Page (a user token cannot read a
            Page's conversations). Secret: never shown.
        surfaces: what to read: ``"posts"`` (posts and their comments) and/or
            ``"messenger"`` (Messenger conversations). Default both.
        post_edge: ``"feed"`` (our posts and visitors' posts on the Page, default) or
            ``"posts"`` (only the Page's own).
        api_url: the Graph host (``http://`` only for loopback test servers).
        api_version: the Graph version in every path, ``v24.0`` by default.
        page_size: the ``limit`` of each request (1 to 100).
        lookback: how far below the newest post (or conversation) a sync still
            re-reads comments (or messages) of older ones for new replies.
        since: on the first sync, ignore posts, conversations and messages older than
            this (``None``: read all history).
        retry_budget: seconds one sync may spend, in all, waiting on Meta's usage
            headers and throttling errors before the source fails.
        max_retries: retries of one request after a throttling error.
        slow_down_at: the usage percentage above which requests are spaced out.
        max_pause: the pause before the next request at 100 % usage (seconds).
    """

    page_id: str = attrs.field(converter=_page_id)
    surfaces: tuple[str, ...] = attrs.field(default=FACEBOOK_SURFACES, converter=_fb_surfaces)
    post_edge: str = attrs.field(default="feed", converter=_edge)


@attrs.frozen(kw_only=True)
class InstagramConfig(_Common):
    """An Instagram professional account: comments on its media, and its direct messages.

    Attributes:
        ig_user_id: the Instagram professional account's id (a string). Its media, its
            comments and its messages are outbound.
        access_token: a token with ``instagram_basic``, ``instagram_manage_comments``
            and ``instagram_manage_messages`` for that account. Secret: never shown.
        surfaces: ``"media"`` (our media and their comments with replies) and/or
            ``"direct"`` (direct conversations). Default both.
        page_id: the Facebook Page linked to the account, for apps on *Facebook Login*:
            direct conversations are then listed at
            ``/{page-id}/conversations?platform=instagram`` (with a Page token).
            ``None`` (default): at ``/{ig-user-id}/conversations?platform=instagram``
            (*Instagram Login*).

    The other keys are those of :class:`FacebookConfig`.
    """

    ig_user_id: str = attrs.field(converter=_ig_user_id)
    page_id: str | None = attrs.field(default=None, converter=_opt_page_id)
    surfaces: tuple[str, ...] = attrs.field(default=INSTAGRAM_SURFACES, converter=_ig_surfaces)
