"""The rules the columnar engine covers, over a whole :class:`ConvBatch` at once.

Semantics are those of :mod:`convokit_core._policy._rules` (the reference): events and
turns as in ``Thread.events`` / ``Thread.turns``, clocks as in ``RuleContext.clock``,
scopes as in ``Scope.matches``, composition as in ``_combine``, resolution instants as in
``Thread.first_status_at``. A clock that can pause (its conversation has a status
interval the rule excludes) runs the reference ``RuleContext.clock``; every other clock
of a batch is computed at once with numpy. ``channel_activity`` only observes here
(every reply's channel and instant, a batch at a time); the run concludes it with the
reference ``finish``, as the python engine does.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Mapping, Sequence
from itertools import chain
from operator import itemgetter
from typing import Any

import numpy as np
import numpy.typing as npt

from .._calendars import Calendar
from .._policy._context import RuleContext
from .._policy._facts import CountingPolicy
from .._policy._rules import (
    RESOLVED,
    AllOf,
    AnyOf,
    ChannelActivity,
    FirstReply,
    FollowUp,
    MaxSilence,
    NextReply,
    OwnerAssigned,
    PeriodicUpdate,
    ResolutionWithin,
    Rule,
    Scope,
    Scoped,
    _TurnRule,
)
from .._timeutil import format_datetime, from_micros, to_micros
from ._calendar import CumulativeCalendar
from ._reader import F_AUTOMATED, F_NOTE, F_OTHER, F_OUTBOUND, F_PRIVATE, ConvBatch, message_tags
from ._rows import (
    ALL_RANK,
    ANY_RANK,
    AT_RISK,
    BREACHED,
    CONVERSATION,
    MESSAGE,
    MET,
    NOT_APPLICABLE,
    PENDING,
    STATUS_NAMES,
    TURN,
    Rows,
    notes,
)

__all__ = ["LEAVES", "BatchState", "Turns", "evaluate_rule", "observe_rule", "unsupported_rule"]

I64 = npt.NDArray[np.int64]
Mask = npt.NDArray[np.bool_]

#: Leaf rules with a columnar form (exact types: a subclass may change the semantics).
LEAVES: tuple[type[Rule], ...] = (
    FirstReply,
    NextReply,
    MaxSilence,
    PeriodicUpdate,
    FollowUp,
    ResolutionWithin,
    OwnerAssigned,
    ChannelActivity,
)
_MAX_US = 253402300799999999
_STATUS_CODE = {name: code for code, name in enumerate(STATUS_NAMES)}


#: A rule plugin's columnar form: ``evaluate(rule, batch, context) -> ColumnarOutcomes``.
Form = Callable[[Any, Any, RuleContext], Any]


def plugin_form(rule: Rule, forms: Mapping[str, Form]) -> Form | None:
    """The columnar form a plugin registered for ``rule`` (by its ``name``), for a
    conversation-level rule that is not one of the built-in types."""
    if type(rule).__module__ == Rule.__module__ or getattr(rule, "level", "") == "channel":
        return None
    return forms.get(str(getattr(rule, "name", "")))


def unsupported_rule(rule: Rule, forms: Mapping[str, Form] | None = None) -> str | None:
    """The name of the first rule in ``rule`` without a columnar form, or ``None``."""
    kind = type(rule)
    if kind in LEAVES:
        return None
    if kind is Scoped:
        assert isinstance(rule, Scoped)
        return unsupported_rule(rule.rule, forms)
    if kind in (AllOf, AnyOf):
        assert isinstance(rule, AllOf | AnyOf)
        for part in rule.parts:
            found = unsupported_rule(part, forms)
            if found is not None:
                return found
        return None
    if forms and plugin_form(rule, forms) is not None:
        return None
    return str(rule.name)


def uses_statuses(rule: Rule) -> bool:
    """Whether evaluating ``rule`` reads the conversations' status timelines: the reply
    rules only through ``pause_when`` (scopes never do); every other rule, and any
    plugin rule (its columnar form sees the statuses), is taken to read them. A check
    whose rules do not lets the reader skip the status changes."""
    kind = type(rule)
    if kind is Scoped:
        assert isinstance(rule, Scoped)
        return uses_statuses(rule.rule)
    if kind in (AllOf, AnyOf):
        assert isinstance(rule, AllOf | AnyOf)
        return any(uses_statuses(part) for part in rule.parts)
    if kind in (FirstReply, NextReply, MaxSilence):
        assert isinstance(rule, _TurnRule)
        return bool(rule.pause_when)
    return True


class Turns:
    """Every counted event and every turn of a batch under one counting policy
    (``Thread.events`` and ``Thread.turns``).

    Events (``ev_*``, in ``Thread.events`` order: by conversation, instant, stakeholder
    message before reply, message order): ``ev_row`` the message row, ``ev_kind`` 0 for
    a stakeholder message and 1 for a reply, ``ev_at``, ``ev_conv``. Turns: ``conv``,
    ``start``, ``stop``/``has_stop``, evidence rows ``ev1``/``ev2`` and the turn number
    ``no``.
    """

    __slots__ = (
        "conv",
        "ev1",
        "ev2",
        "ev_at",
        "ev_conv",
        "ev_kind",
        "ev_row",
        "has_stop",
        "no",
        "start",
        "stop",
    )

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
        self.ev_row, self.ev_kind, self.ev_at, self.ev_conv = index, kind, at, conv
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

    def first_stakeholder(self) -> I64:
        """Event positions of each conversation's first stakeholder message."""
        stake = np.flatnonzero(self.ev_kind == 0)
        if not len(stake):
            return stake
        conv = self.ev_conv[stake]
        first = np.ones(len(stake), dtype=bool)
        first[1:] = conv[1:] != conv[:-1]
        return stake[first]


