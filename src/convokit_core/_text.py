"""HTML to the plain text a reader sees — for adapters whose platform sends HTML
(blog posts, forum posts, status texts, e-mail bodies)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from html.parser import HTMLParser

__all__ = ["html_to_text"]

_BLOCKS = frozenset(
    {
        "address", "article", "aside", "blockquote", "dd", "details", "div", "dl", "dt",
        "figcaption", "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr",
        "li", "ol", "p", "pre", "section", "summary", "table", "tr", "ul",
    }
)  # fmt: skip
_SKIPPED = frozenset({"script", "style", "noscript", "template", "head", "title"})

SkipRule = Callable[[str, Mapping[str, str]], bool]
"""``skip(tag, attributes)``: drop this element and everything inside it."""
ImageRule = Callable[[Mapping[str, str]], str | None]
"""``image(attributes)``: the text an ``<img>`` stands for (``None``: nothing)."""


def _alt(attributes: Mapping[str, str]) -> str | None:
    return attributes.get("alt") or None


class _Text(HTMLParser):
    def __init__(self, skip: SkipRule | None, image: ImageRule) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip_rule = skip
        self._image = image
        self._skip_tag: str | None = None
        self._skip_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._skip_tag is not None:
            if tag == self._skip_tag:
                self._skip_depth += 1
            return
        attributes = {k: v or "" for k, v in attrs}
        if tag in _SKIPPED or (self._skip_rule is not None and self._skip_rule(tag, attributes)):
            if tag not in ("br", "img", "hr"):  # void elements have no end tag to wait for
                self._skip_tag, self._skip_depth = tag, 1
        elif tag == "br":
            self.parts.append("\n")
        elif tag in ("td", "th"):
            self.parts.append(" ")
        elif tag in _BLOCKS:
            self._break()
            if tag == "li":
                self.parts.append("- ")
        elif tag == "img":
            text = self._image(attributes)
            if text:
                self.parts.append(text)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._skip_tag is not None or tag in _SKIPPED:
            return
        self.handle_starttag(tag, attrs)
        if self._skip_tag == tag:  # a self-closed element that was to be skipped
            self._skip_tag, self._skip_depth = None, 0

    def handle_endtag(self, tag: str) -> None:
        if self._skip_tag is not None:
            if tag == self._skip_tag:
                self._skip_depth -= 1
                if self._skip_depth == 0:
                    self._skip_tag = None
            return
        if tag in _BLOCKS:
            self._break()

    def handle_data(self, data: str) -> None:
        if self._skip_tag is None:
            self.parts.append(data)

    def _break(self) -> None:
        text = "".join(self.parts)
        if text.strip() and not text.endswith("\n\n"):
            self.parts.append("\n" if text.endswith("\n") else "\n\n")


def html_to_text(markup: str, *, skip: SkipRule | None = None, image: ImageRule = _alt) -> str:
    """The text a reader sees in ``markup``.

    Block elements (paragraphs, headings, list items, quotes, figures, table rows…)
    become blank-line separated, ``<br>`` a line break, list items start with ``- ``,
    table cells are separated by a space, entities are decoded, images become their
    ``alt`` text, scripts, styles and templates are dropped, non-breaking spaces are
    spaces, and runs of spaces inside a line collapse to one.

    Args:
        markup: the HTML (a fragment or a document).
        skip: also drop elements for which ``skip(tag, attributes)`` is true, with what
            they contain (a platform's captions, quoted headers …).
        image: the text an image stands for (default: its ``alt``).
    """
    parser = _Text(skip, image)
    parser.feed(markup)
    parser.close()
    lines = [
        " ".join(line.split()) for line in "".join(parser.parts).replace("\xa0", " ").split("\n")
    ]
    text = "\n".join(lines)
    while "\n\n\n" in text:
        text = text.replace("\n\n\n", "\n\n")
    return text.strip()
