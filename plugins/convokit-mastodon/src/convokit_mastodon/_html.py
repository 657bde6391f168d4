"""Mastodon status HTML to plain text: the core's :func:`convokit_core.html_to_text`."""

from __future__ import annotations

from convokit_core import html_to_text

__all__ = ["html_to_text"]
