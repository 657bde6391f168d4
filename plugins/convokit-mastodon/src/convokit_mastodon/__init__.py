"""convokit-mastodon: sync a Mastodon account's conversations into convokit.

Configure a source in ``convokit.toml``::

    [[source]]
    name = "mastodon"
    platform = "mastodon"
    instance = "https://mastodon.example"
    account = "@acme"
    token = "${MASTODON_TOKEN}"
"""

from __future__ import annotations

from collections.abc import Callable

from convokit_core.hookspecs import hookimpl

from ._adapter import PLATFORM, MastodonAdapter, MastodonCursor, create
from ._config import MastodonConfig
from ._html import html_to_text

__all__ = [
    "PLATFORM",
    "MastodonAdapter",
    "MastodonConfig",
    "MastodonCursor",
    "create",
    "html_to_text",
    "register_platforms",
]

__version__ = "0.1.0"


@hookimpl
def register_platforms(register: Callable[..., None]) -> None:
    """Register ``platform = "mastodon"``."""
    register(
        PLATFORM,
        config=MastodonConfig,
        create=create,
        description="Mastodon: mentions with their threads, and the account's own statuses",
    )
