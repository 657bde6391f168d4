"""convokit-youtube: sync the comment threads on our YouTube channel into convokit.

Configure a source in ``convokit.toml``::

    [[source]]
    name = "youtube"
    platform = "youtube"
    channel_id = "UCxxxxxxxxxxxxxxxxxxxxxx"
    api_key = "${YOUTUBE_API_KEY}"
"""

from __future__ import annotations

from collections.abc import Callable

from convokit_core.hookspecs import hookimpl

from ._adapter import PLATFORM, QuotaExceeded, YouTubeAdapter, create
from ._config import DEFAULT_API_URL, YouTubeConfig
from ._cursor import CURSOR_VERSION

__all__ = [
    "CURSOR_VERSION",
    "DEFAULT_API_URL",
    "PLATFORM",
    "QuotaExceeded",
    "YouTubeAdapter",
    "YouTubeConfig",
    "create",
    "register_platforms",
]

__version__ = "0.1.0"


@hookimpl
def register_platforms(register: Callable[..., None]) -> None:
    """Register ``platform = "youtube"``."""
    register(
        PLATFORM,
        config=YouTubeConfig,
        create=create,
        description="YouTube: comment threads on our channel, our uploads as channel activity",
    )
