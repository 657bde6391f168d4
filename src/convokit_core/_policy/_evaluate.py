"""Commitments and their evaluation: a pure function of (history, commitments, as_of)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs

from .._calendars import ALWAYS_OPEN, Calendar
from .._cancel import checkpointed
from .._errors import ConfigError
from .._gc import gc_paused
from .._timeutil import require_aware, to_micros
from ..protocols import ConversationLike, StorageBackend, TeamMemberLike
from ._context import RuleContext
from ._facts import (
    DEFAULT_COUNTING,
    M_DIRECTION,
    M_TAGS,
    M_TEXT,
    CountingPolicy,
    Thread,
    thread_from_conversation,
    with_tags,
)
from ._findings import (
    STATUSES,
    CheckReport,
    CommitmentSummary,
    Finding,
    FindingList,
    FindingMeta,
    Status,
    business_day_seconds,
)
from ._rules import Rule, Scoped, _Composite, rule_uses_stakeholders

__all__ = ["Classifier", "Commitment", "Evaluation", "check_commitments", "evaluate"]

log = logging.getLogger("convokit.policy")

SEVERITIES = ("error", "warning", "info")
Classifier = Callable[[Sequence[str]], Sequence[Collection[str]]]
"""``classify(texts) -> tags per text``; called once per batch of messages."""

#: Conversations per classification batch.
BATCH_SIZE = 1000


def _warn_us(value: Any) -> int:
    from .._timeutil import parse_duration

    td = parse_duration(value) if value is not None else timedelta(0)
    return (td.days * 86_400 + td.seconds) * 1_000_000 + td.microseconds


def _severity(value: str) -> str:
    if value not in SEVERITIES:
        raise ValueError(f"expected a severity among {', '.join(SEVERITIES)}, found {value!r}")
    return value


def _check_rule(instance: Any, attribute: Any, value: Any) -> None:
    if not isinstance(value, Rule):
        raise TypeError(f"a commitment's rule must be a Rule, found {value!r}")


@attrs.frozen(kw_only=True)
class Commitment:
    """A named promise backed by a rule, measured on a calendar (DESIGN §3, §5).

    Scope the rule itself (``rule.where(...)``, ``rule.unless(...)``) to limit which
    conversations the commitment covers.
    """

    name: str
    rule: Rule = attrs.field(validator=_check_rule)
    promise: str = ""
    """The sentence said in public ("Every customer hears back within 4 hours.")."""
    calendar: Calendar = ALWAYS_OPEN
    severity: str = attrs.field(default="error", converter=_severity)
    """``error`` findings fail a check; ``warning`` and ``info`` never do."""
    warn_before: int = attrs.field(default=0, converter=_warn_us)
    """Pending findings with less business time than this left are ``at_risk``
    (microseconds; accepts ``"30m"`` or a timedelta)."""
    counting: CountingPolicy = DEFAULT_COUNTING
    """What counts as a reply for this commitment."""


def _team_map(team: Iterable[TeamMemberLike]) -> dict[str, TeamMemberLike]:
    return {getattr(m, "id"): m for m in team}  # noqa: B009 - protocol has no id


class Evaluation:
    """One run: feed it threads, collect findings, read the counts.

    Args:
        commitments: what to check.
        as_of: the evaluation instant (aware).
        keep: statuses whose findings are built and returned (``None`` = all); every
            finding is counted either way.
        team: team members (for ``owner_assigned``).
        channels: known channels (for ``channel_activity``).
        classifiers: taggers run on untagged stakeholder messages, once per batch,
            when a commitment reads tags.
    """

    def __init__(
        self,
        commitments: Sequence[Commitment],
        *,
        as_of: datetime,
        keep: Collection[str] | None = None,
        team: Iterable[TeamMemberLike] = (),
        channels: Iterable[Any] = (),
        classifiers: Sequence[Classifier] = (),
    ) -> None:
        names = [c.name for c in commitments]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ConfigError(f"two commitments are named {dupes[0]!r}; names must be unique")
        self.commitments = tuple(commitments)
        self.as_of = require_aware(as_of, "as_of")
        self.as_of_us = to_micros(self.as_of)
        self.keep = None if keep is None else frozenset(str(Status(s)) for s in keep)
        team_map = _team_map(team)
        channel_map = {(c.platform, c.id): c for c in channels}
        self.contexts = [
            RuleContext(
                as_of_us=self.as_of_us,
                calendar=c.calendar,
                counting=c.counting,
                warn_before_us=c.warn_before,
                team=team_map,
                channels=channel_map,
            )
            for c in self.commitments
        ]
        self.counts: list[dict[str, int]] = [
            dict.fromkeys([s.value for s in STATUSES], 0) for _ in commitments
        ]
        self.uses_tags = any(c.rule.uses_tags() for c in self.commitments)
        self.uses_stakeholders = any(rule_uses_stakeholders(c.rule) for c in self.commitments)
        self.classifiers = tuple(classifiers) if self.uses_tags else ()
        # third-party rules may read any message field: load them all for those
        foreign = any(not _builtin(leaf) for c in self.commitments for leaf in _leaves(c.rule))
        self.uses_channels = foreign or any(c.rule.level == "channel" for c in self.commitments)
        self.uses_tags = self.uses_tags or foreign
        self.uses_text = any(
            c.rule.uses_text() for c in self.commitments if hasattr(c.rule, "uses_text")
        )
        self.metas = [
            FindingMeta(
                commitment=c.name,
                rule=c.rule.name,
                severity=c.severity,
                composite=_is_composite(c.rule),
                business_day_us=_day_us(c.calendar),
            )
            for c in self.commitments
        ]
        self._plans = [
            (i, c.rule, self.contexts[i], c.rule.level == "channel", self.counts[i])
            for i, c in enumerate(self.commitments)
        ]
        # the hot loop calls bound methods: (index, method, context, is channel-level, counts)
        self._calls: list[tuple[int, Callable[..., Any], RuleContext, bool, dict[str, int]]] = [
            (i, rule.observe if channel else rule.evaluate, ctx, channel, counts)
            for i, rule, ctx, channel, counts in self._plans
        ]
        self.conversations = 0

    @property
    def needs_text(self) -> bool:
        """Whether threads must carry message texts (classifiers or rules read them)."""
        return bool(self.classifiers) or self.uses_text

    def _classified(self, threads: Iterable[Thread]) -> Iterator[Thread]:
        if not self.classifiers:
            yield from threads
            return
        batch: list[Thread] = []
        for thread in threads:
            batch.append(thread)
            if len(batch) >= BATCH_SIZE:
                classify_threads(batch, self.classifiers)
                yield from batch
                batch = []
        if batch:
            classify_threads(batch, self.classifiers)
            yield from batch

    def collect(
        self, threads: Iterable[Thread], sink: FindingList, *, classify: bool = True
    ) -> None:
        """Evaluate ``threads`` (conversation-level commitments; channel-level ones
        observe), counting every outcome and keeping the kept ones in ``sink``.

        This is the hot path: no object is built per message or per finding."""
        keep = self.keep
        add = sink.add_block
        calls = self._calls
        n = 0
        for thread in self._classified(threads) if classify else threads:
            n += 1
            platform, tid, channel = thread.platform, thread.id, thread.channel_id
            for i, call, ctx, channel_level, counts in calls:
                if channel_level:
                    call(thread, ctx)
                    continue
                outcomes = call(thread, ctx)
                if type(outcomes) is not list:
                    outcomes = list(outcomes)
                if not outcomes:
                    continue
                if keep is None:
                    for outcome in outcomes:
                        counts[outcome[0]] += 1
                    add(i, platform, tid, channel, outcomes)
                else:
                    kept = []
                    for outcome in outcomes:
                        status = outcome[0]
                        counts[status] += 1
                        if status in keep:
                            kept.append(outcome)
                    if kept:
                        add(i, platform, tid, channel, kept)
        self.conversations += n

    def collect_channels(self, sink: FindingList) -> None:
        """Conclude channel-level commitments into ``sink``."""
        keep = self.keep
        for i, rule, ctx, channel_level, counts in self._plans:
            if not channel_level:
                continue
            for platform, channel, outcome in rule.finish(ctx):
                counts[outcome[0]] += 1
                if keep is None or outcome[0] in keep:
                    sink.append_raw(i, outcome, platform, None, channel)

    def feed(self, threads: Iterable[Thread]) -> Iterator[Finding]:
        """Like :meth:`collect`, yielding the kept findings as they are found."""
        for thread in self._classified(threads):
            sink = FindingList(self.metas)
            self.collect((thread,), sink, classify=False)
            yield from sink

    def finish(self) -> Iterator[Finding]:
        """Conclude channel-level commitments; yields their kept findings."""
        sink = FindingList(self.metas)
        self.collect_channels(sink)
        yield from sink

    def summaries(self) -> tuple[CommitmentSummary, ...]:
        return tuple(
            CommitmentSummary(
                name=c.name,
                promise=c.promise,
                severity=c.severity,
                rule=c.rule.label(),
                counts=dict(self.counts[i]),
            )
            for i, c in enumerate(self.commitments)
        )


def _leaves(rule: Any) -> Iterator[Any]:
    if isinstance(rule, Scoped):
        yield from _leaves(rule.rule)
    elif isinstance(rule, _Composite):
        for part in rule.parts:
            yield from _leaves(part)
    else:
        yield rule


def _builtin(rule: Any) -> bool:
    return type(rule).__module__ == Rule.__module__


#: Conversations per ``progress`` call of :func:`check_commitments`.
PROGRESS_EVERY = 1000


def _reporting(threads: Iterable[Thread], progress: Callable[[int], None]) -> Iterator[Thread]:
    n = 0
    for thread in threads:
        yield thread
        n += 1
        if n == PROGRESS_EVERY:
            progress(n)
            n = 0
    if n:
        progress(n)


def _day_us(calendar: Any) -> int | None:
    seconds = business_day_seconds(calendar)
    return None if seconds is None else seconds * 1_000_000


def _is_composite(rule: Rule) -> bool:
    while isinstance(rule, Scoped):
        rule = rule.rule
    return isinstance(rule, _Composite)


def run_classifiers(texts: Sequence[str], classifiers: Sequence[Classifier]) -> list[set[str]]:
    """The union of every classifier's tags for each of ``texts`` (each classifier is
    called once for all of them); a classifier answering for a different number of
    texts is a :class:`ConfigError`."""
    found: list[set[str]] = [set() for _ in texts]
    for classify in classifiers:
        result = classify(texts)
        if len(result) != len(texts):
            raise ConfigError(
                f"classifier {getattr(classify, '__name__', classify)!r} returned "
                f"{len(result)} tag sets for {len(texts)} texts"
            )
        for tags, new in zip(found, result, strict=True):
            tags.update(new)
    return found


def classify_threads(threads: Sequence[Thread], classifiers: Sequence[Classifier]) -> int:
    """Tag the untagged stakeholder messages of ``threads`` with ``classifiers``.

    Each classifier is called once for the whole batch. A message that already has
    tags from its source keeps exactly those. Returns the number of messages tagged.
    """
    if not classifiers:
        return 0
    where: list[tuple[Thread, int]] = []
    texts: list[str] = []
    for thread in threads:
        for index, m in enumerate(thread.messages):
            if m[M_DIRECTION] == "inbound" and not m[M_TAGS] and m[M_TEXT]:
                where.append((thread, index))
                texts.append(m[M_TEXT])
    if not texts:
        return 0
    found = run_classifiers(texts, classifiers)
    tagged = 0
    for (thread, index), tags in zip(where, found, strict=True):
        if tags:
            thread.messages[index] = with_tags(thread.messages[index], sorted(tags))
            thread._cache = None  # tags changed: drop derived views
            tagged += 1
    return tagged


def _resolve_as_of(as_of: datetime | None) -> datetime:
    if as_of is None:
        return datetime.now(UTC).replace(microsecond=0)
    return require_aware(as_of, "as_of")


def evaluate(
    conversations: Iterable[ConversationLike],
    commitments: Sequence[Commitment],
    *,
    as_of: datetime | None = None,
    team_members: Iterable[TeamMemberLike] = (),
    channels: Iterable[Any] = (),
    stakeholder_kinds: Mapping[str, str] | None = None,
    classifiers: Sequence[Classifier] | None = None,
    only: Collection[str] | None = None,
) -> Iterator[Finding]:
    """Stream the findings of ``commitments`` over ``conversations`` at ``as_of``.

    Works on any objects shaped like :class:`~convokit_core.protocols.ConversationLike`;
    messages and status changes after ``as_of`` (default: now) are ignored.
    ``classifiers`` default to the registered ones; pass ``[]`` for none.
    """
    run = Evaluation(
        commitments,
        as_of=_resolve_as_of(as_of),
        keep=only,
        team=team_members,
        channels=channels,
        classifiers=_default_classifiers() if classifiers is None else classifiers,
    )
    kinds = stakeholder_kinds or {}
    threads = (
        t
        for t in (
            thread_from_conversation(
                c,
                as_of_us=run.as_of_us,
                stakeholder_kind=kinds.get(c.stakeholder_id) if c.stakeholder_id else None,
                with_text=run.needs_text,
            )
            for c in conversations
        )
        if t is not None
    )
    yield from run.feed(threads)
    yield from run.finish()


def _default_classifiers() -> list[Classifier]:
    from .._plugins import get_plugin_manager

    return [reg.value for reg in get_plugin_manager().classifiers]


def check_commitments(
    store: StorageBackend,
    commitments: Sequence[Commitment],
    *,
    as_of: datetime | None = None,
    only: Collection[str] | None = None,
    classifiers: Sequence[Classifier] | None = None,
    fast: bool = True,
    progress: Callable[[int], None] | None = None,
) -> CheckReport:
    """Check ``commitments`` against ``store`` at ``as_of`` (default: now).

    Streams the store conversation by conversation (SQLite stores through a direct
    reader that builds no object per message). Every finding is counted; ``only``
    limits which findings the report keeps. ``progress`` is called with the number of
    conversations done, once per batch of :data:`PROGRESS_EVERY` (never per message).
    """
    as_of_dt = _resolve_as_of(as_of)
    run = Evaluation(
        commitments,
        as_of=as_of_dt,
        keep=only,
        team=store.iter_team_members(),
        channels=store.iter_channels(),
        classifiers=_default_classifiers() if classifiers is None else classifiers,
    )
    kinds: dict[str, str] = {}
    if run.uses_stakeholders:
        kinds = {s.id: str(s.kind) for s in store.iter_stakeholders()}
    threads: Iterable[Thread] | None = None
    if fast:
        from ._fastpath import sqlite_threads

        threads = sqlite_threads(
            store,
            as_of_us=run.as_of_us,
            stakeholder_kinds=kinds,
            with_text=run.needs_text,
            with_tags=run.uses_tags or run.needs_text,
            with_channels=run.uses_channels,
        )
    if threads is None:
        # Not ``iter_conversations(until=...)``: it would also drop the status changes
        # after as_of, which tell that the stored status was not yet reached at as_of.
        threads = (
            t
            for t in (
                thread_from_conversation(
                    c,
                    as_of_us=run.as_of_us,
                    stakeholder_kind=kinds.get(c.stakeholder_id) if c.stakeholder_id else None,
                    with_text=run.needs_text,
                )
                for c in store.iter_conversations()
            )
            if t is not None
        )
    if progress is not None:
        threads = _reporting(threads, progress)
    findings = FindingList(run.metas)
    with gc_paused():
        run.collect(checkpointed(threads), findings)
        run.collect_channels(findings)
    return CheckReport(
        as_of=as_of_dt,
        commitments=run.summaries(),
        findings=findings,
        store=getattr(store, "url", None),
        only=run.keep,
    )
