"""The compact view of a conversation that rules evaluate.

A :class:`Thread` is built once per conversation per run (from any
:class:`~convokit_core.protocols.ConversationLike`, or straight from SQLite rows by the
fast path) and shared by every commitment. Messages are plain tuples indexed by the
``M_*`` constants — the evaluator's hot path builds no object per message.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs

from .._timeutil import to_micros
from ..protocols import ConversationLike

__all__ = [
    "M_AT",
    "M_AUTOMATED",
    "M_CHANNEL",
    "M_DIRECTION",
    "M_ID",
    "M_TAGS",
    "M_TEXT",
    "M_VISIBILITY",
    "CountingPolicy",
    "Thread",
    "thread_from_conversation",
]

#: Index of each field in a message tuple of :attr:`Thread.messages`.
M_ID, M_AT, M_DIRECTION, M_VISIBILITY, M_AUTOMATED, M_TAGS, M_CHANNEL, M_TEXT = range(8)

STAKEHOLDER = 0
REPLY = 1


@attrs.frozen(kw_only=True, cache_hash=True)
class CountingPolicy:
    """What counts as a stakeholder message and as a reply, per commitment (DESIGN §5).

    A *stakeholder message* is an inbound message whose visibility is not ``note``. A
    *reply* is an outbound message that is not a ``note``, not ``automated`` unless
    ``count_automated``, and ``public`` when ``public_only``. Internal messages never
    count.
    """

    public_only: bool = False
    """Only public replies count (a DM does not)."""
    count_automated: bool = False
    """Replies sent by bots or auto-responders count too."""


DEFAULT_COUNTING = CountingPolicy()


def tags_of(message: Sequence[Any]) -> tuple[str, ...]:
    """The tags of a message tuple (stored as a tuple, JSON text or ``None``)."""
    raw = message[M_TAGS]
    if not raw:
        return ()
    if isinstance(raw, str):
        value = json.loads(raw)
        return tuple(value) if isinstance(value, list) else ()
    return tuple(raw)


class Thread:
    """One conversation as of the run's ``as_of`` (internal, built once per run).

    Attributes:
        platform, id, channel_id, stakeholder_id, owner_id, tags: as stored.
        stakeholder_kind: the stakeholder's kind, when the run loaded stakeholders.
        status: the conversation's status at ``as_of``.
        history: ``(at_us, status)`` changes at or before ``as_of``, in time order.
        messages: message tuples (see ``M_*``) sent at or before ``as_of``, in
            ``(sent_at, id)`` order.
    """

    __slots__ = (
        "_cache",
        "channel_id",
        "history",
        "id",
        "messages",
        "owner_id",
        "platform",
        "stakeholder_id",
        "stakeholder_kind",
        "status",
        "tags",
    )

    def __init__(
        self,
        *,
        platform: str,
        id: str,
        channel_id: str | None,
        stakeholder_id: str | None,
        owner_id: str | None,
        status: str,
        tags: tuple[str, ...],
        history: list[tuple[int, str]],
        messages: list[tuple[Any, ...]],
        stakeholder_kind: str | None = None,
    ) -> None:
        self.platform = platform
        self.id = id
        self.channel_id = channel_id
        self.stakeholder_id = stakeholder_id
        self.owner_id = owner_id
        self.status = status
        self.tags = tags
        self.history = history
        self.messages = messages
        self.stakeholder_kind = stakeholder_kind
        self._cache: dict[Any, Any] | None = None

    def __repr__(self) -> str:
        return f"Thread({self.platform}:{self.id}, {len(self.messages)} messages, {self.status})"

    # -- derived views, cached per run ------------------------------------------------

    def _cached(self, key: Any) -> Any:
        return None if self._cache is None else self._cache.get(key)

    def _store(self, key: Any, value: Any) -> Any:
        if self._cache is None:
            self._cache = {}
        self._cache[key] = value
        return value

    def events(self, policy: CountingPolicy) -> list[tuple[int, int, int]]:
        """``(at_us, kind, index)`` for every message that counts under ``policy``;
        ``kind`` is 0 for a stakeholder message, 1 for a reply. At the same instant a
        stakeholder message comes before a reply (the reply answers it)."""
        cache = self._cache
        if cache is not None:
            entry = cache.get(id(policy))
            if entry is not None:
                return entry[0]  # type: ignore[no-any-return]
        return self._count(policy)[0]  # type: ignore[no-any-return]

    def _count(self, policy: CountingPolicy) -> list[Any]:
        """Build and cache ``[events, turns, tagged]`` for ``policy`` in one pass."""
        out: list[tuple[int, int, int]] = []
        append = out.append
        public_only = policy.public_only
        bots = policy.count_automated
        tie = False
        tagged = False
        last = None
        messages = self.messages
        for i, m in enumerate(messages):
            direction = m[2]
            if direction == "inbound":
                if m[3] == "note":
                    continue
                if m[5]:
                    tagged = True
                kind = 0
            elif direction == "outbound":
                vis = m[3]
                if vis == "note" or (public_only and vis != "public") or (m[4] and not bots):
                    continue
                kind = 1
            else:
                continue
            at = m[1]
            if at == last:
                tie = True
            last = at
            append((at, kind, i))
        if tie:
            out.sort()
        # turns, from the ordered events
        tid = self.id
        turns: list[tuple[int, int | None, tuple[str, ...], str]] = []
        add_turn = turns.append
        n = 0
        s_at = -1
        s_id = ""
        waiting = False
        for at, kind, index in out:
            if kind == 0:
                if not waiting:
                    waiting = True
                    s_at = at
                    s_id = messages[index][0]
            elif waiting:
                n += 1
                add_turn((s_at, at, (s_id, messages[index][0]), f"{tid}#{n}"))
                waiting = False
        if waiting:
            add_turn((s_at, None, (s_id,), f"{tid}#{n + 1}"))
        entry: list[Any] = [out, turns, tagged]
        if self._cache is None:
            self._cache = {}
        self._cache[id(policy)] = entry
        return entry

    def has_tagged_stakeholder_message(self, policy: CountingPolicy) -> bool:
        """Whether a stakeholder message counted under ``policy`` carries any tag."""
        cache = self._cache
        entry = cache.get(id(policy)) if cache is not None else None
        if entry is None:
            entry = self._count(policy)
        return bool(entry[2])

    def turns(self, policy: CountingPolicy) -> list[tuple[int, int | None, tuple[str, ...], str]]:
        """Turns under ``policy``: ``(started_us, answered_us or None, evidence,
        subject)``. A turn starts at the first stakeholder message after a reply (or the
        first one at all) and stops at the next reply; ``evidence`` holds the ids of
        those two messages and ``subject`` is ``"<conversation id>#<n>"``."""
        cache = self._cache
        if cache is not None:
            entry = cache.get(id(policy))
            if entry is not None:
                return entry[1]  # type: ignore[no-any-return]
        return self._count(policy)[1]  # type: ignore[no-any-return]

    def segments(self) -> list[tuple[int | None, str]]:
        """Status timeline: ``(since_us, status)``; the first starts at ``None`` (the
        beginning of time) with ``open``. Without a stored history, a non-open status is
        taken as entered at the last message."""
        found = self._cached("segments")
        if found is not None:
            return found  # type: ignore[no-any-return]
        segs: list[tuple[int | None, str]] = [(None, "open")]
        if self.history:
            for at, status in self.history:
                segs.append((at, str(status)))
        elif self.status != "open" and self.messages:
            segs.append((self.messages[-1][1], str(self.status)))
        return self._store("segments", segs)  # type: ignore[no-any-return]

    def excluded(self, statuses: frozenset[str]) -> list[tuple[int, int | None]]:
        """Intervals ``[a, b)`` (``b`` None = still at ``as_of``) during which the
        conversation's status is in ``statuses``."""
        if not statuses:
            return []
        key = ("excluded", statuses)
        found = self._cached(key)
        if found is not None:
            return found  # type: ignore[no-any-return]
        segs = self.segments()
        out: list[tuple[int, int | None]] = []
        if len(segs) > 1 or segs[0][1] in statuses:
            for i, (since, status) in enumerate(segs):
                if status not in statuses:
                    continue
                until = segs[i + 1][0] if i + 1 < len(segs) else None
                lo = since if since is not None else -(2**62)
                if out and out[-1][1] == lo:
                    out[-1] = (out[-1][0], until)
                else:
                    out.append((lo, until))
        return self._store(key, out)  # type: ignore[no-any-return]

    def first_status_at(self, statuses: frozenset[str], after: int) -> int | None:
        """First instant at or after ``after`` when the status is in ``statuses``
        (``after`` itself when it already is)."""
        if not self.history and self.status == "open":
            return None
        segs = self.segments()
        current = None
        for since, status in segs:
            if since is None or since <= after:
                current = status
        if current in statuses:
            return after
        for since, status in segs:
            if since is not None and since > after and status in statuses:
                return since
        return None

    def message_tags(self, index: int) -> tuple[str, ...]:
        return tags_of(self.messages[index])

    def all_tags(self) -> frozenset[str]:
        """Conversation tags plus every stakeholder message's tags."""
        found = self._cached("all_tags")
        if found is not None:
            return found  # type: ignore[no-any-return]
        tags = set(self.tags)
        for m in self.messages:
            if m[M_TAGS] and m[M_DIRECTION] == "inbound":
                tags.update(tags_of(m))
        return self._store("all_tags", frozenset(tags))  # type: ignore[no-any-return]


