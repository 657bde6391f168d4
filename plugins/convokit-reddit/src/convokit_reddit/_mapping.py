"""Reddit things (``t1`` comments, ``t3`` posts) as convokit records.

- ``Message.id`` is the thing's *fullname* (``t1_…``, ``t3_…``), unique on all of Reddit;
  ``conversation_id`` is the post's fullname; ``in_reply_to`` the ``parent_id``.
- Authors are ``u/<name>`` (the same string is the stakeholder's id and handle).
- ``created_utc`` (float epoch seconds) becomes an aware UTC ``sent_at``; ``edited``
  (``false`` or epoch seconds) ``edited_at``.
- A comment or post whose author or text is ``[deleted]`` / ``[removed]`` (or a post
  with ``removed_by_category``) is kept, with its id, as ``deleted=True`` and no text.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import attrs

from convokit_core import Direction, MalformedPayload, Message, Stakeholder, Visibility

from ._config import RedditConfig, reddit_name

__all__ = ["PLATFORM", "Mapper", "Thing", "article_of", "as_listing", "as_thing"]

PLATFORM = "reddit"
WEB_URL = "https://www.reddit.com"
DELETED = frozenset({"[deleted]", "[removed]"})
DELETED_AUTHOR = "u/[deleted]"
_CONTEXT = re.compile(r"/comments/([a-z0-9]+)(?:/|$)", re.IGNORECASE)
_FULLNAME = re.compile(r"t[1-6]_[a-z0-9]+", re.IGNORECASE)


@attrs.frozen(kw_only=True)
class Thing:
    """One ``{"kind": ..., "data": {...}}`` object of a Reddit answer."""

    kind: str
    data: Mapping[str, Any]


def _short(value: Any) -> str:
    return repr(value)[:80]


def as_thing(value: Any, what: str) -> Thing:
    """Validate a ``{"kind", "data"}`` object."""
    if not isinstance(value, dict):
        raise MalformedPayload(f"{what}: expected a thing object, found {_short(value)}")
    kind = value.get("kind")
    data = value.get("data")
    if not isinstance(kind, str) or not isinstance(data, dict):
        raise MalformedPayload(
            f"{what}: expected 'kind' and a 'data' object, found {_short(value)}"
        )
    return Thing(kind=kind, data=data)


def as_listing(value: Any, what: str) -> tuple[list[Thing], str | None]:
    """A ``Listing``'s children and its ``after`` (``None`` at the end)."""
    thing = as_thing(value, what)
    if thing.kind != "Listing":
        raise MalformedPayload(f"{what}: expected a Listing, found kind {thing.kind!r}")
    children = thing.data.get("children")
    if not isinstance(children, list):
        raise MalformedPayload(f"{what}: the Listing has no 'children' array")
    after = thing.data.get("after")
    if after is not None and (not isinstance(after, str) or not after):
        raise MalformedPayload(f"{what}: 'after' must be a fullname or null, found {_short(after)}")
    items = [as_thing(child, f"{what}: child {index}") for index, child in enumerate(children)]
    return items, after


def text_field(data: Mapping[str, Any], key: str, what: str, *, required: bool = True) -> str:
    """A string field (``""`` when optional and missing or null)."""
    value = data.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value):
        raise MalformedPayload(f"{what}: expected a string {key!r}, found {_short(value)}")
    return value


def fullname(data: Mapping[str, Any], key: str, what: str, prefixes: tuple[str, ...]) -> str:
    """A fullname field starting with one of ``prefixes`` (``t1_``, ``t3_``)."""
    value = text_field(data, key, what)
    if not _FULLNAME.fullmatch(value) or not value.startswith(prefixes):
        raise MalformedPayload(
            f"{what}: {key!r} must be a fullname starting with {' or '.join(prefixes)}, "
            f"found {_short(value)}"
        )
    return value


def epoch(value: Any, key: str, what: str) -> datetime:
    """Epoch seconds (int or float) as an aware UTC datetime."""
    if (
        not isinstance(value, int | float)
        or isinstance(value, bool)
        or not math.isfinite(value)
        or value < 0
    ):
        raise MalformedPayload(f"{what}: {key!r} must be epoch seconds, found {_short(value)}")
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        raise MalformedPayload(f"{what}: {key!r} is out of range: {_short(value)}") from None


