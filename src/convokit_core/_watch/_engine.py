"""One watch cycle: check, compare with the ledger, deliver every new transition.

Delivery is at least once: a notification is recorded in the ledger only after its
notifier returned (the receiver accepted it), one ledger write per delivery. A crash
between the two sends it again on the next cycle, with the same idempotency key.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

import attrs
import httpx

from .._errors import ConfigError
from .._http import RetryPolicy
from .._model import NotificationRecord
from .._policy._findings import CheckReport, Finding, Status
from .._secrets import scrub
from ..protocols import NotificationLedger, StorageBackend
from ._settings import DeliveryContext, Notification, NotifierSpec, idempotency_key

__all__ = [
    "CycleResult",
    "Delivery",
    "WatchObserver",
    "deliver_all",
    "ledger_of",
    "plan_notifications",
]

log = logging.getLogger("convokit.watch")

#: The statuses a watch cycle evaluates (met findings can mean "recovered").
WATCHED_STATUSES = frozenset({"at_risk", "breached", "met"})


@attrs.frozen(kw_only=True)
class Delivery:
    """One notification one notifier is to deliver, and its ledger entry."""

    spec: NotifierSpec = attrs.field(repr=False)
    notification: Notification
    record: NotificationRecord

    @property
    def notifier(self) -> str:
        return self.spec.name


@attrs.frozen(kw_only=True)
class CycleResult:
    """What one cycle did."""

    at: datetime
    at_risk: int
    breached: int
    planned: int
    delivered: int
    failed: tuple[tuple[str, str], ...]
    """``(notifier, error)`` for each delivery that failed (retried next cycle)."""
    held: int
    """Notifications waiting for a notifier's calendar to open (quiet hours)."""
    baselined: int
    interrupted: bool
    sync_errors: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """Whether every delivery of the cycle went through."""
        return not self.failed


class WatchObserver(Protocol):
    """What the CLI shows while a cycle runs."""

    def delivered(self, delivery: Delivery) -> None: ...

    def failed(self, delivery: Delivery, error: str) -> None: ...


def ledger_of(store: StorageBackend) -> NotificationLedger:
    """``store`` as a notification ledger, or a :class:`ConfigError` naming the backend."""
    if not isinstance(store, NotificationLedger):
        raise ConfigError(
            f"store {store.url!r}: its backend keeps no notification ledger "
            "(record_notifications / iter_notifications), so it cannot be watched"
        )
    return store


def _event(finding: Finding) -> str | None:
    if finding.stopped_us is None:
        if finding.status is Status.AT_RISK:
            return "at_risk"
        if finding.status is Status.BREACHED:
            return "breached"
        return None
    if finding.status in (Status.MET, Status.BREACHED):
        return "recovered"
    return None


def plan_notifications(
    report: CheckReport,
    store: StorageBackend,
    specs: Sequence[NotifierSpec],
    *,
    now: datetime,
    quiet_hours: bool = True,
) -> tuple[list[Delivery], int]:
    """The deliveries ``report`` calls for that the ledger has not recorded yet, and how
    many more wait for quiet hours to end.

    ``at_risk`` and ``breached`` are sent while the clock still runs; ``recovered`` when
    the clock stopped (the conversation was answered) after an ``at_risk`` or
    ``breached`` notification was delivered for the same deadline. With
    ``quiet_hours``, a notifier whose calendar is closed at ``now`` is held back,
    except for ``breached`` on an error-severity commitment.
    """
    ledger = ledger_of(store)
    done: set[tuple[str, str]] = set()
    warned: set[tuple[str, str, datetime | None]] = set()
    for entry in ledger.iter_notifications():
        done.add((entry.notifier, entry.key))
        if entry.sent and entry.event in ("at_risk", "breached"):
            warned.add((entry.commitment, entry.subject, entry.deadline))
    promises = {c.name: c.promise for c in report.commitments}
    wanted: list[tuple[NotifierSpec, Finding, str, str]] = []
    held = 0
    for finding in report.findings:
        event = _event(finding)
        if event is None:
            continue
        if event == "recovered" and (
            (finding.commitment, finding.subject, finding.deadline) not in warned
        ):
            continue
        key = idempotency_key(finding.commitment, finding.subject, event, finding.deadline_us)
        for spec in specs:
            if not spec.wants(event, finding.commitment) or (spec.name, key) in done:
                continue
            quiet = quiet_hours and spec.calendar is not None and not spec.calendar.is_open(now)
            if quiet and not (event == "breached" and finding.severity == "error"):
                held += 1
                continue
            wanted.append((spec, finding, event, key))
    context = _Conversations(store, {(f.platform, f.conversation) for _, f, _, _ in wanted})
    deliveries = []
    for spec, finding, event, key in wanted:
        owner, url, handles = context.about(finding.platform, finding.conversation)
        notification = Notification(
            event=event,
            idempotency_key=key,
            commitment=finding.commitment,
            promise=promises.get(finding.commitment) or None,
            status=str(finding.status),
            severity=finding.severity,
            subject=finding.subject,
            conversation=finding.conversation,
            platform=finding.platform,
            channel=finding.channel,
            owner=owner,
            deadline=finding.deadline,
            elapsed_seconds=finding.elapsed_seconds,
            message=finding.message,
            url=url,
            owner_handles=handles,
        )
        record = NotificationRecord(
            notifier=spec.name,
            key=key,
            commitment=finding.commitment,
            subject=finding.subject,
            event=event,
            deadline=finding.deadline,
            recorded_at=now,
        )
        deliveries.append(Delivery(spec=spec, notification=notification, record=record))
    return deliveries, held


