"""The interchange format (DESIGN §6): one JSON object per record, validated field by field."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from itertools import chain, repeat
from operator import attrgetter, floordiv, is_, sub
from typing import Any

from .._errors import InvalidRecord
from .._limits import MAX_STRING_BYTES, MAX_TEXT_BYTES, id_problem, show, string_problem
from .._model import (
    Channel,
    Conversation,
    ConversationStatus,
    Direction,
    Message,
    Stakeholder,
    StakeholderKind,
    StatusChange,
    TeamMember,
    Visibility,
)
from .._timeutil import MAX_TIMESTAMP, MIN_TIMESTAMP, format_datetime, parse_timestamp

__all__ = ["FIELDS", "RECORD_TYPES", "dump_record", "parse_record"]

Record = Message | Conversation | StatusChange | Stakeholder | Channel | TeamMember

#: Allowed keys per record type, in the canonical (export) order.
FIELDS: dict[str, tuple[str, ...]] = {
    "message": (
        "type", "id", "platform", "conversation", "channel", "author", "direction", "sent_at",
        "in_reply_to", "text", "visibility", "automated", "tags", "url", "edited_at", "deleted",
    ),
    "conversation": (
        "type", "id", "platform", "channel", "stakeholder", "owner", "status", "tags",
    ),
    "status": ("type", "platform", "conversation", "status", "at"),
    "stakeholder": ("type", "id", "kind", "display_name", "identities"),
    "channel": ("type", "id", "platform", "handle", "created_at", "owner_team"),
    "team_member": ("type", "id", "name", "handles", "active_from", "active_until"),
}  # fmt: skip
RECORD_TYPES = tuple(FIELDS)
_KEY_SETS = {kind: frozenset(keys) for kind, keys in FIELDS.items()}


def _bad(field: str, reason: str) -> InvalidRecord:
    return InvalidRecord(reason, field=field)


def _str(
    obj: Mapping[str, Any], key: str, *, required: bool = False, limit: int | None = None
) -> str | None:
    """A string field; ids (the default, ``limit=None``) may also be given as integers.

    Checked against the storage limits (docs/limits.md): identifiers at most
    ``MAX_ID_BYTES``, other strings at most ``limit`` UTF-8 bytes; no NUL, no lone
    surrogate.
    """
    value = obj.get(key)
    if value is None:
        if required:
            raise _bad(key, "is required")
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise _bad(key, f"expected a string, found {show(value)}")
    text = str(value)
    if required and not text:
        raise _bad(key, "must not be empty")
    problem = id_problem(text) if limit is None else string_problem(text, limit)
    if problem is not None:
        raise _bad(key, problem)
    return text if text else None


def _req(obj: Mapping[str, Any], key: str) -> str:
    value = _str(obj, key, required=True)
    assert value is not None
    return value


def _text(obj: Mapping[str, Any], key: str) -> str:
    value = obj.get(key, "")
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _bad(key, f"expected a string, found {show(value)}")
    problem = string_problem(value, MAX_TEXT_BYTES)
    if problem is not None:
        raise _bad(key, problem)
    return value


def _time(obj: Mapping[str, Any], key: str, *, required: bool = False) -> datetime | None:
    value = obj.get(key)
    if value is None:
        if required:
            raise _bad(key, "is required")
        return None
    if not isinstance(value, str):
        raise _bad(key, f"expected an ISO 8601 timestamp string, found {show(value)}")
    if len(value) > 64:
        raise _bad(
            key, f"expected an ISO 8601 timestamp like 2017-10-31T21:46:24Z, found {show(value)}"
        )
    try:
        return parse_timestamp(value)
    except ValueError as exc:
        raise _bad(key, str(exc)) from None


def _bool(obj: Mapping[str, Any], key: str) -> bool:
    value = obj.get(key, False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise _bad(key, f"expected true or false, found {show(value)}")
    return value


def _tags(obj: Mapping[str, Any], key: str = "tags") -> tuple[str, ...]:
    value = obj.get(key)
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(t, str) and t for t in value):
        raise _bad(key, f"expected a list of non-empty strings, found {show(value)}")
    for tag in value:
        problem = id_problem(tag)
        if problem is not None:
            raise _bad(key, f"tag {show(tag)} {problem}")
    return tuple(value)


def _map(obj: Mapping[str, Any], key: str) -> dict[str, str]:
    value = obj.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise _bad(key, f"expected an object of strings, found {show(value)}")
    for k, v in value.items():
        problem = id_problem(k)
        if problem is None:
            problem = string_problem(v, MAX_STRING_BYTES)
        if problem is not None:
            raise _bad(f"{key}.{k}" if id_problem(k) is None else key, f"{show(k)}: {problem}")
    return value


def _enum(obj: Mapping[str, Any], key: str, enum: type[Any], default: Any = None) -> Any:
    value = obj.get(key)
    if value is None:
        if default is None:
            raise _bad(key, "is required")
        return default
    try:
        return enum(value)
    except (ValueError, TypeError):
        allowed = ", ".join(e.value for e in enum)
        raise _bad(key, f"expected one of {allowed}; found {show(value)}") from None


_DIRECTIONS = frozenset(d.value for d in Direction)
_VISIBILITIES = frozenset(v.value for v in Visibility)
_fromiso = datetime.fromisoformat
_MIN_TIME = MIN_TIMESTAMP
_MAX_TIME = MAX_TIMESTAMP
_MICROSECOND = timedelta(microseconds=1)
_tzinfo = attrgetter("tzinfo")


def message_values(obj: Mapping[str, Any], conversation: str | None = None) -> tuple[Any, ...]:
    """Validate a message object; return its fields in ``messages`` column order.

    ``(platform, id, conversation, channel, author, direction, sent_at, in_reply_to, text,
    visibility, automated, tags, url, edited_at, deleted)`` with enums as their string
    values and timestamps as aware UTC datetimes. This is the import hot path: the common case
    (well-typed values) takes no function call per field.
    """
    get = obj.get
    id_ = get("id")
    if type(id_) is not str or not id_:
        id_ = _req(obj, "id")
    platform = get("platform")
    if type(platform) is not str or not platform:
        platform = _req(obj, "platform")
    author = get("author")
    if type(author) is not str or not author:
        author = _req(obj, "author")
    conv = get("conversation")
    if type(conv) is not str or not conv:
        conv = _str(obj, "conversation") or conversation
        if conv is None:
            raise _bad("conversation", "is required (or derivable from in_reply_to)")
    channel = get("channel")
    if channel is not None and (type(channel) is not str or not channel):
        channel = _str(obj, "channel")
    reply = get("in_reply_to")
    if reply is not None and (type(reply) is not str or not reply):
        reply = _str(obj, "in_reply_to")
    direction = get("direction")
    if type(direction) is not str or direction not in _DIRECTIONS:
        direction = _enum(obj, "direction", Direction).value
    visibility = get("visibility", "public")
    if type(visibility) is not str or visibility not in _VISIBILITIES:
        visibility = _enum(obj, "visibility", Visibility).value
    raw_sent = get("sent_at")
    sent_at: datetime | None
    try:
        sent_at = _fromiso(raw_sent)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        sent_at = _time(obj, "sent_at", required=True)  # raises with the reason
    offset = sent_at.utcoffset() if sent_at is not None else None
    if sent_at is None or offset is None:
        raise _bad("sent_at", f"timestamp {show(raw_sent)} has no timezone; add 'Z' or an offset")
    if sent_at.tzinfo is not UTC:
        try:
            sent_at = sent_at.replace(tzinfo=UTC) if not offset else sent_at.astimezone(UTC)
        except OverflowError:
            sent_at = _time(obj, "sent_at", required=True)  # raises with the reason
    if not _MIN_TIME <= sent_at < _MAX_TIME:  # type: ignore[operator]
        _time(obj, "sent_at", required=True)  # raises with the reason
    text = get("text", "")
    if type(text) is not str:
        text = _text(obj, "text")
    elif "\x00" in text or not (text.isascii() and len(text) <= MAX_TEXT_BYTES):
        text = _text(obj, "text")  # checks the limits
    automated = get("automated", False)
    if type(automated) is not bool:
        automated = _bool(obj, "automated")
    tags = get("tags")
    tags = () if not tags else _tags(obj)
    url = get("url")
    if url is not None:
        url = _str(obj, "url", limit=MAX_STRING_BYTES)
    edited = get("edited_at")
    if edited is not None:
        edited = _time(obj, "edited_at")
    deleted = get("deleted", False)
    if type(deleted) is not bool:
        deleted = _bool(obj, "deleted")
    # The storage limits on identifiers (docs/limits.md): one test for short ASCII ids.
    # (``conversation`` given by the caller, not the input, is not checked.)
    own_conv = "" if conv is conversation else conv
    ids = platform + id_ + own_conv + author + (channel or "") + (reply or "")
    if len(ids) > 128 or not ids.isascii() or "\x00" in ids:
        for key, value in (
            ("platform", platform), ("id", id_), ("conversation", own_conv or None),
            ("author", author),
            ("channel", channel), ("in_reply_to", reply),
        ):  # fmt: skip
            problem = None if value is None else id_problem(value)
            if problem is not None:
                raise _bad(key, problem)
    return (
        platform, id_, conv, channel, author, direction, sent_at, reply, text, visibility,
        automated, tags, url, edited, deleted,
    )  # fmt: skip


_MESSAGE_KEYS = _KEY_SETS["message"]
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MIN_MICROS = (MIN_TIMESTAMP - _EPOCH) // _MICROSECOND
_MAX_MICROS = (MAX_TIMESTAMP - _EPOCH) // _MICROSECOND


def well_formed_message_row(obj: Any) -> tuple[Any, ...] | None:
    """The ``messages`` table row of a message object in the common, well-formed shape,
    or ``None`` for anything else.

    The import hot path. It accepts only what :func:`record_type` and
    :func:`message_values` accept and gives the same row (the column order of
    ``message_row`` in the SQLite store: timestamps as microseconds, booleans as 0/1):
    a dict with known keys and a ``conversation``, string identifiers, a UTC timestamp,
    no tags, ``url`` or ``edited_at``. Whatever it does not take (including every invalid
    object) returns ``None``, and the caller validates it the full way, which reports
    the error.
    """
    if type(obj) is not dict or not obj.keys() <= _MESSAGE_KEYS:
        return None
    get = obj.get
    if get("type", "message") != "message":
        return None
    id_ = get("id")
    platform = get("platform")
    conv = get("conversation")
    author = get("author")
    channel = get("channel")
    reply = get("in_reply_to")
    if (
        type(id_) is not str
        or type(platform) is not str
        or type(conv) is not str
        or type(author) is not str
        or not (id_ and platform and conv and author)
    ):
        return None
    if channel is None:
        ids = platform + id_ + conv + author
    elif type(channel) is str and channel:
        ids = platform + id_ + conv + author + channel
    else:
        return None
    if reply is not None:
        if type(reply) is not str or not reply:
            return None
        ids += reply
    # The identifier limits (docs/limits.md): short ASCII without NUL cannot exceed them.
    if len(ids) > 128 or not ids.isascii() or "\x00" in ids:
        return None
    direction = get("direction")
    visibility = get("visibility", "public")
    if type(direction) is not str or type(visibility) is not str:
        return None
    if direction not in _DIRECTIONS or visibility not in _VISIBILITIES:
        return None
    raw_sent = get("sent_at")
    if type(raw_sent) is not str or len(raw_sent) > 64:
        return None
    try:
        sent_at = _fromiso(raw_sent)
    except ValueError:
        return None
    if sent_at.tzinfo is not UTC:
        return None  # no zone, or an offset: converted (or reported) the full way
    delta = sent_at - _EPOCH
    micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    if not _MIN_MICROS <= micros < _MAX_MICROS:
        return None
    text = get("text", "")
    if type(text) is not str or "\x00" in text:
        return None
    if text.isascii():
        if len(text) > MAX_TEXT_BYTES:
            return None
    else:
        try:
            if len(text.encode("utf-8")) > MAX_TEXT_BYTES:
                return None
        except UnicodeEncodeError:
            return None  # a lone surrogate
    automated = get("automated", False)
    deleted = get("deleted", False)
    if type(automated) is not bool or type(deleted) is not bool:
        return None
    if get("tags") or get("url") is not None or get("edited_at") is not None:
        return None
    return (
        platform, id_, conv, channel, author, direction, micros, reply, text, visibility,
        1 if automated else 0, None, None, None, 1 if deleted else 0,
    )  # fmt: skip


#: Type sets for ``frozenset.issuperset(map(type, values))``: a test in C that every value
#: is of one exact type (here and in the JSONL block reader).
_DICT_ONLY = frozenset((dict,))
_STR_ONLY = frozenset((str,))
_STR_OR_NONE = frozenset((str, type(None)))
_BOOL_ONLY = frozenset((bool,))


def well_formed_message_rows(objs: Sequence[Any]) -> list[tuple[Any, ...]] | None:
    """The rows of a run of objects when :func:`well_formed_message_row` takes every one
    of them, in order, or ``None``.

    The same tests, a column at a time: each runs in C over the whole run (``map``,
    ``set``, ``str.join``), with no Python-level step per object. One test is looser
    than the row's: the identifiers' limit is checked on the longest value of each
    column, added up, which bounds every row's sum; past it, this answers ``None``
    although each row may be within it. So ``None`` means "take them one by one"
    (:func:`well_formed_message_row` then decides), never that an object is invalid.
    """
    n = len(objs)
    if not n:
        return []
    if not _DICT_ONLY.issuperset(map(type, objs)):
        return None
    if not all(map(_MESSAGE_KEYS.issuperset, objs)):
        return None

    def column(key: str, default: Any = None) -> list[Any]:
        return list(map(dict.get, objs, repeat(key), repeat(default)))

    if column("type", "message").count("message") != n:
        return None
    ids = column("id")
    platforms = column("platform")
    convs = column("conversation")
    authors = column("author")
    required = (platforms, ids, convs, authors)
    for values in required:
        if not _STR_ONLY.issuperset(map(type, values)) or not all(values):
            return None
    channels = column("channel")
    replies = column("in_reply_to")
    for values in (channels, replies):
        if not _STR_OR_NONE.issuperset(map(type, values)) or "" in values:
            return None
    optional = (list(filter(None, channels)), list(filter(None, replies)))
    # The identifier limits (docs/limits.md), as the row test: the longest of each
    # column, summed, bounds every row's sum.
    longest = sum(max(map(len, values), default=0) for values in (*required, *optional))
    joined = "".join(chain(*required, *optional))
    if longest > 128 or not joined.isascii() or "\x00" in joined:
        return None
    directions = column("direction")
    visibilities = column("visibility", "public")
    for values, allowed in ((directions, _DIRECTIONS), (visibilities, _VISIBILITIES)):
        if not _STR_ONLY.issuperset(map(type, values)) or not allowed.issuperset(values):
            return None
    raw_sent = column("sent_at")
    if not _STR_ONLY.issuperset(map(type, raw_sent)) or max(map(len, raw_sent)) > 64:
        return None
    try:
        sent = list(map(_fromiso, raw_sent))
    except ValueError:
        return None
    if not all(map(is_, map(_tzinfo, sent), repeat(UTC))):
        return None
    micros = list(map(floordiv, map(sub, sent, repeat(_EPOCH)), repeat(_MICROSECOND)))
    if min(micros) < _MIN_MICROS or max(micros) >= _MAX_MICROS:
        return None
    texts = column("text", "")
    if not _STR_ONLY.issuperset(map(type, texts)):
        return None
    joined = "".join(texts)
    if "\x00" in joined:
        return None
    if joined.isascii():
        if max(map(len, texts)) > MAX_TEXT_BYTES:
            return None
    else:
        try:
            joined.encode("utf-8")
        except UnicodeEncodeError:
            return None  # a lone surrogate
        # (at most four bytes a character: encoded one by one only near the limit)
        if max(map(len, texts)) * 4 > MAX_TEXT_BYTES and (
            max(map(len, map(str.encode, texts))) > MAX_TEXT_BYTES
        ):
            return None
    automated = column("automated", False)
    deleted = column("deleted", False)
    if not _BOOL_ONLY.issuperset(map(type, automated)) or not _BOOL_ONLY.issuperset(
        map(type, deleted)
    ):
        return None
    if any(column("tags")) or column("url").count(None) != n:
        return None
    if column("edited_at").count(None) != n:
        return None
    none = [None] * n
    return list(
        zip(
            platforms, ids, convs, channels, authors, directions, micros, replies, texts,
            visibilities, map(int, automated), none, none, none, map(int, deleted),
            strict=True,
        )
    )  # fmt: skip


def message_from_values(v: tuple[Any, ...]) -> Message:
    """The :class:`Message` of a :func:`message_values` tuple."""
    return Message(
        platform=v[0],
        id=v[1],
        conversation_id=v[2],
        channel_id=v[3],
        author_id=v[4],
        direction=v[5],
        sent_at=v[6],
        in_reply_to=v[7],
        text=v[8],
        visibility=v[9],
        automated=v[10],
        tags=v[11],
        url=v[12],
        edited_at=v[13],
        deleted=v[14],
    )


def parse_message(obj: Mapping[str, Any], conversation: str | None = None) -> Message:
    """A message from its interchange object; ``conversation`` fills a missing one."""
    return message_from_values(message_values(obj, conversation))


def _conversation(obj: Mapping[str, Any]) -> Conversation:
    return Conversation(
        id=_req(obj, "id"),
        platform=_req(obj, "platform"),
        channel_id=_str(obj, "channel"),
        stakeholder_id=_str(obj, "stakeholder"),
        owner_id=_str(obj, "owner"),
        status=_enum(obj, "status", ConversationStatus, ConversationStatus.OPEN),
        tags=_tags(obj),
    )


def parse_status(obj: Mapping[str, Any], platform: str | None = None) -> StatusChange:
    """A status change; ``platform`` fills a missing one."""
    at = _time(obj, "at", required=True)
    assert at is not None
    plat = _str(obj, "platform") or platform
    if plat is None:
        raise _bad("platform", "is required when the input has several platforms or none")
    return StatusChange(
        platform=plat,
        conversation_id=_req(obj, "conversation"),
        status=_enum(obj, "status", ConversationStatus),
        at=at,
    )


def _stakeholder(obj: Mapping[str, Any]) -> Stakeholder:
    return Stakeholder(
        id=_req(obj, "id"),
        kind=_enum(obj, "kind", StakeholderKind, StakeholderKind.UNKNOWN),
        display_name=_str(obj, "display_name", limit=MAX_STRING_BYTES),
        identities=_map(obj, "identities"),
    )


def _channel(obj: Mapping[str, Any]) -> Channel:
    return Channel(
        id=_req(obj, "id"),
        platform=_req(obj, "platform"),
        handle=_str(obj, "handle", limit=MAX_STRING_BYTES),
        created_at=_time(obj, "created_at"),
        owner_team=_str(obj, "owner_team", limit=MAX_STRING_BYTES),
    )


def _team_member(obj: Mapping[str, Any]) -> TeamMember:
    return TeamMember(
        id=_req(obj, "id"),
        name=_str(obj, "name", limit=MAX_STRING_BYTES),
        handles=_map(obj, "handles"),
        active_from=_time(obj, "active_from"),
        active_until=_time(obj, "active_until"),
    )


_PARSERS: dict[str, Callable[[Mapping[str, Any]], Record]] = {
    "message": parse_message,
    "conversation": _conversation,
    "status": parse_status,
    "stakeholder": _stakeholder,
    "channel": _channel,
    "team_member": _team_member,
}


def record_type(obj: Any) -> str:
    """The record type of a decoded JSON value, after checking its keys."""
    if not isinstance(obj, dict):
        raise InvalidRecord(f"expected a JSON object, found {type(obj).__name__}")
    kind = obj.get("type", "message")
    if not isinstance(kind, str) or kind not in FIELDS:
        raise _bad("type", f"expected one of {', '.join(RECORD_TYPES)}; found {show(kind)}")
    if obj.keys() <= _KEY_SETS[kind]:
        return str(kind)
    allowed = FIELDS[kind]
    for key in obj:
        if key not in allowed:
            import difflib

            close = difflib.get_close_matches(key, allowed, n=1) if len(key) < 100 else []
            hint = f"; did you mean {close[0]!r}?" if close else ""
            shown = key if len(key) <= 60 else key[:60] + "…"
            raise _bad(shown, f"unknown key for a {kind} record{hint}")
    return str(kind)


def parse_record(obj: Any) -> Record:
    """Validate one decoded JSON object and build its record.

    Raises :class:`InvalidRecord` naming the field (line and file are added by the caller).
    """
    kind = record_type(obj)
    try:
        return _PARSERS[kind](obj)
    except (ValueError, TypeError) as exc:
        if isinstance(exc, InvalidRecord):
            raise
        raise InvalidRecord(str(exc)) from None


def _t(value: datetime | None) -> str | None:
    return None if value is None else format_datetime(value)


def dump_record(record: Record) -> dict[str, Any]:
    """The canonical interchange object of a record (``None`` fields left out)."""
    out: dict[str, Any]
    if isinstance(record, Message):
        out = {
            "type": "message",
            "id": record.id,
            "platform": record.platform,
            "conversation": record.conversation_id,
            "channel": record.channel_id,
            "author": record.author_id,
            "direction": record.direction.value,
            "sent_at": _t(record.sent_at),
            "in_reply_to": record.in_reply_to,
            "text": record.text,
            "visibility": record.visibility.value,
            "automated": record.automated,
            "tags": list(record.tags),
            "url": record.url,
            "edited_at": _t(record.edited_at),
            "deleted": record.deleted,
        }
    elif isinstance(record, Conversation):
        out = {
            "type": "conversation",
            "id": record.id,
            "platform": record.platform,
            "channel": record.channel_id,
            "stakeholder": record.stakeholder_id,
            "owner": record.owner_id,
            "status": record.status.value,
            "tags": list(record.tags),
        }
    elif isinstance(record, StatusChange):
        out = {
            "type": "status",
            "platform": record.platform,
            "conversation": record.conversation_id,
            "status": record.status.value,
            "at": _t(record.at),
        }
    elif isinstance(record, Stakeholder):
        out = {
            "type": "stakeholder",
            "id": record.id,
            "kind": record.kind.value,
            "display_name": record.display_name,
            "identities": dict(sorted(record.identities.items())),
        }
    elif isinstance(record, Channel):
        out = {
            "type": "channel",
            "id": record.id,
            "platform": record.platform,
            "handle": record.handle,
            "created_at": _t(record.created_at),
            "owner_team": record.owner_team,
        }
    else:
        out = {
            "type": "team_member",
            "id": record.id,
            "name": record.name,
            "handles": dict(sorted(record.handles.items())),
            "active_from": _t(record.active_from),
            "active_until": _t(record.active_until),
        }
    return {k: v for k, v in out.items() if v is not None}
