"""Findings: what checking one commitment on one subject concluded."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import attrs

from .._timeutil import format_datetime

__all__ = [
    "CheckReport",
    "CommitmentSummary",
    "Finding",
    "Outcome",
    "Status",
    "format_duration",
]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = 1_000_000


class Status(enum.StrEnum):
    """Where one subject stands against one commitment."""

    MET = "met"
    """The clock stopped within the limit (or the condition holds)."""
    BREACHED = "breached"
    """The clock stopped late, or is still running past the limit."""
    PENDING = "pending"
    """The clock is running and the deadline is in the future."""
    AT_RISK = "at_risk"
    """Pending, with less than the commitment's ``warn_before`` left."""
    PAUSED = "paused"
    """The clock is stopped while the conversation waits on the stakeholder."""
    NOT_APPLICABLE = "not_applicable"
    """In scope, but there is nothing to measure (e.g. no stakeholder message)."""


#: Statuses in report order.
STATUSES: tuple[Status, ...] = (
    Status.BREACHED,
    Status.AT_RISK,
    Status.PENDING,
    Status.PAUSED,
    Status.MET,
    Status.NOT_APPLICABLE,
)


def _dt(us: int | None) -> datetime | None:
    return None if us is None else _EPOCH + timedelta(microseconds=us)


def format_duration(seconds: float) -> str:
    """``9000`` → ``"2h 30m"``; at most two units, rounded down to the second."""
    total = int(seconds)
    if total < 60:
        return f"{total}s"
    parts = []
    for unit, size in (("w", 604_800), ("d", 86_400), ("h", 3600), ("m", 60), ("s", 1)):
        if total >= size:
            parts.append(f"{total // size}{unit}")
            total %= size
        if len(parts) == 2:
            break
    return " ".join(parts)


class Outcome(NamedTuple):
    """What a rule concluded about one subject (times in microseconds since the epoch).

    Rules return outcomes; the evaluator turns them into :class:`Finding` objects only
    for the findings a run keeps, so a rule's hot path builds nothing heavier than a
    tuple. Build one with :meth:`convokit_core.RuleContext.outcome` or positionally.
    """

    status: str
    subject_kind: str
    """``conversation``, ``turn``, ``message`` or ``channel``."""
    subject: str
    started: int | None
    deadline: int | None
    stopped: int | None
    elapsed: int
    """Business microseconds the clock ran."""
    limit: int | None
    """The rule's limit in microseconds, when it has one."""
    evidence: tuple[str, ...]
    what: str
    """What was awaited, as a noun ("first reply", "update"), for the sentence."""
    note: str
    """A full sentence that replaces the generated one when non-empty."""
    rule: str
    """The (leaf) rule that produced this outcome, e.g. ``first_reply(within=4h)``."""


