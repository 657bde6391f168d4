"""Pure mapping from AT Protocol views (``app.bsky.*`` JSON) to convokit records.

Nothing here performs I/O. Every function takes decoded JSON (``dict``/``list``) in the
shape the Bluesky AppView returns and either returns records or raises
:class:`convokit_core.MalformedPayload` naming what was wrong and where.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

import attrs

from convokit_core import Direction, MalformedPayload, Message, Stakeholder

__all__ = [
    "PLATFORM",
    "PostRef",
    "flatten_thread",
    "message_from_post",
    "parse_time",
    "post_url",
    "root_uri",
    "sort_time",
    "stakeholder_from_author",
]

PLATFORM = "bluesky"
"""The ``platform`` value of every record this plugin produces."""

INVALID_HANDLE = "handle.invalid"
"""What the AppView shows instead of a handle that no longer resolves to its DID."""

THREAD_VIEW_POST = "app.bsky.feed.defs#threadViewPost"
NOT_FOUND_POST = "app.bsky.feed.defs#notFoundPost"
BLOCKED_POST = "app.bsky.feed.defs#blockedPost"

logger = logging.getLogger("convokit.bluesky")


@attrs.frozen(kw_only=True)
class PostRef:
    """What the mapping needs from one post, whatever view it came in.

    A ``postView`` (threads, author feeds) and a notification carry the same four
    fields: ``uri``, ``author``, ``record`` and ``indexedAt``.
    """

    uri: str
    """The post's ``at://`` URI: its id here and on the network."""
    author_did: str
    author_handle: str
    """The author's handle, or ``handle.invalid`` when it no longer verifies."""
    author_name: str | None
    record: Mapping[str, Any]
    """The ``app.bsky.feed.post`` record as the author wrote it."""
    indexed_at: datetime
    """When the AppView first saw the post (server clock, trustworthy)."""

    @classmethod
    def from_view(cls, view: object, *, where: str) -> PostRef:
        """Read a ``postView`` or a notification; ``where`` names it in errors."""
        obj = _mapping(view, where)
        author = _mapping(obj.get("author"), f"{where}.author")
        record = _mapping(obj.get("record"), f"{where}.record")
        name = author.get("displayName")
        return cls(
            uri=_at_uri(obj.get("uri"), f"{where}.uri"),
            author_did=_string(author.get("did"), f"{where}.author.did"),
            author_handle=_string(author.get("handle"), f"{where}.author.handle"),
            author_name=name if isinstance(name, str) and name else None,
            record=record,
            indexed_at=_required_time(obj.get("indexedAt"), f"{where}.indexedAt"),
        )

    @property
    def created_at(self) -> datetime | None:
        """The record's ``createdAt``, or ``None`` when it is missing, naive or invalid."""
        return parse_time(self.record.get("createdAt"))

    @property
    def parent_uri(self) -> str | None:
        """``record.reply.parent.uri``: the post this one answers, if any."""
        return _reply_ref(self.record, "parent", self.uri)

    @property
    def handle(self) -> str | None:
        """The author's handle, or ``None`` when the AppView marks it invalid."""
        return None if self.author_handle == INVALID_HANDLE else self.author_handle


def parse_time(value: object) -> datetime | None:
    """Parse an AT Protocol datetime into an aware UTC datetime.

    Returns ``None`` for anything that is not a string holding an ISO 8601 timestamp
    with a ``Z`` or an offset (clients do write naive or garbled ``createdAt`` values).
    """
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        return None
    return parsed.astimezone(UTC)


def sort_time(post: PostRef) -> datetime:
    """When the post was made, as far as we can trust it: ``min(createdAt, indexedAt)``.

    ``createdAt`` is set by the author's client and may lie in the future (a wrong
    clock) or be backdated (imports); ``indexedAt`` is the AppView's clock. The earlier
    of the two is what the AppView itself sorts by. An unusable ``createdAt`` falls back
    to ``indexedAt``.
    """
    created = post.created_at
    if created is None:
        return post.indexed_at
    return min(created, post.indexed_at)


def root_uri(post: PostRef) -> str:
    """The URI of the thread's root post (``record.reply.root``), or the post's own."""
    return _reply_ref(post.record, "root", post.uri) or post.uri


