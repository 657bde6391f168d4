"""Where a YouTube source resumes, and the cursor string that carries it.

Both listings the adapter reads — our uploads playlist and the comment threads of our
channel (``order=time``) — list the newest item first and are paged with opaque
``pageToken`` values. Each is read in *passes* from its first page down to the items an
earlier, completed pass delivered (the *watermark*). A :class:`Listing` records

- ``watermark`` / ``edge``: the newest time a completed pass delivered, and the ids
  delivered exactly at that time (ties);
- ``counts`` (threads only): for every thread whose top-level comment lies within the
  revisit window before the watermark, its publication time and the
  ``totalReplyCount`` last seen — a thread whose count changes is delivered again, so
  new replies to old threads are not missed;
- the running pass, if any: the ``pageToken`` of its next page and the newest and oldest
  items it delivered so far (``top``/``low`` with their ids), so an interrupted sync
  resumes the pass instead of starting it again.

The cursor is URL-safe base64 of compact, versioned JSON.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs

from convokit_core import MalformedPayload

__all__ = ["CURSOR_VERSION", "Listing", "State", "decode", "encode"]

CURSOR_VERSION = 1


def _ids(value: Iterable[str]) -> frozenset[str]:
    return frozenset(value)


def _counts(value: Mapping[str, tuple[int, int]]) -> dict[str, tuple[int, int]]:
    return dict(value)


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


@attrs.frozen(kw_only=True)
class Listing:
    """How far one newest-first listing has been read (see the module docstring)."""

    watermark: datetime | None = None
    edge: frozenset[str] = attrs.field(default=frozenset(), converter=_ids)
    counts: dict[str, tuple[int, int]] = attrs.field(factory=dict, converter=_counts)
    running: bool = False
    token: str | None = None
    top: datetime | None = None
    top_edge: frozenset[str] = attrs.field(default=frozenset(), converter=_ids)
    low: datetime | None = None
    low_edge: frozenset[str] = attrs.field(default=frozenset(), converter=_ids)

    def start(self) -> Listing:
        """This listing with a pass started at the first page (if none is running)."""
        if self.running:
            return self
        return attrs.evolve(
            self, running=True, token=None, top=None, top_edge=(), low=None, low_edge=()
        )

    def is_old(self, when: datetime, item_id: str) -> bool:
        """Whether a completed pass delivered the item (or one newer than it)."""
        if self.watermark is None:
            return False
        return when < self.watermark or (when == self.watermark and item_id in self.edge)

    def in_pass(self, when: datetime, item_id: str) -> bool:
        """Whether the running pass already went past the item."""
        if self.low is None:
            return False
        return when > self.low or (when == self.low and item_id in self.low_edge)

    def beyond(self, when: datetime, revisit: timedelta) -> bool:
        """Whether the item is older than anything this pass must look at."""
        return self.watermark is not None and when < self.watermark - revisit

    def delivered(self, items: Iterable[tuple[datetime, str]]) -> Listing:
        """The running pass after delivering ``items`` (``(time, id)`` pairs)."""
        top, top_edge = self.top, set(self.top_edge)
        low, low_edge = self.low, set(self.low_edge)
        for when, item_id in items:
            if top is None or when > top:
                top, top_edge = when, {item_id}
            elif when == top:
                top_edge.add(item_id)
            if low is None or when < low:
                low, low_edge = when, {item_id}
            elif when == low:
                low_edge.add(item_id)
        return attrs.evolve(self, top=top, top_edge=top_edge, low=low, low_edge=low_edge)

    def counted(self, thread_id: str, when: datetime, replies: int) -> Listing:
        """This listing with a thread's reply count recorded."""
        counts = dict(self.counts)
        counts[thread_id] = (_epoch(when), replies)
        return attrs.evolve(self, counts=counts)

    def completed(self, revisit: timedelta) -> Listing:
        """The running pass reached the watermark or the end: fold it in."""
        watermark, edge = self.watermark, self.edge
        if self.top is not None:
            if watermark is None or self.top > watermark:
                watermark, edge = self.top, self.top_edge
            elif self.top == watermark:
                edge = edge | self.top_edge
        counts = self.counts
        if watermark is not None:
            floor = _epoch(watermark - revisit)
            counts = {k: v for k, v in counts.items() if v[0] >= floor}
        return Listing(watermark=watermark, edge=edge, counts=counts)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.watermark is not None:
            out["w"] = _epoch(self.watermark)
            out["e"] = sorted(self.edge)
        if self.counts:
            out["c"] = {k: list(v) for k, v in sorted(self.counts.items())}
        if self.running:
            walk: dict[str, Any] = {"tok": self.token}
            if self.top is not None:
                walk["t"] = _epoch(self.top)
                walk["te"] = sorted(self.top_edge)
            if self.low is not None:
                walk["l"] = _epoch(self.low)
                walk["le"] = sorted(self.low_edge)
            out["pass"] = walk
        return out

    @classmethod
    def from_json(cls, data: Any) -> Listing:
        if not isinstance(data, dict) or set(data) - {"w", "e", "c", "pass"}:
            raise ValueError("a listing must be an object with w, e, c and pass")
        counts: dict[str, tuple[int, int]] = {}
        raw_counts = data.get("c", {})
        if not isinstance(raw_counts, dict):
            raise ValueError("'c' must be an object")
        for key, value in raw_counts.items():
            if (
                not key
                or not isinstance(value, list)
                or len(value) != 2
                or not all(_is_int(v) and v >= 0 for v in value)
            ):
                raise ValueError("'c' must map thread ids to [time, count]")
            counts[key] = (value[0], value[1])
        listing = cls(
            watermark=_time(data.get("w")), edge=_id_list(data.get("e", [])), counts=counts
        )
        if "pass" in data:
            walk = data["pass"]
            if not isinstance(walk, dict) or set(walk) - {"tok", "t", "te", "l", "le"}:
                raise ValueError("a pass must be an object with tok, t, te, l and le")
            token = walk.get("tok")
            if token is not None and (not isinstance(token, str) or not token):
                raise ValueError("a pass's page token must be a non-empty string or null")
            listing = attrs.evolve(
                listing,
                running=True,
                token=token,
                top=_time(walk.get("t")),
                top_edge=_id_list(walk.get("te", [])),
                low=_time(walk.get("l")),
                low_edge=_id_list(walk.get("le", [])),
            )
        return listing