class BatchState:
    """What every rule of a run shares on one batch: events and turns per counting
    policy, scope matches, status timelines."""

    def __init__(
        self,
        batch: ConvBatch,
        *,
        as_of_us: int,
        strings: Callable[[str], int],
        calendars: dict[int, CumulativeCalendar],
        classified: dict[int, tuple[str, ...]] | None,
        forms: Mapping[str, Form] | None = None,
    ) -> None:
        self.batch = batch
        self.forms = forms or {}
        self.as_of_us = as_of_us
        self.string = strings
        self.calendars = calendars
        self.classified = classified or {}
        self._turns: dict[CountingPolicy, Turns] = {}
        self._all_tags: list[frozenset[str]] | None = None
        self._excluded: dict[frozenset[str], dict[int, list[tuple[int, int | None]]]] = {}
        self._timeline: list[bool] | None = None
        self._segments: tuple[I64, I64, I64, dict[str, int]] | None = None
        self._tagged: Mask | None = None

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

    # -- tags and scopes -------------------------------------------------------------

    def tagged(self) -> Mask:
        """Per message: whether it has stored tags (a non-empty raw value)."""
        if self._tagged is None:
            tags = self.batch.tags
            n = len(self.batch.at)
            self._tagged = (
                np.zeros(n, dtype=bool) if tags is None else np.fromiter(map(bool, tags), bool, n)
            )
        return self._tagged

    def message_tags(self, row: int) -> Sequence[str]:
        """A message's tags: as stored, else what the classifiers gave it."""
        tags = self.batch.tags
        assert tags is not None
        raw = tags[row]
        if raw:
            return message_tags(raw)
        return self.classified.get(row, ())

    def all_tags(self) -> list[frozenset[str]]:
        """``Thread.all_tags``: conversation tags plus every inbound message's tags."""
        if self._all_tags is None:
            b = self.batch
            found: list[set[str]] = [set(t) for t in b.conv_tags]
            if b.tags is not None:
                inbound = (b.flags & (F_OUTBOUND | F_OTHER)) == 0
                raw = b.tags
                for i in np.flatnonzero(inbound & self.tagged()).tolist():
                    found[int(b.conv[i])].update(message_tags(raw[i]))
            for row, extra in self.classified.items():
                found[int(b.conv[row])].update(extra)
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

    # -- status timelines ------------------------------------------------------------

    def segments(self, k: int) -> list[tuple[int | None, str]]:
        """``Thread.segments`` of conversation ``k``."""
        b = self.batch
        segs: list[tuple[int | None, str]] = [(None, "open")]
        history, status = b.history[k], b.status[k]
        if history:
            segs.extend((at, str(s)) for at, s in history)
        elif status != "open":
            segs.append((int(b.at[int(b.offsets[k + 1]) - 1]), str(status)))
        return segs

    def has_timeline(self) -> list[bool]:
        """Per conversation: whether its status ever leaves ``open`` (a stored history,
        or a stored status other than ``open``)."""
        if self._timeline is None:
            b = self.batch
            self._timeline = [
                bool(h) or s != "open" for h, s in zip(b.history, b.status, strict=True)
            ]
        return self._timeline

    def excluded(self, statuses: frozenset[str]) -> dict[int, list[tuple[int, int | None]]]:
        """``Thread.excluded(statuses)`` of the conversations where it is not empty."""
        found = self._excluded.get(statuses)
        if found is not None:
            return found
        b = self.batch
        out: dict[int, list[tuple[int, int | None]]] = {}
        opened = "open" in statuses
        timeline = self.has_timeline()
        for k in range(b.n):
            if not timeline[k] and not opened:
                continue
            segs = self.segments(k)
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

    def _segment_table(self) -> tuple[I64, I64, I64, dict[str, int]]:
        """Every conversation's ``segments`` flattened: per-conversation offsets, the
        instants (the first one the beginning of time), the statuses as codes and the
        codes' table (``open`` is 0). Built with numpy from the flattened histories."""
        if self._segments is None:
            b = self.batch
            lengths = np.fromiter(map(len, b.history), np.int64, b.n)
            # a stored status other than open, without a history: one change, at the
            # conversation's last message
            bare = (lengths == 0) & np.fromiter(self.has_timeline(), bool, b.n)
            counts = 1 + lengths + bare
            offsets = np.zeros(b.n + 1, dtype=np.int64)
            np.cumsum(counts, out=offsets[1:])
            total = int(offsets[-1])
            since = np.full(total, -(2**62), dtype=np.int64)
            codes = np.zeros(total, dtype=np.int64)
            table: dict[str, int] = {"open": 0}
            flat = list(chain.from_iterable(b.history))
            if flat:
                starts = np.zeros(b.n, dtype=np.int64)
                np.cumsum(lengths[:-1], out=starts[1:])
                pos = np.repeat(offsets[:-1] + 1 - starts, lengths) + np.arange(len(flat))
                since[pos] = np.fromiter(map(itemgetter(0), flat), np.int64, len(flat))
                names = list(map(itemgetter(1), flat))
                for name in dict.fromkeys(names):  # the distinct statuses, a few
                    table.setdefault(name, len(table))
                codes[pos] = list(map(table.__getitem__, names))
            where = np.flatnonzero(bare)
            if len(where):
                since[offsets[where] + 1] = b.at[b.offsets[where + 1] - 1]
                codes[offsets[where] + 1] = [
                    table.setdefault(str(b.status[k]), len(table)) for k in where.tolist()
                ]
            self._segments = (offsets, since, codes, table)
        return self._segments

    def first_status_at(self, conv: I64, statuses: frozenset[str], after: I64) -> tuple[I64, Mask]:
        """``Thread.first_status_at(statuses, after[i])`` of conversation ``conv[i]``,
        as ``(instants, found)``: ``after`` itself when the status then is one of
        ``statuses``, else the first later change to one of them."""
        offsets, since, codes, table = self._segment_table()
        wanted = np.isin(codes, [code for name, code in table.items() if name in statuses])
        lo, hi = offsets[conv], offsets[conv + 1]
        t = np.asarray(after, dtype=np.int64)
        current = np.zeros(len(conv), dtype=bool)  # the status at t is wanted
        nxt = np.full(len(conv), np.iinfo(np.int64).max, dtype=np.int64)
        width = int((hi - lo).max()) if len(conv) else 0
        for j in range(width):
            idx = lo + j
            valid = idx < hi
            at_j = since[np.where(valid, idx, 0)]
            want_j = wanted[np.where(valid, idx, 0)]
            reached = valid & (at_j <= t)
            current = np.where(reached, want_j, current)
            later = valid & (at_j > t) & want_j
            nxt = np.where(later & (at_j < nxt), at_j, nxt)
        found = current | (nxt < np.iinfo(np.int64).max)
        out = np.where(current, t, np.where(found, nxt, 0))
        return out.astype(np.int64), found


