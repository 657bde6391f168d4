"""Bluesky (AT Protocol) platform adapter for convokit.

Registers ``platform = "bluesky"``: mentions and replies of one account with their
whole threads, and the account's own posts for channel activity. See the README.
"""

from __future__ import annotations

from collections.abc import Callable

from convokit_core.hookspecs import hookimpl

from ._adapter import BlueskyAdapter, create_adapter
from ._config import BlueskyConfig

__all__ = ["BlueskyAdapter", "BlueskyConfig", "create_adapter", "register_platforms"]

__version__ = "0.1.0"


@hookimpl
def register_platforms(register: Callable[..., None]) -> None:
    """Register the ``bluesky`` platform."""
    register(
        "bluesky",
        config=BlueskyConfig,
        create=create_adapter,
        description="Bluesky: mentions, replies and their threads; our posts for activity",
    )
