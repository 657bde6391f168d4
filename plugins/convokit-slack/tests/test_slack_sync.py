"""Whole syncs against the fake Slack: threads over time, slow tiers, resume."""

from __future__ import annotations

from typing import Any

import httpx
from convokit_slack import State
from convokit_slack.testing import FakeChannel, FakeSlack, generated_workspace
from slack_helpers import Sleeps, collect, slack_config

from convokit_core import Direction

TOKEN = "xoxp-5150-6160-userTokenForSyncTests"
DAY = 86_400
BASE = 1_767_225_600  # 2026-01-01T00:00:00Z


def msg(user: str, ts: str, text: str, **extra: Any) -> dict[str, Any]:
    return {"type": "message", "user": user, "text": text, "ts": ts, "team": "T0ACME001", **extra}


def reply(user: str, ts: str, parent: str, text: str) -> dict[str, Any]:
    return msg(user, ts, text, thread_ts=parent, parent_user_id="U0CUST001")


def workspace(*messages: dict[str, Any]) -> FakeSlack:
    return FakeSlack(
        token=TOKEN,
        channels=[FakeChannel(id="C0SUPPORT", name="support", messages=messages)],
        user_id="U0ME00001",
        bot_id=None,
    )


def run(fake: FakeSlack, cursor: str | None = None, **config: Any) -> list[Any]:
    values: dict[str, Any] = {"token": TOKEN, "channels": ["C0SUPPORT"], "page_size": 2}
    values.update(config)
    return collect(
        slack_config(**values),
        cursor,
        team=frozenset(),
        transport=httpx.MockTransport(fake.handler),
    )


def ids(pages: list[Any]) -> list[str]:
    return [m.id for p in pages for m in p.messages]


OLD = f"{BASE}.000100"
NEW = f"{BASE + 3 * DAY}.000100"
HISTORY = (
    msg("U0CUST001", OLD, "is anyone there?"),
    reply("U0ME00001", f"{BASE + 600}.000000", OLD, "yes, here"),
    msg("U0CUST002", NEW, "a newer question"),
)


def test_a_reply_in_an_older_thread_is_found_through_its_latest_reply() -> None:
    first = run(workspace(*HISTORY))
    assert sorted(ids(first)) == sorted(f"T0ACME001/C0SUPPORT/{m['ts']}" for m in HISTORY)
    state = State.decode(first[-1].cursor).channels["C0SUPPORT"]
    assert state.watermark == NEW
    assert state.threads == {OLD: f"{BASE + 600}.000000"}

    # Days later the customer answers in the old thread: history lists no new parent.
    late = reply("U0CUST001", f"{BASE + 4 * DAY}.000000", OLD, "still broken")
    fake = workspace(*HISTORY, late)
    second = run(fake, first[-1].cursor)
    assert f"T0ACME001/C0SUPPORT/{late['ts']}" in ids(second)
    found = {m.id: m for p in second for m in p.messages}[f"T0ACME001/C0SUPPORT/{late['ts']}"]
    assert found.conversation_id == f"T0ACME001/C0SUPPORT/{OLD}"
    assert found.direction is Direction.INBOUND
    replies = [r for r in fake.requests if r.url.path.endswith("conversations.replies")]
    assert {r.url.params["ts"] for r in replies} == {OLD}  # only the thread that moved
    assert State.decode(second[-1].cursor).channels["C0SUPPORT"].threads[OLD] == late["ts"]

    # Nothing new: the final cursor yields nothing, and re-reads no thread.
    again = workspace(*HISTORY, late)
    assert run(again, second[-1].cursor) == []
    assert not [r for r in again.requests if r.url.path.endswith("conversations.replies")]


def test_a_thread_older_than_the_lookback_window_is_not_revisited() -> None:
    first = run(workspace(*HISTORY), thread_lookback="1d")
    late = reply("U0CUST001", f"{BASE + 4 * DAY}.000000", OLD, "still broken")
    second = run(workspace(*HISTORY, late), first[-1].cursor, thread_lookback="1d")
    assert second == []  # the documented limit: OLD is 3 days before the newest parent
    # A broadcast reply ("also send to channel") shows in history, so it is seen anyway.
    broadcast = dict(late, subtype="thread_broadcast")
    third = run(workspace(*HISTORY, broadcast), first[-1].cursor, thread_lookback="1d")
    assert f"T0ACME001/C0SUPPORT/{late['ts']}" in ids(third)


def test_since_limits_the_first_sync_and_the_lookback() -> None:
    pages = run(workspace(*HISTORY), since="2026-01-02T00:00:00Z")
    assert ids(pages) == [f"T0ACME001/C0SUPPORT/{NEW}"]
    fake = workspace(*HISTORY)
    assert run(fake, pages[-1].cursor, since="2026-01-02T00:00:00Z") == []
    history = [r for r in fake.requests if r.url.path.endswith("conversations.history")]
    assert all(r.url.params["oldest"] >= "1767312000" for r in history)


def test_a_full_sync_yields_each_message_once_and_no_empty_page() -> None:
    fake = generated_workspace(token=TOKEN, threads=12)
    pages = collect(
        slack_config(token=TOKEN, channels=["C0SUPPORT", "C0BILLING"], page_size=3),
        team=frozenset({"U0TEAMKC1"}),
        transport=httpx.MockTransport(fake.handler),
    )
    all_ids = ids(pages)
    assert len(all_ids) == len(set(all_ids)) == len(fake.expected_ids())
    assert set(all_ids) == fake.expected_ids()
    assert all(len(p) > 0 for p in pages)
    assert sum(len(p.channels) for p in pages) == 2  # one Channel record per channel
    # Resuming from the final cursor yields nothing new.
    rerun = generated_workspace(token=TOKEN, threads=12)
    assert (
        collect(
            slack_config(token=TOKEN, channels=["C0SUPPORT", "C0BILLING"], page_size=3),
            pages[-1].cursor,
            transport=httpx.MockTransport(rerun.handler),
        )
        == []
    )


def test_a_slow_tier_app_is_throttled_but_finishes() -> None:
    # Slack caps 'limit' at 15 and answers every other history/replies call with 429.
    fake = generated_workspace(token=TOKEN, threads=25, limit_cap=15, ratelimit_every=2)
    sleeps = Sleeps()
    pages = collect(
        slack_config(token=TOKEN, channels=["C0SUPPORT"]),
        team=frozenset({"U0TEAMKC1"}),
        sleep=sleeps,
        transport=httpx.MockTransport(fake.handler),
    )
    expected = {i for i in fake.expected_ids() if "/C0SUPPORT/" in i}
    assert set(ids(pages)) == expected
    limited = [
        r for r in fake.requests if "conversations." in r.url.path and "info" not in r.url.path
    ]
    history = [r for r in limited if r.url.path.endswith("conversations.history")]
    assert {r.url.params["limit"] for r in history} == {"100"}  # asked; the fake caps it to 15
    assert len(history) >= 2 * 2  # at least two pages of 15, each answered 429 once
    assert len(sleeps.waits) == len(limited) // 2
    assert all(w >= 30 for w in sleeps.waits)  # Retry-After: 30 honoured every time
