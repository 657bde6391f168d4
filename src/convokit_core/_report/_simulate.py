"""Backtesting commitments over history: which promise could we have kept?

:func:`simulate` checks a policy over a window of history and, for every time-based
clock of every commitment, finds the limits that would have been kept 90 %, 95 % and
99 % of the time, rounded up to a "nice" duration a team can say in public.

Definitions (docs/simulate.md says the same for users):

- A *clock* is one finding of a time-based rule (every built-in rule but
  ``owner_assigned`` has a limit) whose clock started in the window.
- A clock that stopped (the reply came, the conversation was resolved) has its elapsed
  business time on the commitment's calendar. A clock that never stopped and is already
  breached is *unanswered*: it counts as breached at every target. A clock still running
  within its limit at the end of the window (pending, at risk, paused) is left out: its
  outcome is not known yet.
- The exact percentile for a share ``p`` of ``n`` clocks is the ``ceil(p * n)``-th
  smallest elapsed time; when fewer than that many clocks stopped at all, no target
  keeps ``p`` and the target is ``None``.
- The suggested target is the smallest step of :data:`NICE_STEPS` at or above the exact
  percentile (always rounded up, so the suggestion keeps at least the share asked for).
  On a business calendar, day steps are the calendar's business day (for a 09:00-17:00
  calendar, "2 business days" are 16 business hours).
"""

from __future__ import annotations

import bisect
import math
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, TextIO

import attrs

from .._calendars import Calendar
from .._policy._evaluate import Commitment
from .._policy._findings import Finding, Status
from .._policy._policyfile import Policy, load_policy
from .._policy._rules import AllOf, AnyOf, FollowUp, Rule, Scoped, _opt_us, _us
from .._policy._run import check
from .._timeutil import format_datetime, to_micros
from ..protocols import StorageBackend

__all__ = [
    "NICE_STEPS",
    "SHARES",
    "ClockSummary",
    "CommitmentSimulation",
    "GroupSimulation",
    "Simulation",
    "Target",
    "business_day_seconds",
    "nice_target",
    "simulate",
]

#: The shares a target is suggested for, in percent.
SHARES: tuple[int, ...] = (90, 95, 99)

_MINUTE, _HOUR = 60, 3600
#: Suggested targets below a day, in seconds; then whole days (1, 2, 3, 4, 5, 7, 10, 14,
#: 21, 28 business days) and then whole weeks of seven days.
NICE_STEPS: tuple[int, ...] = (
    1,
    5,
    10,
    15,
    30,
    _MINUTE,
    2 * _MINUTE,
    5 * _MINUTE,
    10 * _MINUTE,
    15 * _MINUTE,
    20 * _MINUTE,
    30 * _MINUTE,
    45 * _MINUTE,
    _HOUR,
    90 * _MINUTE,
    2 * _HOUR,
    3 * _HOUR,
    4 * _HOUR,
    6 * _HOUR,
    8 * _HOUR,
    12 * _HOUR,
    16 * _HOUR,
)
_DAY_STEPS: tuple[int, ...] = (1, 2, 3, 4, 5, 7, 10, 14, 21, 28)
_US = 1_000_000
_BY = ("platform", "channel", "owner")


def business_day_seconds(calendar: Calendar) -> int:
    """The length of a business day on ``calendar``, in seconds.

    86,400 when the calendar has no opening hours; otherwise the most common non-zero
    daily opening time of its week (7 h for ``mon-fri = ["09:00-12:30", "13:30-17:00"]``;
    the longer one on a tie).
    """
    if calendar.hours is None:
        return 86_400
    lengths = Counter(
        sum(slot.end - slot.start for slot in day) * 60 for day in calendar.hours if day
    )
    return max(lengths.items(), key=lambda item: (item[1], item[0]))[0]


def nice_target(seconds: float, *, day: int = 86_400) -> int:
    """The smallest nice duration, in seconds, at or above ``seconds``.

    ``day`` is the length of a (business) day; past the sub-day steps of
    :data:`NICE_STEPS` targets are whole days of that length, then whole weeks.
    """
    needed = max(seconds, 0.0)
    for step in NICE_STEPS:
        if step >= needed and step < day:
            return step
    for days in _DAY_STEPS:
        if days * day >= needed:
            return days * day
    week = 7 * day
    return math.ceil(needed / week) * week


