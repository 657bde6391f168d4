"""The rules the columnar engine covers, over a whole :class:`ConvBatch` at once.

Semantics are those of :mod:`convokit_core._policy._rules` (the reference): turns as in
``Thread.turns``, clocks as in ``_TurnRule.evaluate`` / ``RuleContext.clock``, scopes as
in ``Scope.matches``, composition as in ``_combine``. A conversation whose clock can
pause (``pause_when`` with a status timeline that touches it) runs the reference
``RuleContext.clock`` per turn; every other turn is computed with numpy.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from .._calendars import Calendar
from .._policy._context import RuleContext
from .._policy._facts import CountingPolicy
from .._policy._rules import (
    AllOf,
    AnyOf,
    FirstReply,
    MaxSilence,
    NextReply,
    Rule,
    Scope,
    Scoped,
    _TurnRule,
)
from ._calendar import CumulativeCalendar
from ._reader import F_AUTOMATED, F_NOTE, F_OTHER, F_OUTBOUND, F_PRIVATE, ConvBatch, message_tags
from ._rows import (
    ALL_RANK,
    ANY_RANK,
    AT_RISK,
    BREACHED,
    MET,
    NOT_APPLICABLE,
    PENDING,
    STATUS_NAMES,
    Rows,
)

__all__ = ["LEAVES", "BatchState", "Turns", "evaluate_rule", "unsupported_rule"]

I64 = npt.NDArray[np.int64]
Mask = npt.NDArray[np.bool_]

#: Leaf rules with a columnar form (exact types: a subclass may change the semantics).
LEAVES: tuple[type[Rule], ...] = (FirstReply, NextReply, MaxSilence)
_MAX_US = 253402300799999999
_STATUS_CODE = {name: code for code, name in enumerate(STATUS_NAMES)}


def unsupported_rule(rule: Rule) -> str | None:
    """The name of the first rule in ``rule`` without a columnar form, or ``None``."""
    kind = type(rule)
    if kind in LEAVES:
        return None
    if kind is Scoped:
        assert isinstance(rule, Scoped)
        return unsupported_rule(rule.rule)
    if kind in (AllOf, AnyOf):
        assert isinstance(rule, AllOf | AnyOf)
        for part in rule.parts:
            found = unsupported_rule(part)
            if found is not None:
                return found
        return None
    return str(rule.name)


class Turns:
    """Every turn of a batch under one counting policy (``Thread.turns``)."""

    __slots__ = ("conv", "ev1", "ev2", "has_stop", "no", "start", "stop")

    def __init__(self, batch: ConvBatch, policy: CountingPolicy) -> None:
        flags = batch.flags
        inbound = (flags & (F_OUTBOUND | F_OTHER)) == 0
        outbound = (flags & (F_OUTBOUND | F_OTHER)) == F_OUTBOUND
        not_note = (flags & F_NOTE) == 0
        stake = inbound & not_note
        reply = outbound & not_note
        if policy.public_only:
            reply &= (flags & F_PRIVATE) == 0
        if not policy.count_automated:
            reply &= (flags & F_AUTOMATED) == 0
        index = np.flatnonzero(stake | reply)
        kind = reply[index].astype(np.int64)  # 0 stakeholder message, 1 reply
        at = batch.at[index]
        conv = batch.conv[index]
        same = np.zeros(len(index), dtype=bool)
        same[1:] = conv[1:] == conv[:-1]
        if len(index) > 1 and bool(np.any(same[1:] & (at[1:] == at[:-1]))):
            # at one instant a stakeholder message comes before a reply
            order = np.lexsort((index, kind, at, conv))
            index, kind, at, conv = index[order], kind[order], at[order], conv[order]
        prev_kind = np.empty(len(index), dtype=np.int64)
        prev_kind[0:1] = 1
        prev_kind[1:] = np.where(same[1:], kind[:-1], 1)
        starts = np.flatnonzero((kind == 0) & (prev_kind == 1))
        ends = np.flatnonzero((kind == 1) & (prev_kind == 0))
        j = np.searchsorted(ends, starts, side="right")
        found = j < len(ends)
        jj = np.where(found, j, 0)
        if len(ends):
            found &= conv[ends[jj]] == conv[starts]
        self.conv = conv[starts]
        self.start = at[starts]
        self.ev1 = index[starts]
        stop_pos = ends[jj] if len(ends) else np.zeros(len(starts), dtype=np.int64)
        self.has_stop = found
        self.stop = np.where(found, at[stop_pos], 0) if len(starts) else np.empty(0, np.int64)
        self.ev2 = np.where(found, index[stop_pos], -1) if len(starts) else np.empty(0, np.int64)
        k = np.arange(len(starts), dtype=np.int64)
        new = np.ones(len(starts), dtype=bool)
        new[1:] = self.conv[1:] != self.conv[:-1]
        self.no = k - np.maximum.accumulate(np.where(new, k, 0)) + 1


class BatchState:
    """What every rule of a run shares on one batch: turns per counting policy,
    scope matches, pause timelines."""

    def __init__(
        self,
        batch: ConvBatch,
        *,
        as_of_us: int,
        strings: Callable[[str], int],
        calendars: dict[int, CumulativeCalendar],
        extra_tags: list[set[str]] | None,
    ) -> None:
        self.batch = batch
        self.as_of_us = as_of_us
        self.string = strings
        self.calendars = calendars
        self.extra_tags = extra_tags
        self._turns: dict[CountingPolicy, Turns] = {}
        self._all_tags: list[frozenset[str]] | None = None
        self._excluded: dict[frozenset[str], dict[int, list[tuple[int, int | None]]]] = {}

    def turns(self, policy: CountingPolicy) -> Turns:
        found = self._turns.get(policy)
        if found is None:
            found = self._turns[policy] = Turns(self.batch, policy)
        return found

    def calendar(self, calendar: Calendar) -> CumulativeCalendar:
        found = self.calendars.get(id(calendar))
        if found is None:
            found = self.calendars[id(calendar)] = CumulativeCalendar(calendar)
        return found

    # -- scopes --------------------------------------------------------------------

    def all_tags(self) -> list[frozenset[str]]:
        """``Thread.all_tags``: conversation tags plus every inbound message's tags."""
        if self._all_tags is None:
            b = self.batch
            found: list[set[str]] = [set(t) for t in b.conv_tags]
            if b.tags is not None:
                inbound = (b.flags & (F_OUTBOUND | F_OTHER)) == 0
                raw = b.tags
                for i in np.flatnonzero(inbound).tolist():
                    if raw[i]:
                        found[int(b.conv[i])].update(message_tags(raw[i]))
            if self.extra_tags is not None:
                for k, extra in enumerate(self.extra_tags):
                    found[k].update(extra)
            self._all_tags = [frozenset(t) for t in found]
        return self._all_tags

    def matches(self, scope: Scope) -> Mask:
        """``Scope.matches`` for every conversation of the batch."""
        b = self.batch
        out = np.ones(b.n, dtype=bool)
        if scope.platform is not None:
            out &= np.fromiter((p in scope.platform for p in b.platform), bool, b.n)
        if scope.channel is not None:
            out &= np.fromiter((c in scope.channel for c in b.channel), bool, b.n)
        if scope.stakeholder_kind is not None:
            kinds = scope.stakeholder_kind
            out &= np.fromiter(((k or "unknown") in kinds for k in b.kinds), bool, b.n)
        if scope.owner is not None:
            out &= np.fromiter((o in scope.owner for o in b.owner), bool, b.n)
        if scope.tags is not None:
            wanted = scope.tags
            out &= np.fromiter((bool(wanted & t) for t in self.all_tags()), bool, b.n)
        return out

    # -- pauses ---------------------------------------------------------------------

    def excluded(self, statuses: frozenset[str]) -> dict[int, list[tuple[int, int | None]]]:
        """``Thread.excluded(statuses)`` of the conversations where it is not empty."""
        found = self._excluded.get(statuses)
        if found is not None:
            return found
        b = self.batch
        out: dict[int, list[tuple[int, int | None]]] = {}
        opened = "open" in statuses
        for k in range(b.n):
            history, status = b.history[k], b.status[k]
            if not history and status == "open" and not opened:
                continue
            segs: list[tuple[int | None, str]] = [(None, "open")]
            if history:
                segs.extend((at, str(s)) for at, s in history)
            elif status != "open":
                segs.append((int(b.at[int(b.offsets[k + 1]) - 1]), str(status)))
            spans: list[tuple[int, int | None]] = []
            if len(segs) > 1 or segs[0][1] in statuses:
                for i, (since, seg_status) in enumerate(segs):
                    if seg_status not in statuses:
                        continue
                    until = segs[i + 1][0] if i + 1 < len(segs) else None
                    lo = since if since is not None else -(2**62)
                    if spans and spans[-1][1] == lo:
                        spans[-1] = (spans[-1][0], until)
                    else:
                        spans.append((lo, until))
            if spans:
                out[k] = spans
        self._excluded[statuses] = out
        return out


