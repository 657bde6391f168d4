"""Newest-first, page-numbered listings read incrementally with a watermark.

Many platform APIs list items newest first, one numbered page at a time (Lemmy's
``page=``, WordPress's ``page=``/``per_page=``, Discourse's ``page=``, Reddit listings read
in order). :func:`walk_newest_first` reads such a listing in *passes*: a pass walks from
page 1 down to the items an earlier, completed pass already delivered (the
*watermark*), or to the end of the listing. The :class:`WatermarkCursor` it hands back
with every batch records where the running pass is (its upper bound, the page reached
and the oldest item delivered so far), so a sync interrupted mid-pass resumes it.

What the walk guarantees, while the platform keeps its listing sorted by time:

- **ties**: items are keyed by ``(time, id)``; the ids delivered exactly at the boundary
  times are recorded, so several items sharing one timestamp are neither lost nor
  delivered twice, at the watermark or at a page boundary;
- **arrivals while paging** push older items onto later pages: what a page repeats is
  recognised and dropped (no duplicates), and the arrivals themselves come with the
  next pass (no misses);
- **deletions while paging** pull older items onto earlier pages: when a page shares no
  item with what the pass has seen, the walk reads the pages before it again
  (*look-back*) and delivers what slid there (no misses). This costs one extra request
  per page; ``lookback=False`` saves it for append-only listings.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from datetime import datetime
from typing import Any, TypeVar

import attrs

from ._errors import MalformedPayload
from ._timeutil import format_datetime, parse_datetime, require_aware

__all__ = ["WatermarkCursor", "walk_newest_first"]

T = TypeVar("T")

_VERSION = 1


def _ids(value: Iterable[str]) -> frozenset[str]:
    if isinstance(value, str):
        raise TypeError(f"expected a collection of ids, got the string {value!r}")
    return frozenset(value)


def _opt_aware(value: datetime | None) -> datetime | None:
    return None if value is None else require_aware(value)


@attrs.frozen(kw_only=True)
class WatermarkCursor:
    """Where an incremental read of a newest-first listing stands.

    Attributes:
        watermark: the newest time delivered by the last completed pass (``None``:
            no pass completed yet). Items older than it are not read again.
        edge: ids delivered exactly at ``watermark``; other items at that time are new.
        page: the next page of the running pass, or ``None`` when no pass is running.
        top: the newest time the running pass delivered: the next watermark.
        top_edge: ids the running pass delivered at ``top``.
        low: the oldest time the running pass delivered so far.
        low_edge: ids the running pass delivered at ``low``.
    """

    watermark: datetime | None = attrs.field(default=None, converter=_opt_aware)
    edge: frozenset[str] = attrs.field(default=frozenset(), converter=_ids)
    page: int | None = None
    top: datetime | None = attrs.field(default=None, converter=_opt_aware)
    top_edge: frozenset[str] = attrs.field(default=frozenset(), converter=_ids)
    low: datetime | None = attrs.field(default=None, converter=_opt_aware)
    low_edge: frozenset[str] = attrs.field(default=frozenset(), converter=_ids)

    @property
    def running(self) -> bool:
        """Whether a pass was interrupted and resumes at :attr:`page`."""
        return self.page is not None

    def is_old(self, when: datetime, item_id: str) -> bool:
        """Whether a completed pass delivered the item (or one newer than it)."""
        if self.watermark is None:
            return False
        return when < self.watermark or (when == self.watermark and item_id in self.edge)

    def in_pass(self, when: datetime, item_id: str) -> bool:
        """Whether the running pass already covered the item: it is newer than the
        oldest item delivered so far, or one of the ids delivered at that time."""
        if self.low is None:
            return False
        return when > self.low or (when == self.low and item_id in self.low_edge)

    def encode(self) -> str:
        """The opaque string form: URL-safe base64 of a small versioned JSON object."""
        data: dict[str, Any] = {"v": _VERSION}
        if self.watermark is not None:
            data["w"] = format_datetime(self.watermark)
            data["e"] = sorted(self.edge)
        if self.page is not None:
            data["p"] = self.page
            if self.top is not None:
                data["t"] = format_datetime(self.top)
                data["te"] = sorted(self.top_edge)
            if self.low is not None:
                data["l"] = format_datetime(self.low)
                data["le"] = sorted(self.low_edge)
        raw = json.dumps(data, separators=(",", ":"), sort_keys=True).encode()
        return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")

    @classmethod
    def decode(cls, text: str | None, *, what: str = "cursor") -> WatermarkCursor:
        """Parse :meth:`encode`'s output; ``None`` is the start of everything.

        Anything else — garbage, a truncated cursor, another version — raises
        :class:`~convokit_core.MalformedPayload` naming ``what``: a corrupted cursor
        fails the source instead of silently reading everything again.
        """
        if text is None:
            return cls()
        try:
            raw = base64.urlsafe_b64decode(text.encode("ascii") + b"=" * (-len(text) % 4))
            data = json.loads(raw)
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
            if data.get("v") != _VERSION:
                raise ValueError(f"unknown version {data.get('v')!r}")
            page = data.get("p")
            if page is not None and (
                not isinstance(page, int) or isinstance(page, bool) or page < 0
            ):
                raise ValueError(f"bad page {page!r}")
            return cls(
                watermark=_time(data.get("w")),
                edge=_id_list(data.get("e", [])),
                page=page,
                top=_time(data.get("t")),
                top_edge=_id_list(data.get("te", [])),
                low=_time(data.get("l")),
                low_edge=_id_list(data.get("le", [])),
            )
        except (binascii.Error, UnicodeError, ValueError, TypeError) as exc:
            raise MalformedPayload(
                f"{what} {text[:40]!r} is not a cursor this adapter wrote ({exc}); reset the "
                "source's cursor to read it from the beginning"
            ) from None

    def _delivered(self, items: Sequence[tuple[datetime, str]]) -> WatermarkCursor:
        """This pass after delivering ``items``: its top and low move out to them."""
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

    def _completed(self) -> WatermarkCursor:
        """The cursor once the running pass reached the watermark or the end."""
        if self.top is None or (self.watermark is not None and self.top < self.watermark):
            return WatermarkCursor(watermark=self.watermark, edge=self.edge)
        if self.watermark is not None and self.top == self.watermark:
            return WatermarkCursor(watermark=self.top, edge=self.edge | self.top_edge)
        return WatermarkCursor(watermark=self.top, edge=self.top_edge)


def _time(value: object) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"bad time {value!r}")
    return parse_datetime(value)


def _id_list(value: object) -> frozenset[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError("expected a list of ids")
    return frozenset(value)


async def walk_newest_first(
    fetch_page: Callable[[int], Awaitable[Sequence[T]]],
    *,
    key: Callable[[T], tuple[datetime, str]],
    cursor: WatermarkCursor | None = None,
    first_page: int = 1,
    page_size: int | None = None,
    lookback: bool = True,
) -> AsyncIterator[tuple[list[T], WatermarkCursor]]:
    """Read what is new in a newest-first, page-numbered listing.

    Args:
        fetch_page: ``await fetch_page(n)`` returns the items of page ``n``, newest
            first (parse and validate them there: raise ``MalformedPayload``).
        key: an item's ``(time, id)``; the time must be timezone-aware.
        cursor: where the last batch left off (``None``: from the beginning).
        first_page: the number of the listing's first page (1 for most APIs).
        page_size: the items a full page holds; a shorter page ends the listing
            without asking for the next (``None``: only an empty page ends it).
        lookback: read earlier pages again when a page shares nothing with what the
            pass has seen, so items pulled up by deletions are not missed.

    Yields ``(items, cursor)``: the items not delivered before (each once, in listing
    order) and the cursor that resumes right after them. A page with nothing new is
    not yielded; when the pass completes, its final cursor comes with the last items, or
    alone (``([], cursor)``) if the last page held nothing new. A pass that finds
    nothing new at all yields nothing.
    """
    state = cursor or WatermarkCursor()
    last = state
    if not state.running:
        state = attrs.evolve(state, page=first_page, top=None, top_edge=(), low=None, low_edge=())
    while True:
        number = state.page if state.page is not None else first_page
        items = list(await fetch_page(number))
        keys = [_key(key, item) for item in items]
        pages = [(items, keys)]
        if (
            lookback
            and state.low is not None
            and not any(state.in_pass(when, i) for when, i in keys)
        ):
            # No overlap with what this pass has seen: deletions may have pulled items
            # onto the pages before. Read them again, back to an overlap.
            back = number - 1
            while back >= first_page:
                older = list(await fetch_page(back))
                older_keys = [_key(key, item) for item in older]
                pages.insert(0, (older, older_keys))
                if any(state.in_pass(when, i) for when, i in older_keys):
                    break
                back -= 1
        fresh: list[T] = []
        fresh_keys: list[tuple[datetime, str]] = []
        seen_ids: set[str] = set()
        for page_items, page_keys in pages:
            for item, (when, item_id) in zip(page_items, page_keys, strict=True):
                if item_id in seen_ids or state.in_pass(when, item_id):
                    continue
                if state.is_old(when, item_id):
                    continue
                seen_ids.add(item_id)
                fresh.append(item)
                fresh_keys.append((when, item_id))
        state = state._delivered(fresh_keys)
        reached = state.watermark is not None and any(when < state.watermark for when, _ in keys)
        ended = not items or reached or (page_size is not None and len(items) < page_size)
        if ended:
            done = state._completed()
            if fresh or done != last:
                yield fresh, done
            return
        state = attrs.evolve(state, page=number + 1)
        if fresh:
            yield fresh, state
            last = state


def _key(key: Callable[[T], tuple[datetime, str]], item: T) -> tuple[datetime, str]:
    when, item_id = key(item)
    if not isinstance(item_id, str) or not item_id:
        raise MalformedPayload(f"an item's id must be a non-empty string, found {item_id!r}")
    try:
        return require_aware(when, "an item's time"), item_id
    except (TypeError, ValueError) as exc:
        raise MalformedPayload(str(exc)) from None
