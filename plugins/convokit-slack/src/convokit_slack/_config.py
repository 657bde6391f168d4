"""The ``[[source]]`` keys of the Slack platform."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any, Final

import attrs
import httpx

from convokit_core import ConfigError, check_url_scheme, parse_datetime, parse_duration

__all__ = ["DEFAULT_API_URL", "SlackConfig"]

DEFAULT_API_URL: Final = "https://slack.com/api/"
_CHANNEL_ID: Final = re.compile(r"^[CGD][A-Z0-9]{2,}$")
_CHANNEL_NAME: Final = re.compile(r"^[a-z0-9][a-z0-9._\-]{0,79}$")


def _token(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("'token' must be a bot (xoxb-) or user (xoxp-) token, found nothing")
    text = value.strip()
    if text.startswith(("xoxb-", "xoxp-")):
        return text
    if text.startswith("xapp-"):
        raise ValueError(
            "'token' is an app-level token (xapp-), which cannot read messages; use the "
            "app's bot token (xoxb-) or a user token (xoxp-) from its OAuth & Permissions page"
        )
    # Never echo the value: it may be a real secret of another kind.
    raise ValueError(
        "'token' must be a bot (xoxb-) or user (xoxp-) token; the value given starts with neither"
    )


def _channels(value: Any) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, list | tuple) or not value:
        raise ValueError(
            "'channels' must be a non-empty list of channel ids or names, "
            'e.g. ["C0123ABCD", "#support"]'
        )
    out: list[str] = []
    for index, item in enumerate(value):
        if not isinstance(item, str) or not item.strip():
            raise ValueError(f"'channels[{index}]' must be a channel id or name, found {item!r}")
        text = item.strip()
        if _CHANNEL_ID.match(text):
            entry = text
        else:
            name = text.removeprefix("#").lower()
            if not _CHANNEL_NAME.match(name):
                raise ValueError(
                    f"'channels[{index}]' must be a channel id like C0123ABCD or a name like "
                    f"#support, found {item!r}"
                )
            entry = "#" + name
        if entry in out:
            raise ValueError(f"'channels[{index}]': {item!r} is listed twice")
        out.append(entry)
    return tuple(out)


def _api_url(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"'api_url' must be a URL like {DEFAULT_API_URL}, found {value!r}")
    text = value.strip()
    try:
        url = check_url_scheme(text)
    except ConfigError as exc:
        raise ValueError(f"'api_url': {exc}") from None
    except httpx.InvalidURL as exc:
        raise ValueError(f"'api_url' is not a valid URL ({exc}): {value!r}") from None
    if url.query or url.fragment:
        raise ValueError(f"'api_url' must not have a query or fragment, found {value!r}")
    # Method names are joined to it, so it must end with a slash.
    return str(url).rstrip("/") + "/"


def _page_size(instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 999:
        raise ValueError(f"'page_size' must be an integer from 1 to 999, found {value!r}")


def _lookback(value: Any) -> timedelta:
    try:
        result = parse_duration(value)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"'thread_lookback': {exc}") from None
    if result < timedelta(0):
        raise ValueError(f"'thread_lookback' must not be negative, found {value!r}")
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


def _seconds(name: str) -> Any:
    def check(instance: object, attribute: attrs.Attribute[float], value: float) -> None:
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ValueError(f"'{name}' must be a number of seconds >= 0, found {value!r}")

    return check


def _flag(name: str) -> Any:
    def check(instance: object, attribute: attrs.Attribute[bool], value: bool) -> None:
        if not isinstance(value, bool):
            raise ValueError(f"'{name}' must be true or false, found {value!r}")

    return check


def _retries(instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 100:
        raise ValueError(f"'max_retries' must be an integer from 0 to 100, found {value!r}")


@attrs.frozen(kw_only=True)
class SlackConfig:
    """A Slack source: some channels of one workspace, read with one token.

    Attributes:
        token: a bot token (``xoxb-…``) or a user token (``xoxp-…``) with the
            ``channels:history`` / ``groups:history`` (and ``im:history``,
            ``mpim:history`` for DMs) and ``channels:read`` / ``groups:read`` scopes.
            Secret: never shown.
        channels: the conversations to watch: ids (``C0123ABCD``; ``G…`` and ``D…``
            too) or names (``#support``, resolved with ``conversations.list``).
            Normalised to ids as given and names as ``#name``.
        api_url: the Web API root, ``https://slack.com/api/`` (``http://`` only for
            loopback test servers).
        page_size: the ``limit`` of each request (Slack caps it at 15 for apps limited
            to the slow tier; 1 to 999).
        thread_lookback: how far before the newest stored parent message a sync still
            looks for new replies in older threads (``0`` disables it).
        since: on a channel's first sync, read history from this moment only
            (``None``: all of it).
        retry_budget: seconds one request may spend waiting on rate limits and
            retries before the source fails (slow-tier methods ask for ~60 s a time).
        max_retries: retries of one request after the first attempt.
        workspace_is_ours: count every member of the token's workspace as speaking for
            us (the author's ``user_team``/``team`` is our ``team_id``): for Slack
            Connect channels shared with customers' workspaces. Default off: only the
            token's user, our app's bot and ``[[team]]`` handles are outbound.
    """

    token: str = attrs.field(converter=_token, repr=False, metadata={"secret": True})
    channels: tuple[str, ...] = attrs.field(converter=_channels)
    api_url: str = attrs.field(default=DEFAULT_API_URL, converter=_api_url)
    page_size: int = attrs.field(default=100, validator=_page_size)
    thread_lookback: timedelta = attrs.field(default=timedelta(days=7), converter=_lookback)
    since: datetime | None = attrs.field(default=None, converter=_since)
    retry_budget: float = attrs.field(default=900.0, validator=_seconds("retry_budget"))
    max_retries: int = attrs.field(default=10, validator=_retries)
    workspace_is_ours: bool = attrs.field(default=False, validator=_flag("workspace_is_ours"))

    @property
    def token_kind(self) -> str:
        """``"bot"`` or ``"user"``."""
        return "bot" if self.token.startswith("xoxb-") else "user"
