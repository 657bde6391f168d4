"""The ``columnar`` engine: ``unsupported`` and ``check`` (the :class:`Engine` protocol)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Sequence
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from .._calendars import Calendar
from .._cancel import checkpoint
from .._gc import gc_paused
from .._policy._facts import CountingPolicy
from .._policy._findings import CheckReport, FindingList
from ._arrow import ColumnarTables, store_batches
from ._calendar import CumulativeCalendar
from ._chunk import Chunk
from ._prefetch import prefetched
from ._reader import F_OTHER, F_OUTBOUND, ConvBatch, adbc_reader, batches
from ._rows import STATUS_NAMES, Rows
from ._rules import BatchState, evaluate_rule, observe_rule, unsupported_rule, uses_statuses

if TYPE_CHECKING:
    from .._policy._evaluate import Classifier, Commitment

__all__ = ["ColumnarEngine"]

log = logging.getLogger("convokit.policy")


#: Messages per batch (a batch always holds whole conversations).
BATCH_ROWS = 65_536


class ColumnarEngine:
    """Whole conversations in column batches; every built-in rule vectorised.

    Covers the eight built-in rules (every counting policy, ``pause_when``,
    ``warn_before``, business calendars), ``where``/``unless`` scopes and
    ``all_of``/``any_of`` of those, and plugin rules with a columnar form, on
    file-backed SQLite stores and stores that hand over Arrow tables
    (:class:`~._arrow.ColumnarTables`, e.g. PostgreSQL). A third-party rule without a
    form, a calendar or counting policy of another type is refused by
    :meth:`unsupported` (``auto`` then runs the python engine); any other store is
    handed to the python engine (the log says so).
    """

    reads: Literal["store", "dataset"] = "store"

    def unsupported(self, commitments: Sequence[Commitment]) -> str | None:
        forms = plugin_forms()
        for c in commitments:
            rule = unsupported_rule(c.rule, forms)
            if rule is not None:
                return f"commitment {c.name!r}: rule {rule!r} has no columnar form"
            if type(c.calendar) is not Calendar:
                return (
                    f"commitment {c.name!r}: calendar type {type(c.calendar).__name__!r} "
                    "has no columnar form"
                )
            if type(c.counting) is not CountingPolicy:
                return (
                    f"commitment {c.name!r}: counting policy {type(c.counting).__name__!r} "
                    "has no columnar form"
                )
        return None

    def check(
        self,
        source: Any,
        commitments: Sequence[Commitment],
        *,
        as_of: datetime,
        only: Collection[str] | None,
        classifiers: Sequence[Classifier],
        progress: Callable[[int], None] | None,
    ) -> CheckReport:
        from .._policy._evaluate import (
            PROGRESS_EVERY,
            Evaluation,
            check_commitments,
        )
        from .._storage._sqlite import SQLiteStore

        why = self.unsupported(commitments)
        if why is not None:
            from .._errors import ConfigError

            raise ConfigError(f"--engine columnar: {why}")
        direct = isinstance(source, ColumnarTables)
        if direct:
            log.info(
                "engine columnar: store %r hands over Arrow tables; the columnar engine "
                "reads it directly",
                getattr(source, "url", None),
            )
        elif not isinstance(source, SQLiteStore) or source.path == ":memory:":
            log.info(
                "engine columnar: store %r is not a SQLite file; the python engine evaluates it",
                getattr(source, "url", None),
            )
            return check_commitments(
                source,
                commitments,
                as_of=as_of,
                only=only,
                classifiers=classifiers,
                progress=progress,
            )
        forms = plugin_forms()
        channel_level = [i for i, c in enumerate(commitments) if c.rule.level == "channel"]
        run = Evaluation(
            commitments,
            as_of=as_of,
            keep=only,
            team=source.iter_team_members(),
            channels=source.iter_channels() if channel_level else (),
            classifiers=classifiers,
        )
        conversation_level = [i for i in range(len(commitments)) if i not in channel_level]
        kinds: dict[str, str] = {}
        if run.uses_stakeholders:
            kinds = {s.id: str(s.kind) for s in source.iter_stakeholders()}
        findings = FindingList(run.metas)
        strings: dict[str, int] = {}
        table: list[str] = []

        def string(text: str) -> int:
            found = strings.get(text)
            if found is None:
                found = strings[text] = len(table)
                table.append(text)
            return found

        keep_codes = np.array(
            [run.keep is None or name in run.keep for name in STATUS_NAMES], dtype=bool
        )
        calendars: dict[int, CumulativeCalendar] = {}
        unreported = 0  # conversations done, not yet reported (per PROGRESS_EVERY)
        with gc_paused():
            con = None if direct else _connect(source)
            read = partial(store_batches, source) if con is None else partial(batches, con)
            if con is not None:  # a store of Arrow tables sends the statuses anyway
                statuses = any(uses_statuses(c.rule) for c in run.commitments)
                read = partial(read, with_statuses=statuses)
            read = partial(
                read,
                as_of_us=run.as_of_us,
                kinds=kinds,
                with_tags=run.uses_tags or run.needs_text,
                with_text=run.needs_text,
                with_channels=bool(channel_level),
                batch_rows=BATCH_ROWS,
            )
            try:
                for batch in prefetched(read) if PREFETCH else read():
                    checkpoint()
                    extra = _classify(batch, run.classifiers) if run.classifiers else None
                    state = BatchState(
                        batch,
                        as_of_us=run.as_of_us,
                        strings=string,
                        calendars=calendars,
                        classified=extra,
                        forms=forms,
                    )
                    for i in channel_level:
                        observe_rule(run.commitments[i].rule, state, run.contexts[i])
                    results = [
                        (i, evaluate_rule(run.commitments[i].rule, state, run.contexts[i]))
                        for i in conversation_level
                    ]
                    _collect(batch, results, run.counts, keep_codes, table, findings)
                    run.conversations += batch.n
                    unreported += batch.n
                    while progress is not None and unreported >= PROGRESS_EVERY:
                        progress(PROGRESS_EVERY)
                        unreported -= PROGRESS_EVERY
            finally:
                if con is not None:
                    con.close()
            if progress is not None and unreported:
                progress(unreported)
            run.collect_channels(findings)
        return CheckReport(
            as_of=as_of,
            commitments=run.summaries(),
            findings=findings,
            store=getattr(source, "url", None),
            only=run.keep,
        )


#: Read the next batches on a thread of their own while the current one is evaluated
#: (the store's reading in C runs without the GIL); tests switch it off and on.
PREFETCH = True


def plugin_forms() -> dict[str, Any]:
    """Columnar forms registered with ``register_rules(name, factory, columnar=...)``."""
    from .._errors import PluginError
    from .._plugins import get_plugin_manager

    forms: dict[str, Any] = {}
    for reg in get_plugin_manager().rules:
        form = reg.options.get("columnar")
        if form is None:
            continue
        if not callable(form):
            raise PluginError(
                f"plugin {reg.plugin!r} registered rule {reg.name!r} with a columnar form "
                f"that is not callable: {form!r}"
            )
        forms[reg.name] = form
    return forms


def _connect(store: Any) -> Any:
    """The fastest reader of a SQLite store: ADBC when installed, else ``sqlite3``."""
    if USE_ADBC:
        database, uri = store._database(read_only=True)
        # the guard of a snapshot over several connections
        writable = None if store.read_only else store._file_uri("rw")
        reader = adbc_reader(database, uri, writable=writable, immutable=store._immutable)
        if reader is not None:
            return reader
    return store.connect_reader()


#: Read SQLite through ADBC when the driver is installed (tests switch it off to check
#: the ``sqlite3`` streams give the same findings).
USE_ADBC = True


def _classify(batch: ConvBatch, classifiers: Sequence[Classifier]) -> dict[int, tuple[str, ...]]:
    """Tags the classifiers give the untagged inbound messages with a text, by message
    row (``classify_threads``: each classifier once for the batch; sorted)."""
    from .._policy._evaluate import run_classifiers

    found: dict[int, tuple[str, ...]] = {}
    assert batch.texts is not None
    assert batch.tags is not None
    texts, tags = batch.texts, batch.tags
    inbound = (batch.flags & (F_OUTBOUND | F_OTHER)) == 0
    where = [i for i in np.flatnonzero(inbound).tolist() if not tags[i] and texts[i]]
    if not where:
        return found
    batch_texts = [texts[i] for i in where]
    per_message = run_classifiers(batch_texts, classifiers)
    for i, acc in zip(where, per_message, strict=True):
        if acc:
            found[i] = tuple(sorted(acc))
    return found


def _collect(
    batch: ConvBatch,
    results: Sequence[tuple[int, Rows]],
    counts: list[dict[str, int]],
    keep_codes: np.ndarray[Any, np.dtype[np.bool_]],
    table: list[str],
    findings: FindingList,
) -> None:
    """Count every outcome; keep the kept ones as outcome tuples, conversation by
    conversation and commitment by commitment (the python engine's order)."""
    kept: list[Rows] = []
    which: list[np.ndarray[Any, np.dtype[np.int64]]] = []
    for i, rows in results:
        tally = np.bincount(rows.status, minlength=len(STATUS_NAMES)).tolist()
        for code, name in enumerate(STATUS_NAMES):
            if tally[code]:
                counts[i][name] += int(tally[code])
        mask = keep_codes[rows.status]
        if mask.all():
            kept.append(rows)
        elif mask.any():
            kept.append(rows.take(mask))
        else:
            continue
        which.append(np.full(len(kept[-1]), i, dtype=np.int64))
    if not kept:
        return
    rows = Rows.concat(kept)
    commitment = np.concatenate(which)
    order = np.lexsort((np.arange(len(rows)), commitment, rows.conv))
    findings.add_chunk(
        Chunk.of(
            rows.take(order),
            commitment[order],
            ids=batch.ids,
            platforms=batch.platform,
            cids=batch.cid,
            channels=batch.channel,
            strings=table,
        )
    )