@attrs.frozen(kw_only=True)
class State:
    """The whole resume state of a YouTube source."""

    uploads: Listing = Listing()
    threads: Listing = Listing()


def encode(state: State) -> str:
    """The opaque cursor string for ``state``."""
    payload = {
        "v": CURSOR_VERSION,
        "uploads": state.uploads.to_json(),
        "threads": state.threads.to_json(),
    }
    raw = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode(cursor: str | None) -> State:
    """Parse a cursor made by :func:`encode`; ``None`` starts from the beginning.

    Anything else raises :class:`~convokit_core.MalformedPayload`: a corrupted cursor
    fails the source instead of silently syncing the channel again from the start.
    """
    if cursor is None:
        return State()
    try:
        raw = base64.urlsafe_b64decode(cursor.encode("ascii") + b"=" * (-len(cursor) % 4))
        data = json.loads(raw)
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        if data.get("v") != CURSOR_VERSION:
            raise ValueError(f"unsupported version {data.get('v')!r}")
        if set(data) != {"v", "uploads", "threads"}:
            raise ValueError("expected the keys v, uploads and threads")
        return State(
            uploads=Listing.from_json(data["uploads"]),
            threads=Listing.from_json(data["threads"]),
        )
    except (binascii.Error, UnicodeError, ValueError, TypeError, OverflowError) as exc:
        shown = cursor[:40] + ("…" if len(cursor) > 40 else "")
        raise MalformedPayload(
            f"stored cursor {shown!r} is not a YouTube cursor ({exc}); reset the source's "
            "cursor to sync the channel again from the beginning"
        ) from None


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _time(value: Any) -> datetime | None:
    if value is None:
        return None
    if not _is_int(value) or value < 0:
        raise ValueError("expected a time in epoch seconds")
    return datetime.fromtimestamp(value, UTC)


def _id_list(value: Any) -> frozenset[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ValueError("expected a list of ids")
    return frozenset(value)