class _Conversations:
    """Owner, link and owner handles of the conversations a cycle notifies about."""

    def __init__(
        self, store: StorageBackend, keys: Iterable[tuple[str | None, str | None]]
    ) -> None:
        self._found: dict[tuple[str | None, str | None], tuple[str | None, str | None]] = {}
        for platform, conversation in keys:
            if platform is None or conversation is None:
                continue
            record = store.get_conversation(platform, conversation)
            if record is None:
                continue
            url = next((m.url for m in reversed(record.messages) if m.url), None)
            self._found[(platform, conversation)] = (record.owner_id, url)
        owners = {owner for owner, _ in self._found.values() if owner is not None}
        self._handles: dict[str, Mapping[str, str]] = {}
        if owners:
            for member in store.iter_team_members():
                if member.id in owners:
                    self._handles[member.id] = dict(member.handles)

    def about(
        self, platform: str | None, conversation: str | None
    ) -> tuple[str | None, str | None, Mapping[str, str]]:
        owner, url = self._found.get((platform, conversation), (None, None))
        handles = self._handles.get(owner, {}) if owner is not None else {}
        return owner, url, handles


async def deliver_all(
    deliveries: Sequence[Delivery],
    store: StorageBackend,
    *,
    client: httpx.AsyncClient,
    policy: RetryPolicy,
    stop: threading.Event,
    observer: WatchObserver | None = None,
    sleep: Callable[[float], Awaitable[None]] | None = None,
) -> tuple[int, list[tuple[str, str]], bool]:
    """Deliver one by one, recording each in the ledger as soon as it went through.

    Stops before the next delivery once ``stop`` is set (SIGTERM): the current one
    finishes and is recorded. Returns ``(delivered, failures, interrupted)``.
    """
    ledger = ledger_of(store)
    context = DeliveryContext(client=client, policy=policy, sleep=sleep)
    delivered = 0
    failures: list[tuple[str, str]] = []
    for delivery in deliveries:
        if stop.is_set():
            return delivered, failures, True
        try:
            await delivery.spec.notifier.deliver(delivery.notification, context)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            error = scrub(f"{type(exc).__name__}: {exc}" if not str(exc) else str(exc))
            log.warning("notifier %s: %s", delivery.notifier, error)
            failures.append((delivery.notifier, error))
            if observer is not None:
                observer.failed(delivery, error)
            continue
        ledger.record_notifications([delivery.record])
        delivered += 1
        if observer is not None:
            observer.delivered(delivery)
    return delivered, failures, False


def baseline(deliveries: Sequence[Delivery], store: StorageBackend) -> int:
    """Record ``deliveries`` as known without sending them (``--baseline``)."""
    records = [attrs.evolve(d.record, sent=False) for d in deliveries]
    ledger_of(store).record_notifications(records)
    return len(records)


def count_open(report: CheckReport) -> dict[str, Any]:
    """How many findings are at risk and breached with the clock still running."""
    at_risk = breached = 0
    for finding in report.findings:
        event = _event(finding)
        at_risk += event == "at_risk"
        breached += event == "breached"
    return {"at_risk": at_risk, "breached": breached}
