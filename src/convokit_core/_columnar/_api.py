"""What a rule plugin's columnar form sees and returns (``register_rules(...,
columnar=...)``): :class:`ColumnarBatch` in, :class:`ColumnarOutcomes` out.

A columnar form is a function ``evaluate(rule, batch, context) -> ColumnarOutcomes``
that computes, for every conversation of a batch at once, exactly the outcomes the
rule's ``evaluate(thread, context)`` returns conversation by conversation. The engine
then counts them, keeps them and reports them as it does the built-in rules'.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from .._policy._context import RuleContext
from .._policy._facts import CountingPolicy
from ._reader import F_AUTOMATED, F_NOTE, F_OTHER, F_OUTBOUND, F_PRIVATE
from ._rows import STATUS_NAMES, SUBJECT_KINDS, Rows, notes
from ._rules import BatchState, _clock

__all__ = ["ColumnarBatch", "ColumnarOutcomes"]

I64 = npt.NDArray[np.int64]
Mask = npt.NDArray[np.bool_]


class ColumnarBatch:
    """Whole conversations of one batch, as columns (read-only).

    Conversations are numbered ``0 .. n_conversations - 1`` in store order; messages
    ``0 .. n_messages - 1`` are in ``(conversation, sent_at, id)`` order and message
    ``i`` belongs to conversation ``conversation[i]`` (conversation ``k`` holds
    messages ``offsets[k]:offsets[k + 1]``). Only messages sent by ``as_of`` are here.
    Instants are microseconds since the epoch (UTC).
    """

    def __init__(self, state: BatchState) -> None:
        self._state = state
        b = state.batch
        flags = b.flags
        self.as_of_us: int = state.as_of_us
        self.n_conversations: int = b.n
        self.n_messages: int = len(b.at)
        self.offsets: I64 = b.offsets
        self.conversation: I64 = b.conv
        self.sent_at: I64 = b.at
        self.inbound: Mask = (flags & (F_OUTBOUND | F_OTHER)) == 0
        """Messages from the stakeholder (``direction == "inbound"``)."""
        self.outbound: Mask = (flags & (F_OUTBOUND | F_OTHER)) == F_OUTBOUND
        self.note: Mask = (flags & F_NOTE) != 0
        """``visibility == "note"``."""
        self.public: Mask = (flags & F_PRIVATE) == 0
        self.automated: Mask = (flags & F_AUTOMATED) != 0
        self.message_ids: Sequence[str] = b.ids
        self.platforms: Sequence[str] = b.platform
        self.conversation_ids: Sequence[str] = b.cid
        self.channels: Sequence[str | None] = b.channel
        self.owners: Sequence[str | None] = b.owner
        self.statuses: Sequence[str] = b.status
        """Each conversation's status at ``as_of``."""
        self.conversation_tags: Sequence[tuple[str, ...]] = b.conv_tags

    def message_tags(self, message: int) -> Sequence[str]:
        """A message's tags (as stored, else the classifiers'); needs a rule whose
        ``uses_tags()`` is true, or it is always empty."""
        if self._state.batch.tags is None:
            return ()
        return self._state.message_tags(message)

    def events(self, counting: CountingPolicy) -> tuple[I64, I64, I64, I64]:
        """``Thread.events`` of every conversation: ``(message, kind, at,
        conversation)`` arrays, ``kind`` 0 for a stakeholder message and 1 for a reply
        (what counts as one under ``counting``)."""
        t = self._state.turns(counting)
        return t.ev_row, t.ev_kind, t.ev_at, t.ev_conv

    def turns(self, counting: CountingPolicy) -> dict[str, npt.NDArray[Any]]:
        """``Thread.turns`` of every conversation: arrays ``conversation``,
        ``number`` (1, 2, …), ``start``, ``stop`` (valid where ``answered``),
        ``answered``, ``first_message``, ``reply_message`` (``-1`` when unanswered)."""
        t = self._state.turns(counting)
        return {
            "conversation": t.conv,
            "number": t.no,
            "start": t.start,
            "stop": t.stop,
            "answered": t.has_stop,
            "first_message": t.ev1,
            "reply_message": t.ev2,
        }

    def clock(
        self,
        context: RuleContext,
        conversation: I64,
        start: I64,
        stop: I64,
        stopped: Mask,
        limit: I64 | int,
        *,
        pause_when: frozenset[str] = frozenset(),
    ) -> tuple[npt.NDArray[np.object_], I64, I64, Mask]:
        """``RuleContext.clock`` of every row at once (business calendar, pauses while
        the conversation is in a ``pause_when`` status, ``warn_before``): ``(status
        names, elapsed, deadline, has_deadline)``."""
        state = self._state
        excluded = state.excluded(frozenset(pause_when)) if pause_when else {}
        status, elapsed, deadline, ok = _clock(
            state, context, conversation, start, stop, stopped, limit, excluded
        )
        return np.array(STATUS_NAMES, dtype=object)[status], elapsed, deadline, ok