def created(data: Mapping[str, Any], what: str) -> float:
    """``created_utc`` as a float (validated)."""
    value = data.get("created_utc")
    epoch(value, "created_utc", what)
    assert isinstance(value, int | float)
    return float(value)


def edited_at(data: Mapping[str, Any], what: str) -> datetime | None:
    """``edited``: ``false`` (never edited) or epoch seconds; ``true`` (very old) is unknown."""
    value = data.get("edited")
    if value is None or isinstance(value, bool):
        return None
    return epoch(value, "edited", what)


def article_of(data: Mapping[str, Any], what: str) -> str:
    """The post (``t3_…``) a comment belongs to: ``link_id``, else parsed from ``context``.

    Inbox items carry no ``link_id``; their ``context`` is the comment's permalink,
    ``/r/<sub>/comments/<post id>/<slug>/<comment id>/?context=3``.
    """
    if data.get("link_id") is not None:
        return fullname(data, "link_id", what, ("t3_",))
    context = text_field(data, "context", what)
    match = _CONTEXT.search(context)
    if match is None:
        raise MalformedPayload(f"{what}: cannot find the post id in 'context' {_short(context)}")
    return f"t3_{match.group(1).lower()}"


class Mapper:
    """Builds messages and stakeholders for one source.

    Args:
        config: the source's configuration (our account, subreddits, bots).
        is_ours: whether a Reddit user name (case-folded, no ``u/``) is ours.
    """

    def __init__(self, config: RedditConfig, is_ours: Callable[[str], bool]) -> None:
        self._config = config
        self._is_ours = is_ours
        self._bots = frozenset(config.bot_accounts)

    def channel_of(self, data: Mapping[str, Any]) -> str:
        """The channel a thing belongs to: one of our subreddits, else our account."""
        subreddit = data.get("subreddit")
        channel = self._config.subreddit_channel(subreddit if isinstance(subreddit, str) else None)
        return channel or self._config.channel_id

    def message(
        self, thing: Thing, *, conversation: str | None = None, channel: str | None = None
    ) -> tuple[Message, Stakeholder | None]:
        """A ``t1`` comment or ``t3`` post as a message (and its author, unless ours).

        ``conversation`` and ``channel`` default to what the thing itself says (its
        ``link_id`` or ``context``, its ``subreddit``).
        """
        data = thing.data
        if thing.kind == "t3":
            what = f"post {data.get('name')!r}"
            message_id = fullname(data, "name", what, ("t3_",))
            title = text_field(data, "title", what)
            body = text_field(data, "selftext", what, required=False)
            removed = data.get("removed_by_category") is not None or body in DELETED
            link = (
                "" if data.get("is_self", True) else text_field(data, "url", what, required=False)
            )
            text = "\n\n".join(part for part in (title, body, link) if part)
            conversation_id = message_id
            in_reply_to = None
        elif thing.kind == "t1":
            what = f"comment {data.get('name')!r}"
            message_id = fullname(data, "name", what, ("t1_",))
            body = text_field(data, "body", what, required=False)
            removed = body in DELETED
            text = body
            conversation_id = conversation or article_of(data, what)
            in_reply_to = fullname(data, "parent_id", what, ("t1_", "t3_"))
        else:
            raise MalformedPayload(
                f"expected a comment (t1) or post (t3), found kind {thing.kind!r}"
            )
        author = text_field(data, "author", what)
        deleted = removed or author in DELETED
        name = reddit_name(author)
        ours = not deleted and self._is_ours(name)
        author_id = DELETED_AUTHOR if author in DELETED else f"u/{author}"
        permalink = data.get("permalink") or data.get("context")
        message = Message(
            id=message_id,
            platform=PLATFORM,
            conversation_id=conversation_id,
            channel_id=channel or self.channel_of(data),
            author_id=author_id,
            direction=Direction.OUTBOUND if ours else Direction.INBOUND,
            sent_at=epoch(data.get("created_utc"), "created_utc", what),
            in_reply_to=in_reply_to,
            text="" if deleted else text,
            visibility=Visibility.PUBLIC,
            automated=name in self._bots,
            url=WEB_URL + permalink
            if isinstance(permalink, str) and permalink.startswith("/")
            else None,
            edited_at=edited_at(data, what),
            deleted=deleted,
        )
        person = None
        if not ours and author not in DELETED:
            person = Stakeholder(
                id=author_id, display_name=author, identities={PLATFORM: author_id}
            )
        return message, person
