"""The resume state and its opaque form."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest
from convokit_bluesky._cursor import Position, State, decode, encode

from convokit_core import MalformedPayload

T0 = datetime(2024, 11, 4, 9, 0, tzinfo=UTC)


def test_round_trip() -> None:
    state = State(
        mentions=Position(
            watermark=T0,
            edge=frozenset({"at://a", "at://b"}),
            scan_cursor="opaque-api-cursor",
            scan_top=T0 + timedelta(hours=1),
            scan_top_edge=frozenset({"at://c"}),
        ),
        own_posts=Position(watermark=T0 - timedelta(microseconds=1)),
    )
    assert decode(encode(state)) == state
    assert decode(None) == State()
    assert encode(State()) == encode(decode(encode(State())))


def test_new_and_behind() -> None:
    position = Position(watermark=T0, edge=frozenset({"at://seen"}))
    assert position.is_new(T0 + timedelta(seconds=1), "at://x")
    assert position.is_new(T0, "at://other-at-the-same-moment")
    assert not position.is_new(T0, "at://seen")
    assert not position.is_new(T0 - timedelta(seconds=1), "at://x")
    assert position.is_behind(T0 - timedelta(seconds=1))
    assert not position.is_behind(T0)
    assert Position().is_new(T0, "at://x")
    assert not Position().is_behind(T0)


def test_scan_lifecycle() -> None:
    start = Position(watermark=T0, edge=frozenset({"at://old"}))
    later = T0 + timedelta(hours=2)
    running = start.seen([(later, "at://n1"), (T0 + timedelta(hours=1), "at://n2")]).advanced("c2")
    assert running.scan_cursor == "c2"
    assert running.watermark == T0  # unchanged until the scan completes
    done = running.seen([(later, "at://n3")]).advanced(None)
    assert done == Position(watermark=later, edge=frozenset({"at://n1", "at://n3"}))
    # A scan that found nothing new leaves the position as it was.
    assert start.advanced(None) == start
    # A scan whose newest item ties the watermark adds to its edge.
    tied = start.seen([(T0, "at://tie")]).advanced(None)
    assert tied == Position(watermark=T0, edge=frozenset({"at://old", "at://tie"}))


@pytest.mark.parametrize(
    "cursor",
    [
        "not-a-cursor",
        base64.urlsafe_b64encode(b"[1, 2]").decode(),
        base64.urlsafe_b64encode(json.dumps({"v": 99}).encode()).decode(),
        base64.urlsafe_b64encode(json.dumps({"v": 1, "mentions": {"w": "soon"}}).encode()).decode(),
        base64.urlsafe_b64encode(json.dumps({"v": 1, "mentions": {"c": 5}}).encode()).decode(),
    ],
)
def test_bad_cursors_are_malformed(cursor: str) -> None:
    with pytest.raises(MalformedPayload, match="not a Bluesky sync cursor"):
        decode(cursor)