def _clock(
    state: BatchState,
    ctx: RuleContext,
    conv: I64,
    start: I64,
    stop: I64,
    has_stop: Mask,
    limit: I64 | int,
    excluded: dict[int, list[tuple[int, int | None]]],
) -> tuple[I64, I64, I64, Mask]:
    """``RuleContext.clock`` of every row: ``(status, elapsed, deadline, has_deadline)``.

    Rows of a conversation with excluded intervals run the reference clock; the rest
    are computed at once (elapsed or calendar time, deadline, ``warn_before``)."""
    n = len(start)
    limits = np.broadcast_to(np.asarray(limit, dtype=np.int64), (n,))
    status = np.empty(n, dtype=np.int64)
    elapsed = np.empty(n, dtype=np.int64)
    deadline = np.empty(n, dtype=np.int64)
    has_deadline = np.empty(n, dtype=bool)
    scalar = np.zeros(n, dtype=bool)
    if excluded:
        paused_conv = np.zeros(state.batch.n, dtype=bool)
        paused_conv[list(excluded)] = True
        scalar = paused_conv[conv]
    vec = ~scalar
    if vec.any():
        s, e, stopped, lim = start[vec], stop[vec], has_stop[vec], limits[vec]
        end = np.maximum(np.where(stopped, e, state.as_of_us), s)
        if ctx.simple:
            el = end - s
            due = s + lim
            ok = s <= _MAX_US - lim
        else:
            cal = state.calendar(ctx.calendar)
            el = cal.business_us(s, end)
            due, ok = cal.deadline_us(s, lim)
        running = np.where(el > lim, BREACHED, PENDING)
        warn = ctx.warn_before_us
        if warn:
            running = np.where((running == PENDING) & (lim - el <= warn), AT_RISK, running)
        status[vec] = np.where(stopped, np.where(el <= lim, MET, BREACHED), running)
        elapsed[vec] = el
        deadline[vec] = np.where(ok, due, 0)
        has_deadline[vec] = ok
    for i in np.flatnonzero(scalar).tolist():
        code, el_i, due_i = ctx.clock(
            int(start[i]),
            int(stop[i]) if has_stop[i] else None,
            int(limits[i]),
            excluded[int(conv[i])],
        )
        status[i] = _STATUS_CODE[code]
        elapsed[i] = el_i
        deadline[i] = 0 if due_i is None else due_i
        has_deadline[i] = due_i is not None
    return status, elapsed, deadline, has_deadline