def stored_thread(
    *,
    platform: str,
    id: str,
    record: tuple[Any, ...] | None,
    derived: tuple[str | None, str | None],
    history: list[tuple[int, str]],
    has_later: bool,
    messages: list[tuple[Any, ...]],
    kinds: Mapping[str, str],
) -> Thread:
    """A thread as the stores derive it (the SQLite fast path and the partition
    evaluator of distributed engines share this rule).

    ``record`` is the stored conversation record's ``(channel, stakeholder, owner,
    status, tags)``, or ``None`` for a conversation known only from its messages, which
    then takes ``derived`` = (the first message's channel, the first inbound message's
    author), no owner, status ``open`` and no tags. The status at ``as_of`` is the last
    change in ``history``, else ``open`` when the only changes come after ``as_of``
    (``has_later``), else the stored one.
    """
    if record is not None:
        channel, stakeholder, owner, stored_status, tags = record
    else:
        (channel, stakeholder), owner, stored_status, tags = derived, None, "open", ()
    if history:
        status = history[-1][1]
    elif has_later:
        status = "open"
    else:
        status = stored_status
    return Thread(
        platform=platform,
        id=id,
        channel_id=channel,
        stakeholder_id=stakeholder,
        owner_id=owner,
        status=status,
        tags=tags,
        history=history,
        messages=messages,
        stakeholder_kind=kinds.get(stakeholder) if stakeholder else None,
    )


