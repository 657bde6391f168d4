"""convokit-wordpress: sync a WordPress blog's posts and comments into convokit.

Configure a source in ``convokit.toml``::

    [[source]]
    name = "blog"
    platform = "wordpress"
    site = "https://example.org/blog"
"""

from __future__ import annotations

from collections.abc import Callable

from convokit_core.hookspecs import hookimpl

from ._adapter import PLATFORM, WordPressAdapter, create, parse_gmt
from ._config import WordPressConfig
from ._cursor import CURSOR_VERSION
from ._html import html_to_text

__all__ = [
    "CURSOR_VERSION",
    "PLATFORM",
    "WordPressAdapter",
    "WordPressConfig",
    "create",
    "html_to_text",
    "parse_gmt",
    "register_platforms",
]

__version__ = "0.1.0"


@hookimpl
def register_platforms(register: Callable[..., None]) -> None:
    """Register ``platform = "wordpress"``."""
    register(
        PLATFORM,
        config=WordPressConfig,
        create=create,
        description="WordPress: a blog's posts (channel activity) and their comments",
    )