def _rows(
    state: BatchState,
    *,
    conv: I64,
    clock: tuple[I64, I64, I64, Mask],
    kind: int,
    subj: I64 | int,
    start: I64,
    stop: I64,
    has_stop: Mask,
    limit: I64 | int,
    ev1: I64,
    ev2: I64 | int,
    what: str,
    label: str,
    note: npt.NDArray[np.object_] | None = None,
) -> Rows:
    """Outcome rows of clocked subjects (started, limit and a clock each)."""
    n = len(conv)
    status, elapsed, deadline, has_deadline = clock

    def col(value: I64 | int) -> I64:
        if isinstance(value, np.ndarray):
            return value
        return np.full(n, value, dtype=np.int64)

    return Rows(
        conv=conv,
        status=status,
        kind=np.full(n, kind, dtype=np.int64),
        subj=col(subj),
        started=start,
        has_started=np.ones(n, dtype=bool),
        deadline=deadline,
        has_deadline=has_deadline,
        stopped=np.where(has_stop, stop, 0),
        has_stopped=has_stop,
        elapsed=elapsed,
        limit=col(limit),
        has_limit=np.ones(n, dtype=bool),
        ev1=ev1,
        ev2=col(ev2),
        what=np.full(n, state.string(what), dtype=np.int64),
        label=np.full(n, state.string(label), dtype=np.int64),
        note=notes(n) if note is None else note,
    )


def _with_na(rows: Rows, state: BatchState, what: str, label: str) -> Rows:
    """``rows`` plus a ``not_applicable`` outcome for each conversation without one."""
    having = np.zeros(state.batch.n, dtype=bool)
    having[rows.conv] = True
    if bool(having.all()):
        return rows
    none = np.flatnonzero(~having).astype(np.int64)
    na = Rows.not_applicable(none, state.string(what), state.string(label))
    return Rows.concat([rows, na]).in_conversation_order()


