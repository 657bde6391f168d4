"""The ``[[source]]`` keys of the YouTube platform."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import attrs
import httpx

from convokit_core import ConfigError, check_url_scheme, parse_duration

__all__ = ["DEFAULT_API_URL", "YouTubeConfig"]

DEFAULT_API_URL = "https://www.googleapis.com/youtube/v3/"

_CHANNEL_ID = re.compile(r"^UC[A-Za-z0-9_-]{22}$")


def _channel_id(value: Any) -> str:
    if not isinstance(value, str) or not _CHANNEL_ID.match(value.strip()):
        raise ValueError(
            "'channel_id' must be our channel's id: 'UC' followed by 22 letters, digits, "
            "'-' or '_' (YouTube Studio > Settings > Channel > Advanced settings)"
        )
    return value.strip()


def _optional_secret(name: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"'{name}' must be a non-empty string")
    return value.strip()


def _api_key(value: Any) -> str | None:
    return _optional_secret("api_key", value)


def _oauth_token(value: Any) -> str | None:
    return _optional_secret("oauth_token", value)


def _api_url(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("'api_url' must be the API root URL, e.g. " + DEFAULT_API_URL)
    text = value.strip()
    try:
        url = check_url_scheme(text)
    except ConfigError as exc:
        raise ValueError(f"'api_url': {exc}") from None
    except httpx.InvalidURL as exc:
        raise ValueError(f"'api_url' is not a valid URL ({exc})") from None
    if url.query or url.fragment or url.userinfo:
        raise ValueError("'api_url' must be a plain URL without credentials, query or fragment")
    return str(url).rstrip("/") + "/"


def _page_size(instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 100:
        raise ValueError("'page_size' must be an integer from 1 to 100 (YouTube's maxResults)")


def _revisit(value: Any) -> timedelta:
    try:
        result = parse_duration(value)
    except (TypeError, ValueError):
        raise ValueError("'revisit' must be a duration like '14d', '36h' or 'P14D'") from None
    if result < timedelta(0):
        raise ValueError("'revisit' must not be negative")
    return result


def _retries(instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 10:
        raise ValueError("'rate_limit_retries' must be an integer from 0 to 10")


@attrs.frozen(kw_only=True)
class YouTubeConfig:
    """A YouTube source: one channel of ours, read through the YouTube Data API v3.

    Attributes:
        channel_id: our channel's id (``UC…``); its uploads are channel activity and its
            comments are ours (outbound).
        api_key: a Google Cloud API key with the YouTube Data API v3 enabled. Secret.
        oauth_token: an OAuth 2 access token (``youtube.readonly`` or
            ``youtube.force-ssl`` scope) instead of an API key. Secret. Give exactly one.
        api_url: the API root (tests point it at a fake server).
        page_size: ``maxResults`` for comment threads and replies, 1 to 100 (the uploads
            playlist is read 50 at a time, its maximum).
        revisit: how far behind the newest thread already synced each sync reads the
            threads again to pick up new replies to them.
        rate_limit_retries: how often a ``rateLimitExceeded`` answer is retried.
    """

    channel_id: str = attrs.field(converter=_channel_id)
    api_key: str | None = attrs.field(
        default=None, converter=_api_key, repr=False, metadata={"secret": True}
    )
    oauth_token: str | None = attrs.field(
        default=None,
        converter=_oauth_token,
        repr=False,
        metadata={"secret": True},
    )
    api_url: str = attrs.field(default=DEFAULT_API_URL, converter=_api_url)
    page_size: int = attrs.field(default=100, validator=_page_size)
    revisit: timedelta = attrs.field(default=timedelta(days=14), converter=_revisit)
    rate_limit_retries: int = attrs.field(default=5, validator=_retries)

    def __attrs_post_init__(self) -> None:
        if (self.api_key is None) == (self.oauth_token is None):
            raise ValueError(
                "give exactly one of 'api_key' and 'oauth_token' (found "
                + ("both" if self.api_key is not None else "neither")
                + ")"
            )
