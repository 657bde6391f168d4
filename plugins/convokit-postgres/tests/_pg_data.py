"""A realistic, deterministic data set in the JSONL interchange format (DESIGN §6).

Several platforms and channels, stakeholders on one or two platforms, team members who
leave, conversations with and without stored records, status histories, reply chains
without a conversation id (derived on import), ties in ``sent_at``, microsecond
timestamps, automated replies, internal notes, tags, non-ASCII and digit-only ids, and
re-sent messages whose last version wins.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

PLATFORMS = ("mastodon", "reddit", "twitter")
T0 = datetime(2024, 3, 1, 8, 0, tzinfo=UTC)


def _ts(at: datetime) -> str:
    if at.microsecond:
        return at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def _conversation_id(rng: random.Random, n: int) -> str:
    style = n % 5
    if style == 0:
        return str(n)  # digit-only: "10" sorts before "9"
    if style == 1:
        return f"Thread-{n}"
    if style == 2:
        return f"thread-{n}"
    if style == 3:
        return f"ü-{n}"
    return f"{rng.choice('abcXYZ')}{n:04d}"


def records(seed: int = 7, conversations: int = 160) -> Iterator[dict[str, Any]]:
    """The data set's records, in file order."""
    rng = random.Random(seed)
    for platform in PLATFORMS:
        for name in ("support", "news"):
            yield {
                "type": "channel",
                "id": f"{platform}-{name}",
                "platform": platform,
                "handle": f"@{name}",
                "created_at": "2019-05-01T00:00:00Z",
                "owner_team": "cx" if name == "support" else None,
            }
    team = ["kim", "lee", "ana"]
    for member in team:
        record: dict[str, Any] = {
            "type": "team_member",
            "id": member,
            "name": member.title(),
            "handles": dict.fromkeys(PLATFORMS[: 1 + team.index(member)], f"@{member}"),
        }
        if member == "lee":
            record["active_until"] = "2024-03-02T00:00:00Z"
        yield record
    people = [f"person-{i}" for i in range(40)]
    kinds = ["customer", "prospect", "partner", "media", "influencer", "community"]
    for i, person in enumerate(people):
        identities = {PLATFORMS[i % 3]: f"@p{i}"}
        if i % 4 == 0:
            identities[PLATFORMS[(i + 1) % 3]] = f"@p{i}-alt"
        yield {
            "type": "stakeholder",
            "id": person,
            "kind": kinds[i % len(kinds)],
            "display_name": f"Pérson {i}" if i % 2 else None,
            "identities": identities,
        }
    resend: list[dict[str, Any]] = []
    for n in range(conversations):
        platform = PLATFORMS[n % 3]
        conv = _conversation_id(rng, n)
        channel = f"{platform}-{'support' if n % 4 else 'news'}"
        person = people[n % len(people)]
        start = T0 + timedelta(minutes=rng.randrange(0, 3 * 24 * 60))
        derived_chain = n % 6 == 5  # messages carry no conversation id
        if n % 3 != 2:
            yield {
                "type": "conversation",
                "id": conv,
                "platform": platform,
                "channel": channel,
                "stakeholder": person,
                "owner": rng.choice([*team, None]),
                "status": rng.choice(["open", "open", "pending", "resolved"]),
                "tags": ["vip"] if n % 7 == 0 else [],
            }
        if n % 5 == 0:
            yield {
                "type": "status",
                "platform": platform,
                "conversation": conv,
                "status": "pending",
                "at": _ts(start + timedelta(hours=1)),
            }
            yield {
                "type": "status",
                "platform": platform,
                "conversation": conv,
                "status": "resolved",
                "at": _ts(start + timedelta(hours=5)),
            }
        at = start
        previous: str | None = None
        for k in range(rng.randrange(1, 12)):
            inbound = k % 2 == 0
            message_id = f"{conv}/{k}" if not derived_chain else f"{conv}-{k}"
            message: dict[str, Any] = {
                "type": "message",
                "id": message_id,
                "platform": platform,
                "channel": channel,
                "author": person if inbound else rng.choice(team),
                "direction": "inbound" if inbound else "outbound",
                "sent_at": _ts(at),
                "text": f"message {k} in {conv} ✓",
                "visibility": "public" if k % 5 else "private",
                "automated": (not inbound) and rng.random() < 0.1,
                "tags": ["complaint"] if inbound and rng.random() < 0.2 else [],
            }
            if not derived_chain or k == 0:
                message["conversation"] = conv
            if derived_chain and k == 0:
                message.pop("conversation")
            if previous is not None:
                message["in_reply_to"] = previous
            if rng.random() < 0.1:
                message["edited_at"] = _ts(at + timedelta(minutes=3, microseconds=17))
            if rng.random() < 0.05:
                message["deleted"] = True
            yield message
            if rng.random() < 0.05:
                resend.append({**message, "text": message["text"] + " (edited)"})
            if rng.random() < 0.08 and not inbound:
                yield {
                    "type": "message",
                    "id": f"{message_id}-note",
                    "platform": platform,
                    "conversation": conv if not derived_chain else None,
                    "in_reply_to": message_id if derived_chain else None,
                    "channel": channel,
                    "author": rng.choice(team),
                    "direction": "internal",
                    "visibility": "note",
                    "sent_at": _ts(at),  # a tie with the message it annotates
                    "text": "internal note",
                }
            previous = message_id
            gap = timedelta(minutes=rng.choice([0, 1, 7, 45, 180, 600]))
            at = at + gap + timedelta(microseconds=rng.choice([0, 0, 1, 999_999]))
    yield from resend


def jsonl(seed: int = 7, conversations: int = 160) -> str:
    """The data set as JSONL text (``None`` fields left out)."""
    lines = []
    for record in records(seed, conversations):
        clean = {k: v for k, v in record.items() if v is not None}
        lines.append(json.dumps(clean, ensure_ascii=False))
    return "\n".join(lines) + "\n"