def evaluate_rule(rule: Rule, state: BatchState, ctx: RuleContext) -> Rows:
    """The outcomes of ``rule`` on every conversation of the batch (none for a
    conversation out of scope), in the python engine's order."""
    kind = type(rule)
    if kind is Scoped:
        assert isinstance(rule, Scoped)
        rows = evaluate_rule(rule.rule, state, ctx)
        keep = np.ones(state.batch.n, dtype=bool)
        if rule.where_scope is not None:
            keep &= state.matches(rule.where_scope)
        if rule.unless_scope is not None:
            keep &= ~state.matches(rule.unless_scope)
        return rows if bool(keep.all()) else rows.take(keep[rows.conv])
    if kind in (AllOf, AnyOf):
        assert isinstance(rule, AllOf | AnyOf)
        parts = [evaluate_rule(p, state, ctx) for p in rule.parts]
        return _combine(parts, kind is AllOf, state, state.string(rule.label()))
    assert isinstance(rule, _TurnRule)
    return _turn_rule(rule, state, ctx)


def _turn_rule(rule: _TurnRule, state: BatchState, ctx: RuleContext) -> Rows:
    turns = state.turns(ctx.counting)
    if type(rule) is FirstReply:
        sel: Mask | None = turns.no == 1
    elif type(rule) is NextReply:
        sel = turns.no >= 2
    else:
        assert type(rule) is MaxSilence
        sel = None
    conv = turns.conv if sel is None else turns.conv[sel]
    start = turns.start if sel is None else turns.start[sel]
    stop = turns.stop if sel is None else turns.stop[sel]
    has_stop = turns.has_stop if sel is None else turns.has_stop[sel]
    no = turns.no if sel is None else turns.no[sel]
    ev1 = turns.ev1 if sel is None else turns.ev1[sel]
    ev2 = turns.ev2 if sel is None else turns.ev2[sel]
    n = len(conv)
    limit = rule.within
    what = state.string(rule._what)
    label = state.string(rule.label())
    as_of = state.as_of_us
    warn = ctx.warn_before_us
    status = np.empty(n, dtype=np.int64)
    elapsed = np.empty(n, dtype=np.int64)
    deadline = np.empty(n, dtype=np.int64)
    has_deadline = np.empty(n, dtype=bool)
    scalar = np.zeros(n, dtype=bool)
    excluded = state.excluded(rule.pause_when) if rule.pause_when else {}
    if excluded:
        paused_conv = np.zeros(state.batch.n, dtype=bool)
        paused_conv[list(excluded)] = True
        scalar = paused_conv[conv]
    vec = ~scalar
    if vec.any():
        s, e, stopped = start[vec], stop[vec], has_stop[vec]
        if ctx.simple:
            el = np.where(stopped, e - s, np.maximum(as_of - s, 0))
            due = s + limit
            ok = s <= _MAX_US - limit
        else:
            cal = state.calendar(ctx.calendar)
            end = np.maximum(np.where(stopped, e, as_of), s)
            el = cal.business_us(s, end)
            due, ok = cal.deadline_us(s, np.full(len(s), limit, dtype=np.int64))
        running = np.where(el > limit, BREACHED, PENDING)
        if warn:
            running = np.where((running == PENDING) & (limit - el <= warn), AT_RISK, running)
        status[vec] = np.where(stopped, np.where(el <= limit, MET, BREACHED), running)
        elapsed[vec] = el
        deadline[vec] = np.where(ok, due, 0)
        has_deadline[vec] = ok
    for i in np.flatnonzero(scalar).tolist():
        spans = excluded[int(conv[i])]
        code, el_i, due_i = ctx.clock(
            int(start[i]), int(stop[i]) if has_stop[i] else None, limit, spans
        )
        status[i] = _STATUS_CODE[code]
        elapsed[i] = el_i
        deadline[i] = 0 if due_i is None else due_i
        has_deadline[i] = due_i is not None
    per_turn = type(rule) is not FirstReply
    rows = Rows(
        conv=conv,
        status=status,
        turn=no if per_turn else np.zeros(n, dtype=np.int64),
        started=start,
        has_started=np.ones(n, dtype=bool),
        deadline=deadline,
        has_deadline=has_deadline,
        stopped=np.where(has_stop, stop, 0),
        has_stopped=has_stop,
        elapsed=elapsed,
        limit=np.full(n, limit, dtype=np.int64),
        has_limit=np.ones(n, dtype=bool),
        ev1=ev1,
        ev2=ev2,
        what=np.full(n, what, dtype=np.int64),
        label=np.full(n, label, dtype=np.int64),
    )
    having = np.zeros(state.batch.n, dtype=bool)
    having[conv] = True
    if bool(having.all()):
        return rows
    none = np.flatnonzero(~having).astype(np.int64)
    return Rows.concat([rows, Rows.not_applicable(none, what, label)]).in_conversation_order()