def evaluate_rule(rule: Rule, state: BatchState, ctx: RuleContext) -> Rows:
    """The outcomes of ``rule`` on every conversation of the batch (none for a
    conversation out of scope), in the python engine's order."""
    kind = type(rule)
    if kind is Scoped:
        assert isinstance(rule, Scoped)
        rows = evaluate_rule(rule.rule, state, ctx)
        keep = _in_scope(rule, state)
        return rows if bool(keep.all()) else rows.take(keep[rows.conv])
    if kind in (AllOf, AnyOf):
        assert isinstance(rule, AllOf | AnyOf)
        parts = [evaluate_rule(p, state, ctx) for p in rule.parts]
        return _combine(parts, kind is AllOf, state, state.string(rule.label()))
    if kind is ResolutionWithin:
        assert isinstance(rule, ResolutionWithin)
        return _resolution(rule, state, ctx)
    if kind is FollowUp:
        assert isinstance(rule, FollowUp)
        return _follow_up(rule, state, ctx)
    if kind is PeriodicUpdate:
        assert isinstance(rule, PeriodicUpdate)
        return _periodic(rule, state, ctx)
    if kind is OwnerAssigned:
        assert isinstance(rule, OwnerAssigned)
        return _owner(rule, state, ctx)
    if isinstance(rule, _TurnRule) and kind in LEAVES:
        return _turn_rule(rule, state, ctx)
    return _plugin_rule(rule, state, ctx)


def _plugin_rule(rule: Rule, state: BatchState, ctx: RuleContext) -> Rows:
    """A third-party rule through the columnar form its plugin registered."""
    from .._errors import ConfigError
    from ._api import ColumnarBatch, ColumnarOutcomes

    form = plugin_form(rule, state.forms)
    assert form is not None  # unsupported_rule() said so
    out = form(rule, ColumnarBatch(state), ctx)
    if not isinstance(out, ColumnarOutcomes):
        raise ConfigError(
            f"the columnar form of rule {rule.name!r} returned {type(out).__name__}, "
            "not ColumnarOutcomes"
        )
    try:
        return out.rows(state)
    except ValueError as e:
        raise ConfigError(f"the columnar form of rule {rule.name!r}: {e}") from None


def _in_scope(rule: Scoped, state: BatchState) -> Mask:
    keep = np.ones(state.batch.n, dtype=bool)
    if rule.where_scope is not None:
        keep &= state.matches(rule.where_scope)
    if rule.unless_scope is not None:
        keep &= ~state.matches(rule.unless_scope)
    return keep


def _turn_rule(rule: _TurnRule, state: BatchState, ctx: RuleContext) -> Rows:
    turns = state.turns(ctx.counting)
    if type(rule) is FirstReply:
        sel: Mask | None = turns.no == 1
    elif type(rule) is NextReply:
        sel = turns.no >= 2
    else:
        assert type(rule) is MaxSilence
        sel = None

    def pick(values: npt.NDArray[Any]) -> npt.NDArray[Any]:
        return values if sel is None else values[sel]

    conv, start, stop, has_stop = (
        pick(turns.conv),
        pick(turns.start),
        pick(turns.stop),
        pick(turns.has_stop),
    )
    excluded = state.excluded(rule.pause_when) if rule.pause_when else {}
    per_turn = type(rule) is not FirstReply
    rows = _rows(
        state,
        conv=conv,
        clock=_clock(state, ctx, conv, start, stop, has_stop, rule.within, excluded),
        kind=TURN if per_turn else CONVERSATION,
        subj=pick(turns.no) if per_turn else 0,
        start=start,
        stop=stop,
        has_stop=has_stop,
        limit=rule.within,
        ev1=pick(turns.ev1),
        ev2=pick(turns.ev2),
        what=rule._what,
        label=rule.label(),
    )
    return _with_na(rows, state, rule._what, rule.label())


def _resolution(rule: ResolutionWithin, state: BatchState, ctx: RuleContext) -> Rows:
    """From each conversation's first stakeholder message to its resolution."""
    ev = state.turns(ctx.counting)
    first = ev.first_stakeholder()
    conv, start = ev.ev_conv[first], ev.ev_at[first]
    stop, has_stop = state.first_status_at(conv, RESOLVED, start)
    excluded = state.excluded(rule.pause_when) if rule.pause_when else {}
    rows = _rows(
        state,
        conv=conv,
        clock=_clock(state, ctx, conv, start, stop, has_stop, rule.duration, excluded),
        kind=CONVERSATION,
        subj=0,
        start=start,
        stop=stop,
        has_stop=has_stop,
        limit=rule.duration,
        ev1=ev.ev_row[first],
        ev2=-1,
        what="resolution",
        label=rule.label(),
    )
    return _with_na(rows, state, "resolution", rule.label())


