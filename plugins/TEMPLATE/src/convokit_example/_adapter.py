"""Config, factory and adapter for the Example Inbox API.

The imaginary API (replace it with your platform's):

``GET {base_url}/api/v1/messages?after=ID&limit=N`` with ``Authorization: Bearer TOKEN``
answers ``{"data": [message, ...], "has_more": bool}``, oldest first, only messages
whose id sorts after ``after``. A message is::

    {"id": "m_0001", "thread_id": "t_01", "created_at": "2024-11-04T09:12:31Z",
     "author": {"id": "u_ana", "handle": "ana"}, "body": "…", "in_reply_to": null}

Rate limits: 429 with ``X-RateLimit-Reset`` in seconds until the window resets.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from collections.abc import AsyncIterator, Mapping
from typing import Any

import attrs
import httpx

from convokit_core import (
    ConfigError,
    Direction,
    HttpClient,
    MalformedPayload,
    Message,
    Page,
    ResetStyle,
    Stakeholder,
    SyncContext,
    check_url_scheme,
    parse_datetime,
)

__all__ = ["ExampleAdapter", "ExampleConfig", "create_adapter"]

PLATFORM = "example"
PAGE_SIZE = 100

logger = logging.getLogger("convokit.example")  # never configure logging in a library


# -- Step 3: the config class -----------------------------------------------------------


def _base_url(value: object) -> str:
    """``https://…`` (or ``http://`` on loopback), without a trailing slash.

    Checked here, in the config, so a wrong URL is a config error (exit 2) naming the
    key, before any sync starts. A ``ValueError`` is what the host turns into one.
    """
    if not isinstance(value, str) or not value.strip():
        raise ValueError("'base_url' must be the API's root URL, e.g. https://inbox.example.com")
    try:
        check_url_scheme(value.strip())
    except (ConfigError, httpx.InvalidURL) as exc:
        raise ValueError(f"'base_url': {exc}") from None
    return value.strip().rstrip("/")


@attrs.frozen(kw_only=True)
class ExampleConfig:
    """The keys of a ``[[source]]`` table with ``platform = "example"``."""

    base_url: str = attrs.field(converter=_base_url)
    """The API root, e.g. ``https://inbox.example.com`` (https, or http on loopback)."""
    account: str
    """Our account's handle: its messages are ``outbound``."""
    token: str = attrs.field(repr=False, metadata={"secret": True})
    """An API token. Secret: ``repr=False`` keeps it out of reprs; the metadata tells
    the host to scrub it from errors and logs."""


# -- Step 4: the factory ----------------------------------------------------------------


def create_adapter(
    config: ExampleConfig, client: httpx.AsyncClient, context: SyncContext
) -> ExampleAdapter:
    """Called by the host once per source and run; ``client`` belongs to the host."""
    return ExampleAdapter(config, client, context)


# -- Step 5: the adapter: pages and cursors ---------------------------------------------


class ExampleAdapter:
    """Yields the inbox page by page; the cursor is the id of the last message seen."""

    def __init__(
        self, config: ExampleConfig, client: httpx.AsyncClient, context: SyncContext
    ) -> None:
        self._context = context.with_own_handles(config.account)
        # Step 6: all HTTP through the shared helper: timeouts, retries, rate limits,
        # secrets kept to the API's own origin and out of every message.
        self._http = HttpClient(
            client,
            base_url=config.base_url,
            secret_headers={"Authorization": f"Bearer {config.token}"},
            reset_header="X-RateLimit-Reset",
            reset_style=ResetStyle.SECONDS_UNTIL,
        )

    def __repr__(self) -> str:
        return f"<ExampleAdapter {self._http.base_url!r}>"

    async def fetch(self, cursor: str | None) -> AsyncIterator[Page]:
        """Yield pages after ``cursor``; each page's cursor resumes right after it."""
        after = _decode_cursor(cursor)
        while True:
            params: dict[str, Any] = {"limit": PAGE_SIZE}
            if after is not None:
                params["after"] = after
            data = _mapping(await self._http.get_json("api/v1/messages", params=params), "body")
            items = data.get("data")
            if not isinstance(items, list):
                raise MalformedPayload(f"messages: 'data' must be a list, found {items!r:.40}")
            if not items:
                return  # nothing new: no page, the stored cursor stays as it is
            parsed = [self._message(item, index) for index, item in enumerate(items)]
            messages = [message for message, _ in parsed]
            after = messages[-1].id  # the API's id of the last message: resume after it
            # Everyone who wrote to us is a stakeholder (same id as Message.author_id).
            people = {
                m.author_id: Stakeholder(id=m.author_id, identities={PLATFORM: handle})
                for m, handle in parsed
                if m.direction is Direction.INBOUND
            }
            # A mapping, because mypy cannot type attrs' ``converter=tuple`` fields.
            fields: dict[str, Any] = {
                "messages": tuple(messages),
                "stakeholders": tuple(people.values()),
                "cursor": _encode_cursor(after),
            }
            yield Page(**fields)
            if data.get("has_more") is not True:
                return

    def _message(self, item: object, index: int) -> tuple[Message, str]:
        """Map one API message to a Message and its author's handle.

        A wrong shape raises ``MalformedPayload`` naming the field: the host then fails
        this source without storing the page or advancing its cursor.
        """
        where = f"data[{index}]"
        obj = _mapping(item, where)
        author = _author(obj)
        created = obj.get("created_at")
        try:
            # Aware and in UTC. A platform that documents naive times as UTC would
            # say so here: parse_datetime(created, naive=UTC).
            sent_at = parse_datetime(str(created))
        except ValueError as exc:
            raise MalformedPayload(f"{where}.created_at: {exc}") from None
        for key in ("id", "thread_id", "body"):
            if not isinstance(obj.get(key), str):
                raise MalformedPayload(f"{where}.{key}: expected a string")
        reply_to = obj.get("in_reply_to")
        message = Message(
            # Message ids only need to be unique per platform: keep the API's as they are.
            id=obj["id"],
            platform=PLATFORM,
            conversation_id=obj["thread_id"],
            # Stakeholders span platforms, so their ids (and author ids) are qualified.
            author_id=f"{PLATFORM}:{author['id']}",
            direction=(
                Direction.OUTBOUND if self._context.is_ours(author["handle"]) else Direction.INBOUND
            ),
            sent_at=sent_at,
            in_reply_to=reply_to if isinstance(reply_to, str) else None,
            text=obj["body"],
        )
        return message, author["handle"]


def _mapping(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise MalformedPayload(f"{where}: expected a JSON object, found {type(value).__name__}")
    return value


def _author(item: Mapping[str, Any]) -> dict[str, str]:
    author = _mapping(item.get("author"), "author")
    out = {key: author.get(key) for key in ("id", "handle")}
    if not all(isinstance(v, str) and v for v in out.values()):
        raise MalformedPayload(f"author: 'id' and 'handle' must be strings, found {out!r}")
    return {k: str(v) for k, v in out.items()}


# The cursor is opaque to the host but it is ours: version it, and reject what we did
# not write (a silent restart from the beginning would hide the bug).


def _encode_cursor(after: str) -> str:
    raw = json.dumps({"v": 1, "after": after}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode("ascii")


def _decode_cursor(cursor: str | None) -> str | None:
    if cursor is None:
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor.encode("ascii")))
    except (binascii.Error, UnicodeError, ValueError) as exc:
        raise MalformedPayload(f"not an example cursor: {exc}") from None
    if not isinstance(data, dict) or data.get("v") != 1 or not isinstance(data.get("after"), str):
        raise MalformedPayload("not an example cursor (unknown version or shape)")
    return str(data["after"])
