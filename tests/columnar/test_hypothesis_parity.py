"""Property: the columnar engine's findings JSON equals the python engine's, byte for byte.

Hypothesis builds *histories* (several platforms and channels; inbound, outbound and
internal messages of every visibility; automated replies; equal timestamps; conversations
with a record or derived from their messages; owners who are active, departed, not yet
started, not on the roster or missing, with or without a roster; stakeholder kinds;
conversation and message tags; status histories before and after ``as_of`` and stored
statuses without one; known channels with and without ``created_at``) and *policies*
(every built-in rule, ``pause_when``, ``warn_before``, counting policies, an always-open
calendar and business-hours calendars in DST zones with holidays, ``where``/``unless``
scopes and nested ``all_of``/``any_of``). Each history is written to a fresh SQLite file
and checked by both engines, with and without ``only``.

The columnar engine must cover every built-in rule: a generated policy it refuses fails
the property (it does not fall back to the python engine).
"""

from __future__ import annotations

import io
import json
import tempfile
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from convokit_core import check
from convokit_core._calendars import ALWAYS_OPEN, Calendar
from convokit_core._columnar import _engine as columnar_engine
from convokit_core._columnar._engine import ColumnarEngine
from convokit_core._model import (
    Batch,
    Channel,
    Conversation,
    Message,
    Stakeholder,
    StakeholderKind,
    StatusChange,
    TeamMember,
)
from convokit_core._plugins import open_store
from convokit_core._policy._evaluate import Commitment
from convokit_core._policy._facts import CountingPolicy
from convokit_core._policy._rules import (
    BUILTIN_RULES,
    Rule,
    all_of,
    any_of,
    channel_activity,
    first_reply,
    follow_up,
    max_silence,
    next_reply,
    owner_assigned,
    periodic_update,
    resolution_within,
)
from convokit_core._report._reporters import render_json

# -- fixed vocabulary --------------------------------------------------------------------

PLATFORMS = ("twitter", "mastodon")
CHANNELS = ("acme", "help", "blog")
OWNERS = ("kc", "jo", "fu", "zz")
"""kc: active; jo: leaves during the history; fu: starts during it; zz: never on a roster."""
KINDS = tuple(k.value for k in StakeholderKind)
SPAN_MINUTES = 6 * 1440
"""Messages, status changes and roster changes fall within this many minutes of the anchor."""

#: Each history starts at one of these instants (UTC); most weeks hold a DST change and a
#: public holiday of one of the business calendars below.
ANCHORS = (
    datetime(2024, 3, 7, 12, 0, tzinfo=UTC),  # Berlin Women's Day 8 Mar, New York DST 10 Mar
    datetime(2024, 3, 27, 12, 0, tzinfo=UTC),  # Good Friday, Berlin DST 31 Mar, Easter Monday
    datetime(2024, 10, 24, 12, 0, tzinfo=UTC),  # Berlin falls back 27 Oct
    datetime(2024, 11, 1, 12, 0, tzinfo=UTC),  # New York falls back 3 Nov, Election Day 5 Nov
    datetime(1969, 12, 29, 12, 0, tzinfo=UTC),  # New Year's Day 1970: negative epoch times
    datetime(2999, 12, 27, 12, 0, tzinfo=UTC),  # deadlines past the year 3000
)

BERLIN = Calendar(
    name="berlin",
    timezone="Europe/Berlin",
    # the Sunday slot covers the skipped (02:00-03:00, March) and repeated (October) hours
    hours={"mon-fri": ["09:00-12:30", "13:30-17:00"], "sun": ["01:30-03:30"]},
    holidays_country="DE",
    holidays_subdivision="BE",
    closed_dates=["2024-10-25"],
)
NEW_YORK = Calendar(
    name="new-york",
    timezone="America/New_York",
    hours={"mon-fri": "08:00-18:00", "sat": "10:00-14:00", "sun": ["00:30-03:00"]},
    holidays_country="US",
    holidays_subdivision="NY",
    closed_dates=[date(2024, 3, 12)],
)
CALENDARS = (ALWAYS_OPEN, BERLIN, NEW_YORK, Calendar(name="gb-days", holidays_country="GB"))