def _follow_up(rule: FollowUp, state: BatchState, ctx: RuleContext) -> Rows:
    """One outcome per tagged stakeholder message: the worse of its acknowledgement and
    resolution clocks (the acknowledgement among equals)."""
    b = state.batch
    wanted = frozenset(rule.tags)
    label = rule.label()
    ev = state.turns(ctx.counting)
    stake = np.flatnonzero(ev.ev_kind == 0)
    first = np.ones(len(stake), dtype=bool)
    first[1:] = ev.ev_conv[stake][1:] != ev.ev_conv[stake][:-1]
    conv_tagged = np.fromiter(
        (bool(t) and not wanted.isdisjoint(t) for t in b.conv_tags), bool, b.n
    )
    tagged = first & conv_tagged[ev.ev_conv[stake]]
    raw = b.tags
    assert raw is not None
    verdicts: dict[Any, bool] = {}
    stake_rows = ev.ev_row[stake]
    maybe = state.tagged()[stake_rows]
    if state.classified:
        classified = np.zeros(len(b.at), dtype=bool)
        classified[list(state.classified)] = True
        maybe |= classified[stake_rows]
    for i in np.flatnonzero(maybe).tolist():
        row = int(stake_rows[i])
        value = raw[row]
        if value:
            hit = verdicts.get(value) if isinstance(value, str) else None
            if hit is None:
                hit = not wanted.isdisjoint(message_tags(value))
                if isinstance(value, str):
                    verdicts[value] = hit
        elif row in state.classified:
            hit = not wanted.isdisjoint(state.classified[row])
        else:
            continue
        if hit:
            tagged[i] = True
    pos = stake[tagged]
    conv, at, row = ev.ev_conv[pos], ev.ev_at[pos], ev.ev_row[pos]
    n = len(pos)
    excluded = state.excluded(rule.pause_when) if rule.pause_when else {}
    candidates: list[Rows] = []

    def clocked(stop: I64, found: Mask, limit: int, ev2: I64 | int, what: str) -> Rows:
        return _rows(
            state,
            conv=conv,
            clock=_clock(state, ctx, conv, at, stop, found, limit, excluded),
            kind=MESSAGE,
            subj=row,
            start=at,
            stop=stop,
            has_stop=found,
            limit=limit,
            ev1=row,
            ev2=ev2,
            what=what,
            label=label,
        )

    if rule.acknowledge_within is not None:
        replies = np.flatnonzero(ev.ev_kind == 1)
        j = np.searchsorted(replies, pos, side="right")
        found = j < len(replies)
        reply = replies[np.where(found, j, 0)] if len(replies) else np.zeros(n, np.int64)
        if len(replies):
            found &= ev.ev_conv[reply] == conv
        stop = np.where(found, ev.ev_at[reply], 0) if n else np.empty(0, np.int64)
        ev2 = np.where(found, ev.ev_row[reply], -1) if n else np.empty(0, np.int64)
        candidates.append(clocked(stop, found, rule.acknowledge_within, ev2, "acknowledgement"))
    if rule.resolve_within is not None:
        stop, found = state.first_status_at(conv, RESOLVED, at)
        candidates.append(clocked(stop, found, rule.resolve_within, -1, "resolution"))
    rows = candidates[0]
    if len(candidates) == 2:
        worse = ALL_RANK[candidates[1].status] < ALL_RANK[rows.status]
        if worse.any():
            rows = _pick(rows, candidates[1], worse)
    return _with_na(rows, state, "acknowledgement", label)


def _pick(a: Rows, b: Rows, use_b: Mask) -> Rows:
    """Row by row, ``b`` where ``use_b`` else ``a``."""
    both = Rows.concat([a, b])
    return both.take(np.where(use_b, np.arange(len(a)) + len(a), np.arange(len(a))))


