"""Built-in rules (DESIGN §5) and their composition.

Every rule is a frozen attrs object. A *conversation-level* rule maps one
:class:`~convokit_core._policy._facts.Thread` to outcomes (:meth:`Rule.evaluate`); a
*channel-level* rule observes every thread, then concludes per channel
(:meth:`Rule.observe`, :meth:`Rule.finish`). Composition: ``a & b`` / :func:`all_of`,
``a | b`` / :func:`any_of`, ``rule.where(...)``, ``rule.unless(...)``.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Iterator, Sequence
from datetime import timedelta
from itertools import pairwise
from typing import Any, ClassVar

import attrs

from .._timeutil import format_datetime, from_micros, parse_duration
from ._context import (
    _MAX_US,
    AT_RISK,
    BREACHED,
    MET,
    NOT_APPLICABLE,
    PAUSED,
    PENDING,
    RuleContext,
)
from ._facts import M_CHANNEL, M_ID, M_TAGS, Thread, tags_of
from ._findings import RawOutcome, format_duration

__all__ = [
    "AllOf",
    "AnyOf",
    "ChannelActivity",
    "FirstReply",
    "FollowUp",
    "MaxSilence",
    "NextReply",
    "OwnerAssigned",
    "PeriodicUpdate",
    "ResolutionWithin",
    "Rule",
    "Scope",
    "Scoped",
    "all_of",
    "any_of",
]

_US = 1_000_000
MAX_RULE_DEPTH = 32
"""Rules nest at most this deep: a composite, a scope and a leaf rule are one level each."""
RESOLVED = frozenset({"resolved", "closed"})
_PAUSABLE = frozenset({"pending", "resolved", "closed", "open"})

#: all_of: the worst outcome decides (lower rank = worse).
_ALL_RANK = {BREACHED: 0, AT_RISK: 1, PENDING: 2, PAUSED: 3, MET: 4}
#: any_of: the best outcome decides (lower rank = better).
_ANY_RANK = {MET: 0, PENDING: 1, PAUSED: 2, AT_RISK: 3, BREACHED: 4}


def _us(value: str | int | float | timedelta) -> int:
    td = parse_duration(value)
    return (td.days * 86_400 + td.seconds) * _US + td.microseconds


def _opt_us(value: str | int | float | timedelta | None) -> int | None:
    return None if value is None else _us(value)


def _statuses(value: str | Iterable[str] | bool | None) -> frozenset[str]:
    if value is None or value is False:
        return frozenset()
    if value is True:
        raise ValueError("pause_when expects statuses such as 'pending', found true")
    items = [value] if isinstance(value, str) else list(value)
    for item in items:
        if not isinstance(item, str) or item not in _PAUSABLE:
            raise ValueError(
                f"pause_when expects conversation statuses such as 'pending', found {item!r}"
            )
    return frozenset(items)


def _strings(value: str | Iterable[str]) -> tuple[str, ...]:
    items = (value,) if isinstance(value, str) else tuple(value)
    if not items or not all(isinstance(i, str) and i for i in items):
        raise ValueError(f"expected a non-empty list of strings, found {value!r}")
    return items


def _fmt_us(value: int) -> str:
    return format_duration(value / _US)


class Rule:
    """Base class of every rule; subclasses are frozen attrs classes.

    Conversation-level rules implement :meth:`evaluate`. Channel-level rules set
    ``level = "channel"`` and implement :meth:`observe` and :meth:`finish`.
    """

    __slots__ = ("_depth", "_label")
    _label: str
    _depth: int
    name: ClassVar[str] = "rule"
    level: ClassVar[str] = "conversation"
    needs_tags: ClassVar[bool] = False
    """True when the rule reads message tags (classifiers then run)."""
    needs_text: ClassVar[bool] = False
    """True when the rule reads message texts (``M_TEXT`` is ``None`` otherwise)."""

    def evaluate(self, thread: Thread, ctx: RuleContext) -> list[RawOutcome]:
        """Outcomes of this rule on one conversation (empty = out of scope)."""
        raise NotImplementedError(f"{type(self).__name__} is a {self.level}-level rule")

    def observe(self, thread: Thread, ctx: RuleContext) -> None:
        """Channel-level rules: look at one conversation."""
        raise NotImplementedError(f"{type(self).__name__} is a {self.level}-level rule")

    def finish(self, ctx: RuleContext) -> list[tuple[str, str, RawOutcome]]:
        """Channel-level rules: ``(platform, channel, outcome)`` once every thread is seen."""
        raise NotImplementedError(f"{type(self).__name__} is a {self.level}-level rule")

    def describe(self) -> str:
        """``name(param=value, …)``, as shown in findings (override this)."""
        return self.name

    def label(self) -> str:
        """:meth:`describe`, computed once per rule object."""
        try:
            return self._label
        except AttributeError:
            object.__setattr__(self, "_label", self.describe())
            return self._label

    def uses_tags(self) -> bool:
        return self.needs_tags

    def uses_text(self) -> bool:
        return self.needs_text

    def nesting(self) -> int:
        """How deep this rule nests: 1 for a plain rule, 1 + its deepest part for a
        composite or a scoped rule (at most :data:`MAX_RULE_DEPTH`)."""
        try:
            return self._depth
        except AttributeError:
            return 1

    def _set_nesting(self, parts: Iterable[Rule]) -> None:
        depth = 1 + max((p.nesting() if isinstance(p, Rule) else 1 for p in parts), default=0)
        if depth > MAX_RULE_DEPTH:
            raise ValueError(
                f"rules nest at most {MAX_RULE_DEPTH} levels deep (all_of, any_of, where and "
                f"unless each add one), found {depth}"
            )
        object.__setattr__(self, "_depth", depth)

    def __str__(self) -> str:
        return self.label()

    # -- composition -------------------------------------------------------------

    def __and__(self, other: Rule) -> AllOf:
        return all_of(self, other)

    def __or__(self, other: Rule) -> AnyOf:
        return any_of(self, other)

    def where(self, **criteria: str | Iterable[str]) -> Scoped:
        """Apply only to conversations matching every criterion: ``platform``,
        ``channel``, ``stakeholder_kind``, ``tags`` (any of), ``owner``."""
        return Scoped(rule=self, where=Scope.of(criteria))

    def unless(self, **criteria: str | Iterable[str]) -> Scoped:
        """Exempt conversations matching every criterion (same keys as :meth:`where`)."""
        return Scoped(rule=self, unless=Scope.of(criteria))


def _na(thread: Thread, rule: Rule, what: str = "reply") -> list[RawOutcome]:
    return [
        (
            NOT_APPLICABLE,
            "conversation",
            thread.id,
            None,
            None,
            None,
            0,
            None,
            (),
            what,
            "",
            rule.label(),
        )
    ]


# -- reply clocks ----------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class _TurnRule(Rule):
    within: int = attrs.field(converter=_us)
    """Limit, in microseconds (accepts ``"4h"``, ``"PT4H"``, seconds, timedelta)."""
    pause_when: frozenset[str] = attrs.field(default=frozenset(), converter=_statuses)
    """Statuses during which the clock stops (e.g. ``"pending"``)."""

    _first: ClassVar[bool] = True
    _later: ClassVar[bool] = True
    _what: ClassVar[str] = "reply"

    def describe(self) -> str:
        pause = f", pause_when={'|'.join(sorted(self.pause_when))}" if self.pause_when else ""
        return f"{self.name}(within={_fmt_us(self.within)}{pause})"

    def evaluate(self, thread: Thread, ctx: RuleContext) -> list[RawOutcome]:
        turns = thread.turns(ctx.counting)
        if not self._later:
            turns = turns[:1]
        elif not self._first:
            turns = turns[1:]
        if not turns:
            return _na(thread, self, self._what)
        label = self.label()
        excluded = thread.excluded(self.pause_when) if self.pause_when else []
        limit = self.within
        out: list[RawOutcome] = []
        append = out.append
        per_turn = self._later
        kind = "turn" if per_turn else "conversation"
        what = self._what
        tid = thread.id
        if ctx.simple and not excluded:
            as_of = ctx.as_of_us
            warn = ctx.warn_before_us
            last_start = _MAX_US - limit  # later starts have no representable deadline
            for s_at, stop_at, evidence, subject in turns:
                if stop_at is None:
                    elapsed = as_of - s_at if as_of > s_at else 0
                    if elapsed > limit:
                        status = BREACHED
                    elif warn and limit - elapsed <= warn:
                        status = AT_RISK
                    else:
                        status = PENDING
                else:
                    elapsed = stop_at - s_at
                    status = MET if elapsed <= limit else BREACHED
                append(
                    (
                        status,
                        kind,
                        subject if per_turn else tid,
                        s_at,
                        s_at + limit if s_at <= last_start else None,
                        stop_at,
                        elapsed,
                        limit,
                        evidence,
                        what,
                        "",
                        label,
                    )
                )
            return out
        clock = ctx.clock
        for s_at, stop_at, evidence, subject in turns:
            status, elapsed, deadline = clock(s_at, stop_at, limit, excluded)
            append(
                (
                    status,
                    kind,
                    subject if per_turn else tid,
                    s_at,
                    deadline,
                    stop_at,
                    elapsed,
                    limit,
                    evidence,
                    what,
                    "",
                    label,
                )
            )
        return out


@attrs.frozen(kw_only=True)
class FirstReply(_TurnRule):
    """From the first stakeholder message to the first reply after it."""

    name: ClassVar[str] = "first_reply"
    _later: ClassVar[bool] = False
    _what: ClassVar[str] = "first reply"


@attrs.frozen(kw_only=True)
class NextReply(_TurnRule):
    """One finding per later turn: from the first stakeholder message after a reply to
    the next reply."""

    name: ClassVar[str] = "next_reply"
    _first: ClassVar[bool] = False


@attrs.frozen(kw_only=True)
class MaxSilence(_TurnRule):
    """Every turn, the first included, is answered within the window."""

    name: ClassVar[str] = "max_silence"

    def describe(self) -> str:
        pause = f", pause_when={'|'.join(sorted(self.pause_when))}" if self.pause_when else ""
        return f"{self.name}(window={_fmt_us(self.within)}{pause})"


# -- periodic updates ------------------------------------------------------------------


def _worst_gap(
    gaps: Iterator[tuple[str, int, int | None, int, int | None, tuple[str, ...]]],
) -> tuple[str, int, int | None, int, int | None, tuple[str, ...]] | None:
    last = None
    for gap in gaps:
        if gap[0] == BREACHED:
            return gap
        last = gap
    return last


@attrs.frozen(kw_only=True)
class PeriodicUpdate(Rule):
    """While a conversation is open after our first reply, the gaps between our replies
    (and from the last one to ``as_of``, or to the resolution) stay within ``every``.

    One finding per conversation, decided by its first gap over the limit, else by its
    last gap. The clock stops while the conversation is resolved or closed, and while it
    is in a ``pause_when`` status.
    """

    name: ClassVar[str] = "periodic_update"
    every: int = attrs.field(converter=_us)
    pause_when: frozenset[str] = attrs.field(default=frozenset(), converter=_statuses)

    def describe(self) -> str:
        pause = f", pause_when={'|'.join(sorted(self.pause_when))}" if self.pause_when else ""
        return f"{self.name}(every={_fmt_us(self.every)}{pause})"

    def evaluate(self, thread: Thread, ctx: RuleContext) -> list[RawOutcome]:
        replies = [e for e in thread.events(ctx.counting) if e[1] == 1]
        if not replies:
            return _na(thread, self, "update")
        excluded = thread.excluded(self.pause_when | RESOLVED)
        messages = thread.messages
        limit = self.every

        def gaps() -> Iterator[tuple[str, int, int | None, int, int | None, tuple[str, ...]]]:
            for a, b in pairwise(replies):
                status, elapsed, deadline = ctx.clock(a[0], b[0], limit, excluded)
                yield status, a[0], b[0], elapsed, deadline, (messages[a[2]][0], messages[b[2]][0])
            last = replies[-1]
            stop = None
            if thread.status in RESOLVED:
                resolved_at = thread.first_status_at(RESOLVED, last[0])
                stop = resolved_at if resolved_at is not None else last[0]
            status, elapsed, deadline = ctx.clock(last[0], stop, limit, excluded)
            yield status, last[0], stop, elapsed, deadline, (messages[last[2]][0],)

        gap = _worst_gap(gaps())
        assert gap is not None
        status, start, stop, elapsed, deadline, evidence = gap
        return [
            (
                status,
                "conversation",
                thread.id,
                start,
                deadline,
                stop,
                elapsed,
                limit,
                evidence,
                "update",
                "",
                self.label(),
            )
        ]


@attrs.frozen(kw_only=True)
class ChannelActivity(Rule):
    """Per channel, the gaps between our outbound posts (and from the last one to
    ``as_of``) stay within ``max_gap``. A known channel with no post at all is measured
    from its ``created_at``. One finding per channel, decided by its first gap over the
    limit, else by its current gap."""

    name: ClassVar[str] = "channel_activity"
    level: ClassVar[str] = "channel"
    max_gap: int = attrs.field(converter=_us)

    def describe(self) -> str:
        return f"{self.name}(max_gap={_fmt_us(self.max_gap)})"

    def observe(self, thread: Thread, ctx: RuleContext) -> None:
        posts: dict[tuple[str, str], tuple[array[int], list[str]]] = ctx.state.setdefault(
            ("posts", id(self)), {}
        )
        messages = thread.messages
        for at, kind, index in thread.events(ctx.counting):
            if kind != 1:
                continue
            m = messages[index]
            channel = m[M_CHANNEL] or thread.channel_id
            if channel is None:
                continue
            key = (thread.platform, channel)
            entry = posts.get(key)
            if entry is None:
                entry = posts[key] = (array("q"), [])
            entry[0].append(at)
            entry[1].append(m[M_ID])

    def finish(self, ctx: RuleContext) -> list[tuple[str, str, RawOutcome]]:
        posts: dict[tuple[str, str], tuple[array[int], list[str]]] = ctx.state.get(
            ("posts", id(self)), {}
        )
        keys = set(posts) | set(ctx.channels)
        out: list[tuple[str, str, RawOutcome]] = []
        label = self.label()
        limit = self.max_gap
        for platform, channel in sorted(keys):
            entry = posts.get((platform, channel))
            if entry is None:
                created = getattr(ctx.channels.get((platform, channel)), "created_at", None)
                if created is None:
                    out.append(
                        (
                            platform,
                            channel,
                            (
                                NOT_APPLICABLE,
                                "channel",
                                channel,
                                None,
                                None,
                                None,
                                0,
                                limit,
                                (),
                                "post",
                                "",
                                label,
                            ),
                        )
                    )
                    continue
                from .._timeutil import to_micros

                start = to_micros(created)
                if start > ctx.as_of_us:
                    continue
                status, elapsed, deadline = ctx.clock(start, None, limit)
                out.append(
                    (
                        platform,
                        channel,
                        (
                            status,
                            "channel",
                            channel,
                            start,
                            deadline,
                            None,
                            elapsed,
                            limit,
                            (),
                            "post",
                            "",
                            label,
                        ),
                    )
                )
                continue
            times, ids = entry
            order = sorted(range(len(times)), key=lambda i: (times[i], ids[i]))
            decided: RawOutcome | None = None
            for a, b in pairwise(order):
                status, elapsed, deadline = ctx.clock(times[a], times[b], limit)
                if status == BREACHED:
                    decided = (
                        status,
                        "channel",
                        channel,
                        times[a],
                        deadline,
                        times[b],
                        elapsed,
                        limit,
                        (ids[a], ids[b]),
                        "post",
                        "",
                        label,
                    )
                    break
            if decided is None:
                last = order[-1]
                status, elapsed, deadline = ctx.clock(times[last], None, limit)
                decided = (
                    status,
                    "channel",
                    channel,
                    times[last],
                    deadline,
                    None,
                    elapsed,
                    limit,
                    (ids[last],),
                    "post",
                    "",
                    label,
                )
            out.append((platform, channel, decided))
        return out


# -- follow-up and resolution ---------------------------------------------------------


@attrs.frozen(kw_only=True)
class FollowUp(Rule):
    """A tagged stakeholder message (default tag ``complaint``) gets a reply within
    ``acknowledge_within`` and its conversation is resolved (or closed) within
    ``resolve_within`` of it. One finding per tagged message; when both limits are
    set, the worse of the two clocks decides. A conversation tagged with one of the
    tags counts its first stakeholder message as tagged."""

    name: ClassVar[str] = "follow_up"
    needs_tags: ClassVar[bool] = True
    tags: tuple[str, ...] = attrs.field(default=("complaint",), converter=_strings)
    acknowledge_within: int | None = attrs.field(default=None, converter=_opt_us)
    resolve_within: int | None = attrs.field(default=None, converter=_opt_us)
    pause_when: frozenset[str] = attrs.field(default=frozenset(), converter=_statuses)

    def __attrs_post_init__(self) -> None:
        if self.acknowledge_within is None and self.resolve_within is None:
            raise ValueError("follow_up needs acknowledge_within, resolve_within or both")

    def describe(self) -> str:
        parts = [f"tags={','.join(self.tags)}"]
        if self.acknowledge_within is not None:
            parts.append(f"acknowledge_within={_fmt_us(self.acknowledge_within)}")
        if self.resolve_within is not None:
            parts.append(f"resolve_within={_fmt_us(self.resolve_within)}")
        return f"{self.name}({', '.join(parts)})"

    def evaluate(self, thread: Thread, ctx: RuleContext) -> list[RawOutcome]:
        wanted = frozenset(self.tags)
        events = thread.events(ctx.counting)
        conv_tagged = bool(thread.tags) and not wanted.isdisjoint(thread.tags)
        if not conv_tagged and not thread.has_tagged_stakeholder_message(ctx.counting):
            return _na(thread, self, "acknowledgement")
        messages = thread.messages
        label = self.label()
        excluded = thread.excluded(self.pause_when) if self.pause_when else []
        out: list[RawOutcome] = []
        first_seen = False
        for pos, (at, kind, index) in enumerate(events):
            if kind:
                continue
            raw_tags = messages[index][M_TAGS]
            tagged = bool(raw_tags) and not wanted.isdisjoint(tags_of(messages[index]))
            if not first_seen:
                first_seen = True
                tagged = tagged or conv_tagged
            if not tagged:
                continue
            mid = messages[index][M_ID]
            candidates = []
            if self.acknowledge_within is not None:
                reply = next((e for e in events[pos + 1 :] if e[1] == 1), None)
                stop = None if reply is None else reply[0]
                status, elapsed, deadline = ctx.clock(at, stop, self.acknowledge_within, excluded)
                evidence = (mid,) if reply is None else (mid, messages[reply[2]][M_ID])
                candidates.append(
                    (
                        status,
                        "message",
                        mid,
                        at,
                        deadline,
                        stop,
                        elapsed,
                        self.acknowledge_within,
                        evidence,
                        "acknowledgement",
                        "",
                        label,
                    )
                )
            if self.resolve_within is not None:
                stop = thread.first_status_at(RESOLVED, at)
                status, elapsed, deadline = ctx.clock(at, stop, self.resolve_within, excluded)
                candidates.append(
                    (
                        status,
                        "message",
                        mid,
                        at,
                        deadline,
                        stop,
                        elapsed,
                        self.resolve_within,
                        (mid,),
                        "resolution",
                        "",
                        label,
                    )
                )
            out.append(min(candidates, key=lambda o: _ALL_RANK[o[0]]))
        if not out:
            return _na(thread, self, "acknowledgement")
        return out


@attrs.frozen(kw_only=True)
class ResolutionWithin(Rule):
    """From the first stakeholder message to the conversation's resolution (status
    ``resolved`` or ``closed``)."""

    name: ClassVar[str] = "resolution_within"
    duration: int = attrs.field(converter=_us)
    pause_when: frozenset[str] = attrs.field(default=frozenset(), converter=_statuses)

    def describe(self) -> str:
        pause = f", pause_when={'|'.join(sorted(self.pause_when))}" if self.pause_when else ""
        return f"{self.name}(duration={_fmt_us(self.duration)}{pause})"

    def evaluate(self, thread: Thread, ctx: RuleContext) -> list[RawOutcome]:
        events = thread.events(ctx.counting)
        first = next((e for e in events if e[1] == 0), None)
        if first is None:
            return _na(thread, self, "resolution")
        stop = thread.first_status_at(RESOLVED, first[0])
        excluded = thread.excluded(self.pause_when) if self.pause_when else []
        status, elapsed, deadline = ctx.clock(first[0], stop, self.duration, excluded)
        return [
            (
                status,
                "conversation",
                thread.id,
                first[0],
                deadline,
                stop,
                elapsed,
                self.duration,
                (thread.messages[first[2]][M_ID],),
                "resolution",
                "",
                self.label(),
            )
        ]


@attrs.frozen(kw_only=True)
class OwnerAssigned(Rule):
    """An open (or pending) conversation has an owner who is an active team member at
    ``as_of``. ``within`` is the grace period: from the first stakeholder message for
    an unassigned conversation, from the day the owner left for a departed owner.

    Without any team member in the store, owners cannot be verified and any owner is
    accepted."""

    name: ClassVar[str] = "owner_assigned"
    within: int = attrs.field(default=0, converter=_us)

    def describe(self) -> str:
        return f"{self.name}(within={_fmt_us(self.within)})" if self.within else self.name

    def evaluate(self, thread: Thread, ctx: RuleContext) -> list[RawOutcome]:
        label = self.label()
        if thread.status not in ("open", "pending"):
            return [
                (
                    NOT_APPLICABLE,
                    "conversation",
                    thread.id,
                    None,
                    None,
                    None,
                    0,
                    None,
                    (),
                    "owner",
                    f"Conversation {thread.id} is {thread.status}: no owner needed.",
                    label,
                )
            ]
        events = thread.events(ctx.counting)
        first = next((e for e in events if e[1] == 0), None)
        start = first[0] if first is not None else thread.messages[0][1]
        evidence = (thread.messages[first[2] if first else 0][M_ID],)
        owner = thread.owner_id
        if owner is None:
            status, elapsed, deadline = ctx.clock(start, None, self.within)
            note = f"Conversation {thread.id} is unassigned."
            if status != BREACHED:
                note = f"Conversation {thread.id} is unassigned; an owner is due."
            return [
                (
                    status,
                    "conversation",
                    thread.id,
                    start,
                    deadline,
                    None,
                    elapsed,
                    self.within,
                    evidence,
                    "owner",
                    note,
                    label,
                )
            ]
        member = ctx.team.get(owner)
        if member is None:
            if ctx.team:
                return [
                    (
                        BREACHED,
                        "conversation",
                        thread.id,
                        start,
                        None,
                        None,
                        0,
                        self.within,
                        evidence,
                        "owner",
                        f"Conversation {thread.id}: owner {owner} is not a team member.",
                        label,
                    )
                ]
            return [
                (
                    MET,
                    "conversation",
                    thread.id,
                    start,
                    None,
                    None,
                    0,
                    self.within,
                    evidence,
                    "owner",
                    f"Conversation {thread.id} is owned by {owner} (no team roster to verify).",
                    label,
                )
            ]
        as_of = from_micros(ctx.as_of_us)
        if member.active_from is not None and as_of < member.active_from:
            return [
                (
                    BREACHED,
                    "conversation",
                    thread.id,
                    start,
                    None,
                    None,
                    0,
                    self.within,
                    evidence,
                    "owner",
                    f"Conversation {thread.id}: owner {owner} only starts on "
                    f"{format_datetime(member.active_from)[:10]}.",
                    label,
                )
            ]
        if member.active_until is not None and as_of >= member.active_until:
            from .._timeutil import to_micros

            left = to_micros(member.active_until)
            since = max(left, start)  # the owner is missing from here on
            status, elapsed, deadline = ctx.clock(since, None, self.within)
            return [
                (
                    status,
                    "conversation",
                    thread.id,
                    since,
                    deadline,
                    None,
                    elapsed,
                    self.within,
                    evidence,
                    "owner",
                    f"Conversation {thread.id}: owner {owner} left on "
                    f"{format_datetime(member.active_until)[:10]}.",
                    label,
                )
            ]
        return [
            (
                MET,
                "conversation",
                thread.id,
                start,
                None,
                None,
                0,
                self.within,
                evidence,
                "owner",
                f"Conversation {thread.id} is owned by active team member {owner}.",
                label,
            )
        ]


# -- scope -----------------------------------------------------------------------------

_SCOPE_KEYS = ("platform", "channel", "stakeholder_kind", "tags", "owner")
_CHANNEL_SCOPE_KEYS = ("platform", "channel")


def _opt_set(value: str | Iterable[str] | None) -> frozenset[str] | None:
    if value is None:
        return None
    return frozenset(_strings(value))


@attrs.frozen(kw_only=True)
class Scope:
    """Conversation criteria; a conversation matches when it meets every given one."""

    platform: frozenset[str] | None = attrs.field(default=None, converter=_opt_set)
    channel: frozenset[str] | None = attrs.field(default=None, converter=_opt_set)
    stakeholder_kind: frozenset[str] | None = attrs.field(default=None, converter=_opt_set)
    tags: frozenset[str] | None = attrs.field(default=None, converter=_opt_set)
    """Matches when the conversation or one of its stakeholder messages has any of these."""
    owner: frozenset[str] | None = attrs.field(default=None, converter=_opt_set)

    @classmethod
    def of(cls, criteria: dict[str, Any]) -> Scope:
        unknown = sorted(set(criteria) - set(_SCOPE_KEYS))
        if unknown:
            raise TypeError(
                f"unknown scope key {unknown[0]!r}; expected one of {', '.join(_SCOPE_KEYS)}"
            )
        if not criteria:
            raise TypeError(f"a scope needs at least one of {', '.join(_SCOPE_KEYS)}")
        return cls(**criteria)

    def given(self) -> list[str]:
        return [k for k in _SCOPE_KEYS if getattr(self, k) is not None]

    def matches(self, thread: Thread) -> bool:
        if self.platform is not None and thread.platform not in self.platform:
            return False
        if self.channel is not None and thread.channel_id not in self.channel:
            return False
        if (
            self.stakeholder_kind is not None
            and (thread.stakeholder_kind or "unknown") not in self.stakeholder_kind
        ):
            return False
        if self.owner is not None and thread.owner_id not in self.owner:
            return False
        return not (self.tags is not None and not self.tags.intersection(thread.all_tags()))

    def matches_channel(self, platform: str, channel: str) -> bool:
        if self.platform is not None and platform not in self.platform:
            return False
        return self.channel is None or channel in self.channel

    def describe(self) -> str:
        return ", ".join(f"{k}={'|'.join(sorted(getattr(self, k)))}" for k in self.given())


@attrs.frozen(kw_only=True)
class Scoped(Rule):
    """``rule`` limited to conversations matching ``where`` and not matching ``unless``.
    Conversations out of scope get no finding at all."""

    rule: Rule
    where_scope: Scope | None = attrs.field(default=None, alias="where")
    unless_scope: Scope | None = attrs.field(default=None, alias="unless")

    def __attrs_post_init__(self) -> None:
        self._set_nesting((self.rule,))
        if self.rule.level == "channel":
            for scope in (self.where_scope, self.unless_scope):
                if scope is not None:
                    bad = [k for k in scope.given() if k not in _CHANNEL_SCOPE_KEYS]
                    if bad:
                        raise ValueError(
                            f"{self.rule.label()} is a channel-level rule; it can only be "
                            f"scoped by platform and channel, found {bad[0]!r}"
                        )

    @property
    def name(self) -> str:  # type: ignore[override]
        return self.rule.name

    @property
    def level(self) -> str:  # type: ignore[override]
        return self.rule.level

    def uses_tags(self) -> bool:
        return self.rule.uses_tags() or any(
            s is not None and s.tags is not None for s in (self.where_scope, self.unless_scope)
        )

    def uses_text(self) -> bool:
        return self.rule.uses_text()

    def uses_stakeholders(self) -> bool:
        return any(
            s is not None and s.stakeholder_kind is not None
            for s in (self.where_scope, self.unless_scope)
        )

    def describe(self) -> str:
        text = self.rule.label()
        if self.where_scope is not None:
            text += f".where({self.where_scope.describe()})"
        if self.unless_scope is not None:
            text += f".unless({self.unless_scope.describe()})"
        return text

    def where(self, **criteria: str | Iterable[str]) -> Scoped:
        if self.where_scope is None:
            return attrs.evolve(self, where=Scope.of(criteria))
        return Scoped(rule=self, where=Scope.of(criteria))

    def unless(self, **criteria: str | Iterable[str]) -> Scoped:
        if self.unless_scope is None:
            return attrs.evolve(self, unless=Scope.of(criteria))
        return Scoped(rule=self, unless=Scope.of(criteria))

    def _in_scope(self, thread: Thread) -> bool:
        if self.where_scope is not None and not self.where_scope.matches(thread):
            return False
        return not (self.unless_scope is not None and self.unless_scope.matches(thread))

    def evaluate(self, thread: Thread, ctx: RuleContext) -> list[RawOutcome]:
        return self.rule.evaluate(thread, ctx) if self._in_scope(thread) else []

    def observe(self, thread: Thread, ctx: RuleContext) -> None:
        if self._in_scope(thread):
            self.rule.observe(thread, ctx)

    def finish(self, ctx: RuleContext) -> list[tuple[str, str, RawOutcome]]:
        out = []
        for platform, channel, outcome in self.rule.finish(ctx):
            if self.where_scope is not None and not self.where_scope.matches_channel(
                platform, channel
            ):
                continue
            if self.unless_scope is not None and self.unless_scope.matches_channel(
                platform, channel
            ):
                continue
            out.append((platform, channel, outcome))
        return out


# -- combinators ---------------------------------------------------------------------


def _combine(
    parts: Sequence[list[RawOutcome]], mode: str, kind: str, subject: str, label: str
) -> list[RawOutcome]:
    """One outcome from every part's outcomes for one subject.

    Each part's verdict is its worst applicable outcome (all of its turns/messages must
    hold). ``all``: the worst verdict decides; ``any``: the best one decides. Parts with
    nothing applicable are ignored; when no part applies the result is
    ``not_applicable``; when every part is out of scope there is no result.
    """
    verdicts = []
    seen_any = False
    for outcomes in parts:
        if outcomes:
            seen_any = True
        applicable = [o for o in outcomes if o[0] != NOT_APPLICABLE]
        if applicable:
            verdicts.append(min(applicable, key=lambda o: _ALL_RANK[o[0]]))
    if not verdicts:
        if not seen_any:
            return []
        return [(NOT_APPLICABLE, kind, subject, None, None, None, 0, None, (), "reply", "", label)]
    rank = _ALL_RANK if mode == "all" else _ANY_RANK
    decided = min(verdicts, key=lambda o: rank[o[0]])
    return [(decided[0], kind, subject, *decided[3:])]


def _rule_tuple(value: Iterable[Rule]) -> tuple[Rule, ...]:
    return tuple(value)


def _check_level(parts: Sequence[Rule]) -> str:
    levels = {p.level for p in parts}
    if len(levels) > 1:
        raise ValueError(
            "cannot combine channel-level and conversation-level rules in one composite: "
            + ", ".join(f"{p.label()} ({p.level})" for p in parts)
        )
    return levels.pop()


@attrs.frozen(kw_only=True)
class _Composite(Rule):
    parts: tuple[Rule, ...] = attrs.field(converter=_rule_tuple)
    _mode: ClassVar[str] = "all"

    def __attrs_post_init__(self) -> None:
        if len(self.parts) < 1:
            raise ValueError(f"{self.name} needs at least one rule")
        for part in self.parts:
            if not isinstance(part, Rule):
                raise TypeError(f"{self.name} expects rules, found {part!r}")
        self._set_nesting(self.parts)
        _check_level(self.parts)

    @property
    def level(self) -> str:  # type: ignore[override]
        return self.parts[0].level

    def uses_tags(self) -> bool:
        return any(p.uses_tags() for p in self.parts)

    def uses_text(self) -> bool:
        return any(p.uses_text() for p in self.parts)

    def describe(self) -> str:
        return f"{self.name}({', '.join(p.label() for p in self.parts)})"

    def evaluate(self, thread: Thread, ctx: RuleContext) -> list[RawOutcome]:
        return _combine(
            [p.evaluate(thread, ctx) for p in self.parts],
            self._mode,
            "conversation",
            thread.id,
            self.label(),
        )

    def observe(self, thread: Thread, ctx: RuleContext) -> None:
        for part in self.parts:
            part.observe(thread, ctx)

    def finish(self, ctx: RuleContext) -> list[tuple[str, str, RawOutcome]]:
        by_key: dict[tuple[str, str], list[list[RawOutcome]]] = {}
        for i, part in enumerate(self.parts):
            for platform, channel, outcome in part.finish(ctx):
                lists = by_key.setdefault((platform, channel), [[] for _ in self.parts])
                lists[i].append(outcome)
        out = []
        for (platform, channel), lists in sorted(by_key.items()):
            for outcome in _combine(lists, self._mode, "channel", channel, self.label()):
                out.append((platform, channel, outcome))
        return out


@attrs.frozen(kw_only=True)
class AllOf(_Composite):
    """Breached if any part is breached; met when every applicable part is met. The
    worst part outcome decides (breached, at_risk, pending, paused, met)."""

    name: ClassVar[str] = "all_of"
    _mode: ClassVar[str] = "all"

    def __and__(self, other: Rule) -> AllOf:
        return AllOf(parts=(*self.parts, other))


@attrs.frozen(kw_only=True)
class AnyOf(_Composite):
    """Met if any part is met. The best part outcome decides (met, pending, paused,
    at_risk, breached)."""

    name: ClassVar[str] = "any_of"
    _mode: ClassVar[str] = "any"

    def __or__(self, other: Rule) -> AnyOf:
        return AnyOf(parts=(*self.parts, other))


def all_of(*rules: Rule) -> AllOf:
    """Every rule must hold: breached if any part is breached."""
    return AllOf(parts=rules)


def any_of(*rules: Rule) -> AnyOf:
    """One rule is enough: met if any part is met."""
    return AnyOf(parts=rules)


def rule_uses_stakeholders(rule: Rule) -> bool:
    if isinstance(rule, Scoped):
        return rule.uses_stakeholders() or rule_uses_stakeholders(rule.rule)
    if isinstance(rule, _Composite):
        return any(rule_uses_stakeholders(p) for p in rule.parts)
    return False


# -- factories (the names used in Python and in policy files) --------------------------

Duration = str | int | float | timedelta


def first_reply(within: Duration, *, pause_when: str | Iterable[str] | None = None) -> FirstReply:
    """``first_reply(within)``: from the first stakeholder message to the first reply."""
    return FirstReply(within=within, pause_when=pause_when)


def next_reply(within: Duration, *, pause_when: str | Iterable[str] | None = None) -> NextReply:
    """``next_reply(within)``: every later turn is answered within ``within``."""
    return NextReply(within=within, pause_when=pause_when)


def periodic_update(
    every: Duration, *, pause_when: str | Iterable[str] | None = None
) -> PeriodicUpdate:
    """``periodic_update(every)``: no gap between our replies longer than ``every``."""
    return PeriodicUpdate(every=every, pause_when=pause_when)


def max_silence(window: Duration, *, pause_when: str | Iterable[str] | None = None) -> MaxSilence:
    """``max_silence(window)``: every turn, the first included, answered within ``window``."""
    return MaxSilence(within=window, pause_when=pause_when)


def channel_activity(max_gap: Duration) -> ChannelActivity:
    """``channel_activity(max_gap)``: every channel posts at least every ``max_gap``."""
    return ChannelActivity(max_gap=max_gap)


def follow_up(
    tags: str | Iterable[str] = ("complaint",),
    *,
    acknowledge_within: Duration | None = None,
    resolve_within: Duration | None = None,
    pause_when: str | Iterable[str] | None = None,
) -> FollowUp:
    """``follow_up(tags, acknowledge_within, resolve_within)``: tagged messages are
    acknowledged, and their conversations resolved, in time."""
    return FollowUp(
        tags=tags,
        acknowledge_within=acknowledge_within,
        resolve_within=resolve_within,
        pause_when=pause_when,
    )


def owner_assigned(within: Duration = 0) -> OwnerAssigned:
    """``owner_assigned(within=0)``: open conversations have an active owner."""
    return OwnerAssigned(within=within)


def resolution_within(
    duration: Duration, *, pause_when: str | Iterable[str] | None = None
) -> ResolutionWithin:
    """``resolution_within(duration)``: from the first stakeholder message to resolved."""
    return ResolutionWithin(duration=duration, pause_when=pause_when)


#: Built-in rule factories by name (registered through ``register_rules``).
BUILTIN_RULES: dict[str, tuple[Any, str]] = {
    "first_reply": (first_reply, "first stakeholder message → first reply within a limit"),
    "next_reply": (next_reply, "every later turn answered within a limit"),
    "max_silence": (max_silence, "every turn, the first included, answered within a window"),
    "periodic_update": (periodic_update, "gaps between our replies stay within a limit"),
    "channel_activity": (channel_activity, "each channel posts at least every max_gap"),
    "follow_up": (follow_up, "tagged messages acknowledged and resolved in time"),
    "owner_assigned": (owner_assigned, "open conversations have an active owner"),
    "resolution_within": (resolution_within, "conversations resolved within a limit"),
}