TEXTS = (
    "",
    "hello",
    "my order never arrived, this is terrible",
    "how do I reset my password?",
    "thanks, all good now",
    "still waiting for a refund",
)
LIMITS: tuple[str | float | timedelta, ...] = (
    "0s",
    1.5,
    timedelta(seconds=1, microseconds=1),
    "90s",
    "20m",
    "1h",
    "3h",
    "1h30m",
    "2d",
    "900d",
)
GAPS = (0, 0, 1, 5, 19, 20, 21, 45, 60, 90, 179, 240, 600, 1440, 2000)
"""Minutes between one message and the next (ties, and gaps either side of the limits)."""
EXTRA_US = (0, 0, 0, 0, 1, 999_999, 17_000_000)
NEAR = (-5, 0, 0, 1, 30, 200)
"""Minutes from a message to a status change placed near it."""
PAUSES = (None, None, "pending", ["pending", "resolved"], "open", ["closed"])


# -- histories ---------------------------------------------------------------------------


ConversationSpec = tuple[tuple[Message, ...], Conversation | None, tuple[StatusChange, ...]]
"""A conversation's messages, its record (``None``: derived) and its status changes."""


@attrs.frozen
class History:
    """What a generated store holds."""

    anchor: datetime
    conversations: tuple[ConversationSpec, ...]
    stakeholders: tuple[Stakeholder, ...]
    team: tuple[TeamMember, ...]
    channels: tuple[Channel, ...]

    def write(self, url: str) -> None:
        """One batch (one transaction): records with their messages and changes, the
        messages and changes of derived conversations, stakeholders, roster, channels."""
        records: list[Conversation] = []
        messages: list[Message] = []
        changes: list[StatusChange] = []
        for conv_messages, record, conv_changes in self.conversations:
            if record is None:
                messages.extend(conv_messages)
                changes.extend(conv_changes)
            else:
                records.append(
                    attrs.evolve(record, messages=conv_messages, status_history=conv_changes)
                )
        with open_store(url) as store:
            store.write(
                Batch(
                    conversations=records,
                    messages=messages,
                    status_changes=changes,
                    stakeholders=self.stakeholders,
                    team_members=self.team,
                    channels=self.channels,
                )
            )


def _at(anchor: datetime, minute: int, extra_us: int = 0) -> datetime:
    return anchor + timedelta(minutes=minute, microseconds=extra_us)


