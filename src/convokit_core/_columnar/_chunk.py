"""The kept findings of one batch as columns, turned into outcome tuples only when read.

:class:`~convokit_core._policy._findings.FindingList` holds a :class:`Chunk` as one
entry and spills it as raw column bytes; :meth:`Chunk.blocks` yields the very blocks
``(commitment index, platform, conversation, channel, outcomes)`` the python engine
would have added, in the same order, when the findings are read. A run that only counts
(or keeps findings it never reads in full) builds no tuple per finding.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from itertools import pairwise
from typing import Any

import numpy as np
import numpy.typing as npt

from ._rows import MESSAGE, STATUS_NAMES, SUBJECT_KINDS, TURN, Rows

__all__ = ["Chunk"]

I64 = npt.NDArray[np.int64]
Mask = npt.NDArray[np.bool_]

_INT_COLUMNS = (
    "conv",
    "status",
    "kind",
    "subj",
    "started",
    "deadline",
    "stopped",
    "elapsed",
    "limit",
    "ev1",
    "ev2",
    "what",
    "label",
    "commitment",
)
_BOOL_COLUMNS = ("has_started", "has_deadline", "has_stopped", "has_limit")
_STATUS_OBJECTS = np.array(STATUS_NAMES, dtype=object)
_KIND_OBJECTS = np.array(SUBJECT_KINDS, dtype=object)


class Chunk:
    """Kept outcome rows of one batch, sorted in report order (see the module docstring).

    ``conv`` indexes ``platforms``/``cids``/``channels``; ``ev1``/``ev2`` and the
    ``subj`` of a message subject index ``ids`` (``-1``: none); ``what``/``label``
    index ``strings``; ``notes`` is ``None`` when every note is empty.
    """

    __slots__ = (
        *_INT_COLUMNS,
        *_BOOL_COLUMNS,
        "channels",
        "cids",
        "ids",
        "notes",
        "platforms",
        "strings",
    )

    conv: I64
    status: I64
    kind: I64
    subj: I64
    started: I64
    deadline: I64
    stopped: I64
    elapsed: I64
    limit: I64
    ev1: I64
    ev2: I64
    what: I64
    label: I64
    commitment: I64
    has_started: Mask
    has_deadline: Mask
    has_stopped: Mask
    has_limit: Mask
    platforms: list[str]
    cids: list[str]
    channels: list[str | None]
    ids: list[str]
    notes: list[str] | None
    strings: list[str]

    def __len__(self) -> int:
        return len(self.conv)

    @classmethod
    def of(
        cls,
        rows: Rows,
        commitment: I64,
        *,
        ids: Sequence[str],
        platforms: list[str],
        cids: list[str],
        channels: list[str | None],
        strings: list[str],
    ) -> Chunk:
        """A chunk of ``rows`` (already in report order) of a batch whose message ids
        are ``ids``; only the ids the rows refer to are kept."""
        self = cls()
        message = rows.kind == MESSAGE
        mark = np.zeros(len(ids) + 1, dtype=bool)  # the extra last slot takes the -1s
        mark[rows.ev1] = True
        mark[rows.ev2] = True
        mark[rows.subj[message]] = True
        mark[-1] = False
        used = np.flatnonzero(mark)
        self.ids = list(map(ids.__getitem__, used.tolist()))
        new_index = np.cumsum(mark) - 1
        new_index[-1] = -1

        self.ev1 = new_index[rows.ev1]
        self.ev2 = new_index[rows.ev2]
        subj = rows.subj.copy()
        subj[message] = new_index[rows.subj[message]]
        self.subj = subj
        for name in ("conv", "status", "kind", "started", "deadline", "stopped", "elapsed"):
            setattr(self, name, getattr(rows, name))
        for name in ("limit", "what", "label", *_BOOL_COLUMNS):
            setattr(self, name, getattr(rows, name))
        self.commitment = commitment
        self.notes = None
        if len(rows) and any(rows.note.tolist()):
            self.notes = rows.note.tolist()
        self.platforms, self.cids, self.channels = platforms, cids, channels
        self.strings = strings
        return self

    # -- reading ---------------------------------------------------------------------

    def blocks(self) -> Iterator[tuple[int, str | None, str | None, str | None, list[Any]]]:
        """The blocks of this chunk, one per conversation and commitment."""
        n = len(self)
        if not n:
            return
        ids, cids = self.ids, self.cids
        conv = self.conv.tolist()
        subjects = [cids[c] for c in conv]
        for i in np.flatnonzero(self.kind == TURN).tolist():
            subjects[i] = f"{subjects[i]}#{int(self.subj[i])}"
        for i in np.flatnonzero(self.kind == MESSAGE).tolist():
            subjects[i] = ids[int(self.subj[i])]
        evidence: list[tuple[str, ...]] = [
            (ids[a], ids[b]) if b >= 0 else ((ids[a],) if a >= 0 else ())
            for a, b in zip(self.ev1.tolist(), self.ev2.tolist(), strict=True)
        ]
        strings = np.array(self.strings, dtype=object)
        outcomes = list(
            zip(
                _STATUS_OBJECTS[self.status].tolist(),
                _KIND_OBJECTS[self.kind].tolist(),
                subjects,
                _optional(self.started, self.has_started),
                _optional(self.deadline, self.has_deadline),
                _optional(self.stopped, self.has_stopped),
                self.elapsed.tolist(),
                _optional(self.limit, self.has_limit),
                evidence,
                strings[self.what].tolist(),
                self.notes if self.notes is not None else [""] * n,
                strings[self.label].tolist(),
                strict=True,
            )
        )
        change = np.ones(n, dtype=bool)
        change[1:] = (self.conv[1:] != self.conv[:-1]) | (
            self.commitment[1:] != self.commitment[:-1]
        )
        bounds = np.flatnonzero(change).tolist()
        bounds.append(n)
        which = self.commitment.tolist()
        platforms, channels = self.platforms, self.channels
        for lo, hi in pairwise(bounds):
            c = conv[lo]
            yield which[lo], platforms[c], cids[c], channels[c], outcomes[lo:hi]

    # -- spilling --------------------------------------------------------------------

    def dump(self) -> tuple[tuple[Any, ...], list[npt.NDArray[Any]]]:
        """What ``marshal`` writes (the lists, and each column's dtype) and the columns
        themselves, each in the smallest integer type holding its values, for the
        caller to write as raw bytes."""
        columns: list[npt.NDArray[Any]] = []
        kinds: list[str] = []
        for name in _INT_COLUMNS:
            values = getattr(self, name)
            small = _smallest(values)
            columns.append(np.ascontiguousarray(values, dtype=small))
            kinds.append(small.str)
        for name in _BOOL_COLUMNS:
            columns.append(np.ascontiguousarray(getattr(self, name), dtype=np.bool_))
            kinds.append("|b1")
        lists = (
            len(self),
            kinds,
            self.platforms,
            self.cids,
            self.channels,
            self.ids,
            self.notes,
            self.strings,
        )
        return lists, columns

    @classmethod
    def load(cls, lists: tuple[Any, ...], buffers: Sequence[bytes]) -> Chunk:
        """The chunk :meth:`dump` gave, from its lists and the columns' bytes."""
        self = cls()
        _, kinds, self.platforms, self.cids, self.channels, self.ids, notes, strings = lists
        names = (*_INT_COLUMNS, *_BOOL_COLUMNS)
        for name, kind, raw in zip(names, kinds, buffers, strict=True):
            setattr(self, name, np.frombuffer(raw, dtype=np.dtype(kind)))
        self.notes = notes
        self.strings = strings
        return self


def _smallest(values: npt.NDArray[Any]) -> np.dtype[Any]:
    """The smallest signed integer type holding every value."""
    if not len(values):
        return np.dtype(np.int8)
    lo, hi = int(values.min()), int(values.max())
    for kind in (np.int8, np.int16, np.int32):
        info = np.iinfo(kind)
        if info.min <= lo and hi <= info.max:
            return np.dtype(kind)
    return np.dtype(np.int64)


def _optional(values: I64, present: Mask) -> list[int | None]:
    """Python ints, ``None`` where ``present`` is False."""
    if bool(present.all()):
        return values.tolist()  # type: ignore[no-any-return]
    return [v if p else None for v, p in zip(values.tolist(), present.tolist(), strict=True)]
