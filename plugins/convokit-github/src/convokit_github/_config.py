"""The ``[[source]]`` keys of the GitHub platform."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import attrs
import httpx

from convokit_core import ConfigError, check_url_scheme, parse_datetime

__all__ = ["ASSOCIATIONS", "DEFAULT_MAINTAINERS", "GITHUB_API", "GitHubConfig"]

GITHUB_API = "https://api.github.com"

#: Every ``author_association`` value GitHub documents.
ASSOCIATIONS = frozenset(
    {
        "COLLABORATOR",
        "CONTRIBUTOR",
        "FIRST_TIMER",
        "FIRST_TIME_CONTRIBUTOR",
        "MANNEQUIN",
        "MEMBER",
        "NONE",
        "OWNER",
    }
)

#: Associations whose authors speak for the repository by default.
DEFAULT_MAINTAINERS = ("OWNER", "MEMBER", "COLLABORATOR")

# GitHub: owner (user or organisation) up to 39 characters of letters, digits and
# inner hyphens; repository names letters, digits, '.', '_' and '-'.
_OWNER = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$")
_REPO = re.compile(r"^[A-Za-z0-9._-]{1,100}$")
_LOGIN = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})(?:\[bot\])?$")


def _repositories(value: Any) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise ValueError(
            "'repositories' must be a list of \"owner/repo\" strings, "
            f'e.g. ["acme/widgets"], found {value!r}'
        )
    out: list[str] = []
    seen: set[str] = set()
    for index, item in enumerate(value):
        where = f"'repositories[{index}]'"
        if not isinstance(item, str):
            raise ValueError(f'{where} must be an "owner/repo" string, found {item!r}')
        text = item.strip()
        owner, slash, name = text.partition("/")
        if (
            not slash
            or not _OWNER.match(owner)
            or not _REPO.match(name)
            or name in (".", "..")
            or name.endswith(".git")
        ):
            raise ValueError(f'{where} must be an "owner/repo" string, found {item!r}')
        key = text.casefold()  # GitHub names are case-insensitive
        if key in seen:
            raise ValueError(f"{where}: {item!r} is listed twice")
        seen.add(key)
        out.append(text)
    if not out:
        raise ValueError("'repositories' must list at least one \"owner/repo\"")
    return tuple(out)


def _token(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(
            "'token' must be a non-empty GitHub token (use token = \"${GITHUB_TOKEN}\")"
        )
    text = value.strip()
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in text):
        # Never echo the value: it is a secret.
        raise ValueError("'token' contains whitespace or control characters")
    if len(text) < 8:
        raise ValueError("'token' is too short to be a GitHub token")
    return text


def _api_url(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(
            f"'api_url' must be the REST API's root URL, e.g. {GITHUB_API}, found {value!r}"
        )
    text = value.strip().rstrip("/")
    try:
        url = check_url_scheme(text)
    except ConfigError as exc:
        raise ValueError(f"'api_url': {exc}") from None
    except httpx.InvalidURL as exc:
        raise ValueError(f"'api_url' is not a valid URL ({exc}): {value!r}") from None
    if url.query or url.fragment:
        raise ValueError(f"'api_url' must not have a query or fragment, found {value!r}")
    return str(url).rstrip("/")


def _account(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _LOGIN.match(value.strip().removeprefix("@")):
        raise ValueError(f"'account' must be a GitHub login like acme-bot, found {value!r}")
    return value.strip().removeprefix("@")


def _associations(value: Any) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise ValueError(
            "'maintainer_associations' must be a list like "
            f'["OWNER", "MEMBER", "COLLABORATOR"], found {value!r}'
        )
    out: list[str] = []
    for index, item in enumerate(value):
        if not isinstance(item, str) or item.strip().upper() not in ASSOCIATIONS:
            raise ValueError(
                f"'maintainer_associations[{index}]' must be one of "
                f"{', '.join(sorted(ASSOCIATIONS))}, found {item!r}"
            )
        if item.strip().upper() not in out:
            out.append(item.strip().upper())
    return tuple(out)


def _since(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError(
                f"'since' needs a timezone, e.g. 2024-01-01T00:00:00Z, found {value.isoformat()}"
            )
        return value.astimezone(UTC)
    if isinstance(value, str):
        try:
            return parse_datetime(value)
        except ValueError as exc:
            raise ValueError(f"'since': {exc}") from None
    raise ValueError(f"'since' must be a timestamp like 2024-01-01T00:00:00Z, found {value!r}")


def _bool(name: str) -> Any:
    def check(instance: object, attribute: attrs.Attribute[bool], value: Any) -> None:
        if not isinstance(value, bool):
            raise ValueError(f"'{name}' must be true or false, found {value!r}")

    return check


def _page_size(instance: object, attribute: attrs.Attribute[int], value: Any) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 100:
        raise ValueError(f"'page_size' must be an integer from 1 to 100, found {value!r}")


def _budget(value: Any) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not 0 <= value <= 86_400
        or value != value
    ):
        raise ValueError(
            f"'retry_budget' must be a number of seconds from 0 to 86400, found {value!r}"
        )
    return float(value)


@attrs.frozen(kw_only=True)
class GitHubConfig:
    """A GitHub source: the issues (and pull requests) of some repositories.

    Attributes:
        repositories: ``"owner/repo"`` names; each is one channel.
        token: a fine-grained or classic personal access token, or an app installation
            token, that can read the repositories' issues (and pull requests). Secret:
            never shown.
        api_url: the REST API root: ``https://api.github.com`` (default), or
            ``https://HOST/api/v3`` for GitHub Enterprise Server. ``http://`` only for
            loopback test servers.
        account: our own login (the token's user or bot), counted as ours.
        include_pull_requests: whether pull requests (and their conversation comments)
            are synced as conversations too.
        maintainer_associations: ``author_association`` values whose authors speak for
            us (``outbound``); ``[[team]]`` handles and ``account`` count as ours too.
        since: on a repository's first sync, only issues and comments updated at or
            after this moment are read (default: the whole history).
        page_size: ``per_page`` of every list request, 1 to 100.
        retry_budget: the most seconds one request may wait for rate limits and retries
            (GitHub's primary limit resets up to an hour later).
    """

    repositories: tuple[str, ...] = attrs.field(converter=_repositories)
    token: str = attrs.field(converter=_token, repr=False, metadata={"secret": True})
    api_url: str = attrs.field(default=GITHUB_API, converter=_api_url)
    account: str | None = attrs.field(default=None, converter=_account)
    include_pull_requests: bool = attrs.field(
        default=True, validator=_bool("include_pull_requests")
    )
    maintainer_associations: tuple[str, ...] = attrs.field(
        default=DEFAULT_MAINTAINERS, converter=_associations
    )
    since: datetime | None = attrs.field(default=None, converter=_since)
    page_size: int = attrs.field(default=100, validator=_page_size)
    retry_budget: float = attrs.field(default=900.0, converter=_budget)

    @property
    def host(self) -> str | None:
        """The Enterprise Server host that qualifies ids; ``None`` for github.com."""
        url = httpx.URL(self.api_url)
        if str(url).rstrip("/") == GITHUB_API:
            return None
        default = {"https": 443, "http": 80}[url.scheme]
        port = url.port
        return url.host if port in (None, default) else f"{url.host}:{port}"

    def repo_key(self, repository: str) -> str:
        """``owner/repo`` on github.com, ``host/owner/repo`` on an Enterprise Server.

        Lower-cased: GitHub names are case-insensitive, so ``Acme/Widgets`` and
        ``acme/widgets`` are one repository and give the same ids.
        """
        key = repository if self.host is None else f"{self.host}/{repository}"
        return key.lower()
