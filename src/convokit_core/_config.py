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

__all__ = ["Config", "key_error", "load_config", "read_toml", "unknown_keys_error"]

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
        """``file:line (key path)`` for messages; the line is searched for ``line_of``
        (default: the last component of the key path)."""
        name = str(self.path) if self.path else "<config>"
        line = find_line(self.text, line_of or key_path.rsplit(".", 1)[-1].split("[")[0])
        return f"{name}:{line} ({key_path})" if line else f"{name} ({key_path})"


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
