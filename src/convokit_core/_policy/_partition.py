"""Threads and outcomes from sorted Arrow batches: the per-partition work of a
distributed engine (Spark's ``mapInArrow``, or any engine that can hand a worker the rows
of whole conversations in order).

The input is one *row stream* (:data:`ROW_COLUMNS`), sorted by ``(platform,
conversation_id, kind, at, id, status)``, where ``kind`` is :data:`RECORD` (a stored
conversation record), :data:`STATUS` (a status change) or :data:`MESSAGE`. The rows of a
conversation are consecutive; a conversation may straddle two batches. Threads are built
exactly as :mod:`._fastpath` builds them from SQLite (derived conversations included),
and evaluated by the same :class:`~._evaluate.Evaluation` the local engines use.

The output is *outcome rows* (:data:`OUTCOME_SCHEMA`): kept outcomes with their sort keys,
per-status counts of every outcome, routes (which channel buckets a conversation touches,
for the channel-level stage) and per-partition statistics.
"""

from __future__ import annotations

import gc
import zlib
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from itertools import islice
from typing import Any

import pyarrow as pa

from ._evaluate import Classifier, Commitment, Evaluation
from ._facts import Thread, stored_thread

__all__ = [
    "COUNT",
    "MESSAGE",
    "OUTCOME",
    "OUTCOME_SCHEMA",
    "RECORD",
    "ROUTE",
    "ROW_COLUMNS",
    "STATS",
    "STATUS",
    "bucket_of",
    "channel_outcomes",
    "conversation_outcomes",
    "read_threads",
]

#: ``kind`` of a row-stream row.
RECORD, STATUS, MESSAGE = 0, 1, 2
#: A row that only makes its bucket exist in the channel stage (a known channel's owner).
MARKER = -1

#: Columns of the row stream, by name (extra columns are ignored). ``at`` is int64
#: microseconds (a message's ``sent_at``, a status change's ``at``); on RECORD rows
#: ``channel_id``, ``tags``, ``stakeholder_id``, ``owner_id`` and ``status`` are the
#: record's; ``tags`` and ``text`` may be all null when no rule reads them.
ROW_COLUMNS = (
    "platform",
    "conversation_id",
    "kind",
    "at",
    "id",
    "direction",
    "visibility",
    "automated",
    "tags",
    "channel_id",
    "text",
    "author_id",
    "stakeholder_id",
    "owner_id",
    "status",
)

#: ``row`` of an outcome row.
OUTCOME, COUNT, ROUTE, STATS = 0, 1, 2, 3

OUTCOME_SCHEMA = pa.schema(
    [
        ("row", pa.int8()),
        ("meta", pa.int32()),
        ("platform", pa.string()),
        ("conversation", pa.string()),
        ("channel", pa.string()),
        ("pos", pa.int32()),
        ("status", pa.string()),
        ("subject_kind", pa.string()),
        ("subject", pa.string()),
        ("started", pa.int64()),
        ("deadline", pa.int64()),
        ("stopped", pa.int64()),
        ("elapsed", pa.int64()),
        ("limit", pa.int64()),
        ("evidence", pa.list_(pa.string())),
        ("what", pa.string()),
        ("note", pa.string()),
        ("rule", pa.string()),
        ("n", pa.int64()),
    ]
)
"""Outcome rows. ``row`` says what a row is:

- OUTCOME: a kept outcome of commitment ``meta`` (``platform``, ``conversation``,
  ``channel`` as the local report has them; ``pos`` its place among the outcomes of the
  same commitment and subject) with the 12 :class:`~._findings.Outcome` fields;
- COUNT: ``n`` outcomes of commitment ``meta`` had ``status`` (kept or not);
- ROUTE: conversation ``(platform, conversation)`` touches channel bucket ``n``;
- STATS: ``n`` conversations were evaluated.
"""

_FLUSH = 20_000
_CHUNK = 1000  # threads per collect() call (and classification batch)


def bucket_of(platform: str, channel: str, buckets: int) -> int:
    """The channel-stage bucket of a channel key (the same in every process)."""
    return zlib.crc32(f"{platform}\x00{channel}".encode()) % buckets