def post_url(post: PostRef) -> str:
    """The post's address on bsky.app (by handle when valid, else by DID)."""
    rkey = post.uri.rsplit("/", 1)[-1]
    return f"https://bsky.app/profile/{post.handle or post.author_did}/post/{rkey}"


def message_from_post(
    post: PostRef, *, is_ours: Callable[[PostRef], bool], channel_id: str | None
) -> Message:
    """The :class:`~convokit_core.Message` for one post.

    ``is_ours`` decides the direction (``outbound`` for our accounts and team members,
    else ``inbound``). The conversation is the thread's root URI; ``in_reply_to`` is the
    parent's URI even when that parent has been deleted since.
    """
    text = post.record.get("text", "")
    if not isinstance(text, str):
        raise MalformedPayload(f"post {post.uri}: record.text must be a string, found {text!r}")
    return Message(
        id=post.uri,
        platform=PLATFORM,
        conversation_id=root_uri(post),
        channel_id=channel_id,
        author_id=post.author_did,
        direction=Direction.OUTBOUND if is_ours(post) else Direction.INBOUND,
        sent_at=sort_time(post),
        in_reply_to=post.parent_uri,
        text=text,
        url=post_url(post),
    )


def stakeholder_from_author(post: PostRef) -> Stakeholder:
    """A stakeholder for the post's author: DID as id, ``{"bluesky": handle}``.

    An author whose handle no longer verifies is known by DID only.
    """
    return Stakeholder(
        id=post.author_did,
        display_name=post.author_name,
        identities={PLATFORM: post.handle or post.author_did},
    )


def flatten_thread(node: object, *, where: str = "thread") -> Iterator[PostRef]:
    """Every readable post of a ``getPostThread`` answer: ancestors, the post, replies.

    ``notFoundPost`` (deleted) and ``blockedPost`` entries carry no author handle, no
    text and no time, so they are skipped; posts that reply to them are kept. Members
    of the open union that this version does not know are skipped too.
    """
    stack: list[tuple[object, str, bool]] = [(node, where, True)]
    seen: set[str] = set()
    while stack:
        current, path, with_parent = stack.pop()
        obj = _mapping(current, path)
        kind = obj.get("$type")
        if kind in (NOT_FOUND_POST, BLOCKED_POST):
            logger.debug("skipping %s at %s: %s", kind.rsplit("#", 1)[-1], path, obj.get("uri"))
            continue
        if kind != THREAD_VIEW_POST:
            logger.debug("skipping unknown thread member %r at %s", kind, path)
            continue
        post = PostRef.from_view(obj.get("post"), where=f"{path}.post")
        if post.uri not in seen:
            seen.add(post.uri)
            yield post
        parent = obj.get("parent")
        if with_parent and parent is not None:
            stack.append((parent, f"{path}.parent", True))
        replies = obj.get("replies", [])
        if not isinstance(replies, list):
            raise MalformedPayload(
                f"{path}.replies: expected a list, found {type(replies).__name__}"
            )
        for index, reply in enumerate(replies):
            stack.append((reply, f"{path}.replies[{index}]", False))


def _reply_ref(record: Mapping[str, Any], which: str, uri: str) -> str | None:
    reply = record.get("reply")
    if reply is None:
        return None
    where = f"post {uri}: record.reply.{which}"
    ref = _mapping(_mapping(reply, f"post {uri}: record.reply").get(which), where)
    return _at_uri(ref.get("uri"), f"{where}.uri")


def _mapping(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise MalformedPayload(f"{where}: expected an object, found {_describe(value)}")
    return value


def _string(value: object, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise MalformedPayload(f"{where}: expected a non-empty string, found {_describe(value)}")
    return value


def _at_uri(value: object, where: str) -> str:
    text = _string(value, where)
    if not text.startswith("at://"):
        raise MalformedPayload(f"{where}: expected an at:// URI, found {text!r}")
    return text


def _required_time(value: object, where: str) -> datetime:
    parsed = parse_time(value)
    if parsed is None:
        raise MalformedPayload(
            f"{where}: expected an ISO 8601 timestamp with a timezone, found {_describe(value)}"
        )
    return parsed


def _describe(value: object) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, str | int | float | bool):
        return repr(value)[:80]
    return type(value).__name__
