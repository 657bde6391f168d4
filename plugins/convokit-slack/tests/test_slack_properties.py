"""Properties: ts strings are exact, cursors round-trip, any paging gives the same set."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import httpx
from convokit_slack import ChannelState, State, ts_key, ts_to_datetime
from convokit_slack._ts import format_ts
from convokit_slack.testing import generated_workspace
from hypothesis import given, settings
from hypothesis import strategies as st
from slack_helpers import collect, slack_config

TOKEN = "xoxb-2718-2818-propertyTestToken"

seconds = st.integers(min_value=0, max_value=4_102_444_800)  # up to 2100
micros = st.integers(min_value=0, max_value=999_999)


@settings(deadline=None)
@given(seconds, micros)
def test_a_ts_round_trips_and_is_exact(sec: int, micro: int) -> None:
    ts = format_ts((sec, micro))
    assert ts_key(ts) == (sec, micro)
    assert len(ts.split(".")[1]) == 6  # trailing zeros kept
    expected = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=sec, microseconds=micro)
    assert ts_to_datetime(ts) == expected


@settings(deadline=None)
@given(st.lists(st.tuples(seconds, micros), min_size=2, max_size=20))
def test_ts_order_is_numeric_order(keys: list[tuple[int, int]]) -> None:
    texts = [format_ts(k) for k in keys]
    assert sorted(texts, key=ts_key) == sorted(texts, key=Decimal)


ts_text = st.tuples(seconds, micros).map(format_ts)


@settings(deadline=None)
@given(
    st.dictionaries(
        st.from_regex(r"[CGD][A-Z0-9]{8}", fullmatch=True),
        st.builds(
            lambda w, scan, th: ChannelState(
                watermark=w,
                scan_top=scan[0] if scan else None,
                scan_low=scan[1] if scan else None,
                threads=th,
            ),
            st.none() | ts_text,
            st.none() | st.tuples(ts_text, ts_text),
            st.dictionaries(ts_text, ts_text, max_size=4),
        ),
        max_size=3,
    )
)
def test_a_cursor_round_trips(channels: dict[str, ChannelState]) -> None:
    state = State(team="T07NWIND1", channels=channels)
    assert State.decode(state.encode()) == state


@settings(max_examples=15, deadline=None)
@given(
    threads=st.integers(min_value=1, max_value=7),
    page_size=st.integers(min_value=1, max_value=6),
    lookback_hours=st.sampled_from([0, 2, 24 * 7]),
    cap=st.sampled_from([2, 15, 999]),
)
def test_any_paging_gives_exactly_the_set_and_resumes_from_every_cursor(
    threads: int, page_size: int, lookback_hours: int, cap: int
) -> None:
    fake = generated_workspace(token=TOKEN, threads=threads, limit_cap=cap)
    config = slack_config(
        token=TOKEN,
        channels=["C0SUPPORT", "#billing"],
        page_size=page_size,
        thread_lookback=f"{lookback_hours}h",
    )
    transport = httpx.MockTransport(fake.handler)
    pages = collect(config, transport=transport)
    ids = [m.id for p in pages for m in p.messages]
    assert len(ids) == len(set(ids))
    assert set(ids) == fake.expected_ids()
    assert all(len(p) for p in pages)
    seen: set[str] = set()
    for page in pages:
        seen |= {m.id for m in page.messages}
        rest = collect(config, page.cursor, transport=transport)
        assert seen | {m.id for p in rest for m in p.messages} == fake.expected_ids()
    assert collect(config, pages[-1].cursor, transport=transport) == []
