"""Findings: what checking one commitment on one subject concluded."""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import attrs

from .._timeutil import format_datetime

__all__ = [
    "CheckReport",
    "CommitmentSummary",
    "Finding",
    "FindingList",
    "FindingMeta",
    "Outcome",
    "RawOutcome",
    "Status",
    "business_day_seconds",
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


def format_duration(seconds: float, *, business_day: float | None = None) -> str:
    """``9000`` → ``"2h 30m"``; at most two units, rounded down to the second.

    With ``business_day`` (the length of a business day in seconds, e.g. ``28800`` on a
    9-17 calendar) the time is business time and says so: ``"3 business hours"``,
    ``"2 business days"``, ``"1 business day 4 hours"`` (a day is ``business_day``
    long; there are no weeks).
    """
    total = int(seconds)
    if business_day is not None:
        return _business(total, int(business_day))
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


def _business(total: int, day: int) -> str:
    units = [(name, size) for name, size in (("hour", 3600), ("minute", 60)) if size < day]
    units = [("day", max(day, 1)), *units, ("second", 1)]
    parts: list[str] = []
    for name, size in units:
        if total >= size or (not parts and size == 1):
            n = total // size
            word = name if n == 1 else name + "s"
            parts.append(f"{n} business {word}" if not parts else f"{n} {word}")
            total %= size
        if len(parts) == 2:
            break
    return " ".join(parts)


def business_day_seconds(calendar: Any) -> int | None:
    """How long a business day of ``calendar`` is, in seconds: the longest day of its
    weekly hours (``8 h`` on a 9-17 calendar), 24 h for a calendar open around the clock
    except on holidays, and ``None`` for an always-open calendar (durations are then
    plain wall-clock time)."""
    if calendar is None or getattr(calendar, "always_open", True):
        return None
    hours = getattr(calendar, "hours", None)
    if hours is None:
        return 86_400
    longest = max((sum(slot.end - slot.start for slot in day) for day in hours), default=0)
    return longest * 60 or None


RawOutcome = tuple[Any, ...]
"""What rules return: a plain tuple in the field order of :class:`Outcome` (an
``Outcome`` is one); built-in rules build plain tuples, which are cheapest."""


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
    business_day_us: int | None = attrs.field(default=None, repr=False)
    """The length of a business day on the commitment's calendar (``None``: always
    open); durations in the message are spelt in business units when set."""

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

    def format_us(self, us: int) -> str:
        """A duration of this finding's calendar in words ("3 business hours", "2h 30m")."""
        day = None if self.business_day_us is None else self.business_day_us / _US
        return format_duration(us / _US, business_day=day)

    @property
    def elapsed_text(self) -> str:
        """The elapsed (business) time in words."""
        return self.format_us(self.elapsed_us)

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
        if self.subject_kind == "turn" and "#" in self.subject:
            conversation, _, number = self.subject.rpartition("#")
            who = f"Turn {number} of conversation {conversation}"
        else:
            who = f"{self.subject_kind.capitalize()} {self.subject}"
        what = self.what or "reply"
        elapsed = self.format_us(self.elapsed_us)
        limit = "" if self.limit_us is None else self.format_us(self.limit_us)
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
    fail_on: str = "breached"
    """The ``--fail-on`` level the run is judged by (reporters mark exactly the findings
    that fail it, see :meth:`fails`)."""

    def count(self, status: str) -> int:
        """Findings with ``status`` across all commitments (kept or not)."""
        return sum(c.counts.get(status, 0) for c in self.commitments)

    @property
    def hidden(self) -> int:
        """How many findings were counted but not kept (``only``)."""
        return sum(c.total for c in self.commitments) - len(self.findings)

    def _failing_statuses(self, fail_on: str | None) -> tuple[str, ...]:
        level = self.fail_on if fail_on is None else fail_on
        if level == "never":
            return ()
        if level == "at_risk":
            return (Status.BREACHED, Status.AT_RISK)
        return (Status.BREACHED,)

    def failed(self, fail_on: str | None = None) -> bool:
        """Whether the run fails: ``breached`` (any breach of an ``error`` commitment),
        ``at_risk`` (a breach or an at-risk finding of an ``error`` commitment) or
        ``never`` (default: the report's ``fail_on``). Commitments of severity
        ``warning`` and ``info`` never fail a run."""
        statuses: Iterable[str] = self._failing_statuses(fail_on)
        return any(
            c.counts.get(s, 0) for c in self.commitments if c.severity == "error" for s in statuses
        )

    def fails(self, finding: Finding, fail_on: str | None = None) -> bool:
        """Whether ``finding`` is one that makes the run fail at ``fail_on`` (default: the
        report's): exactly the findings :meth:`failed` counts."""
        return finding.severity == "error" and finding.status in self._failing_statuses(fail_on)

    def to_dict(self) -> dict[str, Any]:
        """The JSON document of ``convokit check --format json``."""
        return {
            "as_of": format_datetime(self.as_of),
            "store": self.store,
            "commitments": [c.to_dict() for c in self.commitments],
            "findings": [f.to_dict() for f in self.findings],
        }


_STATUS_BY_VALUE = {str(s): s for s in Status}


@attrs.frozen(kw_only=True)
class FindingMeta:
    """What every finding of one commitment shares."""

    commitment: str
    rule: str
    severity: str
    composite: bool
    business_day_us: int | None = None


#: First item of a spilled column chunk entry (a block's first item is an int).
_CHUNK = "\0chunk"


def _expand(
    entries: Iterable[Any], read: Callable[[int, int], bytes] | None = None
) -> Iterator[tuple[Any, ...]]:
    """The blocks of stored entries: blocks as they are, column chunks (in memory, or
    spilled: their columns read back with ``read(offset, length)``) expanded."""
    for entry in entries:
        if type(entry) is tuple:
            if entry[0] != _CHUNK:
                yield entry
                continue
            from .._columnar._chunk import Chunk

            assert read is not None
            entry = Chunk.load(entry[1], [read(offset, length) for offset, length in entry[2]])
        yield from entry.blocks()


class FindingList(Sequence[Finding]):
    """The findings a run keeps, stored compactly and spilled to a temporary file past
    ``spill_after`` findings, so a report of millions of findings stays small in memory.

    Storage is a list of *blocks* ``(meta index, platform, conversation, channel,
    outcomes)``: one per conversation and commitment, holding the very list of outcome
    tuples the rule returned. An entry may also be a column chunk of the columnar
    engine (:meth:`add_chunk`), whose outcome tuples are built only when read.
    :class:`Finding` objects are built when read; iterate rather than index for speed.
    """

    def __init__(self, metas: Sequence[FindingMeta], *, spill_after: int = 100_000) -> None:
        self._metas = list(metas)
        self._blocks: list[tuple[Any, ...]] = []
        self._in_memory = 0
        self._spill_after = spill_after
        self._file: Any = None
        self._chunks: list[tuple[int, int, int]] = []  # (file offset, byte length, count)
        self._spilled = 0
        self._cache: tuple[int, list[tuple[Any, ...]]] | None = None

    def add_block(
        self,
        meta_index: int,
        platform: str | None,
        conversation: str | None,
        channel: str | None,
        outcomes: list[RawOutcome],
    ) -> None:
        """Keep ``outcomes`` of one commitment on one subject (the evaluator's hot path:
        nothing is copied)."""
        self._blocks.append((meta_index, platform, conversation, channel, outcomes))
        self._in_memory += len(outcomes)
        if self._in_memory >= self._spill_after:
            self._spill()

    def add_chunk(self, chunk: Any) -> None:
        """Keep a column chunk (``convokit_core._columnar._chunk.Chunk``): ``len(chunk)``
        findings whose blocks :meth:`Chunk.blocks` yields when they are read."""
        if not len(chunk):
            return
        self._blocks.append(chunk)
        self._in_memory += len(chunk)
        if self._in_memory >= self._spill_after:
            self._spill()

    def append_raw(
        self,
        meta_index: int,
        outcome: RawOutcome,
        platform: str | None,
        conversation: str | None,
        channel: str | None,
    ) -> None:
        """Keep one outcome."""
        self.add_block(meta_index, platform, conversation, channel, [outcome])

    def append(self, finding: Finding) -> None:
        """Keep a finished :class:`Finding`."""
        meta = FindingMeta(
            commitment=finding.commitment,
            rule=finding.rule,
            severity=finding.severity,
            composite=finding.decided_by is not None,
            business_day_us=finding.business_day_us,
        )
        self._metas.append(meta)
        outcome = (
            str(finding.status),
            finding.subject_kind,
            finding.subject,
            finding.started_us,
            finding.deadline_us,
            finding.stopped_us,
            finding.elapsed_us,
            finding.limit_us,
            finding.evidence,
            finding.what,
            finding.note,
            finding.decided_by or finding.rule,
        )
        self.append_raw(
            len(self._metas) - 1, outcome, finding.platform, finding.conversation, finding.channel
        )

    def _spill(self) -> None:
        import marshal
        import tempfile

        if self._file is None:
            self._file = tempfile.TemporaryFile()  # noqa: SIM115 - lives with the list
        file = self._file
        file.seek(0, 2)
        blocks: list[Any] = []
        for b in self._blocks:
            if type(b) is tuple:
                blocks.append(b)
                continue
            lists, columns = b.dump()  # type: ignore[attr-defined]
            spans = []
            for column in columns:  # raw column bytes, written without a copy
                spans.append((file.tell(), column.nbytes))
                file.write(memoryview(column).cast("B"))
            blocks.append((_CHUNK, lists, spans))
        try:
            data = marshal.dumps(blocks)
        except ValueError:  # a third-party rule returned tuple subclasses or other types
            data = marshal.dumps(
                [b if b[0] == _CHUNK else (*b[:4], [tuple(o) for o in b[4]]) for b in blocks]
            )
        offset = file.tell()
        file.write(data)
        self._chunks.append((offset, len(data), self._in_memory))
        self._spilled += self._in_memory
        self._blocks = []
        self._in_memory = 0

    def _read(self, offset: int, length: int) -> bytes:
        self._file.seek(offset)
        data: bytes = self._file.read(length)
        return data

    def _load(self, index: int) -> list[tuple[Any, ...]]:
        import marshal

        if self._cache is not None and self._cache[0] == index:
            return self._cache[1]
        offset, length, _ = self._chunks[index]
        blocks: list[tuple[Any, ...]] = marshal.loads(self._read(offset, length))
        self._cache = (index, blocks)
        return blocks

    def _make(self, block: tuple[Any, ...], o: RawOutcome) -> Finding:
        return self.make(self._metas[block[0]], block[1], block[2], block[3], o)

    @staticmethod
    def make(
        meta: FindingMeta,
        platform: str | None,
        conversation: str | None,
        channel: str | None,
        o: RawOutcome,
    ) -> Finding:
        """The :class:`Finding` of one item of :meth:`iter_raw`."""
        return Finding(
            commitment=meta.commitment,
            rule=meta.rule,
            status=_STATUS_BY_VALUE[o[0]],
            subject=o[2],
            subject_kind=o[1],
            platform=platform,
            conversation=conversation,
            channel=channel,
            started_us=o[3],
            deadline_us=o[4],
            stopped_us=o[5],
            elapsed_us=o[6],
            limit_us=o[7],
            evidence=tuple(o[8]),
            decided_by=o[11] if meta.composite else None,
            what=o[9],
            note=o[10],
            severity=meta.severity,
            business_day_us=meta.business_day_us,
        )

    def iter_raw(
        self,
    ) -> Iterator[tuple[FindingMeta, str | None, str | None, str | None, RawOutcome]]:
        """Every kept finding, in iteration order, as ``(meta, platform, conversation,
        channel, outcome)`` with ``outcome`` in :class:`Outcome` field order — without
        building a :class:`Finding` (:meth:`make` builds one). For consumers that read
        millions of findings and keep few of them (``convokit report``)."""
        metas = self._metas
        for block in self._iter_blocks():
            meta, platform, conversation, channel = metas[block[0]], block[1], block[2], block[3]
            for outcome in block[4]:
                yield meta, platform, conversation, channel, outcome

    def _iter_blocks(self) -> Iterator[tuple[Any, ...]]:
        for index in range(len(self._chunks)):
            yield from _expand(self._load(index), self._read)
        yield from _expand(self._blocks)

    def __len__(self) -> int:
        return self._spilled + self._in_memory

    def __iter__(self) -> Iterator[Finding]:
        make = self._make
        for block in self._iter_blocks():
            for outcome in block[4]:
                yield make(block, outcome)

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError("finding index out of range")
        blocks: Iterable[tuple[Any, ...]] = self._blocks
        if index >= self._spilled:
            index -= self._spilled
        else:
            for chunk_index, (_, _, count) in enumerate(self._chunks):
                if index < count:
                    blocks = self._load(chunk_index)
                    break
                index -= count
        for block in _expand(blocks, self._read):
            if index < len(block[4]):
                return self._make(block, block[4][index])
            index -= len(block[4])
        raise IndexError("finding index out of range")  # pragma: no cover

    def close(self) -> None:
        """Delete the temporary file, if any (also done when garbage-collected); the
        spilled findings are gone afterwards."""
        if self._file is not None:
            self._file.close()
            self._file = None
            self._chunks = []
            self._spilled = 0
            self._cache = None
