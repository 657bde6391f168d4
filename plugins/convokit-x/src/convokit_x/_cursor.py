"""The adapter's resume state and its opaque string form.

Both timelines the adapter reads (``/2/users/{id}/mentions`` and ``/2/users/{id}/tweets``)
list newest first. Each is read in *passes*: a pass asks for everything newer than
``since_id`` (the newest post id of the last completed pass) and follows
``meta.next_token`` down to it. While a pass runs, the state records the token of its
next page and the newest id the pass has seen; when the pass completes, that id becomes
the next ``since_id``. A later sync therefore reads only what is new.

Post ids are 64-bit numbers beyond the 2**53 a JSON double holds exactly: they stay
strings here, and are compared as Python integers (exact), never as floats.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

import attrs

from convokit_core import MalformedPayload

__all__ = ["CURSOR_VERSION", "Position", "State", "decode", "encode", "is_post_id", "newer"]

CURSOR_VERSION = 1

_ID = re.compile(r"[0-9]{1,20}")


def is_post_id(value: object) -> bool:
    """Whether ``value`` is an X id as the API writes it: a string of 1 to 20 digits."""
    return isinstance(value, str) and _ID.fullmatch(value) is not None


def newer(a: str | None, b: str | None) -> str | None:
    """The newer (numerically larger) of two post ids; ``None`` counts as oldest."""
    if a is None:
        return b
    if b is None:
        return a
    return a if int(a) >= int(b) else b


@attrs.frozen(kw_only=True)
class Position:
    """How far one timeline has been read."""

    since_id: str | None = None
    """Newest post id of the last completed pass (``None``: no pass completed yet)."""
    token: str | None = None
    """``pagination_token`` of the running pass's next page (``None``: no pass running)."""
    top: str | None = None
    """Newest post id the running pass has seen."""

    def is_new(self, post_id: str) -> bool:
        """Whether ``post_id`` lies after the last completed pass."""
        return self.since_id is None or int(post_id) > int(self.since_id)

    def after_page(self, newest: str | None, next_token: str | None) -> Position:
        """This position after a page whose newest id is ``newest``; the pass goes on at
        ``next_token`` or completes when it is ``None``."""
        top = newer(self.top, newest)
        if next_token is not None:
            return attrs.evolve(self, token=next_token, top=top)
        return Position(since_id=newer(self.since_id, top))

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.since_id is not None:
            out["since"] = self.since_id
        if self.token is not None:
            out["token"] = self.token
        if self.top is not None:
            out["top"] = self.top
        return out

    @classmethod
    def from_json(cls, data: object, where: str) -> Position:
        if not isinstance(data, dict):
            raise ValueError(f"{where} must be an object")
        unknown = set(data) - {"since", "token", "top"}
        if unknown:
            raise ValueError(f"{where} has unknown keys {sorted(unknown)}")
        token = data.get("token")
        if token is not None and (not isinstance(token, str) or not token):
            raise ValueError(f"{where}.token must be a non-empty string")
        for key in ("since", "top"):
            value = data.get(key)
            if value is not None and not is_post_id(value):
                raise ValueError(f"{where}.{key} must be a post id (a string of digits)")
        if (token is None) != (data.get("top") is None):
            raise ValueError(f"{where}: token and top come together")
        return cls(since_id=data.get("since"), token=token, top=data.get("top"))


@attrs.frozen(kw_only=True)
class State:
    """The whole resume state: one :class:`Position` per timeline."""

    mentions: Position = Position()
    """``/2/users/{id}/mentions``."""
    own: Position = Position()
    """``/2/users/{id}/tweets`` (our posts)."""


def encode(state: State) -> str:
    """The opaque cursor for ``state`` (URL-safe base64 of compact, versioned JSON)."""
    payload = {
        "v": CURSOR_VERSION,
        "mentions": state.mentions.to_json(),
        "own": state.own.to_json(),
    }
    raw = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode(cursor: str | None) -> State:
    """Parse a cursor made by :func:`encode`; ``None`` is the start of everything.

    Anything else raises :class:`~convokit_core.MalformedPayload`, so a corrupted cursor
    fails the source instead of silently starting over.
    """
    if cursor is None:
        return State()
    try:
        if not isinstance(cursor, str) or not cursor.isascii():
            raise ValueError("not ASCII")
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
        if not isinstance(data, dict):
            raise ValueError("not an object")
        if data.get("v") != CURSOR_VERSION:
            raise ValueError(f"unsupported cursor version (expected {CURSOR_VERSION})")
        if set(data) != {"v", "mentions", "own"}:
            raise ValueError("expected the keys v, mentions and own")
        return State(
            mentions=Position.from_json(data["mentions"], "mentions"),
            own=Position.from_json(data["own"], "own"),
        )
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise MalformedPayload(f"not an X sync cursor ({exc})") from None
