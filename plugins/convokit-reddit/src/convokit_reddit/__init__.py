"""convokit-reddit: sync a Reddit account's conversations into convokit.

Configure a source in ``convokit.toml``::

    [[source]]
    name = "reddit"
    platform = "reddit"
    username = "acme_support"
    client_id = "${REDDIT_CLIENT_ID}"
    client_secret = "${REDDIT_CLIENT_SECRET}"
    password = "${REDDIT_PASSWORD}"
    subreddits = ["acme"]
"""

from __future__ import annotations

from collections.abc import Callable

from convokit_core.hookspecs import hookimpl

from ._adapter import PLATFORM, RedditAdapter, create
from ._api import RATE_LIMIT_REMAINING, RATE_LIMIT_RESET, RedditApi
from ._config import RedditConfig, reddit_name
from ._cursor import STREAMS, RedditCursor, StreamState

__all__ = [
    "PLATFORM",
    "RATE_LIMIT_REMAINING",
    "RATE_LIMIT_RESET",
    "STREAMS",
    "RedditAdapter",
    "RedditApi",
    "RedditConfig",
    "RedditCursor",
    "StreamState",
    "create",
    "reddit_name",
    "register_platforms",
]

__version__ = "0.1.0"


@hookimpl
def register_platforms(register: Callable[..., None]) -> None:
    """Register ``platform = "reddit"``."""
    register(
        PLATFORM,
        config=RedditConfig,
        create=create,
        description="Reddit: inbox mentions and replies with their threads, and our own "
        "comments and posts",
    )
