"""Shape checks for Zendesk payloads: every missing or mistyped field is a clear
:class:`~convokit_core.MalformedPayload` that names the field, never the value (a value
could be anything, a credential included)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from convokit_core import MalformedPayload, parse_datetime

__all__ = [
    "as_bool",
    "as_id",
    "as_list",
    "as_object",
    "as_opt_str",
    "as_required_id",
    "as_str",
    "as_time",
]


def as_object(value: Any, where: str) -> dict[str, Any]:
    """``value`` if it is a JSON object."""
    if not isinstance(value, dict):
        raise MalformedPayload(f"{where} is not a JSON object ({type(value).__name__})")
    return value


def as_list(data: dict[str, Any], key: str, where: str) -> list[Any]:
    """``data[key]`` if it is a JSON array."""
    value = data.get(key)
    if not isinstance(value, list):
        found = "missing" if key not in data else type(value).__name__
        raise MalformedPayload(f"{where}: '{key}' is not an array ({found})")
    return value


def as_required_id(data: dict[str, Any], key: str, where: str) -> str:
    """``data[key]``, a Zendesk id (an integer), as a string."""
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int):
        found = "missing" if key not in data else type(value).__name__
        raise MalformedPayload(f"{where}: '{key}' is not an integer id ({found})")
    return str(value)


def as_id(data: dict[str, Any], key: str, where: str, *, optional: bool = False) -> str | None:
    """``data[key]``, a Zendesk id, as a string; ``None`` if ``optional`` and null/absent."""
    if optional and data.get(key) is None:
        return None
    return as_required_id(data, key, where)


def as_str(data: dict[str, Any], key: str, where: str) -> str:
    """``data[key]`` if it is a string."""
    value = data.get(key)
    if not isinstance(value, str):
        found = "missing" if key not in data else type(value).__name__
        raise MalformedPayload(f"{where}: '{key}' is not a string ({found})")
    return value


def as_opt_str(data: dict[str, Any], key: str, where: str) -> str | None:
    """``data[key]`` if it is a string or null/absent."""
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise MalformedPayload(f"{where}: '{key}' is not a string ({type(value).__name__})")
    return value


def as_bool(data: dict[str, Any], key: str, where: str) -> bool:
    """``data[key]`` if it is ``true`` or ``false``."""
    value = data.get(key)
    if not isinstance(value, bool):
        found = "missing" if key not in data else type(value).__name__
        raise MalformedPayload(f"{where}: '{key}' is not true or false ({found})")
    return value


def as_time(data: dict[str, Any], key: str, where: str) -> datetime:
    """``data[key]``, an ISO 8601 time with ``Z`` or an offset, in UTC."""
    text = as_str(data, key, where)
    try:
        return parse_datetime(text)
    except ValueError:
        raise MalformedPayload(f"{where}: '{key}' is not an ISO 8601 time with an offset") from None
