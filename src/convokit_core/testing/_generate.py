"""Realistic generated support traffic, for demos, tests and benchmarks.

Shape (all drawn from a seeded ``random.Random``, so a seed gives the same history):

- conversations start through the day with a daytime peak and quieter weekends;
- each has one or more *turns* (a stakeholder writes one to three messages, we answer
  with one or two); the number of turns is geometric (most threads are short, a few run
  long);
- response times are log-normal (median about 40 minutes, a long tail into days), like
  real support queues; replies sent at night wait for the morning;
- some threads are never answered, some get a bot auto-reply first, some carry
  internal notes, some DMs;
- some stakeholder messages are complaints (tagged ``complaint`` by the source when
  ``tag_complaints``) and some are questions (never tagged: left to a classifier);
- conversations go ``pending`` after a reply that asks the stakeholder something, and
  most end ``resolved``; most have an owner from a team in which a few people left.

:func:`generate_history` yields :class:`~convokit_core.Batch` objects ready for any
store; :func:`generate_rows` yields plain SQLite-shaped rows for bulk loading.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs

from .._model import (
    Batch,
    Channel,
    Conversation,
    Stakeholder,
    StatusChange,
    TeamMember,
)
from .._storage._sqlite import message_from_row
from .._timeutil import from_micros, to_micros

__all__ = [
    "DEMO_POLICY",
    "GeneratedConversation",
    "HistorySpec",
    "generate_history",
    "generate_rows",
]

_US = 1_000_000
_HOUR = 3600 * _US

_COMPLAINTS = (
    "my order still hasn't arrived and nobody answers",
    "this is the third time the app crashed today, terrible",
    "I was charged twice for the same order, I want a refund",
    "the internet has been down again since this morning",
    "been waiting 2 hours on hold, unacceptable",
    "your update broke the login, still not working",
    "worst delivery experience ever, the package is damaged",
    "I'm fed up with the constant outages",
)
_QUESTIONS = (
    "how do I change my delivery address?",
    "can I upgrade my plan without losing my number?",
    "what are your opening hours on Sunday?",
    "is there a student discount?",
    "where can I find my invoice?",
    "do you ship to Canada?",
)
_OTHER = (
    "thanks, that worked",
    "ok I sent you a DM",
    "here is my order number: {n}",
    "just checking in on this",
    "great, thank you for the quick help",
    "I tried that already",
)
_REPLIES = (
    "Sorry to hear that! Could you DM us your order number?",
    "Thanks for reaching out, we are looking into it.",
    "You can change it in Settings > Account. Let us know if that helps!",
    "We have escalated this to our team and will update you shortly.",
    "Happy to help! Which plan are you on at the moment?",
    "That should be fixed now. Could you try again?",
)
_BOT = "Thanks for your message! An agent will get back to you soon."
_NOTES = ("customer is VIP, handle with care", "escalated to billing", "duplicate of earlier case")


DEMO_POLICY = """\
# Commitments for the generated support history (see convokit_core.testing).

[calendars.support]
timezone = "Europe/London"
hours = { mon-fri = ["08:00-20:00"], sat = ["10:00-16:00"] }
holidays = { country = "GB" }

[[commitment]]
name = "customers-hear-back"
promise = "Every customer hears back within 2 business hours."
rule = "max_silence"
window = "2h"
pause_when = "pending"
calendar = "support"
warn_before = "30m"

[[commitment]]
name = "quick-first-answer"
promise = "A first answer within an hour, day or night."
rule = "first_reply"
within = "1h"
severity = "warning"

[[commitment]]
name = "complaints-are-closed"
promise = "Complaints are acknowledged within an hour and closed within three days."
all_of = [
  { rule = "follow_up", tags = ["complaint"], acknowledge_within = "1h", resolve_within = "3d" },
  { rule = "owner_assigned", within = "4h" },
]

[[commitment]]
name = "no-abandoned-profiles"
promise = "Each of our accounts posts at least once a day."
rule = "channel_activity"
max_gap = "1d"
severity = "info"

