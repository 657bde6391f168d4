"""GitHub's rate limits, told apart from permission errors.

GitHub answers a spent limit with **403 or 429**, and a permission problem with 403 too.
The shared HTTP helper retries 429 and never retries a 403, so this module sits between
the helper and the host's client (an ``httpx`` transport that forwards every request to
the host's client) and rewrites a *rate-limit* answer into a 429 with an explicit
``Retry-After``, following GitHub's rules in this order:

1. ``retry-after`` present: wait that many seconds (a secondary limit);
2. ``x-ratelimit-remaining: 0``: the **primary** limit is spent; wait until
   ``x-ratelimit-reset`` (UTC epoch seconds; a moment, not a duration) plus one second;
3. a message saying "secondary rate limit" (or "abuse detection"), or "rate limit
   exceeded" without headers, or any 429: a **secondary** limit; wait 60 seconds;
4. any other 403 is a real error (a token without access, SSO not authorised, a
   blocked repository): it reaches the helper unchanged and fails at once.

The helper then applies its backoff, retry count and retry budget as for any 429, so a
primary limit that resets in 40 minutes fails the source with a clear message when the
budget is shorter, rather than hanging or hammering the API.
"""

from __future__ import annotations

import enum
import json
import logging
import math
from collections.abc import Callable
from datetime import datetime

import attrs
import httpx

from convokit_core import ResetStyle, parse_reset, parse_retry_after

__all__ = ["LimitKind", "RateLimit", "RateLimitTransport", "classify"]

log = logging.getLogger("convokit.github")

SECONDARY_WAIT = 60.0
"""GitHub: without ``retry-after``, wait at least one minute after a secondary limit."""


class LimitKind(enum.StrEnum):
    """Which GitHub limit an answer reports."""

    PRIMARY = "primary"
    SECONDARY = "secondary"


@attrs.frozen(kw_only=True)
class RateLimit:
    """A rate-limit answer: which limit, and how many seconds to wait."""

    kind: LimitKind
    wait: float


def _message(content: bytes) -> str:
    try:
        data = json.loads(content)
    except (ValueError, UnicodeDecodeError):
        return content[:300].decode("utf-8", "replace")
    if isinstance(data, dict) and isinstance(data.get("message"), str):
        return str(data["message"])
    return ""


def classify(
    status: int, headers: httpx.Headers, content: bytes, now: datetime
) -> RateLimit | None:
    """The rate limit a 403/429 answer reports, or ``None`` for any other answer."""
    if status not in (403, 429):
        return None
    message = _message(content).lower()
    secondary_text = "secondary rate limit" in message or "abuse detection" in message
    retry_after = headers.get("retry-after")
    if retry_after is not None:
        wait = parse_retry_after(retry_after, now)
        if wait is not None:
            primary = headers.get("x-ratelimit-remaining") == "0" and not secondary_text
            return RateLimit(kind=LimitKind.PRIMARY if primary else LimitKind.SECONDARY, wait=wait)
    if headers.get("x-ratelimit-remaining", "").strip() == "0":
        reset = headers.get("x-ratelimit-reset")
        until = parse_reset(reset, ResetStyle.EPOCH_SECONDS, now) if reset else None
        wait = until + 1.0 if until is not None else SECONDARY_WAIT
        return RateLimit(kind=LimitKind.PRIMARY, wait=wait)
    if secondary_text or "rate limit" in message or status == 429:
        return RateLimit(kind=LimitKind.SECONDARY, wait=SECONDARY_WAIT)
    return None


class RateLimitTransport(httpx.AsyncBaseTransport):
    """Forwards every request to the host's client; rewrites rate-limit answers.

    Only 403 and 429 answers are read here (to classify them); every other response
    streams through untouched, its content encoding left to the caller. Closing this
    transport does not close the host's client.
    """

    def __init__(self, client: httpx.AsyncClient, clock: Callable[[], datetime]) -> None:
        self._client = client
        self._clock = clock

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._client.send(request, stream=True, follow_redirects=False)
        if response.status_code not in (403, 429):
            return httpx.Response(
                response.status_code,
                headers=response.headers,
                stream=response.stream,
                extensions=response.extensions,
            )
        try:
            content = await response.aread()
        finally:
            await response.aclose()
        # The body is decoded now: drop the headers that described its encoding.
        headers = httpx.Headers(
            [
                (k, v)
                for k, v in response.headers.multi_items()
                if k.lower() not in ("content-encoding", "content-length", "transfer-encoding")
            ]
        )
        limit = classify(response.status_code, headers, content, self._clock())
        if limit is None:
            return httpx.Response(response.status_code, headers=headers, content=content)
        log.info(
            "GitHub %s rate limit (HTTP %d, resource %s): waiting %.0fs",
            limit.kind.value,
            response.status_code,
            headers.get("x-ratelimit-resource", "unknown"),
            limit.wait,
        )
        headers["retry-after"] = str(math.ceil(limit.wait))
        reason = f"GitHub {limit.kind.value} rate limit, HTTP {response.status_code}"
        return httpx.Response(
            429,
            headers=headers,
            content=content,
            extensions={"reason_phrase": reason.encode()},
        )

    async def aclose(self) -> None:
        """Nothing to close: the host owns its client."""