def format_target(seconds: int, *, day: int = 86_400, business: bool = False) -> str:
    """``7200`` → ``"2 hours"`` (``"2 business hours"`` on a business calendar); whole
    days of ``day`` seconds are said as days."""
    prefix = "business " if business else ""
    if seconds >= day and seconds % day == 0:
        n, unit = seconds // day, "day"
    elif seconds >= _HOUR and seconds % _HOUR == 0:
        n, unit = seconds // _HOUR, "hour"
    elif seconds >= _HOUR and seconds % (30 * _MINUTE) == 0:
        return f"{seconds / _HOUR:g} {prefix}hours"
    elif seconds >= _MINUTE and seconds % _MINUTE == 0:
        n, unit = seconds // _MINUTE, "minute"
    else:
        n, unit = seconds, "second"
    return f"{n} {prefix}{unit}{'' if n == 1 else 's'}"


@attrs.frozen(kw_only=True)
class Target:
    """The limit that would have kept ``share`` percent of the clocks.

    Attributes:
        share: the share asked for, in percent (90, 95 or 99).
        exact_seconds: the exact percentile of the elapsed business time (``None`` for
            gap rules, whose targets come from re-checking the rule at each step).
        seconds: the suggested (nice, rounded-up) limit.
        label: ``seconds`` in words ("3 business hours").
        compliance: the share of clocks the suggested limit keeps (at least ``share``).
    """

    share: int
    exact_seconds: float | None
    seconds: int
    label: str
    compliance: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "seconds": self.seconds,
            "label": self.label,
            "exact_seconds": self.exact_seconds,
            "compliance": self.compliance,
        }


Targets = Mapping[int, Target | None]


@attrs.frozen(kw_only=True)
class ClockSummary:
    """One time-based clock of a commitment (one leaf rule, e.g. ``first_reply(within=1h)``;
    ``follow_up`` has two: acknowledgement and resolution).

    Attributes:
        rule: the leaf rule's label.
        what: what the clock waits for ("first reply", "acknowledgement" …).
        limit_seconds: today's limit.
        clocks: clocks counted (stopped + unanswered).
        unanswered: clocks that never stopped and are breached.
        running: clocks left out because they were still running within their limit.
        compliance: the share of counted clocks kept under today's limit.
        targets: per share (90, 95, 99), the target that would have kept it, or ``None``.
    """

    rule: str
    what: str
    limit_seconds: float | None
    clocks: int
    unanswered: int
    running: int
    compliance: float | None
    targets: Targets

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "what": self.what,
            "limit_seconds": self.limit_seconds,
            "clocks": self.clocks,
            "unanswered": self.unanswered,
            "running": self.running,
            "compliance": self.compliance,
            "targets": _targets_dict(self.targets),
        }


@attrs.frozen(kw_only=True)
class GroupSimulation:
    """A commitment's results within one ``--by`` group (a platform, channel or owner)."""

    group: str
    compliance: float | None
    findings: int
    clocks: tuple[ClockSummary, ...]

    @property
    def targets(self) -> Targets:
        return self.clocks[0].targets if self.clocks else {}

    def to_dict(self) -> dict[str, Any]:
        return {
            "group": self.group,
            "compliance": self.compliance,
            "findings": self.findings,
            "targets": _targets_dict(self.targets) if self.clocks else None,
            "clocks": [c.to_dict() for c in self.clocks],
        }


@attrs.frozen(kw_only=True)
class CommitmentSimulation:
    """What a commitment would have scored over the window, and keepable targets.

    ``targets`` are those of its first time-based clock (``{}`` when it has none, as
    for ``owner_assigned``); ``clocks`` lists every time-based clock.
    """

    name: str
    promise: str
    rule: str
    compliance: float | None
    findings: int
    clocks: tuple[ClockSummary, ...]
    groups: tuple[GroupSimulation, ...] = ()

    @property
    def targets(self) -> Targets:
        return self.clocks[0].targets if self.clocks else {}

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "promise": self.promise,
            "rule": self.rule,
            "compliance": self.compliance,
            "findings": self.findings,
            "targets": _targets_dict(self.targets) if self.clocks else None,
            "clocks": [c.to_dict() for c in self.clocks],
            "groups": [g.to_dict() for g in self.groups],
        }