class ColumnarOutcomes:
    """Outcomes of one rule over a batch, one row each, as a columnar form returns them.

    Rows are in conversation order and, within a conversation, in the order the rule's
    ``evaluate`` returns them. ``status`` holds status names; ``subject_kind`` is
    ``"conversation"``, ``"turn"`` or ``"message"`` and ``subject`` is then ``0``, the
    turn number or the message number; ``evidence`` is up to two message numbers per
    row (``-1``: none). Instants and durations are microseconds; a ``has_*`` mask
    False means ``None``. ``notes`` defaults to empty.
    """

    def __init__(
        self,
        *,
        conversation: npt.ArrayLike,
        status: Sequence[str] | npt.NDArray[Any],
        subject_kind: Sequence[str] | npt.NDArray[Any],
        subject: npt.ArrayLike,
        started: npt.ArrayLike,
        has_started: npt.ArrayLike,
        deadline: npt.ArrayLike,
        has_deadline: npt.ArrayLike,
        stopped: npt.ArrayLike,
        has_stopped: npt.ArrayLike,
        elapsed: npt.ArrayLike,
        limit: npt.ArrayLike,
        has_limit: npt.ArrayLike,
        evidence: tuple[npt.ArrayLike, npt.ArrayLike],
        what: str,
        label: str,
        notes: Sequence[str] | None = None,
    ) -> None:
        conv = np.asarray(conversation, dtype=np.int64)
        n = len(conv)
        codes = {name: i for i, name in enumerate(STATUS_NAMES)}
        kinds = {name: i for i, name in enumerate(SUBJECT_KINDS)}

        def ints(name: str, value: npt.ArrayLike) -> I64:
            out = np.asarray(value, dtype=np.int64).reshape(-1)
            if len(out) != n:
                raise ValueError(f"column {name!r} has {len(out)} rows, expected {n}")
            return out

        def bools(name: str, value: npt.ArrayLike) -> Mask:
            out = np.asarray(value, dtype=bool).reshape(-1)
            if len(out) != n:
                raise ValueError(f"column {name!r} has {len(out)} rows, expected {n}")
            return out

        def coded(name: str, values: Any, table: dict[str, int]) -> I64:
            try:
                return ints(name, [table[str(v)] for v in values])
            except KeyError as e:
                raise ValueError(f"column {name!r}: unknown value {e.args[0]!r}") from None

        if n > 1 and bool(np.any(conv[1:] < conv[:-1])):
            raise ValueError("outcomes must be in conversation order")
        self.what = what
        self.label = label
        self.columns: dict[str, npt.NDArray[Any]] = {
            "conv": conv,
            "status": coded("status", status, codes),
            "kind": coded("subject_kind", subject_kind, kinds),
            "subj": ints("subject", subject),
            "started": ints("started", started),
            "has_started": bools("has_started", has_started),
            "deadline": ints("deadline", deadline),
            "has_deadline": bools("has_deadline", has_deadline),
            "stopped": ints("stopped", stopped),
            "has_stopped": bools("has_stopped", has_stopped),
            "elapsed": ints("elapsed", elapsed),
            "limit": ints("limit", limit),
            "has_limit": bools("has_limit", has_limit),
            "ev1": ints("evidence[0]", evidence[0]),
            "ev2": ints("evidence[1]", evidence[1]),
        }
        if notes is None:
            self.notes = None
        else:
            if len(notes) != n:
                raise ValueError(f"column 'notes' has {len(notes)} rows, expected {n}")
            self.notes = list(notes)

    def __len__(self) -> int:
        return len(self.columns["conv"])

    def rows(self, state: BatchState) -> Rows:
        """The engine's rows (checked against the batch it came from)."""
        cols = self.columns
        n = len(self)
        b = state.batch
        if n and (int(cols["conv"].min()) < 0 or int(cols["conv"].max()) >= b.n):
            raise ValueError("outcome conversation numbers are outside the batch")
        for name in ("ev1", "ev2"):
            if n and int(cols[name].max()) >= len(b.at):
                raise ValueError("evidence message numbers are outside the batch")
        if bool(np.any((cols["ev2"] >= 0) & (cols["ev1"] < 0))):
            raise ValueError("a second evidence message needs a first one")
        message = cols["kind"] == SUBJECT_KINDS.index("message")
        subjects = cols["subj"][message]
        if len(subjects) and (int(subjects.min()) < 0 or int(subjects.max()) >= len(b.at)):
            raise ValueError("message subjects must be message numbers of the batch")
        note = notes(n)
        if self.notes is not None:
            note[:] = self.notes
        return Rows(
            **cols,
            what=np.full(n, state.string(self.what), dtype=np.int64),
            label=np.full(n, state.string(self.label), dtype=np.int64),
            note=note,
        )