@attrs.frozen(kw_only=True)
class Finding:
    """One subject (conversation, turn, message or channel) against one commitment.

    Times are exposed as aware UTC datetimes; ``elapsed_seconds`` is business time on
    the commitment's calendar (pauses excluded). ``decided_by`` names the part of a
    composite rule whose outcome decided this finding (``None`` for a plain rule).
    """

    commitment: str
    rule: str
    status: Status
    subject: str
    subject_kind: str
    platform: str | None
    conversation: str | None
    channel: str | None
    started_us: int | None = attrs.field(repr=False)
    deadline_us: int | None = attrs.field(repr=False)
    stopped_us: int | None = attrs.field(repr=False)
    elapsed_us: int = attrs.field(repr=False)
    limit_us: int | None = attrs.field(repr=False)
    evidence: tuple[str, ...]
    decided_by: str | None = None
    what: str = attrs.field(default="", repr=False)
    note: str = attrs.field(default="", repr=False)
    severity: str = "error"

    @property
    def started_at(self) -> datetime | None:
        """When the clock started."""
        return _dt(self.started_us)

    @property
    def deadline(self) -> datetime | None:
        """When the limit is (or was) reached; ``None`` while paused or without a limit."""
        return _dt(self.deadline_us)

    @property
    def stopped_at(self) -> datetime | None:
        """When the clock stopped (the reply, the resolution), or ``None``."""
        return _dt(self.stopped_us)

    @property
    def elapsed_seconds(self) -> float:
        """Business seconds the clock ran."""
        return self.elapsed_us / _US

    @property
    def message(self) -> str:
        """One human sentence explaining the finding."""
        if self.note:
            text = self.note
        else:
            text = self._sentence()
        if self.decided_by:
            return f"{text} (decided by {self.decided_by})"
        return text

    def _sentence(self) -> str:
        who = f"{self.subject_kind.capitalize()} {self.subject}"
        what = self.what or "reply"
        elapsed = format_duration(self.elapsed_us / _US)
        limit = "" if self.limit_us is None else format_duration(self.limit_us / _US)
        due = "" if self.deadline_us is None else format_datetime(_dt(self.deadline_us))  # type: ignore[arg-type]
        status = self.status
        if status is Status.MET:
            if self.stopped_us is None:
                return f"{who}: no {what} needed within {limit}, none overdue."
            return f"{who}: {what} after {elapsed}, within {limit}."
        if status is Status.BREACHED:
            if self.stopped_us is not None:
                return f"{who}: {what} after {elapsed}, over the {limit} limit."
            return f"{who}: no {what} for {elapsed}, over the {limit} limit."
        if status is Status.PENDING:
            return f"{who}: waiting {elapsed} for a {what}; due by {due}."
        if status is Status.AT_RISK:
            return f"{who}: waiting {elapsed} for a {what}; due soon, by {due}."
        if status is Status.PAUSED:
            return f"{who}: clock paused after {elapsed} while waiting on the stakeholder."
        return f"{who}: nothing to measure."

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of a finding (timestamps ISO 8601 UTC)."""
        return {
            "commitment": self.commitment,
            "rule": self.rule,
            "status": str(self.status),
            "subject": self.subject,
            "subject_kind": self.subject_kind,
            "platform": self.platform,
            "conversation": self.conversation,
            "channel": self.channel,
            "started_at": _iso(self.started_us),
            "deadline": _iso(self.deadline_us),
            "stopped_at": _iso(self.stopped_us),
            "elapsed_seconds": self.elapsed_us / _US,
            "evidence": list(self.evidence),
            "decided_by": self.decided_by,
            "severity": self.severity,
            "message": self.message,
        }


def _iso(us: int | None) -> str | None:
    return None if us is None else format_datetime(_EPOCH + timedelta(microseconds=us))


@attrs.frozen(kw_only=True)
class CommitmentSummary:
    """Counts of one commitment's findings in a run, by status."""

    name: str
    promise: str
    severity: str
    rule: str
    counts: Mapping[str, int]
    """Every status, zero included."""

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def compliance(self) -> float | None:
        """``met / (met + breached)``: the share of decided findings that kept the promise
        (``None`` when nothing is decided yet)."""
        met = self.counts.get(Status.MET, 0)
        decided = met + self.counts.get(Status.BREACHED, 0)
        return None if decided == 0 else met / decided

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "promise": self.promise,
            "severity": self.severity,
            "rule": self.rule,
            "counts": {str(s): self.counts.get(s, 0) for s in STATUSES},
            "compliance": self.compliance,
        }


@attrs.frozen(kw_only=True)
class CheckReport:
    """The result of checking commitments against a store at ``as_of``.

    ``commitments`` counts every finding; ``findings`` holds the ones the run kept
    (all of them unless ``only`` was given).
    """

    as_of: datetime
    commitments: tuple[CommitmentSummary, ...]
    findings: Sequence[Finding]
    store: str | None = None
    only: frozenset[str] | None = None

    def count(self, status: str) -> int:
        """Findings with ``status`` across all commitments (kept or not)."""
        return sum(c.counts.get(status, 0) for c in self.commitments)

    def failed(self, fail_on: str = "breached") -> bool:
        """Whether the run fails: ``breached`` (any breach of an ``error`` commitment),
        ``at_risk`` (a breach or an at-risk finding of an ``error`` commitment) or
        ``never``. Commitments of severity ``warning`` and ``info`` never fail a run."""
        if fail_on == "never":
            return False
        statuses: Iterable[str] = (
            (Status.BREACHED,) if fail_on == "breached" else (Status.BREACHED, Status.AT_RISK)
        )
        return any(
            c.counts.get(s, 0) for c in self.commitments if c.severity == "error" for s in statuses
        )

    def to_dict(self) -> dict[str, Any]:
        """The JSON document of ``convokit check --format json``."""
        return {
            "as_of": format_datetime(self.as_of),
            "store": self.store,
            "commitments": [c.to_dict() for c in self.commitments],
            "findings": [f.to_dict() for f in self.findings],
        }