@attrs.frozen(kw_only=True)
class Simulation:
    """The result of :func:`simulate`."""

    as_of: datetime
    since: datetime | None
    until: datetime | None
    by: str | None
    commitments: tuple[CommitmentSimulation, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "as_of": format_datetime(self.as_of),
            "since": None if self.since is None else format_datetime(self.since),
            "until": None if self.until is None else format_datetime(self.until),
            "by": self.by,
            "shares": list(SHARES),
            "commitments": [c.to_dict() for c in self.commitments],
        }


def _targets_dict(targets: Targets) -> dict[str, Any]:
    return {str(share): (None if t is None else t.to_dict()) for share, t in targets.items()}


# -- rule decomposition -------------------------------------------------------------------


def _leaves(rule: Rule, scopes: tuple[Scoped, ...] = ()) -> Iterable[Rule]:
    """The leaf rules of ``rule``, each wrapped again in the scopes above it."""
    if isinstance(rule, Scoped):
        yield from _leaves(rule.rule, (*scopes, rule))
        return
    if isinstance(rule, AllOf | AnyOf):
        for part in rule.parts:
            yield from _leaves(part, scopes)
        return
    wrapped = rule
    for scope in reversed(scopes):
        wrapped = Scoped(rule=wrapped, where=scope.where_scope, unless=scope.unless_scope)
    yield wrapped


#: Rules whose one finding per subject is decided by the *first* gap over the limit, so
#: its elapsed time is not the subject's worst gap: their targets come from checking the
#: rule again at every step of the ladder instead of from a percentile.
_GAP_RULES: Mapping[str, str] = {"periodic_update": "every", "channel_activity": "max_gap"}
#: Rules without a duration worth suggesting.
_UNTIMED_RULES = frozenset({"owner_assigned"})
#: Extra steps, in (business) days, for gap rules past 28 days.
_LONG_DAYS: tuple[int, ...] = (42, 56, 91, 182, 365)
_PREFIX = "\x00simulate:"


def _unscoped(rule: Rule) -> Rule:
    while isinstance(rule, Scoped):
        rule = rule.rule
    return rule


@attrs.frozen
class _Clock:
    """One clock to measure: its rule checked as it is (``current``) and, for gap rules,
    once per step of the ladder (``variants``, limits in ``steps``)."""

    label: str
    current: Commitment
    variants: tuple[Commitment, ...] = ()
    steps: tuple[int, ...] = ()

    @property
    def commitments(self) -> tuple[Commitment, ...]:
        return (self.current, *self.variants)


def _rescope(leaf: Rule, bare: Rule) -> Rule:
    """``bare`` inside the same ``where``/``unless`` scopes as ``leaf``."""
    if isinstance(leaf, Scoped):
        return attrs.evolve(leaf, rule=_rescope(leaf.rule, bare))
    return bare


def _evolve(rule: Rule, **changes: Any) -> Rule:
    """``attrs.evolve`` for a built-in rule. Its duration fields hold microseconds but
    their converters read numbers as seconds, so the kept ones are passed as timedeltas."""
    leaf: Any = rule  # built-in rules are attrs classes
    for field in attrs.fields(type(leaf)):
        value = getattr(leaf, field.name)
        if field.converter in (_us, _opt_us) and isinstance(value, int):
            changes.setdefault(field.alias or field.name, timedelta(microseconds=value))
    evolved: Rule = attrs.evolve(leaf, **changes)
    return evolved


