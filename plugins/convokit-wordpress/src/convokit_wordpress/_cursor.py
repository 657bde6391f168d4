"""Where a WordPress source resumes, and the cursor string that carries it.

Posts and comments are each read in *passes*: a pass walks the listing page by page,
oldest first, from a fixed lower bound (``after``) to its last page. The state of a
listing is

- ``watermark``: the newest ``date_gmt`` (epoch seconds) a completed pass delivered;
- ``recent``: the ids delivered whose ``date_gmt`` lies within the lookback window
  before the watermark (so a re-read window never delivers them twice);
- ``walk``: the running pass, if any: its ``after`` value, the next page number, the
  newest time it delivered and the ids it delivered near that time.

An item is *new* when it is newer than ``watermark - lookback`` and not among the ids
already delivered. Everything older than that window counts as delivered.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import attrs

from convokit_core import MalformedPayload

__all__ = ["CURSOR_VERSION", "Listing", "State", "Walk", "decode", "encode"]

CURSOR_VERSION = 1


def _ids(value: Mapping[str, int]) -> dict[str, int]:
    return dict(value)


@attrs.frozen(kw_only=True)
class Walk:
    """A pass over one listing that has not reached its last page yet."""

    after: str | None
    """The ``after`` query value of every request of this pass (``None``: from the start)."""
    page: int = 1
    """The next page to request."""
    top: int | None = None
    """The newest ``date_gmt`` (epoch seconds) this pass delivered."""
    seen: dict[str, int] = attrs.field(factory=dict, converter=_ids)
    """Ids this pass delivered within the lookback window before ``top``, with their times."""


@attrs.frozen(kw_only=True)
class Listing:
    """How far one listing (posts or comments) has been read."""

    watermark: int | None = None
    recent: dict[str, int] = attrs.field(factory=dict, converter=_ids)
    walk: Walk | None = None

    def is_new(self, item_id: str, when: int, lookback: int) -> bool:
        """Whether an item was not delivered before (by a completed or the running pass)."""
        if self.watermark is not None and when <= self.watermark - lookback:
            return False
        if item_id in self.recent:
            return False
        return self.walk is None or item_id not in self.walk.seen

    def delivered(self, items: Mapping[str, int], lookback: int) -> Listing:
        """This listing after the running pass delivered ``items`` (id -> time)."""
        walk = self.walk or Walk(after=None)
        top = walk.top
        seen = dict(walk.seen)
        for item_id, when in items.items():
            seen[item_id] = when
            if top is None or when > top:
                top = when
        if top is not None:
            seen = {k: v for k, v in seen.items() if v > top - lookback}
        return attrs.evolve(self, walk=attrs.evolve(walk, top=top, seen=seen))

    def next_page(self) -> Listing:
        """The running pass continues at its next page."""
        walk = self.walk or Walk(after=None)
        return attrs.evolve(self, walk=attrs.evolve(walk, page=walk.page + 1))

    def completed(self, lookback: int) -> Listing:
        """The running pass reached its last page: fold it into the watermark."""
        walk = self.walk
        if walk is None:
            return self
        marks = [t for t in (self.watermark, walk.top) if t is not None]
        watermark = max(marks) if marks else None
        recent = {**self.recent, **walk.seen}
        if watermark is not None:
            recent = {k: v for k, v in recent.items() if v > watermark - lookback}
        return Listing(watermark=watermark, recent=recent, walk=None)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.watermark is not None:
            out["w"] = self.watermark
        if self.recent:
            out["r"] = dict(sorted(self.recent.items()))
        if self.walk is not None:
            walk: dict[str, Any] = {"a": self.walk.after, "p": self.walk.page}
            if self.walk.top is not None:
                walk["t"] = self.walk.top
            if self.walk.seen:
                walk["s"] = dict(sorted(self.walk.seen.items()))
            out["pass"] = walk
        return out

    @classmethod
    def from_json(cls, data: Any) -> Listing:
        if not isinstance(data, dict) or set(data) - {"w", "r", "pass"}:
            raise ValueError("a listing must be an object with w, r and pass")
        walk = None
        if "pass" in data:
            raw = data["pass"]
            if not isinstance(raw, dict) or set(raw) - {"a", "p", "t", "s"}:
                raise ValueError("a pass must be an object with a, p, t and s")
            after = raw.get("a")
            if after is not None and not isinstance(after, str):
                raise ValueError("a pass's 'a' must be a string or null")
            page = raw.get("p")
            if not isinstance(page, int) or isinstance(page, bool) or page < 1:
                raise ValueError("a pass's page must be a positive integer")
            walk = Walk(
                after=after,
                page=page,
                top=_opt_int(raw.get("t")),
                seen=_id_times(raw.get("s", {})),
            )
        return cls(
            watermark=_opt_int(data.get("w")),
            recent=_id_times(data.get("r", {})),
            walk=walk,
        )


@attrs.frozen(kw_only=True)
class State:
    """The whole resume state of a WordPress source."""

    posts: Listing = Listing()
    comments: Listing = Listing()
    authors: frozenset[str] = frozenset()
    """User ids of every author of a post delivered so far (their comments are ours)."""


def encode(state: State) -> str:
    """The opaque cursor string for ``state`` (compact, versioned JSON)."""
    payload = {
        "v": CURSOR_VERSION,
        "posts": state.posts.to_json(),
        "comments": state.comments.to_json(),
        "authors": sorted(state.authors, key=lambda a: (len(a), a)),
    }
    return json.dumps(payload, separators=(",", ":"))


def decode(cursor: str | None) -> State:
    """Parse a cursor made by :func:`encode`; ``None`` starts from the beginning.

    Raises :class:`~convokit_core.MalformedPayload` (a
    :class:`~convokit_core.SyncError`) for anything else: a corrupted cursor fails the
    source instead of silently syncing the blog again from the start.
    """
    if cursor is None:
        return State()
    try:
        data = json.loads(cursor)
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        if data.get("v") != CURSOR_VERSION:
            raise ValueError(f"unsupported version {data.get('v')!r}")
        if set(data) - {"v", "posts", "comments", "authors"}:
            raise ValueError("unknown keys")
        authors = data.get("authors", [])
        if not isinstance(authors, list) or not all(
            isinstance(a, str) and a.isdigit() for a in authors
        ):
            raise ValueError("'authors' must be a list of user ids")
        return State(
            posts=Listing.from_json(data.get("posts", {})),
            comments=Listing.from_json(data.get("comments", {})),
            authors=frozenset(authors),
        )
    except (ValueError, TypeError) as exc:
        shown = cursor[:60] + ("…" if len(cursor) > 60 else "")
        raise MalformedPayload(
            f"stored cursor {shown!r} is not a WordPress cursor ({exc}); reset the "
            "source's cursor to sync the blog again from the beginning"
        ) from None


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _opt_int(value: Any) -> int | None:
    if value is None:
        return None
    if not _is_int(value):
        raise ValueError(f"expected an integer time, found {value!r}")
    return int(value)


def _id_times(value: Any) -> dict[str, int]:
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and k and _is_int(v) for k, v in value.items()
    ):
        raise ValueError("expected an object of ids to integer times")
    return {k: int(v) for k, v in value.items()}
