"""Discourse ``cooked`` post HTML to plain text."""

from __future__ import annotations

from html.parser import HTMLParser

__all__ = ["html_to_text"]

_BLOCKS = frozenset(
    {
        "aside", "blockquote", "dd", "details", "div", "dl", "dt", "figcaption", "figure",
        "h1", "h2", "h3", "h4", "h5", "h6", "hr", "li", "ol", "p", "pre", "summary", "table",
        "tr", "ul",
    }
)  # fmt: skip
_SKIPPED = frozenset({"script", "style", "noscript", "template"})


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip_tag: str | None = None
        self._skip_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._skip_tag is not None:
            if tag == self._skip_tag:
                self._skip_depth += 1
            return
        classes = (dict(attrs).get("class") or "").split()
        # Scripts, and the file name / size caption Discourse puts under lightbox images.
        if tag in _SKIPPED or (tag == "div" and "meta" in classes):
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
            alt = dict(attrs).get("alt")
            if alt and ("emoji" in classes or not alt.startswith("image")):
                self.parts.append(alt)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED or self._skip_tag is not None:
            return
        self.handle_starttag(tag, attrs)

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


def html_to_text(html: str) -> str:
    """The text a reader sees in a post's ``cooked`` HTML.

    Paragraphs, quotes, list items and other blocks become blank-line separated,
    ``<br>`` a line break, entities are decoded, emoji keep their ``:name:`` (their
    ``alt``), a mention stays ``@name``, the file-name caption under uploaded images and
    scripts are dropped, and runs of spaces inside a line collapse to one.
    """
    parser = _Text()
    parser.feed(html)
    parser.close()
    lines = [
        " ".join(line.split()) for line in "".join(parser.parts).replace("\xa0", " ").split("\n")
    ]
    text = "\n".join(lines)
    while "\n\n\n" in text:
        text = text.replace("\n\n\n", "\n\n")
    return text.strip()