def _periodic(rule: PeriodicUpdate, state: BatchState, ctx: RuleContext) -> Rows:
    """Per conversation, the gaps between our replies and from the last one on; the
    first gap over the limit decides, else the last gap."""
    b = state.batch
    ev = state.turns(ctx.counting)
    replies = np.flatnonzero(ev.ev_kind == 1)
    conv_r = ev.ev_conv[replies]
    m = len(replies)
    same = np.zeros(max(m - 1, 0), dtype=bool)
    if m > 1:
        same = conv_r[1:] == conv_r[:-1]
    last = np.ones(m, dtype=bool)
    last[:-1] = ~same
    a = replies[:-1][same] if m > 1 else np.empty(0, np.int64)
    z = replies[1:][same] if m > 1 else np.empty(0, np.int64)
    ends = replies[last]
    end_conv = ev.ev_conv[ends]
    end_at = ev.ev_at[ends]
    resolved = np.fromiter((s in RESOLVED for s in b.status), bool, b.n)[end_conv]
    res_at, res_found = state.first_status_at(end_conv[resolved], RESOLVED, end_at[resolved])
    end_stop = np.zeros(len(ends), dtype=np.int64)
    end_stop[resolved] = np.where(res_found, res_at, end_at[resolved])
    conv = np.concatenate([ev.ev_conv[a], end_conv])
    start = np.concatenate([ev.ev_at[a], end_at])
    stop = np.concatenate([ev.ev_at[z], end_stop])
    has_stop = np.concatenate([np.ones(len(a), dtype=bool), resolved])
    ev1 = np.concatenate([ev.ev_row[a], ev.ev_row[ends]])
    ev2 = np.concatenate([ev.ev_row[z], np.full(len(ends), -1, dtype=np.int64)])
    # gap order within a conversation: the pairs in reply order, then the last gap
    order_key = np.concatenate(
        [2 * np.flatnonzero(np.r_[same, False]), 2 * np.flatnonzero(last) + 1]
    )
    order = np.argsort(order_key, kind="stable")
    conv, start, stop, has_stop = conv[order], start[order], stop[order], has_stop[order]
    ev1, ev2 = ev1[order], ev2[order]
    excluded = state.excluded(rule.pause_when | RESOLVED)
    clock = _clock(state, ctx, conv, start, stop, has_stop, rule.every, excluded)
    rows = _rows(
        state,
        conv=conv,
        clock=clock,
        kind=CONVERSATION,
        subj=0,
        start=start,
        stop=stop,
        has_stop=has_stop,
        limit=rule.every,
        ev1=ev1,
        ev2=ev2,
        what="update",
        label=rule.label(),
    )
    # decided: the first breached gap, else the last one
    k = np.arange(len(rows), dtype=np.int64)
    big = np.iinfo(np.int64).max
    first_breach = np.full(b.n, big, dtype=np.int64)
    breached = rows.status == BREACHED
    np.minimum.at(first_breach, conv[breached], k[breached])
    last_gap = np.full(b.n, -1, dtype=np.int64)
    np.maximum.at(last_gap, conv, k)
    decided = np.where(first_breach < big, first_breach, last_gap)
    chosen = decided[decided >= 0]
    return _with_na(rows.take(np.sort(chosen)), state, "update", rule.label())


