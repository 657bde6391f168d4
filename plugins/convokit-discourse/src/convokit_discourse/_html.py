"""Discourse ``cooked`` post HTML to plain text: the core's
:func:`convokit_core.html_to_text`, with Discourse's two quirks."""

from __future__ import annotations

from collections.abc import Mapping

from convokit_core import html_to_text as _core_html_to_text

__all__ = ["html_to_text"]


def _lightbox_caption(tag: str, attributes: Mapping[str, str]) -> bool:
    """The file name / size caption Discourse puts under lightbox images."""
    return tag == "div" and "meta" in attributes.get("class", "").split()


def _image(attributes: Mapping[str, str]) -> str | None:
    """Emoji keep their ``:name:``; an upload's default ``image…`` alt is dropped."""
    alt = attributes.get("alt")
    classes = attributes.get("class", "").split()
    if alt and ("emoji" in classes or not alt.startswith("image")):
        return alt
    return None


def html_to_text(html: str) -> str:
    """The text a reader sees in a post's ``cooked`` HTML.

    Paragraphs, quotes, list items and other blocks become blank-line separated,
    ``<br>`` a line break, entities are decoded, emoji keep their ``:name:`` (their
    ``alt``), a mention stays ``@name``, the file-name caption under uploaded images and
    scripts are dropped, and runs of spaces inside a line collapse to one.
    """
    return _core_html_to_text(html, skip=_lightbox_caption, image=_image)
