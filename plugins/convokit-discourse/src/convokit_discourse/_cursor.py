"""Where a Discourse source resumes, and the cursor string that carries it.

Both listings the adapter reads run newest first: a category's topics by ``bumped_at``
(the time of their latest post) and our mentions (``user_actions``) by ``created_at``.
Each is read in *scans*: a scan walks from the newest item down to what an earlier,
completed scan covered (its *watermark*), or to the end of the listing. While a scan
runs, the state holds its next page (or offset) and the newest time it saw; when it
completes, that time becomes the new watermark, with the ids seen exactly at it (the
*edge*) so an item bumped at the watermark's millisecond is neither lost nor repeated.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import attrs

from convokit_core import MalformedPayload, format_datetime, parse_datetime

__all__ = ["CURSOR_VERSION", "Position", "Scan", "State", "decode", "encode"]

CURSOR_VERSION = 1


@attrs.frozen(kw_only=True)
class Scan:
    """A scan that has not reached the watermark or the end of its listing yet."""

    next: int
    """The next page number (categories) or offset (mentions) to request."""
    top: datetime | None = None
    """The newest time this scan delivered."""
    top_edge: frozenset[str] = frozenset()
    """Ids delivered at ``top``."""


@attrs.frozen(kw_only=True)
class Position:
    """How far one listing has been read."""

    watermark: datetime | None = None
    edge: frozenset[str] = frozenset()
    scan: Scan | None = None

    def is_new(self, when: datetime, item_id: str) -> bool:
        """Whether an item was not delivered by a completed scan."""
        if self.watermark is None or when > self.watermark:
            return True
        return when == self.watermark and item_id not in self.edge

    def is_behind(self, when: datetime) -> bool:
        """Whether an item lies before the watermark: the scan may stop there."""
        return self.watermark is not None and when < self.watermark

    def seen(self, items: list[tuple[datetime, str]]) -> Position:
        """The running scan delivered ``items`` (time, id)."""
        scan = self.scan or Scan(next=0)
        top, edge = scan.top, set(scan.top_edge)
        for when, item_id in items:
            if top is None or when > top:
                top, edge = when, {item_id}
            elif when == top:
                edge.add(item_id)
        return attrs.evolve(self, scan=attrs.evolve(scan, top=top, top_edge=frozenset(edge)))

    def advanced(self, next_position: int | None) -> Position:
        """Continue the scan at ``next_position``, or complete it when ``None``."""
        scan = self.scan or Scan(next=0)
        if next_position is not None:
            return attrs.evolve(self, scan=attrs.evolve(scan, next=next_position))
        if scan.top is None:
            return Position(watermark=self.watermark, edge=self.edge)
        if self.watermark is None or scan.top > self.watermark:
            return Position(watermark=scan.top, edge=scan.top_edge)
        if scan.top == self.watermark:
            return Position(watermark=self.watermark, edge=self.edge | scan.top_edge)
        return Position(watermark=self.watermark, edge=self.edge)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.watermark is not None:
            out["w"] = format_datetime(self.watermark)
            out["e"] = sorted(self.edge)
        if self.scan is not None:
            scan: dict[str, Any] = {"n": self.scan.next}
            if self.scan.top is not None:
                scan["t"] = format_datetime(self.scan.top)
                scan["te"] = sorted(self.scan.top_edge)
            out["s"] = scan
        return out

    @classmethod
    def from_json(cls, data: Any) -> Position:
        if not isinstance(data, dict) or set(data) - {"w", "e", "s"}:
            raise ValueError("a position must be an object with w, e and s")
        scan = None
        if "s" in data:
            raw = data["s"]
            if not isinstance(raw, dict) or set(raw) - {"n", "t", "te"}:
                raise ValueError("a scan must be an object with n, t and te")
            number = raw.get("n")
            if not isinstance(number, int) or isinstance(number, bool) or number < 0:
                raise ValueError("a scan's 'n' must be a non-negative integer")
            scan = Scan(next=number, top=_time(raw.get("t")), top_edge=_ids(raw.get("te", [])))
        return cls(watermark=_time(data.get("w")), edge=_ids(data.get("e", [])), scan=scan)


@attrs.frozen(kw_only=True)
class State:
    """The whole resume state: one position per category (by id) and one for mentions."""

    categories: dict[str, Position] = attrs.field(factory=dict)
    mentions: Position = Position()


def encode(state: State) -> str:
    """The opaque cursor string for ``state`` (compact, versioned JSON)."""
    payload = {
        "v": CURSOR_VERSION,
        "categories": {k: state.categories[k].to_json() for k in sorted(state.categories)},
        "mentions": state.mentions.to_json(),
    }
    return json.dumps(payload, separators=(",", ":"))


def decode(cursor: str | None) -> State:
    """Parse a cursor made by :func:`encode`; ``None`` starts from the beginning.

    Raises :class:`~convokit_core.MalformedPayload` (a :class:`~convokit_core.SyncError`)
    for anything else, so a corrupted cursor fails the source instead of silently
    syncing the forum again from the start.
    """
    if cursor is None:
        return State()
    try:
        data = json.loads(cursor)
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        if data.get("v") != CURSOR_VERSION:
            raise ValueError(f"unsupported version {data.get('v')!r}")
        if set(data) - {"v", "categories", "mentions"}:
            raise ValueError("unknown keys")
        categories = data.get("categories", {})
        if not isinstance(categories, dict) or not all(
            isinstance(k, str) and k.isdigit() for k in categories
        ):
            raise ValueError("'categories' must map category ids to positions")
        return State(
            categories={k: Position.from_json(v) for k, v in categories.items()},
            mentions=Position.from_json(data.get("mentions", {})),
        )
    except (ValueError, TypeError) as exc:
        shown = cursor[:60] + ("…" if len(cursor) > 60 else "")
        raise MalformedPayload(
            f"stored cursor {shown!r} is not a Discourse cursor ({exc}); reset the "
            "source's cursor to sync the forum again from the beginning"
        ) from None


def _time(value: Any) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"expected a timestamp, found {value!r}")
    return parse_datetime(value)


def _ids(value: Any) -> frozenset[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ValueError("expected a list of ids")
    return frozenset(value)