def _clock_rules(leaf: Rule) -> list[Rule]:
    """``follow_up`` with both limits is two clocks (its finding shows only the worse)."""
    bare = _unscoped(leaf)
    if isinstance(bare, FollowUp) and bare.acknowledge_within and bare.resolve_within:
        return [
            _rescope(leaf, _evolve(bare, resolve_within=None)),
            _rescope(leaf, _evolve(bare, acknowledge_within=None)),
        ]
    return [leaf]


def _variant(commitment: Commitment, tag: str, rule: Rule) -> Commitment:
    """``commitment`` measuring ``rule`` alone, under an internal name."""
    return attrs.evolve(
        commitment, name=f"{_PREFIX}{tag}", rule=rule, severity="info", warn_before=0
    )


def _ladder(day: int) -> tuple[int, ...]:
    steps = [s for s in NICE_STEPS if s < day]
    steps += [d * day for d in (*_DAY_STEPS, *_LONG_DAYS)]
    return tuple(steps)


def _plan(commitment: Commitment, index: int) -> list[_Clock]:
    """The clocks of ``commitment``: one per timed leaf rule, each checked on its own
    (a composite's findings name only the part that decided them)."""
    day = business_day_seconds(commitment.calendar)
    clocks = []
    rules = [r for leaf in _leaves(commitment.rule) for r in _clock_rules(leaf)]
    for n, rule in enumerate(rules):
        bare = _unscoped(rule)
        if bare.name in _UNTIMED_RULES:
            continue
        tag = f"{index}:{n}"
        current = _variant(commitment, tag, rule)
        field = _GAP_RULES.get(bare.name)
        if field is None:
            clocks.append(_Clock(bare.label(), current))
            continue
        steps = _ladder(day)
        variants = tuple(
            _variant(
                commitment,
                f"{tag}:{step}",
                _rescope(rule, _evolve(bare, **{field: timedelta(seconds=step)})),
            )
            for step in steps
        )
        clocks.append(_Clock(bare.label(), current, variants, steps))
    return clocks


# -- the computation ----------------------------------------------------------------------


def _targets(
    elapsed: Sequence[float], unanswered: int, *, day: int, business: bool
) -> dict[int, Target | None]:
    """Targets for clocks that stopped after ``elapsed`` seconds (sorted) plus
    ``unanswered`` clocks that never stopped."""
    n = len(elapsed) + unanswered
    out: dict[int, Target | None] = {}
    for share in SHARES:
        needed = math.ceil(share * n / 100) if n else 0
        if n == 0 or needed > len(elapsed):
            out[share] = None
            continue
        exact = elapsed[needed - 1]
        seconds = nice_target(exact, day=day)
        kept = bisect.bisect_right(elapsed, seconds)
        out[share] = Target(
            share=share,
            exact_seconds=exact,
            seconds=seconds,
            label=format_target(seconds, day=day, business=business),
            compliance=kept / n,
        )
    return out


def _tally(findings: Iterable[Finding]) -> tuple[int, int, int, int, int]:
    """``met, breached, unanswered, running, total``."""
    met = breached = unanswered = running = total = 0
    for f in findings:
        total += 1
        if f.status is Status.MET:
            met += 1
        elif f.status is Status.BREACHED:
            breached += 1
            unanswered += f.stopped_us is None
        elif f.status in (Status.PENDING, Status.AT_RISK, Status.PAUSED):
            running += 1
    return met, breached, unanswered, running, total


def _share(met: int, breached: int) -> float | None:
    return None if met + breached == 0 else met / (met + breached)


def _turn_summary(
    clock: _Clock, findings: Sequence[Finding], limit: float | None, day: int, business: bool
) -> ClockSummary:
    stopped = sorted(
        f.elapsed_us / _US
        for f in findings
        if f.status is Status.MET or (f.status is Status.BREACHED and f.stopped_us is not None)
    )
    met, breached, unanswered, running, _ = _tally(findings)
    first = findings[0] if findings else None
    return ClockSummary(
        rule=clock.label,
        what=(first.what if first is not None else "") or "reply",
        limit_seconds=limit,
        clocks=len(stopped) + unanswered,
        unanswered=unanswered,
        running=running,
        compliance=_share(met, breached),
        targets=_targets(stopped, unanswered, day=day, business=business),
    )