def read_threads(
    batches: Iterable[pa.RecordBatch],
    *,
    as_of_us: int,
    kinds: Mapping[str, str] | None = None,
    with_channels: bool = True,
    on_group: Callable[[Any], None] | None = None,
    group_column: str | None = None,
) -> Iterator[Thread]:
    """The threads of a sorted row stream (see the module doc).

    ``with_channels``: whether message tuples carry their channel (a derived
    conversation's channel is read either way). Conversations with no message at or
    before ``as_of_us`` give no thread, as in the local engines. With ``group_column``
    (e.g. a channel bucket sorted first), ``on_group(value)`` is called before the first
    thread of each new value of that column (and with rows of kind MARKER).
    """
    kinds = kinds or {}
    key: tuple[str, str] | None = None
    record: tuple[Any, ...] | None = None
    history: list[tuple[int, str]] = []
    has_later = False
    messages: list[tuple[Any, ...]] = []
    first_channel: str | None = None
    first_inbound_author: str | None = None
    group: Any = object()

    def build() -> Thread | None:
        if key is None or not messages:
            return None
        platform, cid = key
        return stored_thread(
            platform=platform,
            id=cid,
            record=record,
            derived=(first_channel, first_inbound_author),
            history=history,
            has_later=has_later,
            messages=messages,
            kinds=kinds,
        )

    for batch in batches:
        n = batch.num_rows
        if not n:
            continue
        col = batch.column
        names = batch.schema.names
        platforms = col(names.index("platform")).to_pylist()
        cids = col(names.index("conversation_id")).to_pylist()
        row_kinds = col(names.index("kind")).to_pylist()
        ats = col(names.index("at")).to_pylist()
        ids = col(names.index("id")).to_pylist()
        directions = col(names.index("direction")).to_pylist()
        channels = col(names.index("channel_id")).to_pylist()
        authors = col(names.index("author_id")).to_pylist()
        statuses = col(names.index("status")).to_pylist()
        tag_lists = col(names.index("tags")).to_pylist()
        groups = col(names.index(group_column)).to_pylist() if group_column else None
        tuples = list(
            zip(
                ids,
                ats,
                directions,
                col(names.index("visibility")).to_pylist(),
                col(names.index("automated")).to_pylist(),
                tag_lists,
                channels if with_channels else [None] * n,
                col(names.index("text")).to_pylist(),
                strict=True,
            )
        )
        stakeholders = owners = None
        for i in range(n):
            if groups is not None and groups[i] != group:
                thread = build()
                if thread is not None:
                    yield thread
                key = None
                messages = []
                group = groups[i]
                if on_group is not None:
                    on_group(group)
            k = row_kinds[i]
            if k == MARKER:
                continue
            this = (platforms[i], cids[i])
            if this != key:
                thread = build()
                if thread is not None:
                    yield thread
                key = this
                record = None
                history = []
                has_later = False
                messages = []
                first_channel = None
                first_inbound_author = None
            if k == MESSAGE:
                if not messages:
                    first_channel = channels[i]
                if first_inbound_author is None and directions[i] == "inbound":
                    first_inbound_author = authors[i]
                messages.append(tuples[i])
            elif k == STATUS:
                if ats[i] <= as_of_us:
                    history.append((ats[i], statuses[i]))
                else:
                    has_later = True
            else:
                if stakeholders is None:
                    stakeholders = col(names.index("stakeholder_id")).to_pylist()
                    owners = col(names.index("owner_id")).to_pylist()
                assert owners is not None
                tags = tag_lists[i]
                record = (
                    channels[i],
                    stakeholders[i],
                    owners[i],
                    statuses[i],
                    tuple(tags) if tags else (),
                )
    thread = build()
    if thread is not None:
        yield thread


class _Rows:
    """Outcome rows, column by column, flushed as record batches."""

    def __init__(self, metas: Sequence[int]) -> None:
        self.metas = metas  # local meta index -> the policy's index
        self.cols: list[list[Any]] = [[] for _ in OUTCOME_SCHEMA.names]
        self.size = 0

    def add_block(
        self,
        meta_index: int,
        platform: str | None,
        conversation: str | None,
        channel: str | None,
        outcomes: list[Any],
    ) -> None:
        c = self.cols
        meta = self.metas[meta_index]
        for pos, o in enumerate(outcomes):
            c[0].append(OUTCOME)
            c[1].append(meta)
            c[2].append(platform)
            c[3].append(conversation)
            c[4].append(channel)
            c[5].append(pos)
            for j in range(12):
                c[6 + j].append(o[j])
            c[18].append(None)
        self.size += len(outcomes)

    def append_raw(
        self,
        meta_index: int,
        outcome: Any,
        platform: str | None,
        conversation: str | None,
        channel: str | None,
    ) -> None:
        self.add_block(meta_index, platform, conversation, channel, [outcome])

    def other(self, row: int, meta: int | None, n: int, **fields: Any) -> None:
        names = OUTCOME_SCHEMA.names
        values = {"row": row, "meta": meta, "n": n, **fields}
        for j, name in enumerate(names):
            self.cols[j].append(values.get(name))
        self.size += 1

    def flush(self) -> pa.RecordBatch:
        cols = self.cols
        cols[14] = [None if e is None else list(e) for e in cols[14]]
        batch = pa.RecordBatch.from_arrays(
            [pa.array(v, type=f.type) for v, f in zip(cols, OUTCOME_SCHEMA, strict=True)],
            schema=OUTCOME_SCHEMA,
        )
        self.cols = [[] for _ in OUTCOME_SCHEMA.names]
        self.size = 0
        return batch


