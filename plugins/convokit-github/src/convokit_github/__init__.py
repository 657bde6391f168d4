"""convokit-github: sync the issues and pull requests of GitHub repositories into convokit.

Configure a source in ``convokit.toml``::

    [[source]]
    name = "github"
    platform = "github"
    repositories = ["acme/widgets"]
    token = "${GITHUB_TOKEN}"
"""

from __future__ import annotations

from collections.abc import Callable

from convokit_core.hookspecs import hookimpl

from ._adapter import API_VERSION, GitHubAdapter, create
from ._config import DEFAULT_MAINTAINERS, GitHubConfig
from ._cursor import GitHubCursor, RepoPosition, StreamPosition
from ._mapping import PLATFORM
from ._ratelimit import LimitKind, RateLimit, classify

__all__ = [
    "API_VERSION",
    "DEFAULT_MAINTAINERS",
    "PLATFORM",
    "GitHubAdapter",
    "GitHubConfig",
    "GitHubCursor",
    "LimitKind",
    "RateLimit",
    "RepoPosition",
    "StreamPosition",
    "classify",
    "create",
    "register_platforms",
]

__version__ = "0.1.0"


@hookimpl
def register_platforms(register: Callable[..., None]) -> None:
    """Register ``platform = "github"``."""
    register(
        PLATFORM,
        config=GitHubConfig,
        create=create,
        description="GitHub: issues, pull requests and their comments of chosen repositories",
    )