def thread_from_conversation(
    conversation: ConversationLike,
    *,
    as_of_us: int,
    stakeholder_kind: str | None = None,
    with_text: bool = False,
) -> Thread | None:
    """Build the :class:`Thread` of ``conversation`` as it stood at ``as_of_us``.

    Messages sent after ``as_of`` and status changes after it are dropped; ``None`` is
    returned when nothing of the conversation existed yet (no message at or before
    ``as_of``).
    """
    messages: list[tuple[Any, ...]] = []
    for m in conversation.messages:
        at = to_micros(m.sent_at)
        if at > as_of_us:
            continue
        messages.append(
            (
                m.id,
                at,
                str(m.direction),
                str(m.visibility),
                bool(m.automated),
                tuple(m.tags),
                getattr(m, "channel_id", None),
                getattr(m, "text", None) if with_text else None,
            )
        )
    if not messages:
        return None
    messages.sort(key=lambda row: (row[1], row[0]))
    history = sorted(
        (to_micros(s.at), str(s.status))
        for s in conversation.status_history
        if to_micros(s.at) <= as_of_us
    )
    full_history = list(conversation.status_history)
    if history:
        status = history[-1][1]
    elif full_history:
        status = "open"  # every recorded change is after as_of
    else:
        status = str(conversation.status)
    return Thread(
        platform=conversation.platform,
        id=conversation.id,
        channel_id=conversation.channel_id,
        stakeholder_id=conversation.stakeholder_id,
        owner_id=conversation.owner_id,
        status=status,
        tags=tuple(conversation.tags),
        history=history,
        messages=messages,
        stakeholder_kind=stakeholder_kind,
    )


def with_tags(message: tuple[Any, ...], tags: Iterable[str]) -> tuple[Any, ...]:
    """A copy of a message tuple with ``tags``."""
    return (*message[:M_TAGS], tuple(tags), *message[M_TAGS + 1 :])