def _counts(rows: _Rows, run: Evaluation, indices: Sequence[int]) -> None:
    for local, counts in enumerate(run.counts):
        for status, n in counts.items():
            if n:
                rows.other(COUNT, indices[local], n, status=status)


def conversation_outcomes(
    batches: Iterable[pa.RecordBatch],
    *,
    commitments: Sequence[Commitment],
    indices: Sequence[int],
    as_of: datetime,
    keep: Collection[str] | None,
    team: Iterable[Any] = (),
    channels: Iterable[Any] = (),
    classifiers: Sequence[Classifier] = (),
    kinds: Mapping[str, str] | None = None,
    with_channels: bool = True,
    route_buckets: int = 0,
) -> Iterator[pa.RecordBatch]:
    """Evaluate the conversation-level ``commitments`` (the policy's commitments number
    ``indices``) over a sorted row stream; yield outcome rows.

    With ``route_buckets``, a ROUTE row names each channel bucket a conversation
    touches (its channel, and every message's channel)."""
    run = Evaluation(
        commitments,
        as_of=as_of,
        keep=keep,
        team=team,
        channels=channels,
        classifiers=classifiers,
    )
    rows = _Rows(indices)
    threads = read_threads(batches, as_of_us=run.as_of_us, kinds=kinds, with_channels=with_channels)
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        while True:
            chunk = list(islice(threads, _CHUNK))
            if not chunk:
                break
            if commitments:
                run.collect(chunk, rows)  # type: ignore[arg-type]
            else:
                run.conversations += len(chunk)
            if route_buckets:
                for thread in chunk:
                    touched = {thread.channel_id}
                    for m in thread.messages:
                        touched.add(m[6] or thread.channel_id)
                    touched.discard(None)
                    found = {bucket_of(thread.platform, c, route_buckets) for c in touched if c}
                    for b in sorted(found):
                        rows.other(ROUTE, None, b, platform=thread.platform, conversation=thread.id)
            if rows.size >= _FLUSH:
                yield rows.flush()
    finally:
        if was_enabled:
            gc.enable()
    _counts(rows, run, indices)
    rows.other(STATS, None, run.conversations)
    yield rows.flush()


def channel_outcomes(
    batches: Iterable[pa.RecordBatch],
    *,
    commitments: Sequence[Commitment],
    indices: Sequence[int],
    as_of: datetime,
    keep: Collection[str] | None,
    buckets: int,
    team: Iterable[Any] = (),
    channels: Iterable[Any] = (),
    classifiers: Sequence[Classifier] = (),
    kinds: Mapping[str, str] | None = None,
    with_channels: bool = True,
    bucket_column: str = "bucket",
) -> Iterator[pa.RecordBatch]:
    """Evaluate the channel-level ``commitments`` over a row stream sorted by
    ``(bucket, platform, conversation_id, …)``: per bucket, every routed thread is
    observed, then each rule finishes and only the channel keys of that bucket are
    counted and kept (each key has one bucket, so every channel is reported once)."""
    team = list(team)
    channels = list(channels)
    keep_set = None if keep is None else frozenset(keep)
    rows = _Rows(indices)
    state: dict[str, Any] = {"run": None, "bucket": None}

    def new_run() -> Evaluation:
        return Evaluation(
            commitments,
            as_of=as_of,
            keep=None,
            team=team,
            channels=channels,
            classifiers=classifiers,
        )

    def finish() -> None:
        run: Evaluation | None = state["run"]
        if run is None:
            return
        b = state["bucket"]
        for local, commitment in enumerate(run.commitments):
            ctx = run.contexts[local]
            pos = 0
            for platform, channel, outcome in commitment.rule.finish(ctx):
                if bucket_of(platform, channel, buckets) != b:
                    continue
                rows.other(COUNT, indices[local], 1, status=outcome[0])
                if keep_set is None or outcome[0] in keep_set:
                    rows.append_raw(local, outcome, platform, None, channel)
                    rows.cols[5][-1] = pos
                    pos += 1
        state["run"] = None

    def on_group(value: Any) -> None:
        finish()
        state["run"] = new_run()
        state["bucket"] = value

    as_of_us = new_run().as_of_us
    threads = read_threads(
        batches,
        as_of_us=as_of_us,
        kinds=kinds,
        with_channels=with_channels,
        on_group=on_group,
        group_column=bucket_column,
    )
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        # one thread at a time: the reader starts the next bucket's run (on_group) only
        # once the last thread of the previous bucket has been observed
        for thread in threads:
            run: Evaluation = state["run"]
            run.collect((thread,), rows)  # type: ignore[arg-type]
            if rows.size >= _FLUSH:
                yield rows.flush()
    finally:
        if was_enabled:
            gc.enable()
    finish()
    yield rows.flush()
