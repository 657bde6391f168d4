"""``convokit queue``: who do I answer next — every conversation waiting on us."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import IO, Any

import attrs

from .._policy._findings import CheckReport, Finding, Status, format_duration
from .._timeutil import format_datetime
from ..protocols import StorageBackend

__all__ = ["QueueItem", "build_queue", "render_json", "render_table"]

#: Findings whose clock runs against us.
WAITING = frozenset({"breached", "at_risk", "pending"})
_RANK = {Status.BREACHED: 0, Status.AT_RISK: 1, Status.PENDING: 2}


@attrs.frozen(kw_only=True)
class QueueItem:
    """One conversation waiting on us, with its most urgent commitment."""

    conversation: str
    platform: str | None
    commitment: str
    status: str
    deadline: datetime | None
    time_left_seconds: float | None
    """Negative when overdue; ``None`` without a deadline."""
    owner: str | None
    last_message: str | None
    last_message_at: datetime | None
    url: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "conversation": self.conversation,
            "platform": self.platform,
            "commitment": self.commitment,
            "status": self.status,
            "deadline": None if self.deadline is None else format_datetime(self.deadline),
            "time_left_seconds": self.time_left_seconds,
            "owner": self.owner,
            "last_message": self.last_message,
            "last_message_at": (
                None if self.last_message_at is None else format_datetime(self.last_message_at)
            ),
            "url": self.url,
        }


def _urgency(finding: Finding) -> tuple[int, int, int]:
    deadline = finding.deadline_us
    return (0 if deadline is not None else 1, deadline or 0, _RANK.get(finding.status, 3))


def build_queue(
    report: CheckReport, store: StorageBackend, *, now: datetime, owner: str | None = None
) -> list[QueueItem]:
    """One item per conversation with a running clock, earliest deadline first (so the
    overdue ones come first), each with its most urgent commitment."""
    best: dict[tuple[str | None, str], Finding] = {}
    for finding in report.findings:
        if finding.stopped_us is not None or finding.conversation is None:
            continue
        if str(finding.status) not in WAITING:
            continue
        key = (finding.platform, finding.conversation)
        found = best.get(key)
        if found is None or _urgency(finding) < _urgency(found):
            best[key] = finding
    items = []
    for (platform, conversation), finding in best.items():
        record = store.get_conversation(platform, conversation) if platform else None
        owner_id = record.owner_id if record is not None else None
        if owner is not None and owner_id != owner:
            continue
        last = record.messages[-1] if record is not None and record.messages else None
        url = None
        if record is not None:
            url = next((m.url for m in reversed(record.messages) if m.url), None)
        deadline = finding.deadline
        items.append(
            QueueItem(
                conversation=conversation,
                platform=platform,
                commitment=finding.commitment,
                status=str(finding.status),
                deadline=deadline,
                time_left_seconds=None if deadline is None else (deadline - now).total_seconds(),
                owner=owner_id,
                last_message=None if last is None else last.text,
                last_message_at=None if last is None else last.sent_at,
                url=url,
            )
        )
    items.sort(
        key=lambda i: (
            i.time_left_seconds is None,
            i.time_left_seconds or 0.0,
            i.platform or "",
            i.conversation,
        )
    )
    return items


def render_json(items: Sequence[QueueItem], stream: IO[str]) -> None:
    json.dump([i.to_dict() for i in items], stream, indent=2, ensure_ascii=False)
    stream.write("\n")


def _left(item: QueueItem) -> str:
    if item.time_left_seconds is None:
        return "no deadline"
    if item.time_left_seconds < 0:
        return f"overdue {format_duration(-item.time_left_seconds)}"
    return format_duration(item.time_left_seconds)


def _short(text: str | None, width: int = 50) -> str:
    if not text:
        return ""
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1] + "…"


def render_table(items: Sequence[QueueItem], stream: IO[str]) -> None:
    if not items:
        stream.write("nothing is waiting on us\n")
        return
    rows = [
        (
            _left(i),
            i.conversation,
            i.commitment,
            i.status,
            i.owner or "-",
            _short(i.last_message),
        )
        for i in items
    ]
    header = ("time left", "conversation", "commitment", "status", "owner", "last message")
    widths = [max(len(r[c]) for r in [header, *rows]) for c in range(len(header))]
    for row in [header, *rows]:
        stream.write("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
        stream.write("\n")
