"""walk_newest_first: ties, arrivals and deletions while paging, resumes mid-pass."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from convokit_core import MalformedPayload, WatermarkCursor, walk_newest_first

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
Item = tuple[datetime, str]


class Listing:
    """A newest-first, page-numbered listing; ``between`` runs before every request.

    Ties keep a fixed order of their own (not the id order), as a database's would.
    """

    def __init__(self, items: Sequence[Item], page_size: int, seed: int = 0) -> None:
        self.page_size = page_size
        self.rank = random.Random(seed)
        self.items: list[tuple[datetime, float, str]] = []
        for when, item_id in items:
            self.add(when, item_id)
        self.between: Callable[[Listing], None] = lambda listing: None
        self.requests: list[int] = []

    def add(self, when: datetime, item_id: str) -> None:
        self.items.append((when, self.rank.random(), item_id))
        self.items.sort(key=lambda t: (t[0], t[1]), reverse=True)

    def delete(self, item_id: str) -> None:
        self.items = [t for t in self.items if t[2] != item_id]

    def ids(self) -> set[str]:
        return {t[2] for t in self.items}

    async def page(self, number: int) -> list[Item]:
        self.between(self)
        self.requests.append(number)
        start = (number - 1) * self.page_size
        return [(w, i) for w, _, i in self.items[start : start + self.page_size]]


def walk(
    listing: Listing,
    cursor: WatermarkCursor | None = None,
    *,
    stop_after: int | None = None,
    lookback: bool = True,
) -> list[tuple[list[Item], WatermarkCursor]]:
    async def go() -> list[tuple[list[Item], WatermarkCursor]]:
        out = []
        async for batch in walk_newest_first(
            listing.page,
            key=lambda item: item,
            cursor=cursor,
            page_size=listing.page_size,
            lookback=lookback,
        ):
            out.append(batch)
            if stop_after is not None and len(out) >= stop_after:
                break
        return out

    return asyncio.run(go())


def delivered(batches: Sequence[tuple[list[Item], WatermarkCursor]]) -> list[str]:
    return [item_id for items, _ in batches for _, item_id in items]


# Many items on few distinct times: ties everywhere, at page boundaries and watermarks.
times = st.integers(min_value=0, max_value=6).map(lambda m: T0 + timedelta(minutes=m))
listings = st.lists(times, min_size=1, max_size=30).map(
    lambda ts: [(t, f"i{n:03d}") for n, t in enumerate(ts)]
)
sizes = st.integers(min_value=1, max_value=5)
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(items=listings, size=sizes, seed=st.integers(0, 1000), crash=st.integers(1, 8))
def test_ties_every_item_once_and_the_next_pass_reads_only_what_is_new(
    items: list[Item], size: int, seed: int, crash: int
) -> None:
    listing = Listing(items, size, seed)
    # A first pass, interrupted after `crash` batches and resumed from the last cursor.
    first = walk(listing, stop_after=crash)
    rest = walk(listing, first[-1][1]) if first else []
    ids = delivered(first) + delivered(rest)
    assert Counter(ids) == Counter(i for _, i in items)
    final = (rest or first)[-1][1]
    assert not final.running
    # Nothing new: the next pass yields nothing at all.
    assert walk(listing, final) == []
    # New items, some exactly at the watermark time (a tie with what was delivered).
    newest = max(w for w, _ in items)
    listing.add(newest, "late-tie")
    listing.add(newest + timedelta(minutes=1), "newer")
    again = walk(listing, final)
    assert sorted(delivered(again)) == ["late-tie", "newer"]
    assert walk(listing, again[-1][1]) == []


@SETTINGS
@given(
    items=listings,
    size=sizes,
    seed=st.integers(0, 1000),
    arrivals=st.lists(st.integers(0, 3), min_size=1, max_size=12),
    crash=st.integers(1, 8),
)
def test_items_arriving_while_paging_are_neither_missed_nor_repeated(
    items: list[Item], size: int, seed: int, arrivals: list[int], crash: int
) -> None:
    listing = Listing(items, size, seed)
    schedule = list(arrivals)
    counter = iter(range(10_000))

    def arrive(listing: Listing) -> None:
        # Before each request, 0-3 new items on top (newer than everything listed).
        count = schedule.pop(0) if schedule else 0
        for _ in range(count):
            newest = max(w for w, _, _ in listing.items)
            listing.add(newest + timedelta(seconds=1), f"new{next(counter):03d}")

    listing.between = arrive
    first = walk(listing, stop_after=crash)
    rest = walk(listing, first[-1][1]) if first else []
    ids = delivered(first) + delivered(rest)
    assert len(ids) == len(set(ids)), "an item was delivered twice"
    original = {i for _, i in items}
    assert original <= set(ids), f"missed {sorted(original - set(ids))}"
    # The next pass, with no more arrivals, brings every arrival the first one left.
    listing.between = lambda listing: None
    final = (rest or first)[-1][1]
    later = delivered(walk(listing, final))
    assert not set(later) & set(ids)
    assert set(ids) | set(later) == listing.ids()


@SETTINGS
@given(
    items=listings,
    size=sizes,
    seed=st.integers(0, 1000),
    deletions=st.lists(st.integers(0, 3), min_size=1, max_size=12),
    crash=st.integers(1, 8),
)
def test_deletions_while_paging_lose_nothing_that_stays(
    items: list[Item], size: int, seed: int, deletions: list[int], crash: int
) -> None:
    listing = Listing(items, size, seed)
    schedule = list(deletions)
    rng = random.Random(seed)
    deleted: set[str] = set()

    def delete(listing: Listing) -> None:
        # Before each request, 0-3 items anywhere in the listing are deleted.
        count = schedule.pop(0) if schedule else 0
        for _ in range(min(count, len(listing.items))):
            victim = rng.choice(sorted(listing.ids()))
            listing.delete(victim)
            deleted.add(victim)

    listing.between = delete
    first = walk(listing, stop_after=crash)
    rest = walk(listing, first[-1][1]) if first else []
    ids = delivered(first) + delivered(rest)
    assert len(ids) == len(set(ids)), "an item was delivered twice"
    kept = {i for _, i in items} - deleted
    assert kept <= set(ids), f"missed {sorted(kept - set(ids))}"


def test_without_lookback_a_deletion_can_hide_an_item() -> None:
    """Why look-back exists: the failure it prevents, shown on a fixed case."""
    items = [(T0 - timedelta(minutes=n), f"i{n}") for n in range(6)]

    def run(lookback: bool) -> set[str]:
        listing = Listing(items, 2)
        calls = iter(range(100))

        def delete_after_first_page(listing: Listing) -> None:
            if next(calls) == 1:
                listing.delete("i0")  # page 2 now starts at i3: i2 slid onto page 1

        listing.between = delete_after_first_page
        return set(delivered(walk(listing, lookback=lookback)))

    assert "i2" not in run(lookback=False)
    assert {"i0", "i1", "i2", "i3", "i4", "i5"} == run(lookback=True)


def test_a_pass_ends_at_the_watermark_without_reading_further() -> None:
    items = [(T0 - timedelta(minutes=n), f"i{n}") for n in range(20)]
    listing = Listing(items, 3)
    final = walk(listing)[-1][1]
    listing.add(T0 + timedelta(minutes=1), "fresh")
    listing.requests.clear()
    (batch,) = walk(listing, final)
    assert [i for _, i in batch[0]] == ["fresh"]
    assert listing.requests == [1]


def test_cursor_round_trip_and_garbage() -> None:
    cursor = WatermarkCursor(
        watermark=T0, edge={"a", "b"}, page=3, top=T0, top_edge={"c"}, low=T0, low_edge={"d"}
    )
    assert WatermarkCursor.decode(cursor.encode()) == cursor
    assert WatermarkCursor.decode(None) == WatermarkCursor()
    text = cursor.encode()
    for garbage in ("garbage!", text[: len(text) // 2], text[:-1], "e30", "eyJ2Ijo5fQ"):
        with pytest.raises(MalformedPayload, match="not a cursor this adapter wrote"):
            WatermarkCursor.decode(garbage, what="lemmy cursor")


def test_an_item_with_a_naive_time_is_a_malformed_payload() -> None:
    async def page(number: int) -> list[Item]:
        return [(datetime(2024, 3, 1, 12, 0), "x")] if number == 1 else []

    async def go() -> None:
        async for _ in walk_newest_first(page, key=lambda item: item):
            pass

    with pytest.raises(MalformedPayload, match="timezone-aware"):
        asyncio.run(go())
