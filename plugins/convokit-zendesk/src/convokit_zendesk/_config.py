"""The ``[[source]]`` keys of the Zendesk platform."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Final

import attrs
import httpx

from convokit_core import ConfigError, check_url_scheme, parse_datetime

__all__ = ["HOLD_STATUSES", "ZendeskConfig"]

_SUBDOMAIN: Final = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
_EMAIL: Final = re.compile(r"^[^@\s/]+@[^@\s/]+$")

HOLD_STATUSES: Final = ("open", "pending")
"""What a Zendesk ``hold`` ticket may count as (``hold_status``)."""


def _subdomain(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _SUBDOMAIN.match(value.strip().lower()):
        raise ValueError(
            "'subdomain' must be the part before .zendesk.com, e.g. \"acme\" for "
            f"https://acme.zendesk.com, found {value!r}"
        )
    return value.strip().lower()


def _base_url(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"'base_url' must be a URL like https://acme.zendesk.com, found {value!r}")
    try:
        url = check_url_scheme(value.strip())
    except ConfigError as exc:
        raise ValueError(f"'base_url': {exc}") from None
    except httpx.InvalidURL as exc:
        raise ValueError(f"'base_url' is not a valid URL ({exc})") from None
    if url.query or url.fragment:
        raise ValueError("'base_url' must not have a query or fragment")
    return str(url).rstrip("/")


def _email(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _EMAIL.match(value.strip()):
        raise ValueError(
            "'email' must be the e-mail address of the agent the API token belongs to, "
            f'e.g. "support-bot@acme.example", found {value!r}'
        )
    return value.strip()


def _secret(name: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value.strip()) < 8:
        # Never echo the value: it is (or was meant to be) a credential.
        raise ValueError(f"'{name}' must be a token of at least 8 characters")
    return value.strip()


def _api_token(value: Any) -> str | None:
    return _secret("api_token", value)


def _oauth_token(value: Any) -> str | None:
    return _secret("oauth_token", value)


def _start_time(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("'start_time' has no timezone; add 'Z' or an offset")
        return value
    if isinstance(value, str):
        try:
            return parse_datetime(value)
        except ValueError as exc:
            raise ValueError(f"'start_time': {exc}") from None
    raise ValueError(f"'start_time' must be a timestamp like 2026-01-01T00:00:00Z, found {value!r}")


def _int_in(name: str, low: int, high: int) -> Any:
    def check(instance: object, attribute: attrs.Attribute[int], value: int) -> None:
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise ValueError(f"'{name}' must be an integer from {low} to {high}, found {value!r}")

    return check


def _seconds(instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValueError(f"'retry_budget' must be a number of seconds >= 0, found {value!r}")


def _flag(instance: object, attribute: attrs.Attribute[bool], value: bool) -> None:
    if not isinstance(value, bool):
        raise ValueError(f"'{attribute.name}' must be true or false, found {value!r}")


def _hold(instance: object, attribute: attrs.Attribute[str], value: str) -> None:
    if value not in HOLD_STATUSES:
        raise ValueError(f'\'hold_status\' must be "open" or "pending", found {value!r}')


@attrs.frozen(kw_only=True)
class ZendeskConfig:
    """A Zendesk Support account, read through the incremental ticket export.

    Attributes:
        subdomain: the account's subdomain (``"acme"`` for ``https://acme.zendesk.com``).
            It names the instance in every id, so it must stay the same for a store.
        base_url: where the API is served, overriding ``https://{subdomain}.zendesk.com``
            (a host-mapped domain, or a loopback test server). At least one of
            ``subdomain`` and ``base_url`` is required; without ``subdomain`` the
            instance is named by ``base_url``'s host.
        email: the agent the API token belongs to (with ``api_token``). Their comments
            are outbound whatever their role.
        api_token: an API token (Admin Center > Apps and integrations > Zendesk API),
            sent as HTTP basic auth ``{email}/token:{api_token}``. Secret.
        oauth_token: an OAuth access token with the ``read`` scope, sent as a bearer
            token, instead of ``email`` + ``api_token``. Secret.
        start_time: where the first sync starts the export (tickets updated at or after
            it); ``None``: the account's whole history.
        page_size: tickets per export page (``per_page``, 1 to 1000).
        comments_page_size: comments (and audits) per page (``page[size]``, 1 to 100).
        hold_status: what an ``on-hold`` ticket (waiting on a third party) counts as:
            ``"open"`` (default: the customer is still waiting on us, clocks run) or
            ``"pending"`` (clocks that ``pause_when = "pending"`` pause on hold too).
        status_history: read each ticket's audits for its status history (one request
            per ticket and 100 audits); ``false`` records only the status at the
            ticket's last update.
        export_requests_per_minute: the pace of export requests (Zendesk allows 10 a
            minute; 30 with the High Volume API add-on).
        retry_budget: seconds one request may spend waiting on rate limits and retries.
        max_retries: retries of one request after the first attempt.
    """

    subdomain: str | None = attrs.field(default=None, converter=_subdomain)
    base_url: str | None = attrs.field(default=None, converter=_base_url)
    email: str | None = attrs.field(default=None, converter=_email)
    api_token: str | None = attrs.field(
        default=None, converter=_api_token, repr=False, metadata={"secret": True}
    )
    oauth_token: str | None = attrs.field(
        default=None, converter=_oauth_token, repr=False, metadata={"secret": True}
    )
    start_time: datetime | None = attrs.field(default=None, converter=_start_time)
    page_size: int = attrs.field(default=1000, validator=_int_in("page_size", 1, 1000))
    comments_page_size: int = attrs.field(
        default=100, validator=_int_in("comments_page_size", 1, 100)
    )
    hold_status: str = attrs.field(default="open", validator=_hold)
    status_history: bool = attrs.field(default=True, validator=_flag)
    export_requests_per_minute: int = attrs.field(
        default=10, validator=_int_in("export_requests_per_minute", 1, 1000)
    )
    retry_budget: float = attrs.field(default=900.0, validator=_seconds)
    max_retries: int = attrs.field(default=10, validator=_int_in("max_retries", 0, 100))

    def __attrs_post_init__(self) -> None:
        if self.subdomain is None and self.base_url is None:
            raise ValueError("'subdomain' is required, e.g. subdomain = \"acme\"")
        if self.oauth_token is not None:
            if self.api_token is not None:
                raise ValueError(
                    "give either 'api_token' (with 'email') or 'oauth_token', not both"
                )
        elif self.api_token is None:
            raise ValueError(
                "'api_token' (with 'email') or 'oauth_token' is required to read the account"
            )
        elif self.email is None:
            raise ValueError("'email' is required with 'api_token' (basic auth is email/token)")

    @property
    def api_root(self) -> str:
        """The origin the API is served from (no trailing slash)."""
        if self.base_url is not None:
            return self.base_url
        return f"https://{self.subdomain}.zendesk.com"

    @property
    def instance(self) -> str:
        """The name of the account in ids: the subdomain, else ``base_url``'s host."""
        if self.subdomain is not None:
            return self.subdomain
        return httpx.URL(self.api_root).host
