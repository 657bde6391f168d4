"""``convokit.toml``: loading, locating keys, and clear errors."""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs

from ._errors import ConfigError

__all__ = [
    "Config",
    "find_line",
    "key_error",
    "key_line",
    "load_config",
    "read_toml",
    "unknown_keys_error",
]

DEFAULT_CONFIG = "convokit.toml"
DEFAULT_STORE = "sqlite:///convokit.db"


@attrs.frozen(kw_only=True)
class Config:
    """A parsed ``convokit.toml`` (or an empty one when there is none).

    ``data`` is the TOML document; each feature validates its own tables and reports
    errors with :meth:`where`, which names the file and, when found, the line.
    """

    path: Path | None = None
    data: dict[str, Any] = attrs.field(factory=dict)
    text: str = ""

    @property
    def store(self) -> str | None:
        value = self.data.get("store")
        if value is None:
            return None
        if isinstance(value, Mapping):
            value = value.get("url")
        if not isinstance(value, str):
            raise ConfigError(
                f"{self.where('store')}: expected a store URL string, found {value!r}"
            )
        return value

    def where(self, key_path: str, *, line_of: str | None = None) -> str:
        """``file:line (key path)`` for messages, e.g. ``convokit.toml:12 (source[1].token)``.

        The line is the line of the *key* (see :func:`key_line`); with ``line_of`` equal
        to the path's table name (``line_of="source"``), the line of the table's header.
        Any other ``line_of`` is searched for as a key anywhere in the file.
        """
        name = str(self.path) if self.path else "<config>"
        segments = _split_path(key_path)
        if line_of is not None and segments and line_of == segments[0][0]:
            line = key_line(self.text, key_path.split(".", 1)[0])
        elif line_of is not None:
            line = find_line(self.text, line_of)
        else:
            line = key_line(self.text, key_path)
        return f"{name}:{line} ({key_path})" if line else f"{name} ({key_path})"


_PATH_SEGMENT = re.compile(r"([^.\[\]]+)(?:\[(\d+)\])?")
_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")


def _split_path(key_path: str) -> list[tuple[str, int | None]]:
    """``source[0].page_size`` -> ``[("source", 0), ("page_size", None)]``."""
    segments: list[tuple[str, int | None]] = []
    for part in key_path.split("."):
        match = _PATH_SEGMENT.fullmatch(part)
        if match is None:
            return []
        index = match.group(2)
        segments.append((match.group(1), int(index) if index is not None else None))
    return segments


def _key_pattern(key: str) -> re.Pattern[str]:
    """A line that defines ``key`` (bare or quoted, ``key =`` or dotted ``key.sub =``),
    as the first key of the line or inside an inline table (``{ key = … }``)."""
    quoted = re.escape(key)
    return re.compile(rf"(^|[{{,])\s*(\"{quoted}\"|'{quoted}'|{quoted})\s*(=|\.)")


def _table_span(lines: list[str], name: str, index: int | None) -> tuple[int, int] | None:
    """0-based ``[start, end)`` of the lines of table ``[name]`` or of the ``index``-th
    ``[[name]]`` (its header included; sub-tables ``[name.x]`` belong to it)."""
    seen = -1
    start: int | None = None
    for number, line in enumerate(lines):
        header = _HEADER.match(line)
        if header is None:
            continue
        table = header.group(2).replace(" ", "").replace('"', "")
        if start is not None:
            if not table.startswith(f"{name}."):
                return (start, number)
            continue
        if table == name and (header.group(1) == "[[") == (index is not None):
            seen += 1
            if index is None or seen == index:
                start = number
    return (start, len(lines)) if start is not None else None


def key_line(text: str, key_path: str) -> int | None:
    """1-based line of ``key_path`` (``source[0].page_size``, ``team[1]``, ``store``).

    tomllib gives no positions, so the text is scanned: first the span of the table the
    path starts in (the ``index``-th ``[[source]]`` header up to the next header that is
    not one of its sub-tables), then, inside that span, the line defining each further
    key in turn (a nested key is searched from its parent's line on). A path that is
    only a table gives its header's line. When the table has no header (an inline
    ``source = [{…}]``) the line of its key is used; when a key is not found, the line
    of the nearest enclosing key or table. Top-level keys are searched before the first
    table header.
    """
    segments = _split_path(key_path)
    if not text or not segments:
        return None
    lines = text.splitlines()
    first, index = segments[0]
    span = _table_span(lines, first, index)
    if span is None:
        # A top-level key (or an inline array of tables): its own line.
        headers = [n for n, line in enumerate(lines) if _HEADER.match(line)]
        end = headers[0] if headers else len(lines)
        pattern = _key_pattern(first)
        found = next((n for n in range(end) if pattern.search(lines[n])), None)
        if found is None:
            return find_line(text, first)
        span = (found, end)
        rest = segments[1:]
        current = found
    else:
        rest = segments[1:]
        current = span[0]
    start = current
    for key, _ in rest:
        pattern = _key_pattern(key)
        found = next((n for n in range(start, span[1]) if pattern.search(lines[n])), None)
        if found is None:
            break
        current = start = found
    return current + 1


def find_line(text: str, key: str, start: int = 1) -> int | None:
    """First line at or after ``start`` on which ``key`` appears as a TOML key or table."""
    if not text or not key:
        return None
    pattern = re.compile(rf"(^|[\s{{,\[.])\"?{re.escape(key)}\"?\s*(=|\]|\.)", re.MULTILINE)
    for number, line in enumerate(text.splitlines(), start=1):
        if number >= start and pattern.search(line):
            return number
    return None


def load_config(path: str | Path | None) -> Config:
    """Load ``path``; with ``None``, ``./convokit.toml`` if present, else an empty config."""
    if path is None:
        default = Path(DEFAULT_CONFIG)
        if not default.exists():
            return Config()
        path = default
    path = Path(path)
    text, data = read_toml(path, "config file")
    return Config(path=path, data=data, text=text)


def read_toml(
    path: Path, what: str, error: type[ConfigError] = ConfigError
) -> tuple[str, dict[str, Any]]:
    """The text and parsed document of a TOML file; ``error`` names the file on failure
    (``what`` says which kind of file: "config file", "policy file" …)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(f"{path}: {what} not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"{path}: cannot read {what}: {exc}") from exc
    try:
        return text, tomllib.loads(text)
    except RecursionError:
        raise error(f"{path}: nested too deeply to read (the TOML parser's limit)") from None
    except ValueError as exc:  # TOMLDecodeError, or an integer over 4,300 digits
        raise error(f"{path}: invalid TOML: {exc}") from None


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    match = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f"; did you mean {match[0]!r}?" if match else ""


def unknown_keys_error(where: str, unknown: str, allowed: Iterable[str]) -> ConfigError:
    allowed = sorted(allowed)
    return ConfigError(
        f"{where}: unknown key {unknown!r}{did_you_mean(unknown, allowed)} "
        f"(expected one of: {', '.join(allowed)})"
    )


def key_error(where: str, found: object, expected: str) -> ConfigError:
    return ConfigError(f"{where}: expected {expected}, found {found!r}")
