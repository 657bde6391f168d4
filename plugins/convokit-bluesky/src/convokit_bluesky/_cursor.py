"""The adapter's resume state and its opaque string form.

Both listings the adapter reads (``listNotifications`` and ``getAuthorFeed``) run
newest first, with an opaque API cursor leading to older items. Each is read in
*scans*: a scan walks from the newest item down to what an earlier, completed scan
already covered (its *watermark*), or to the end of the listing.

Positions are measured in ``indexedAt``, the AppView's own clock, never in the
client-written ``createdAt``: an item indexed after a scan always compares as new,
whatever date its author's app put on it (a backdated post at the top of the listing is
still delivered). A repost's position is the repost's ``indexedAt``. While a scan runs, the
state records the API cursor of the next page; when it completes, the newest time it
saw becomes the new watermark. A later sync therefore fetches only what is new.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Any

import attrs

from convokit_core import MalformedPayload

from ._mapping import parse_time

__all__ = ["CURSOR_VERSION", "Position", "State", "decode", "encode"]

CURSOR_VERSION = 1


def _format(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


@attrs.frozen(kw_only=True)
class Position:
    """How far one listing has been read."""

    watermark: datetime | None = None
    """``indexedAt`` of the newest item of the last completed scan (``None``: none yet)."""
    edge: frozenset[str] = frozenset()
    """URIs of the items indexed exactly at ``watermark`` (already delivered)."""
    scan_cursor: str | None = None
    """API cursor of the next page of the running scan (``None``: no scan running)."""
    scan_top: datetime | None = None
    """Newest ``indexedAt`` delivered so far by the running scan."""
    scan_top_edge: frozenset[str] = frozenset()
    """URIs seen by the running scan at ``scan_top``."""

    def is_new(self, when: datetime, uri: str) -> bool:
        """Whether an item was not delivered by a completed scan."""
        if self.watermark is None or when > self.watermark:
            return True
        return when == self.watermark and uri not in self.edge

    def is_behind(self, when: datetime) -> bool:
        """Whether an item lies strictly before the watermark, where a scan may stop."""
        return self.watermark is not None and when < self.watermark

    def seen(self, items: list[tuple[datetime, str]]) -> Position:
        """This position after a scan delivered ``items`` (``indexedAt``, URI)."""
        top, edge = self.scan_top, set(self.scan_top_edge)
        for when, uri in items:
            if top is None or when > top:
                top, edge = when, {uri}
            elif when == top:
                edge.add(uri)
        return attrs.evolve(self, scan_top=top, scan_top_edge=frozenset(edge))

    def advanced(self, next_cursor: str | None) -> Position:
        """Continue the scan at ``next_cursor``, or complete it when ``None``."""
        if next_cursor is not None:
            return attrs.evolve(self, scan_cursor=next_cursor)
        if self.scan_top is None:
            return Position(watermark=self.watermark, edge=self.edge)
        if self.watermark is None or self.scan_top > self.watermark:
            return Position(watermark=self.scan_top, edge=self.scan_top_edge)
        if self.scan_top == self.watermark:
            return Position(watermark=self.watermark, edge=self.edge | self.scan_top_edge)
        return Position(watermark=self.watermark, edge=self.edge)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.watermark is not None:
            out["w"] = _format(self.watermark)
            out["e"] = sorted(self.edge)
        if self.scan_top is not None:
            out["t"] = _format(self.scan_top)
            out["te"] = sorted(self.scan_top_edge)
        if self.scan_cursor is not None:
            out["c"] = self.scan_cursor
        return out

    @classmethod
    def from_json(cls, data: object) -> Position:
        if not isinstance(data, dict):
            raise ValueError("position must be an object")
        return cls(
            watermark=_time(data.get("w")),
            edge=_uris(data.get("e", [])),
            scan_cursor=_opt_str(data.get("c")),
            scan_top=_time(data.get("t")),
            scan_top_edge=_uris(data.get("te", [])),
        )


@attrs.frozen(kw_only=True)
class State:
    """The whole resume state: one :class:`Position` per listing."""

    mentions: Position = Position()
    """``app.bsky.notification.listNotifications`` (reasons mention and reply)."""
    own_posts: Position = Position()
    """``app.bsky.feed.getAuthorFeed`` of our account."""


def encode(state: State) -> str:
    """The opaque cursor for ``state`` (URL-safe base64 of compact JSON)."""
    payload = {
        "v": CURSOR_VERSION,
        "mentions": state.mentions.to_json(),
        "own_posts": state.own_posts.to_json(),
    }
    raw = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode(cursor: str | None) -> State:
    """Parse a cursor made by :func:`encode`; ``None`` is the start of everything.

    Raises :class:`~convokit_core.MalformedPayload` for anything else, so a corrupted
    cursor fails the source instead of silently starting over.
    """
    if cursor is None:
        return State()
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
        if not isinstance(data, dict) or data.get("v") != CURSOR_VERSION:
            raise ValueError(f"unsupported cursor version {data.get('v')!r}")
        return State(
            mentions=Position.from_json(data.get("mentions", {})),
            own_posts=Position.from_json(data.get("own_posts", {})),
        )
    except (binascii.Error, UnicodeDecodeError, ValueError, AttributeError) as exc:
        raise MalformedPayload(f"not a Bluesky sync cursor ({exc})") from exc


def _time(value: object) -> datetime | None:
    if value is None:
        return None
    parsed = parse_time(value)
    if parsed is None:
        raise ValueError(f"bad time {value!r}")
    return parsed


def _uris(value: object) -> frozenset[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError("expected a list of URIs")
    return frozenset(value)


def _opt_str(value: object) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise ValueError(f"expected a string, found {value!r}")