def _kept_share(findings: Sequence[Finding]) -> float | None:
    """Gap rules: the share of subjects with no gap over the limit (a subject whose
    current gap is still within the limit is pending, and kept so far)."""
    measured = [f for f in findings if f.status is not Status.NOT_APPLICABLE]
    if not measured:
        return None
    return sum(f.status is not Status.BREACHED for f in measured) / len(measured)


def _gap_summary(
    clock: _Clock,
    current: Sequence[Finding],
    by_step: Sequence[Sequence[Finding]],
    day: int,
    business: bool,
) -> ClockSummary:
    targets: dict[int, Target | None] = {}
    shares = [_kept_share(fs) for fs in by_step]
    for share in SHARES:
        targets[share] = None
        for step, kept in zip(clock.steps, shares, strict=True):
            if kept is not None and kept * 100 >= share:
                targets[share] = Target(
                    share=share,
                    exact_seconds=None,
                    seconds=step,
                    label=format_target(step, day=day, business=business),
                    compliance=kept,
                )
                break
    measured = [f for f in current if f.status is not Status.NOT_APPLICABLE]
    first = measured[0] if measured else None
    return ClockSummary(
        rule=clock.label,
        what=(first.what if first is not None else "") or "post",
        limit_seconds=_limit_seconds(current),
        clocks=len(measured),
        unanswered=sum(f.status is Status.BREACHED and f.stopped_us is None for f in measured),
        running=0,
        compliance=_kept_share(current),
        targets=targets,
    )


def simulate(
    store: StorageBackend,
    policy: Policy | Sequence[Commitment] | str,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    by: str | None = None,
    as_of: datetime | None = None,
    classifiers: Collection[Any] | None = None,
) -> Simulation:
    """Backtest ``policy`` over the history in ``store``.

    Args:
        store: the history.
        policy: a :class:`Policy`, commitments, or the path of a policy file.
        since: count clocks that started at or after this instant.
        until: count clocks that started before this instant; the history is evaluated
            as of ``until`` (so nothing after it counts). Default: ``as_of``.
        by: ``"platform"``, ``"channel"`` or ``"owner"``: also give results per group.
        as_of: the evaluation instant when ``until`` is not given (default: now).
        classifiers: as for :func:`convokit_core.check`.

    Returns:
        Per commitment, the compliance it would have had and, per time-based clock, the
        targets kept 90 %, 95 % and 99 % of the time (see the module documentation).
    """
    if by is not None and by not in _BY:
        raise ValueError(f"by must be one of {', '.join(_BY)}, found {by!r}")
    if isinstance(policy, str):
        policy = load_policy(policy)
    commitments = list(policy.commitments if isinstance(policy, Policy) else policy)
    plans = [_plan(c, i) for i, c in enumerate(commitments)]
    measured = [v for clocks in plans for clock in clocks for v in clock.commitments]
    report = check(
        store,
        [*commitments, *measured],
        as_of=until if until is not None else as_of,
        classifiers=None if classifiers is None else list(classifiers),
    )
    owners: dict[tuple[str, str], str] = {}
    if by == "owner":
        records = store.iter_conversation_records()
        owners = {(c.platform, c.id): c.owner_id or "(no owner)" for c in records}
    since_us = None if since is None else to_micros(since)
    until_us = None if until is None else to_micros(until)

    def in_window(f: Finding) -> bool:
        started = f.started_us
        if started is None:
            return since_us is None and until_us is None
        if since_us is not None and started < since_us:
            return False
        return until_us is None or started < until_us

    def group_of(f: Finding) -> str:
        if by == "platform":
            return f.platform or "(none)"
        if by == "channel":
            return f.channel or "(none)"
        return owners.get((f.platform or "", f.conversation or ""), "(no owner)")

    # findings[commitment name][group] ("" = everyone)
    found: dict[str, dict[str, list[Finding]]] = {}
    for f in report.findings:
        if in_window(f):
            per_group = found.setdefault(f.commitment, {})
            per_group.setdefault("", []).append(f)
            if by is not None:
                per_group.setdefault(group_of(f), []).append(f)

    def summaries(
        clocks: Sequence[_Clock], group: str, day: int, business: bool
    ) -> tuple[ClockSummary, ...]:
        out = []
        for clock in clocks:
            current, *per_step = [found.get(c.name, {}).get(group, []) for c in clock.commitments]
            if not clock.steps:
                out.append(_turn_summary(clock, current, _limit_seconds(current), day, business))
            else:
                out.append(_gap_summary(clock, current, per_step, day, business))
        return tuple(out)

    results = []
    for commitment, clocks in zip(commitments, plans, strict=True):
        day = business_day_seconds(commitment.calendar)
        business = not commitment.calendar.always_open
        own = found.get(commitment.name, {})
        met, breached, *_rest, total = _tally(own.get("", []))
        group_names = sorted(
            {
                g
                for c in [commitment.name, *(v.name for k in clocks for v in k.commitments)]
                for g in found.get(c, {})
                if g
            }
        )
        groups = []
        for name in group_names:
            g_met, g_breached, *_r, g_total = _tally(own.get(name, []))
            groups.append(
                GroupSimulation(
                    group=name,
                    compliance=_share(g_met, g_breached),
                    findings=g_total,
                    clocks=summaries(clocks, name, day, business),
                )
            )
        results.append(
            CommitmentSimulation(
                name=commitment.name,
                promise=commitment.promise,
                rule=commitment.rule.label(),
                compliance=_share(met, breached),
                findings=total,
                clocks=summaries(clocks, "", day, business),
                groups=tuple(groups),
            )
        )
    return Simulation(
        as_of=report.as_of, since=since, until=until, by=by, commitments=tuple(results)
    )


