"""One SparkSession for the whole test session (local[2], 2 shuffle partitions, UI off),
and the generated dataset the parity tests share.

Without a Java runtime the Spark tests skip with the install command; with ``CI`` set
they fail instead, so CI never passes without having run them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from convokit_core import (
    Batch,
    Channel,
    Conversation,
    Message,
    StatusChange,
    export_parquet,
    open_store,
)
from convokit_core.testing import HistorySpec, generate_history

AS_OF = datetime(2024, 3, 31, 12, tzinfo=UTC)


def need_java() -> None:
    from convokit_spark._check import JAVA_HINT, _java_missing

    if _java_missing():
        if os.environ.get("CI"):
            pytest.fail(f"CI is set and {JAVA_HINT}")
        pytest.skip(JAVA_HINT)


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    need_java()
    from convokit_spark import spark_session

    session = spark_session(master="local[2]", shuffle_partitions=2)
    yield session
    session.stop()


def _t(day: int, hour: float) -> datetime:
    return datetime(2024, 3, day, tzinfo=UTC) + timedelta(hours=hour)


def _msg(mid: str, cid: str, author: str, direction: str, at: datetime, **kw: Any) -> Message:
    return Message(
        id=mid,
        platform=kw.pop("platform", "twitter"),
        conversation_id=cid,
        author_id=author,
        direction=direction,
        sent_at=at,
        **kw,
    )


def extra_batch() -> Batch:
    """Edge cases on top of the generated history."""
    messages = [
        # derived conversation (no record) touching two channels
        _msg(
            "x-d1-1",
            "d1",
            "u-derived",
            "inbound",
            _t(20, 9),
            channel_id="acme_help",
            text="where can I find my invoice?",
        ),
        _msg("x-d1-2", "d1", "acme", "outbound", _t(20, 10), channel_id="acme"),
        _msg("x-d1-3", "d1", "u-derived", "inbound", _t(20, 11), channel_id="acme_help"),
        # derived, first message outbound without a channel
        _msg("x-d2-1", "d2", "acme", "outbound", _t(21, 9)),
        _msg("x-d2-2", "d2", "u-d2", "inbound", _t(21, 10), channel_id="acme"),
        _msg("x-d2-3", "d2", "u-d2", "inbound", _t(21, 10)),  # same instant
        # ids in binary order: "Z" < "a" < "é"
        _msg("x-a-1", "a", "u-a", "inbound", _t(22, 9), channel_id="acme"),
        _msg("x-Z-1", "Z", "u-Z", "inbound", _t(22, 9), channel_id="acme"),
        _msg("x-e-1", "é", "u-e", "inbound", _t(22, 9), channel_id="acme_billing"),
        _msg(
            "x-e-2",
            "é",
            "acme",
            "outbound",
            _t(22, 12),
            channel_id="acme_billing",
            visibility="private",
        ),
        # only after as_of: no thread at all
        _msg("x-late-1", "late", "u-late", "inbound", AS_OF + timedelta(hours=1)),
        # another platform, its own channel
        _msg("x-m-1", "m1", "u-m", "inbound", _t(25, 9), platform="mastodon", channel_id="acme@m"),
        _msg(
            "x-m-2",
            "m1",
            "acme@m",
            "outbound",
            _t(25, 15),
            platform="mastodon",
            channel_id="acme@m",
        ),
        _msg(
            "x-m-3",
            "m1",
            "acme@m",
            "outbound",
            AS_OF + timedelta(hours=2),
            platform="mastodon",
            channel_id="acme@m",
        ),
    ]
    x1 = Conversation(
        id="x1",
        platform="twitter",
        channel_id="acme",
        stakeholder_id="u-x1",
        owner_id="agent03",
        status="resolved",
        tags=("vip",),
        messages=[
            _msg(
                "x-x1-1", "x1", "u-x1", "inbound", _t(26, 9), channel_id="acme", tags=("complaint",)
            ),
            _msg("x-x1-2", "x1", "acme", "outbound", _t(26, 10), channel_id="acme_billing"),
            _msg("x-x1-3", "x1", "acme", "outbound", _t(26, 13)),  # on the record's channel
        ],
        # resolved only after as_of: open at as_of
        status_history=[
            StatusChange(
                platform="twitter",
                conversation_id="x1",
                at=AS_OF + timedelta(days=1),
                status="resolved",
            )
        ],
    )
    channels = [
        Channel(
            id="acme_quiet",
            platform="twitter",
            handle="acme_quiet",
            created_at=datetime(2024, 3, 1, tzinfo=UTC),
        ),
        Channel(id="acme_unborn", platform="twitter", handle="acme_unborn"),
        Channel(
            id="acme@m",
            platform="mastodon",
            handle="acme",
            created_at=datetime(2023, 1, 1, tzinfo=UTC),
        ),
    ]
    return Batch(messages=messages, conversations=[x1], channels=channels)


@pytest.fixture(scope="session")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """A SQLite store (a few thousand messages and the edge cases) and its dataset."""
    root = tmp_path_factory.mktemp("generated")
    url = f"sqlite:///{root / 'store.db'}"
    spec = HistorySpec(conversations=300, seed=7, tag_complaints=False)
    with open_store(url) as store:
        with store.transaction() as tx:
            for batch in generate_history(spec=spec):
                tx.write(batch)
            tx.write(extra_batch())
        export_parquet(store, root / "dataset")
    return url, root / "dataset"
