"""convokit-discourse: sync a Discourse forum's topics into convokit.

Configure a source in ``convokit.toml``::

    [[source]]
    name = "forum"
    platform = "discourse"
    forum = "https://forum.example.com"
    categories = ["support"]
    username = "acme_support"
"""

from __future__ import annotations

from collections.abc import Callable

from convokit_core.hookspecs import hookimpl

from ._adapter import CHUNK, PLATFORM, DiscourseAdapter, create
from ._config import DiscourseConfig
from ._cursor import CURSOR_VERSION
from ._html import html_to_text

__all__ = [
    "CHUNK",
    "CURSOR_VERSION",
    "PLATFORM",
    "DiscourseAdapter",
    "DiscourseConfig",
    "create",
    "html_to_text",
    "register_platforms",
]

__version__ = "0.1.0"


@hookimpl
def register_platforms(register: Callable[..., None]) -> None:
    """Register ``platform = "discourse"``."""
    register(
        PLATFORM,
        config=DiscourseConfig,
        create=create,
        description="Discourse: topics of chosen categories or mentioning us, all their posts",
    )