def _owner(rule: OwnerAssigned, state: BatchState, ctx: RuleContext) -> Rows:
    """Per open or pending conversation: an owner who is an active team member."""
    b = state.batch
    n = b.n
    label = rule.label()
    within = rule.within
    ev = state.turns(ctx.counting)
    first = ev.first_stakeholder()
    has_first = np.zeros(n, dtype=bool)
    has_first[ev.ev_conv[first]] = True
    start = b.at[b.offsets[:-1]].copy()
    ev1 = b.offsets[:-1].copy()
    start[ev.ev_conv[first]] = ev.ev_at[first]
    ev1[ev.ev_conv[first]] = ev.ev_row[first]
    status = np.full(n, MET, dtype=np.int64)
    since = start.copy()
    clocked = np.zeros(n, dtype=bool)
    applicable = np.ones(n, dtype=bool)
    unassigned = np.zeros(n, dtype=bool)
    note = np.empty(n, dtype=object)
    as_of = from_micros(ctx.as_of_us)
    team = ctx.team
    members: dict[str, tuple[int, str, int]] = {}  # owner -> (branch, date text, left_us)
    for k in range(n):
        cid, st, owner = b.cid[k], b.status[k], b.owner[k]
        if st not in ("open", "pending"):
            applicable[k] = False
            note[k] = f"Conversation {cid} is {st}: no owner needed."
            continue
        if owner is None:
            clocked[k] = unassigned[k] = True
            continue
        found = members.get(owner)
        if found is None:
            member = team.get(owner)
            if member is None:
                found = (0, "", 0) if team else (1, "", 0)
            elif member.active_from is not None and as_of < member.active_from:
                found = (2, format_datetime(member.active_from)[:10], 0)
            elif member.active_until is not None and as_of >= member.active_until:
                found = (
                    3,
                    format_datetime(member.active_until)[:10],
                    to_micros(member.active_until),
                )
            else:
                found = (4, "", 0)
            members[owner] = found
        branch, day, left = found
        if branch == 0:
            status[k] = BREACHED
            note[k] = f"Conversation {cid}: owner {owner} is not a team member."
        elif branch == 1:
            note[k] = f"Conversation {cid} is owned by {owner} (no team roster to verify)."
        elif branch == 2:
            status[k] = BREACHED
            note[k] = f"Conversation {cid}: owner {owner} only starts on {day}."
        elif branch == 3:
            clocked[k] = True
            since[k] = max(left, int(start[k]))
            note[k] = f"Conversation {cid}: owner {owner} left on {day}."
        else:
            note[k] = f"Conversation {cid} is owned by active team member {owner}."
    idx = np.arange(n, dtype=np.int64)
    no_stop = np.zeros(n, dtype=bool)
    code, elapsed, deadline, has_deadline = (
        status,
        np.zeros(n, dtype=np.int64),
        np.zeros(n, dtype=np.int64),
        np.zeros(n, dtype=bool),
    )
    if clocked.any():
        c = np.flatnonzero(clocked)
        s, el, due, ok = _clock(state, ctx, c, since[c], since[c], no_stop[c], within, {})
        code[c], elapsed[c], deadline[c], has_deadline[c] = s, el, due, ok
        for k in np.flatnonzero(unassigned).tolist():
            cid = b.cid[k]
            note[k] = (
                f"Conversation {cid} is unassigned."
                if code[k] == BREACHED
                else f"Conversation {cid} is unassigned; an owner is due."
            )
    code = np.where(applicable, code, NOT_APPLICABLE)
    return Rows(
        conv=idx,
        status=code,
        kind=np.zeros(n, dtype=np.int64),
        subj=np.zeros(n, dtype=np.int64),
        started=np.where(clocked, since, start),
        has_started=applicable,
        deadline=deadline,
        has_deadline=has_deadline & applicable,
        stopped=np.zeros(n, dtype=np.int64),
        has_stopped=no_stop,
        elapsed=elapsed,
        limit=np.full(n, within, dtype=np.int64),
        has_limit=applicable,
        ev1=np.where(applicable, ev1, -1),
        ev2=np.full(n, -1, dtype=np.int64),
        what=np.full(n, state.string("owner"), dtype=np.int64),
        label=np.full(n, state.string(label), dtype=np.int64),
        note=note,
    )


def observe_rule(
    rule: Rule, state: BatchState, ctx: RuleContext, scope: Mask | None = None
) -> None:
    """Feed a channel-level rule the batch's conversations in ``scope`` (default: all),
    as ``Rule.observe`` does conversation by conversation."""
    b = state.batch
    if scope is None:
        scope = np.ones(b.n, dtype=bool)
    kind = type(rule)
    if kind is Scoped:
        assert isinstance(rule, Scoped)
        observe_rule(rule.rule, state, ctx, scope & _in_scope(rule, state))
        return
    if kind in (AllOf, AnyOf):
        assert isinstance(rule, AllOf | AnyOf)
        for part in rule.parts:
            observe_rule(part, state, ctx, scope)
        return
    assert kind is ChannelActivity
    posts: dict[tuple[str, str], tuple[array[int], list[str]]] = ctx.state.setdefault(
        ("posts", id(rule)), {}
    )
    ev = state.turns(ctx.counting)
    replies = np.flatnonzero((ev.ev_kind == 1) & scope[ev.ev_conv])
    own = b.msg_channel
    assert own is not None
    ids = b.ids
    for row, at, k in zip(
        ev.ev_row[replies].tolist(),
        ev.ev_at[replies].tolist(),
        ev.ev_conv[replies].tolist(),
        strict=True,
    ):
        channel = own[row] or b.channel[k]
        if channel is None:
            continue
        key = (b.platform[k], channel)
        entry = posts.get(key)
        if entry is None:
            entry = posts[key] = (array("q"), [])
        entry[0].append(at)
        entry[1].append(ids[row])


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
    combined.kind = np.zeros(len(combined), dtype=np.int64)
    combined.subj = np.zeros(len(combined), dtype=np.int64)
    return combined.in_conversation_order()


def describe_rows(rows: Rows) -> list[Any]:  # pragma: no cover - a debugging aid
    return [STATUS_NAMES[s] for s in rows.status.tolist()]
