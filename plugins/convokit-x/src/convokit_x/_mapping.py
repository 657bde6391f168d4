"""X API v2 payloads: their validation, and their mapping to convokit records.

Every shape check raises :class:`~convokit_core.MalformedPayload` naming the field's
path; no message quotes a payload value (only types and paths), so nothing a server
echoes can leak through an error.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import attrs

from convokit_core import Direction, MalformedPayload, Message, Stakeholder, parse_datetime

from ._cursor import is_post_id

__all__ = [
    "PLATFORM",
    "Listing",
    "PartialError",
    "Tweet",
    "User",
    "parse_listing",
    "parse_user",
    "stakeholder_of",
]

PLATFORM = "x"

TWEET_FIELDS = "created_at,conversation_id,in_reply_to_user_id,referenced_tweets,author_id"
EXPANSIONS = "author_id,referenced_tweets.id,referenced_tweets.id.author_id"
USER_FIELDS = "username,name,created_at"

REFERENCE_TYPES = frozenset({"replied_to", "quoted", "retweeted"})


def mapping(value: object, where: str) -> Mapping[str, Any]:
    """``value`` as a JSON object, or ``MalformedPayload`` naming ``where``."""
    if not isinstance(value, Mapping):
        raise MalformedPayload(f"{where}: expected an object, found {_kind(value)}")
    return value


def _list(value: object, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise MalformedPayload(f"{where}: expected a list, found {_kind(value)}")
    return value


def _id(value: object, where: str) -> str:
    # X ids are 64-bit numbers sent as strings; a number here would already have lost
    # precision in any JSON double, so it is refused rather than converted.
    if not is_post_id(value):
        raise MalformedPayload(
            f"{where}: expected an id (a string of digits), found {_kind(value)}"
        )
    assert isinstance(value, str)
    return value


def _str(value: object, where: str) -> str:
    if not isinstance(value, str):
        raise MalformedPayload(f"{where}: expected a string, found {_kind(value)}")
    return value


def _time(value: object, where: str) -> datetime:
    text = _str(value, where)
    try:
        return parse_datetime(text)
    except (ValueError, TypeError):
        raise MalformedPayload(f"{where}: expected an ISO 8601 time with an offset") from None


def _kind(value: object) -> str:
    return "null" if value is None else type(value).__name__


@attrs.frozen(kw_only=True)
class User:
    """A user object (``includes.users[]`` or a lookup's ``data``)."""

    id: str
    username: str
    name: str | None = None
    created_at: datetime | None = None

    @classmethod
    def parse(cls, value: object, where: str) -> User:
        obj = mapping(value, where)
        name = obj.get("name")
        if name is not None:
            name = _str(name, f"{where}.name")
        created = obj.get("created_at")
        return cls(
            id=_id(obj.get("id"), f"{where}.id"),
            username=_str(obj.get("username"), f"{where}.username"),
            name=name,
            created_at=None if created is None else _time(created, f"{where}.created_at"),
        )


@attrs.frozen(kw_only=True)
class Tweet:
    """A post object with the fields the adapter asks for."""

    id: str
    text: str
    author_id: str
    created_at: datetime
    conversation_id: str
    references: tuple[tuple[str, str], ...] = ()
    """``referenced_tweets`` as ``(type, id)``: replied_to, quoted, retweeted."""

    @classmethod
    def parse(cls, value: object, where: str) -> Tweet:
        obj = mapping(value, where)
        refs: list[tuple[str, str]] = []
        raw_refs = obj.get("referenced_tweets")
        if raw_refs is not None:
            for index, ref in enumerate(_list(raw_refs, f"{where}.referenced_tweets")):
                at = f"{where}.referenced_tweets[{index}]"
                ref_obj = mapping(ref, at)
                kind = _str(ref_obj.get("type"), f"{at}.type")
                ref_id = _id(ref_obj.get("id"), f"{at}.id")
                if kind in REFERENCE_TYPES:
                    refs.append((kind, ref_id))
        return cls(
            id=_id(obj.get("id"), f"{where}.id"),
            text=_str(obj.get("text"), f"{where}.text"),
            author_id=_id(obj.get("author_id"), f"{where}.author_id"),
            created_at=_time(obj.get("created_at"), f"{where}.created_at"),
            conversation_id=_id(obj.get("conversation_id"), f"{where}.conversation_id"),
            references=tuple(refs),
        )

    def reference(self, kind: str) -> str | None:
        """The id of the first referenced post of ``kind``, if any."""
        return next((ref_id for k, ref_id in self.references if k == kind), None)

    @property
    def in_reply_to(self) -> str | None:
        """The post this one answers (``referenced_tweets[type=replied_to]``)."""
        return self.reference("replied_to")

    @property
    def is_retweet(self) -> bool:
        """A plain retweet: someone else's words, not part of the conversation."""
        return self.reference("retweeted") is not None


@attrs.frozen(kw_only=True)
class PartialError:
    """One entry of a 200 response's ``errors`` array (the rest of the page is good)."""

    title: str
    resource_type: str | None
    resource_id: str | None
    parameter: str | None

    @classmethod
    def parse(cls, value: object) -> PartialError:
        # Tolerant on purpose: a partial error only explains what is missing; an odd one
        # must not fail a page whose data is good.
        obj = value if isinstance(value, Mapping) else {}

        def text(key: str) -> str | None:
            item = obj.get(key)
            return item if isinstance(item, str) else None

        return cls(
            title=text("title") or "error",
            resource_type=text("resource_type"),
            resource_id=text("resource_id") or text("value"),
            parameter=text("parameter"),
        )

    def describe(self) -> str:
        what = " ".join(p for p in (self.resource_type, self.resource_id) if p) or "a resource"
        via = f" ({self.parameter})" if self.parameter else ""
        return f"{self.title}: {what}{via}"


@attrs.frozen(kw_only=True)
class Listing:
    """One page of a timeline or of recent search."""

    tweets: tuple[Tweet, ...]
    """``data``, newest first."""
    referenced: dict[str, Tweet]
    """``includes.tweets`` by id (parents and quoted posts)."""
    users: dict[str, User]
    """``includes.users`` by id."""
    errors: tuple[PartialError, ...]
    next_token: str | None
    newest_id: str | None
    result_count: int


def parse_listing(body: object, where: str) -> Listing:
    """Validate a listing response (``data`` may be absent when ``result_count`` is 0)."""
    obj = mapping(body, where)
    meta = mapping(obj.get("meta"), f"{where}.meta")
    count = meta.get("result_count")
    if not isinstance(count, int) or isinstance(count, bool) or count < 0:
        raise MalformedPayload(f"{where}.meta.result_count: expected a count, found {_kind(count)}")
    next_token = meta.get("next_token")
    if next_token is not None and (not isinstance(next_token, str) or not next_token):
        raise MalformedPayload(
            f"{where}.meta.next_token: expected a string, found {_kind(next_token)}"
        )
    newest = meta.get("newest_id")
    newest_id = None if newest is None else _id(newest, f"{where}.meta.newest_id")
    raw = obj.get("data", [])
    tweets = tuple(
        Tweet.parse(item, f"{where}.data[{index}]")
        for index, item in enumerate(_list(raw, f"{where}.data"))
    )
    if count and not tweets:
        raise MalformedPayload(f"{where}.data: missing although meta.result_count is {count}")
    includes = mapping(obj.get("includes", {}), f"{where}.includes")
    users = {}
    for index, item in enumerate(_list(includes.get("users", []), f"{where}.includes.users")):
        user = User.parse(item, f"{where}.includes.users[{index}]")
        users[user.id] = user
    referenced = {}
    for index, item in enumerate(_list(includes.get("tweets", []), f"{where}.includes.tweets")):
        tweet = Tweet.parse(item, f"{where}.includes.tweets[{index}]")
        referenced[tweet.id] = tweet
    errors = tuple(PartialError.parse(e) for e in _list(obj.get("errors", []), f"{where}.errors"))
    return Listing(
        tweets=tweets,
        referenced=referenced,
        users=users,
        errors=errors,
        next_token=next_token,
        newest_id=newest_id,
        result_count=count,
    )


def parse_user(body: object, where: str) -> User | tuple[PartialError, ...]:
    """A user lookup: the user, or the ``errors`` of a 200 answer without ``data``."""
    obj = mapping(body, where)
    if "data" in obj:
        return User.parse(obj["data"], f"{where}.data")
    errors = obj.get("errors")
    if isinstance(errors, list) and errors:
        return tuple(PartialError.parse(e) for e in errors)
    raise MalformedPayload(f"{where}: expected data or errors")


def author_key(user_id: str) -> str:
    """A user's stakeholder id, unique across platforms."""
    return f"{PLATFORM}:{user_id}"


def stakeholder_of(user: User) -> Stakeholder:
    """The stakeholder for a user of ``includes.users``."""
    return Stakeholder(
        id=author_key(user.id),
        display_name=user.name or user.username,
        identities={PLATFORM: "@" + user.username},
    )


def message_of(
    tweet: Tweet,
    *,
    username: str | None,
    direction: Direction,
    automated: bool,
    channel_id: str | None,
) -> Message:
    """The message for a post; ``username`` is its author's, joined from ``includes.users``."""
    url = (
        f"https://x.com/{username}/status/{tweet.id}"
        if username
        else f"https://x.com/i/web/status/{tweet.id}"
    )
    return Message(
        id=tweet.id,
        platform=PLATFORM,
        conversation_id=tweet.conversation_id,
        channel_id=channel_id,
        author_id=author_key(tweet.author_id),
        direction=direction,
        sent_at=tweet.created_at,
        in_reply_to=tweet.in_reply_to,
        # The API escapes &, < and > in post text as HTML entities.
        text=html.unescape(tweet.text),
        automated=automated,
        url=url,
    )