def _first_min(conv: I64, key: I64, n: int) -> I64:
    """Per conversation, the smallest ``key`` (``-1`` where a conversation has none)."""
    best = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(best, conv, key)
    return np.where(best == np.iinfo(np.int64).max, -1, best)


def _combine(parts: Sequence[Rows], all_mode: bool, state: BatchState, label: int) -> Rows:
    """``_combine`` of every conversation at once: each part's verdict is its first
    worst applicable outcome; the worst (all_of) or best (any_of) verdict decides, the
    first part among equals; no applicable part gives ``not_applicable``; no part in
    scope gives nothing."""
    n = state.batch.n
    seen = np.zeros(n, dtype=bool)
    rank = ALL_RANK if all_mode else ANY_RANK
    decided_key = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
    verdicts: list[I64] = []
    for p, rows in enumerate(parts):
        seen[rows.conv] = True
        if not len(rows):
            verdicts.append(np.full(n, -1, dtype=np.int64))
            continue
        applicable = np.flatnonzero(rows.status != NOT_APPLICABLE)
        size = len(rows) + 1
        key = ALL_RANK[rows.status[applicable]] * size + applicable
        best = _first_min(rows.conv[applicable], key, n)
        row = np.where(best >= 0, best % size, -1)
        verdicts.append(row)
        has = row >= 0
        mode_key = np.where(has, rank[rows.status[np.where(has, row, 0)]] * len(parts) + p, -1)
        better = has & (mode_key < decided_key)
        decided_key = np.where(better, mode_key, decided_key)
    decided_part = np.where(
        decided_key == np.iinfo(np.int64).max, -1, decided_key % max(len(parts), 1)
    )
    out: list[Rows] = []
    for p, rows in enumerate(parts):
        convs = np.flatnonzero(decided_part == p)
        if len(convs):
            out.append(rows.take(verdicts[p][convs]))
    na = np.flatnonzero(seen & (decided_part < 0)).astype(np.int64)
    if len(na):
        out.append(Rows.not_applicable(na, state.string("reply"), label))
    if not out:
        return Rows.not_applicable(np.empty(0, dtype=np.int64), 0, label)
    combined = Rows.concat(out)
    combined.turn = np.zeros(len(combined), dtype=np.int64)
    return combined.in_conversation_order()


def describe_rows(rows: Rows) -> list[Any]:  # pragma: no cover - a debugging aid
    return [STATUS_NAMES[s] for s in rows.status.tolist()]