[[commitment]]
name = "resolved-within-a-week"
promise = "Every conversation is resolved within a week."
rule = "resolution_within"
duration = "7d"
pause_when = "pending"
severity = "warning"
"""
"""A policy that exercises every status on :func:`generate_history` data."""


@attrs.frozen(kw_only=True)
class HistorySpec:
    """Parameters of a generated history (defaults shaped like a support queue)."""

    conversations: int = 1000
    seed: int = 0
    start: datetime = datetime(2024, 1, 1, tzinfo=UTC)
    days: int = 90
    platform: str = "twitter"
    channels: tuple[str, ...] = ("acme", "acme_help", "acme_billing")
    team_size: int = 12
    departed: int = 2
    """Team members who left (their conversations lose an active owner)."""
    mean_turns: float = 3.7
    """Average number of turns per conversation (geometric)."""
    median_response_minutes: float = 40.0
    response_sigma: float = 1.3
    unanswered_rate: float = 0.07
    """Share of conversations whose last turn is never answered."""
    complaint_rate: float = 0.15
    question_rate: float = 0.35
    bot_rate: float = 0.05
    note_rate: float = 0.03
    dm_rate: float = 0.10
    resolved_rate: float = 0.6
    pending_rate: float = 0.15
    owner_rate: float = 0.85
    tag_complaints: bool = True
    """Tag complaints at the source (else leave them to a classifier)."""
    channel_platforms: tuple[tuple[str, str], ...] = ()
    """``(channel, platform)`` pairs: channels on other platforms than ``platform``
    (several platforms in one history). Unlisted channels are on ``platform``."""
    abandoned: tuple[str, ...] = ()
    """Channels we stop answering (and posting on) after ``abandoned_after_days``."""
    abandoned_after_days: int = 30
    improvement: float = 0.0
    """How much faster the team answers by the end than at the start: 0.6 means the
    median response time shrinks steadily to 40 % of ``median_response_minutes``."""

    def platform_of(self, channel: str) -> str:
        """The platform ``channel`` is on."""
        return dict(self.channel_platforms).get(channel, self.platform)


@attrs.frozen(kw_only=True)
class GeneratedConversation:
    """One conversation as SQLite-shaped rows (column order of the ``messages``,
    ``conversations`` and ``status_changes`` tables)."""

    conversation: tuple[Any, ...]
    messages: tuple[tuple[Any, ...], ...]
    status_changes: tuple[tuple[Any, ...], ...]


def _team(spec: HistorySpec) -> list[TeamMember]:
    members = []
    for i in range(spec.team_size):
        until = None
        if i < spec.departed:
            until = spec.start + timedelta(days=spec.days * (i + 1) / (spec.departed + 2))
        members.append(
            TeamMember(
                id=f"agent{i:02d}",
                name=f"Agent {i:02d}",
                handles=_handles(spec, spec.channels[i % len(spec.channels)]),
                active_from=spec.start - timedelta(days=365),
                active_until=until,
            )
        )
    return members


def _handles(spec: HistorySpec, channel: str) -> dict[str, str]:
    """A team member speaks through one channel on each platform of the history."""
    handles = {spec.platform_of(channel): channel}
    for other, platform in spec.channel_platforms:
        handles.setdefault(platform, other)
    handles.setdefault(spec.platform, channel)
    return handles


def generate_rows(
    spec: HistorySpec | None = None, **kwargs: Any
) -> Iterator[GeneratedConversation]:
    """Conversations as plain rows, generated lazily (constant memory)."""
    spec = spec or HistorySpec(**kwargs)
    rng = random.Random(spec.seed)
    platform = spec.platform
    start_us = to_micros(spec.start)
    span_us = spec.days * 86_400 * _US
    team = [m.id for m in _team(spec)]
    p_more = 1.0 - 1.0 / max(spec.mean_turns, 1.0)
    mu = math.log(spec.median_response_minutes * 60 * _US)
    msg_id = 0
    for n in range(spec.conversations):
        cid = f"c{n:07d}"
        channel = spec.channels[rng.randrange(len(spec.channels))]
        platform = spec.platform_of(channel)
        customer = f"u{rng.randrange(spec.conversations * 2):07d}"
        # start time: uniform day, daytime-weighted hour, fewer on weekends
        while True:
            t = start_us + rng.randrange(span_us)
            hour = (t // _HOUR) % 24
            weekday = (t // (86_400 * _US) + 3) % 7  # 1970-01-01 was a Thursday
            weight = 1.0 if 8 <= hour < 20 else 0.25
            if weekday >= 5:
                weight *= 0.5
            if rng.random() < weight:
                break
        complaint = rng.random() < spec.complaint_rate
        question = rng.random() < spec.question_rate
        dm = rng.random() < spec.dm_rate
        visibility = "private" if dm else "public"
        turns = 1
        while rng.random() < p_more and turns < 30:
            turns += 1
        unanswered = rng.random() < spec.unanswered_rate
        if channel in spec.abandoned and t >= start_us + spec.abandoned_after_days * 86_400 * _US:
            unanswered = True  # nobody looks after this channel any more
        rows: list[tuple[Any, ...]] = []
        statuses: list[tuple[Any, ...]] = []
        last_id: str | None = None

        def add(
            author: str,
            direction: str,
            at: int,
            text: str,
            *,
            vis: str = visibility,
            automated: int = 0,
            tags: str | None = None,
            rows: list[tuple[Any, ...]] = rows,
            cid: str = cid,
            channel: str = channel,
            platform: str = platform,
        ) -> None:
            nonlocal msg_id, last_id
            msg_id += 1
            mid = f"m{msg_id:08d}"
            rows.append(
                (
                    platform,
                    mid,
                    cid,
                    channel,
                    author,
                    direction,
                    at,
                    last_id,
                    text,
                    vis,
                    automated,
                    tags,
                    None,
                    None,
                    0,
                )
            )
            last_id = mid

        for turn in range(turns):
            for k in range(1 if rng.random() < 0.7 else rng.randint(2, 3)):
                t += rng.randrange(20 * _US, 15 * 60 * _US) if (turn or k) else 0
                if turn == 0 and k == 0 and complaint:
                    text = rng.choice(_COMPLAINTS)
                    tags = '["complaint"]' if spec.tag_complaints else None
                elif turn == 0 and k == 0 and question:
                    text, tags = rng.choice(_QUESTIONS), None
                else:
                    text, tags = rng.choice(_OTHER).format(n=rng.randrange(10**6)), None
                add(customer, "inbound", t, text, tags=tags)
            if (
                turn == 0
                and rng.random() < spec.bot_rate
                and not (unanswered and channel in spec.abandoned)
            ):
                add(channel, "outbound", t + 2 * _US, _BOT, automated=1)
            if rng.random() < spec.note_rate:
                add(
                    team[rng.randrange(len(team))],
                    "internal",
                    t + 60 * _US,
                    rng.choice(_NOTES),
                    vis="note",
                )
            if unanswered and (turn == turns - 1 or channel in spec.abandoned):
                break
            delay = int(rng.lognormvariate(mu, spec.response_sigma))
            if spec.improvement:
                progress = min(max((t - start_us) / span_us, 0.0), 1.0)
                delay = int(delay * (1.0 - spec.improvement * progress))
            reply_at = t + max(delay, 30 * _US)
            hour = (reply_at // _HOUR) % 24
            if hour < 7:  # night shift is thin: most replies wait for the morning
                reply_at += (7 - hour) * _HOUR + rng.randrange(2 * _HOUR)
            t = reply_at
            for k in range(1 if rng.random() < 0.8 else 2):
                t += rng.randrange(5 * _US, 120 * _US) if k else 0
                add(channel, "outbound", t, rng.choice(_REPLIES))
            if turn < turns - 1 and rng.random() < spec.pending_rate:
                statuses.append((platform, cid, t + _US, "pending"))
                pending_until = t + int(rng.expovariate(1 / (6 * _HOUR)))
                t = pending_until
                statuses.append((platform, cid, t, "open"))
            else:
                t += int(rng.expovariate(1 / (3 * _HOUR)))
        status = "open"
        if not unanswered and rng.random() < spec.resolved_rate:
            resolved_at = rows[-1][6] + int(rng.expovariate(1 / (8 * _HOUR))) + _US
            statuses.append((platform, cid, resolved_at, "resolved"))
            status = "resolved"
        elif not unanswered and rng.random() < spec.pending_rate:
            statuses.append((platform, cid, rows[-1][6] + _US, "pending"))
            status = "pending"
        owner = team[rng.randrange(len(team))] if rng.random() < spec.owner_rate else None
        conv_tags = json.dumps(["complaint"]) if complaint and spec.tag_complaints else None
        yield GeneratedConversation(
            conversation=(platform, cid, channel, customer, owner, status, conv_tags),
            messages=tuple(rows),
            status_changes=tuple(statuses),
        )


def generate_history(
    conversations: int = 1000,
    *,
    seed: int = 0,
    batch_size: int = 500,
    spec: HistorySpec | None = None,
    **kwargs: Any,
) -> Iterator[Batch]:
    """A generated history as batches (the first carries channels, team, stakeholders).

    ``generate_history(200, seed=1)`` gives 200 conversations (about 1 800 messages);
    any :class:`HistorySpec` field can be passed as a keyword.
    """
    spec = spec or HistorySpec(conversations=conversations, seed=seed, **kwargs)
    channels = tuple(
        Channel(
            id=c,
            platform=spec.platform_of(c),
            handle=c,
            created_at=spec.start - timedelta(days=400),
        )
        for c in spec.channels
    )
    first = True
    convs: list[Conversation] = []
    stakeholders: dict[str, Stakeholder] = {}
    for generated in generate_rows(spec):
        p, cid, channel, customer, owner, status, tags = generated.conversation
        convs.append(
            Conversation(
                id=cid,
                platform=p,
                channel_id=channel,
                stakeholder_id=customer,
                owner_id=owner,
                status=status,
                tags=json.loads(tags) if tags else (),
                messages=[message_from_row(r) for r in generated.messages],
                status_history=[
                    StatusChange(
                        platform=s[0], conversation_id=s[1], at=from_micros(s[2]), status=s[3]
                    )
                    for s in generated.status_changes
                ],
            )
        )
        stakeholders.setdefault(
            customer,
            Stakeholder(id=customer, kind="customer", identities={p: customer}),
        )
        if len(convs) >= batch_size:
            yield Batch(
                conversations=convs,
                stakeholders=tuple(stakeholders.values()),
                channels=channels if first else (),
                team_members=tuple(_team(spec)) if first else (),
            )
            first = False
            convs = []
            stakeholders = {}
    if convs or first:
        yield Batch(
            conversations=convs,
            stakeholders=tuple(stakeholders.values()),
            channels=channels if first else (),
            team_members=tuple(_team(spec)) if first else (),
        )
