"""What every backend can store: the limits the core enforces before a store sees a record.

The same limits apply whatever the backend (docs/limits.md gives the measurements behind
them), so an import that passes on SQLite passes on PostgreSQL too, and a value a
backend would reject is reported with its line and field instead of failing the write.

- **Identifiers** (``platform``, ``id``, ``conversation``, ``channel``, ``author``,
  ``in_reply_to``, ``stakeholder``, ``owner``, tags, identity and handle platforms): at
  most :data:`MAX_ID_BYTES` UTF-8 bytes.
- **Message text**: at most :data:`MAX_TEXT_BYTES` UTF-8 bytes.
- **Any other string** (``url``, names, handles): at most :data:`MAX_STRING_BYTES`.
- **No string** contains U+0000 (NUL) or a lone surrogate (U+D800 to U+DFFF).
- **Timestamps** lie in ``[MIN_TIMESTAMP, MAX_TIMESTAMP)`` (see :mod:`._timeutil`).
"""

from __future__ import annotations

__all__ = [
    "MAX_ID_BYTES",
    "MAX_STRING_BYTES",
    "MAX_TEXT_BYTES",
    "id_problem",
    "show",
    "string_problem",
]

MAX_ID_BYTES = 512
"""Identifiers: PostgreSQL's btree takes about 2,670 bytes of incompressible key per index
entry; ``(platform, conversation, sent_at, id)`` holds three identifiers."""
MAX_TEXT_BYTES = 1 << 20
"""Message texts: 1 MiB."""
MAX_STRING_BYTES = 8192
"""URLs, names, handles."""

_SHOW_CHARS = 60


def show(value: object) -> str:
    """A short, printable ``repr`` of a user value for error messages.

    Long strings, deep structures and huge numbers are cut (``…``); the result is ASCII
    apart from what ``repr`` keeps, and lone surrogates are escaped, so it can always be
    printed.
    """
    import reprlib

    r = reprlib.Repr()
    r.maxlevel = 3
    r.maxstring = _SHOW_CHARS
    r.maxother = _SHOW_CHARS
    r.maxlong = 40
    r.maxlist = r.maxdict = r.maxtuple = r.maxset = 6
    try:
        text = r.repr(value)
    except (RecursionError, ValueError):
        text = f"<{type(value).__name__}>"
    if len(text) > 2 * _SHOW_CHARS:
        text = text[: 2 * _SHOW_CHARS] + "…"
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def string_problem(value: str, limit: int) -> str | None:
    """Why ``value`` cannot be stored (``None`` when it can): NUL, a lone surrogate, or
    more than ``limit`` UTF-8 bytes."""
    if "\x00" in value:
        return (
            f"contains a NUL character (U+0000) at position {value.index(chr(0))}; "
            "no backend stores it"
        )
    if value.isascii():
        size = len(value)
    else:
        try:
            size = len(value.encode("utf-8"))
        except UnicodeEncodeError as exc:
            return (
                f"contains a lone surrogate U+{ord(value[exc.start]):04X} at position "
                f"{exc.start}; expected valid Unicode text"
            )
    if size > limit:
        return f"is {size:,} UTF-8 bytes long; the limit is {limit:,} (docs/limits.md)"
    return None


def id_problem(value: str) -> str | None:
    """:func:`string_problem` with the identifier limit (fast for short ASCII ids)."""
    if len(value) <= MAX_ID_BYTES // 4 and value.isascii() and "\x00" not in value:
        return None
    return string_problem(value, MAX_ID_BYTES)
