"""Outcomes of one rule over one batch, as columns (one row per outcome).

Rows are in conversation order, and within a conversation in the order the python
engine's rule returns its outcomes. Strings (``what``, the rule label) are indices into
the run's string table; evidence is message row indices of the batch (``-1``: none);
``kind`` is the subject kind (:data:`CONVERSATION`, :data:`TURN`, :data:`MESSAGE`) and
``subj`` names the subject within its conversation: the turn number of a turn, the
message row of a message, ``0`` for the conversation itself. ``note`` is an object
array of strings (``""`` for none).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

__all__ = [
    "ALL_RANK",
    "ANY_RANK",
    "AT_RISK",
    "BREACHED",
    "CONVERSATION",
    "MESSAGE",
    "MET",
    "NOT_APPLICABLE",
    "PAUSED",
    "PENDING",
    "STATUS_NAMES",
    "SUBJECT_KINDS",
    "TURN",
    "Rows",
    "notes",
]

STATUS_NAMES = ("breached", "at_risk", "pending", "paused", "met", "not_applicable")
BREACHED, AT_RISK, PENDING, PAUSED, MET, NOT_APPLICABLE = range(6)
SUBJECT_KINDS = ("conversation", "turn", "message")
CONVERSATION, TURN, MESSAGE = range(3)
#: all_of: the worst outcome decides (lower = worse); any_of: the best (lower = better).
ALL_RANK = np.array([0, 1, 2, 3, 4, 99], dtype=np.int64)
ANY_RANK = np.array([4, 3, 1, 2, 0, 99], dtype=np.int64)

I64 = npt.NDArray[np.int64]
Mask = npt.NDArray[np.bool_]

_FIELDS = (
    "conv",
    "status",
    "kind",
    "subj",
    "started",
    "has_started",
    "deadline",
    "has_deadline",
    "stopped",
    "has_stopped",
    "elapsed",
    "limit",
    "has_limit",
    "ev1",
    "ev2",
    "what",
    "label",
    "note",
)


def notes(n: int, text: str = "") -> npt.NDArray[np.object_]:
    """An object array of ``n`` times ``text``."""
    out = np.empty(n, dtype=object)
    out[:] = text
    return out


class Rows:
    """Column arrays of outcomes (see the module docstring)."""

    __slots__ = _FIELDS

    conv: I64
    status: I64
    kind: I64
    subj: I64
    started: I64
    has_started: Mask
    deadline: I64
    has_deadline: Mask
    stopped: I64
    has_stopped: Mask
    elapsed: I64
    limit: I64
    has_limit: Mask
    ev1: I64
    ev2: I64
    what: I64
    label: I64
    note: npt.NDArray[np.object_]

    def __init__(self, **columns: npt.NDArray[np.generic]) -> None:
        for name in _FIELDS:
            setattr(self, name, columns[name])

    def __len__(self) -> int:
        return len(self.conv)

    def take(self, index: npt.NDArray[np.integer] | Mask) -> Rows:
        return Rows(**{name: getattr(self, name)[index] for name in _FIELDS})

    @staticmethod
    def concat(parts: Sequence[Rows]) -> Rows:
        return Rows(**{name: np.concatenate([getattr(p, name) for p in parts]) for name in _FIELDS})

    @staticmethod
    def not_applicable(conv: I64, what: int, label: int) -> Rows:
        """One ``not_applicable`` outcome per conversation in ``conv``."""
        n = len(conv)
        zeros = np.zeros(n, dtype=np.int64)
        no = np.zeros(n, dtype=bool)
        return Rows(
            conv=conv.astype(np.int64),
            status=np.full(n, NOT_APPLICABLE, dtype=np.int64),
            kind=zeros,
            subj=zeros,
            started=zeros,
            has_started=no,
            deadline=zeros,
            has_deadline=no,
            stopped=zeros,
            has_stopped=no,
            elapsed=zeros,
            limit=zeros,
            has_limit=no,
            ev1=np.full(n, -1, dtype=np.int64),
            ev2=np.full(n, -1, dtype=np.int64),
            what=np.full(n, what, dtype=np.int64),
            label=np.full(n, label, dtype=np.int64),
            note=notes(n),
        )

    def in_conversation_order(self) -> Rows:
        """Rows stably sorted by conversation."""
        if len(self.conv) < 2 or bool(np.all(self.conv[1:] >= self.conv[:-1])):
            return self
        return self.take(np.argsort(self.conv, kind="stable"))