@st.composite
def conversations(draw: st.DrawFn, platform: str, cid: str, anchor: datetime) -> ConversationSpec:
    stakeholder = draw(st.sampled_from([f"u-{cid}", f"u-{cid}", "u-shared"]))
    home = draw(st.sampled_from([*CHANNELS[:2], None]))
    grid = draw(st.sampled_from([1, 1, 30, 240]))  # a coarse grid gives many equal times
    n = draw(st.integers(0 if draw(st.integers(0, 9)) == 0 else 1, 10))
    minute = draw(st.integers(-60, SPAN_MINUTES // 2))
    direction = "inbound"
    messages = []
    stamps = []
    for i in range(n):
        # mostly turns: the direction flips more often than not
        if draw(st.integers(0, 2)):
            direction = {"inbound": "outbound", "outbound": "inbound", "internal": "inbound"}[
                direction
            ]
        elif draw(st.integers(0, 2)) == 0:
            direction = "internal"
        minute += draw(st.sampled_from(GAPS))
        stamp = _at(anchor, minute // grid * grid, draw(st.sampled_from(EXTRA_US)))
        stamps.append(stamp)
        messages.append(
            Message(
                # a random prefix: among equal times, ids order the messages; now and
                # then an id another conversation uses too (the later write moves it)
                id=f"{cid}-{draw(st.integers(0, 99)):02d}-{i}"
                if draw(st.integers(0, 15))
                else f"moved-{draw(st.integers(0, 2))}",
                platform=platform,
                conversation_id=cid,
                author_id=stakeholder
                if direction == "inbound"
                else draw(st.sampled_from(["acme", "kc-handle"])),
                direction=direction,
                sent_at=stamp,
                channel_id=home if draw(st.integers(0, 4)) else draw(st.sampled_from(CHANNELS)),
                visibility=draw(st.sampled_from(["public", "public", "private", "note"])),
                automated=draw(st.integers(0, 4)) == 0,
                tags=draw(st.sampled_from([(), (), (), ("complaint",), ("question", "vip")])),
                text=draw(st.sampled_from(TEXTS)),
            )
        )
    changes = []
    for _ in range(draw(st.integers(0, 4))):
        if draw(st.booleans()) and stamps:  # near a message: pauses that touch a turn
            at = draw(st.sampled_from(stamps)) + timedelta(minutes=draw(st.sampled_from(NEAR)))
        else:
            at = _at(anchor, draw(st.integers(-60, SPAN_MINUTES)) // grid * grid)
        status = draw(st.sampled_from(["open", "pending", "resolved", "closed"]))
        changes.append(StatusChange(platform=platform, conversation_id=cid, status=status, at=at))
    if messages and draw(st.integers(0, 4)) == 0:
        return tuple(messages), None, tuple(changes)  # no record: derived from the messages
    record = Conversation(
        id=cid,
        platform=platform,
        channel_id=home,
        stakeholder_id=draw(st.sampled_from([stakeholder, stakeholder, None])),
        owner_id=draw(st.sampled_from([None, *OWNERS])),
        status=draw(st.sampled_from(["open", "open", "pending", "resolved", "closed"])),
        tags=draw(st.sampled_from([(), (), ("vip",), ("complaint",)])),
    )
    return tuple(messages), record, tuple(changes)


@st.composite
def histories(draw: st.DrawFn) -> History:
    anchor = draw(st.sampled_from(ANCHORS))
    size = draw(st.sampled_from([3, 1, 2, 4, 5, 6]))  # not mostly one conversation
    keys = draw(
        st.lists(
            st.tuples(st.sampled_from(PLATFORMS), st.sampled_from([f"k{i}" for i in range(5)])),
            min_size=size,
            max_size=size,
            unique=True,
        )
    )
    convs = tuple(draw(conversations(p, c, anchor)) for p, c in keys)
    people = sorted({f"u-{c}" for _, c in keys} | {"u-shared"})
    stakeholders = tuple(
        Stakeholder(id=p, kind=draw(st.sampled_from(KINDS)))
        for p in people
        if draw(st.integers(0, 3))
    )
    team: list[TeamMember] = []
    if draw(st.booleans()):  # a roster; without one, owners cannot be verified
        if draw(st.integers(0, 3)):
            team.append(TeamMember(id="kc", handles={"twitter": "kc-handle"}))
        if draw(st.integers(0, 3)):
            team.append(
                TeamMember(
                    id="jo",
                    active_from=anchor - timedelta(days=30),
                    active_until=_at(anchor, draw(st.integers(-1440, SPAN_MINUTES))),
                )
            )
        if draw(st.integers(0, 3)):
            team.append(
                TeamMember(id="fu", active_from=_at(anchor, draw(st.integers(0, SPAN_MINUTES))))
            )
    channels = tuple(
        Channel(
            id=c,
            platform=p,
            created_at=draw(
                st.sampled_from([None, _at(anchor, draw(st.integers(-2 * 1440, SPAN_MINUTES)))])
            ),
        )
        for p in PLATFORMS
        for c in CHANNELS
        if draw(st.integers(0, 2)) == 0
    )
    return History(
        anchor=anchor,
        conversations=convs,
        stakeholders=stakeholders,
        team=tuple(team),
        channels=channels,
    )


AS_OF_OFFSETS = (0, 1, -1, 15, -20, 59, 61, 150, 600, 1440, 3000)
"""Minutes from an instant of the history (a message, a status change, a roster or
channel date) to ``as_of``."""


@st.composite
def histories_and_as_of(draw: st.DrawFn) -> tuple[History, datetime]:
    """A history and an ``as_of``: mostly near one of its instants (uniform ``as_of``
    values would mostly fall before or long after the interesting ones)."""
    history = draw(histories())
    instants: list[datetime] = sorted(
        {m.sent_at for messages, _, _ in history.conversations for m in messages}
        | {c.at for _, _, changes in history.conversations for c in changes}
        | {t for m in history.team for t in (m.active_from, m.active_until) if t is not None}
        | {c.created_at for c in history.channels if c.created_at is not None}
    )
    extra = draw(st.sampled_from(EXTRA_US))
    if draw(st.integers(0, 4)) and instants:
        base = draw(st.sampled_from(instants))
        offset = timedelta(minutes=draw(st.sampled_from(AS_OF_OFFSETS)), microseconds=extra)
        return history, base + offset
    return history, _at(history.anchor, draw(st.integers(-30, SPAN_MINUTES + 1440)), extra)


# -- policies ----------------------------------------------------------------------------

CONVERSATION_LEAVES = tuple(n for n in BUILTIN_RULES if n != "channel_activity")
ALL_LEAVES = tuple(BUILTIN_RULES)


@st.composite
def leaf_rules(draw: st.DrawFn, name: str) -> Rule:
    limit = draw(st.sampled_from(LIMITS))
    pause = draw(st.sampled_from(PAUSES))
    if name == "first_reply":
        return first_reply(limit, pause_when=pause)
    if name == "next_reply":
        return next_reply(limit, pause_when=pause)
    if name == "max_silence":
        return max_silence(limit, pause_when=pause)
    if name == "periodic_update":
        return periodic_update(limit, pause_when=pause)
    if name == "resolution_within":
        return resolution_within(limit, pause_when=pause)
    if name == "owner_assigned":
        grace = draw(st.one_of(st.just(0), st.sampled_from(["0s", "1h", "2d"])))
        return owner_assigned(grace)
    if name == "channel_activity":
        return channel_activity(limit)
    assert name == "follow_up", name
    ack, resolve = draw(
        # equal limits: both clocks often reach the same status (the acknowledgement decides)
        st.sampled_from(
            [(limit, None), (None, limit), (limit, limit), (limit, "2d"), ("20m", limit)]
        )
    )
    return follow_up(
        draw(st.sampled_from([("complaint",), ("complaint", "question"), "vip"])),
        acknowledge_within=ack,
        resolve_within=resolve,
        pause_when=pause,
    )


def leaf_weight(name: str) -> range:
    """How often a leaf is drawn: the rules with the most branches (and that the reply
    rules' own parity tests do not reach) more often."""
    return range({"follow_up": 3, "periodic_update": 2, "owner_assigned": 2}.get(name, 1))


_SCOPE_VALUES: dict[str, st.SearchStrategy[str | list[str]]] = {
    "platform": st.sampled_from(["twitter", ["mastodon"]]),
    "channel": st.sampled_from(["acme", ["help", "blog"]]),
    "stakeholder_kind": st.sampled_from(["customer", ["unknown", "media", "prospect"]]),
    "owner": st.sampled_from(["kc", ["jo", "zz", "fu"]]),
    "tags": st.sampled_from(["complaint", ["vip", "question"]]),
}


@st.composite
def scopes(draw: st.DrawFn, keys: Sequence[str]) -> dict[str, str | list[str]]:
    """One or two criteria (more would leave few conversations in scope)."""
    chosen = draw(st.lists(st.sampled_from(keys), min_size=1, max_size=2, unique=True))
    return {k: draw(_SCOPE_VALUES[k]) for k in chosen}


_CONVERSATION_SCOPES = scopes(list(_SCOPE_VALUES))
_CHANNEL_SCOPES = scopes(["platform", "channel"])


@st.composite
def rules(draw: st.DrawFn, leaves: Sequence[str], depth: int = 0) -> Rule:
    """A rule over ``leaves`` (all of one level): a leaf, a composite or a scoped rule."""
    shape = draw(st.sampled_from(["leaf", "leaf", "all", "any"] if depth < 2 else ["leaf"]))
    if shape == "leaf":
        rule = draw(leaf_rules(draw(st.sampled_from([n for n in leaves for _ in leaf_weight(n)]))))
    else:
        parts = draw(st.lists(rules(leaves, depth + 1), min_size=1, max_size=3))
        rule = all_of(*parts) if shape == "all" else any_of(*parts)
    scopes = _CHANNEL_SCOPES if rule.level == "channel" else _CONVERSATION_SCOPES
    how = draw(st.integers(0, 5))
    if how == 1:
        rule = rule.where(**draw(scopes))
    elif how == 2:
        rule = rule.unless(**draw(scopes))
    elif how == 3:
        rule = rule.where(**draw(scopes)).unless(**draw(scopes))
    return rule


@st.composite
def policies(draw: st.DrawFn, leaves: Sequence[str] = ALL_LEAVES) -> list[Commitment]:
    conversation = [n for n in leaves if n != "channel_activity"]
    out = []
    for i in range(draw(st.integers(1, 4))):
        if "channel_activity" in leaves and (not conversation or draw(st.integers(0, 5)) == 0):
            rule = draw(rules(["channel_activity"]))
        else:
            rule = draw(rules(conversation))
        out.append(
            Commitment(
                name=f"c{i}",
                rule=rule,
                calendar=draw(st.sampled_from(CALENDARS)),
                warn_before=draw(st.sampled_from([None, None, "10m", "1h", "3h", "2d"])),
                severity=draw(st.sampled_from(["error", "warning", "info"])),
                counting=CountingPolicy(
                    public_only=draw(st.booleans()), count_automated=draw(st.booleans())
                ),
            )
        )
    return out


ONLY = (None, None, ("breached", "at_risk"), ("paused", "met"), ("not_applicable",), ("pending",))


# -- the property ------------------------------------------------------------------------


def findings_json(url: str, commitments: Sequence[Commitment], engine: str, **kw: Any) -> str:
    buffer = io.StringIO()
    render_json(check(url, commitments, engine=engine, **kw), buffer)
    return buffer.getvalue()


def assert_same_findings(
    history: History,
    commitments: Sequence[Commitment],
    as_of: datetime,
    only: Sequence[str] | None,
    classifiers: Sequence[Any] | None,
    batch_rows: int | None = None,
) -> None:
    """Both engines on ``history`` written to a fresh SQLite file."""
    with tempfile.TemporaryDirectory() as directory:
        url = f"sqlite:///{directory}/store.db"
        history.write(url)
        assert_same_json(url, commitments, as_of, only, classifiers, batch_rows)


def assert_same_json(
    url: str,
    commitments: Sequence[Commitment],
    as_of: datetime,
    only: Sequence[str] | None,
    classifiers: Sequence[Any] | None,
    batch_rows: int | None = None,
) -> None:
    """The findings JSON of both engines on the store at ``url``; the columnar engine
    reads ``batch_rows`` messages per batch when given (whole conversations each)."""
    why = ColumnarEngine().unsupported(commitments)
    assert why is None, f"the columnar engine refuses a built-in rule: {why}"
    kw: dict[str, Any] = {"as_of": as_of, "only": only, "classifiers": classifiers}
    python = findings_json(url, commitments, "python", **kw)
    rows = columnar_engine.BATCH_ROWS if batch_rows is None else batch_rows
    with mock.patch.object(columnar_engine, "BATCH_ROWS", rows):
        columnar = findings_json(url, commitments, "columnar", **kw)
    if columnar != python:
        pytest.fail(first_difference(python, columnar))


def first_difference(python: str, columnar: str) -> str:
    """The first commitment summary or finding that differs, each engine's on one line."""
    a, b = json.loads(python), json.loads(columnar)
    for key in ("as_of", "store", "commitments", "findings"):
        left, right = a.get(key), b.get(key)
        if left == right and json.dumps(left) == json.dumps(right):
            continue
        if isinstance(left, list) and isinstance(right, list):
            for i in range(max(len(left), len(right))):
                x = left[i] if i < len(left) else None
                y = right[i] if i < len(right) else None
                if json.dumps(x) != json.dumps(y):
                    return (
                        f"{key}[{i}] differs:\n python:   {json.dumps(x)}\n"
                        f" columnar: {json.dumps(y)}"
                    )
        return f"{key} differs:\n python:   {json.dumps(left)}\n columnar: {json.dumps(right)}"
    return "the two documents hold the same values but differ in layout"


@settings(
    max_examples=300,
    deadline=None,
    derandomize=True,  # the same examples on every run, and no example database:
    database=None,  # never flaky, and about 15 s of the file's budget of 40 s
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    case=histories_and_as_of(),
    commitments=policies(),
    only=st.sampled_from(ONLY),
    classifiers=st.sampled_from([(), None]),
    batch_rows=st.sampled_from([None, None, 1, 2, 5]),
)
def test_both_engines_write_the_same_findings_json(
    case: tuple[History, datetime],
    commitments: list[Commitment],
    only: tuple[str, ...] | None,
    classifiers: tuple[Any, ...] | None,
    batch_rows: int | None,
) -> None:
    history, as_of = case
    assert_same_findings(history, commitments, as_of, only, classifiers, batch_rows)


# -- DST nights and holidays -------------------------------------------------------------

#: (name, instant in UTC, minutes per offset step, the calendars measured).
#: A DST instant is the change itself; a holiday instant is the holiday's local midnight.
NIGHTS = (
    (
        "berlin-springs-forward",
        datetime(2024, 3, 31, 1, 0, tzinfo=UTC),
        1,
        (BERLIN, Calendar(name="b", timezone="Europe/Berlin", closed_dates=["2024-03-31"])),
    ),
    (
        "berlin-falls-back",
        datetime(2024, 10, 27, 1, 0, tzinfo=UTC),
        1,
        (BERLIN, Calendar(name="b", timezone="Europe/Berlin", closed_dates=["2024-10-27"])),
    ),
    (
        "new-york-springs-forward",
        datetime(2024, 3, 10, 7, 0, tzinfo=UTC),
        1,
        (NEW_YORK, Calendar(name="n", timezone="America/New_York", closed_dates=["2024-03-10"])),
    ),
    (
        "new-york-falls-back",
        datetime(2024, 11, 3, 6, 0, tzinfo=UTC),
        1,
        (NEW_YORK, Calendar(name="n", timezone="America/New_York", closed_dates=["2024-11-03"])),
    ),
    (
        "berlin-good-friday-to-easter-monday",
        datetime(2024, 3, 28, 23, 0, tzinfo=UTC),
        60,
        (
            BERLIN,
            Calendar(
                name="b", timezone="Europe/Berlin", holidays_country="DE", holidays_subdivision="BE"
            ),
        ),
    ),
    (
        "new-york-election-day",
        datetime(2024, 11, 5, 5, 0, tzinfo=UTC),
        30,
        (
            NEW_YORK,
            Calendar(
                name="n",
                timezone="America/New_York",
                holidays_country="US",
                holidays_subdivision="NY",
            ),
        ),
    ),
)
#: Offsets (steps from the instant) at which the policy is checked.
NIGHT_AS_OF = (-31, 0, 1, 30, 59, 60, 61, 90, 150, 24 * 60)


def night_history(instant: datetime, step: int) -> History:
    """Conversations whose clocks run across ``instant``, at offsets of ``step`` minutes."""

    def at(offset: int) -> datetime:
        return instant + timedelta(minutes=offset * step)

    def msg(cid: str, n: int, offset: int, direction: str, **kw: Any) -> Message:
        return Message(
            id=f"{cid}-{n}",
            platform=kw.pop("platform", "twitter"),
            conversation_id=cid,
            author_id=f"u-{cid}" if direction == "inbound" else "acme",
            direction=direction,
            sent_at=at(offset),
            channel_id=kw.pop("channel_id", "acme"),
            **kw,
        )

    def change(cid: str, status: str, offset: int) -> StatusChange:
        return StatusChange(platform="twitter", conversation_id=cid, status=status, at=at(offset))

    def record(cid: str, **kw: Any) -> Conversation:
        return Conversation(
            id=cid, platform="twitter", channel_id="acme", stakeholder_id=f"u-{cid}", **kw
        )

    conversations: list[ConversationSpec] = [
        (  # a first reply and a later turn across the night
            (
                msg("a", 1, -45, "inbound"),
                msg("a", 2, 50, "outbound"),
                msg("a", 3, 55, "inbound"),
                msg("a", 4, 130, "outbound"),
            ),
            record("a", owner_id="kc"),
            (),
        ),
        (  # a complaint never answered, paused then resolved
            (msg("b", 1, -10, "inbound", tags=("complaint",)),),
            record("b", owner_id="jo", status="resolved"),
            (change("b", "pending", 20), change("b", "open", 65), change("b", "resolved", 140)),
        ),
        (  # at the instant itself; an automated reply and a DM before the public one
            (
                msg("c", 1, 0, "inbound"),
                msg("c", 2, 5, "outbound", automated=True),
                msg("c", 3, 30, "outbound", visibility="private"),
                msg("c", 4, 70, "outbound"),
            ),
            record("c", owner_id="jo", tags=("complaint",)),
            (change("c", "pending", 31),),
        ),
        (  # no record: derived from its messages
            (
                msg("d", 1, 1, "inbound", channel_id="help"),
                msg("d", 2, 2, "internal", visibility="note"),
                msg("d", 3, 61, "outbound", channel_id="help"),
            ),
            None,
            (change("d", "closed", 200),),
        ),
        (  # our updates every hour, a stakeholder question before them
            (
                msg("e", 1, -130, "inbound"),
                msg("e", 2, -120, "outbound"),
                msg("e", 3, -60, "outbound"),
                msg("e", 4, 0, "outbound"),
                msg("e", 5, 60, "outbound"),
                msg("e", 6, 121, "outbound"),
            ),
            record("e", owner_id="fu", status="pending"),
            (change("e", "pending", 59), change("e", "open", 90)),
        ),
        (  # first heard from after its owner left: the owner is missing from then on
            (msg("g", 1, 20, "inbound"), msg("g", 2, 95, "outbound", visibility="private")),
            record("g", owner_id="jo"),
            (),
        ),
        (  # unassigned, on another platform and channel
            (msg("f", 1, -1, "inbound", platform="mastodon", channel_id="help"),),
            Conversation(id="f", platform="mastodon", channel_id="help", stakeholder_id="u-f"),
            (),
        ),
    ]
    return History(
        anchor=instant,
        conversations=tuple(conversations),
        stakeholders=(Stakeholder(id="u-a", kind="customer"), Stakeholder(id="u-c", kind="media")),
        team=(
            TeamMember(id="kc"),
            TeamMember(id="jo", active_until=at(15)),
            TeamMember(id="fu", active_from=at(60)),
        ),
        channels=(
            Channel(id="night", platform="twitter", created_at=at(-30)),
            Channel(id="acme", platform="twitter", created_at=at(-300)),
            Channel(id="help", platform="mastodon"),
        ),
    )


def night_policy(calendars: Sequence[Calendar]) -> list[Commitment]:
    """Every built-in rule on each calendar, with pauses, a warning window and a scope."""
    rules_: list[Rule] = [
        first_reply("30m"),
        next_reply("1h", pause_when="pending"),
        max_silence("45m"),
        periodic_update("1h", pause_when="pending"),
        channel_activity("1h"),
        follow_up(acknowledge_within="20m", resolve_within="2h", pause_when="pending"),
        owner_assigned("30m"),
        resolution_within("2h", pause_when=["pending"]),
        any_of(first_reply("1h"), resolution_within("90m")).where(platform="twitter"),
        all_of(max_silence("1h"), next_reply("20m")).unless(stakeholder_kind="media"),
    ]
    return [
        Commitment(
            name=f"{calendar.name}-{i}",
            rule=rule,
            calendar=calendar,
            warn_before="15m",
            counting=CountingPolicy(public_only=i % 2 == 1),
        )
        for calendar in calendars
        for i, rule in enumerate(rules_)
    ]


@pytest.mark.parametrize(
    ("instant", "step", "calendars"),
    [pytest.param(*rest, id=name) for name, *rest in NIGHTS],
)
def test_dst_nights_and_holidays_give_the_same_findings_json(
    tmp_path: Path, instant: datetime, step: int, calendars: tuple[Calendar, ...]
) -> None:
    zone = calendars[0].timezone
    before, after = instant - timedelta(minutes=1), instant + timedelta(minutes=1)
    if step == 1:  # the instant is a DST change of the calendars' zone
        assert before.astimezone(zone).utcoffset() != after.astimezone(zone).utcoffset()
    else:  # the instant starts a holiday of the second calendar
        assert calendars[1].business_time(before, after) == timedelta(minutes=1)
    url = f"sqlite:///{tmp_path}/store.db"
    night_history(instant, step).write(url)
    commitments = night_policy(calendars)
    for offset in NIGHT_AS_OF:
        as_of = instant + timedelta(minutes=offset * step)
        for only in (None, ("breached", "at_risk")):
            assert_same_json(url, commitments, as_of, only, (), batch_rows=offset % 3 + 1)