def _limit_seconds(findings: Sequence[Finding]) -> float | None:
    for f in findings:
        if f.limit_us is not None:
            return f.limit_us / _US
    return None


# -- the table ------------------------------------------------------------------------------


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def _target_cell(target: Target | None) -> str:
    return "—" if target is None else f"{target.label} ({target.compliance:.1%})"


def render_simulation(result: Simulation, stream: TextIO) -> None:
    """Rich tables: one row per clock of each commitment (and per group with ``by``)."""
    from rich.console import Console
    from rich.table import Table

    console = Console(file=stream, width=None if stream.isatty() else 160)
    window = ", ".join(
        part
        for part in (
            f"since {format_datetime(result.since)}" if result.since else "",
            f"until {format_datetime(result.until)}" if result.until else "",
        )
        if part
    )
    title = f"Backtest as of {format_datetime(result.as_of)}" + (f" ({window})" if window else "")
    table = Table(title=title, show_header=True, header_style="bold")
    columns = ["commitment", *([result.by] if result.by else []), "compliance", "clock"]
    for column in columns:
        table.add_column(column)
    table.add_column("clocks", justify="right")
    table.add_column("never stopped", justify="right")
    for share in SHARES:
        table.add_column(f"kept {share} %")

    def rows(
        name: str, group: str | None, compliance: float | None, clocks: Sequence[ClockSummary]
    ) -> None:
        lead = [name, *([group or ""] if result.by else []), _pct(compliance)]
        if not clocks:
            table.add_row(*lead, "(no time limit)", "", "", *("" for _ in SHARES))
            return
        for n, clock in enumerate(clocks):
            cells = lead if n == 0 else ["", *([""] if result.by else []), ""]
            table.add_row(
                *cells,
                f"{clock.what}: {clock.rule}",
                f"{clock.clocks:,}",
                f"{clock.unanswered:,}",
                *(_target_cell(clock.targets.get(share)) for share in SHARES),
            )

    for commitment in result.commitments:
        rows(
            commitment.name,
            "(all)" if result.by else None,
            commitment.compliance,
            commitment.clocks,
        )
        for group in commitment.groups:
            rows("", group.group, group.compliance, group.clocks)
    console.print(table)
    console.print(
        "Targets are the smallest nice duration at or above the exact percentile of the "
        "elapsed (business) time, rounded up; a clock that never stopped counts as "
        "breached at every target; — means no duration keeps that share."
    )
