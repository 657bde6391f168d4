"""Calls to Slack's Web API: ``ok:false`` answers, rate limits and ``next_cursor`` paging.

Slack answers most failures with **HTTP 200** and ``{"ok": false, "error": "<code>"}``;
every answer is checked here, so an ``ok: false`` never passes for data. Rate limits
arrive as HTTP 429 with ``Retry-After`` seconds (and the body
``{"ok": false, "error": "ratelimited"}``); the shared HTTP helper waits and retries
those within the retry budget. Should Slack ever send ``ratelimited`` (or another
transient code) with HTTP 200, it is retried here the same way.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Final

import httpx

from convokit_core import HttpClient, HttpError, MalformedPayload, parse_retry_after

__all__ = ["RETRYABLE_ERRORS", "SlackApi", "SlackApiError"]

log = logging.getLogger("convokit.slack")

RETRYABLE_ERRORS: Final = frozenset(
    {"ratelimited", "service_unavailable", "request_timeout", "internal_error", "fatal_error"}
)
"""``error`` codes that are worth retrying after a wait."""

_CODE: Final = re.compile(r"^[a-z0-9_.]{1,64}$")
_SCOPES: Final = re.compile(r"^[a-z0-9_.:,]{1,200}$")

_AUTH_ERRORS: Final = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "no_permission",
        "ekm_access_denied",
        "team_access_not_granted",
    }
)


class SlackApiError(HttpError):
    """Slack answered a method call with ``ok: false``.

    Attributes:
        method: the Web API method, e.g. ``conversations.history``.
        error: Slack's error code, e.g. ``not_in_channel`` (``None`` if it sent none).
    """

    def __init__(
        self,
        message: str,
        *,
        method: str,
        error: str | None,
        status: int | None = 200,
        url: str | None = None,
    ) -> None:
        self.method = method
        self.error = error
        super().__init__(message, status=status, url=url)


def _hint(code: str | None, data: Mapping[str, Any], subject: str | None) -> str:
    where = f" {subject}" if subject else ""
    if code in _AUTH_ERRORS:
        return (
            ": the token was rejected; check the source's 'token' (a bot xoxb- or user "
            "xoxp- token of this workspace, not revoked, app still installed)"
        )
    if code == "missing_scope":
        needed = data.get("needed")
        scope = f" '{needed}'" if isinstance(needed, str) and _SCOPES.match(needed) else ""
        return (
            f": the token lacks the scope{scope}; add it under OAuth & Permissions and "
            "reinstall the app"
        )
    if code == "not_in_channel":
        return (
            f": the app is not a member of{where or ' the channel'}; invite it there "
            "(/invite @your-app) or use a user token of a member"
        )
    if code == "channel_not_found":
        return (
            f":{where or ' the channel'} does not exist or this token cannot see it "
            "(a private channel needs the app or user to be a member)"
        )
    if code == "invalid_cursor":
        return ": Slack refused a paging cursor it had returned"
    return ""


async def _default_sleep(seconds: float) -> None:
    await asyncio.sleep(seconds)


class SlackApi:
    """Slack Web API methods over a :class:`~convokit_core.HttpClient`.

    Args:
        http: the shared HTTP helper, based at the API root, carrying the token.
        sleep: awaited between retries of a transient ``ok: false`` answer.
        clock: the current aware time, for ``Retry-After`` dates.
    """

    def __init__(
        self,
        http: HttpClient,
        *,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.http = http
        self._sleep = sleep or _default_sleep
        self._clock = clock or (lambda: datetime.now(UTC))

    async def call(
        self, method: str, params: Mapping[str, str | int], *, subject: str | None = None
    ) -> dict[str, Any]:
        """``GET`` ``method`` and return its answer, which Slack said is ``ok``.

        ``subject`` names what the call is about in errors (``channel C0123 (#support)``).
        Raises :class:`SlackApiError` for ``ok: false`` (after retries for transient
        codes), :class:`~convokit_core.MalformedPayload` for an answer that is not a
        Slack response, :class:`~convokit_core.HttpError` for HTTP failures.
        """
        policy = self.http.policy
        attempt = 0
        waited = 0.0
        while True:
            response = await self.http.request("GET", method, params=dict(params))
            data = self.http.json_of(response)
            if not isinstance(data, dict) or not isinstance(data.get("ok"), bool):
                shown = self.http.scrub(str(data))[:80]
                raise MalformedPayload(
                    f"Slack {method}: expected a response object with a boolean 'ok', "
                    f"found {shown!r}"
                )
            if data["ok"]:
                return data
            raw = data.get("error")
            code = raw if isinstance(raw, str) and _CODE.match(raw) else None
            shown_code = code or (
                f"unrecognised error {self.http.scrub(str(raw))[:80]!r}" if raw else "no error code"
            )
            where = f" for {subject}" if subject else ""
            if code in RETRYABLE_ERRORS:
                wait = self._wait(response, attempt)
                if attempt >= policy.max_retries or waited + wait > policy.budget:
                    raise SlackApiError(
                        self.http.scrub(
                            f"Slack {method}{where} failed: {code} after {attempt + 1} "
                            f"attempts ({waited:.0f}s waited, retry budget "
                            f"{policy.budget:g}s); raise 'retry_budget' for slow-tier apps"
                        ),
                        method=method,
                        error=code,
                        status=response.status_code,
                    )
                log.info(
                    "Slack %s%s: %s; retry %d/%d in %.1fs",
                    method,
                    where,
                    code,
                    attempt + 1,
                    policy.max_retries,
                    wait,
                )
                await self._sleep(wait)
                waited += wait
                attempt += 1
                continue
            raise SlackApiError(
                self.http.scrub(
                    f"Slack {method}{where} failed: {shown_code}{_hint(code, data, subject)}"
                ),
                method=method,
                error=code,
                status=response.status_code,
            )

    def _wait(self, response: httpx.Response, attempt: int) -> float:
        backoff = self.http.policy.backoff(attempt)
        header = response.headers.get("retry-after")
        server = parse_retry_after(header, self._clock()) if header is not None else None
        return max(backoff, server) if server is not None else backoff

    async def pages(
        self,
        method: str,
        params: Mapping[str, str | int],
        key: str,
        *,
        subject: str | None = None,
    ) -> AsyncIterator[tuple[list[Any], bool]]:
        """The ``key`` list of each page of ``method``, following ``next_cursor``.

        Each page comes with whether it is the last one. A missing, ``null`` or empty
        ``response_metadata.next_cursor`` ends the listing (whatever ``has_more`` says);
        a cursor Slack repeats is a malformed answer.
        """
        cursor: str | None = None
        seen: set[str] = set()
        while True:
            query = dict(params)
            if cursor is not None:
                query["cursor"] = cursor
            data = await self.call(method, query, subject=subject)
            items = data.get(key)
            if not isinstance(items, list):
                raise MalformedPayload(
                    f"Slack {method}: expected a list {key!r}, found "
                    f"{self.http.scrub(str(items))[:80]!r}"
                )
            cursor = next_cursor(data, method)
            yield items, cursor is None
            if cursor is None:
                return
            if cursor in seen:
                raise MalformedPayload(f"Slack {method}: next_cursor {cursor[:40]!r} repeated")
            seen.add(cursor)


def next_cursor(data: Mapping[str, Any], method: str) -> str | None:
    """``response_metadata.next_cursor``, or ``None`` at the end of a listing."""
    meta = data.get("response_metadata")
    if meta is None:
        return None
    if not isinstance(meta, dict):
        raise MalformedPayload(f"Slack {method}: 'response_metadata' is not an object")
    cursor = meta.get("next_cursor")
    if cursor is None or cursor == "":
        return None
    if not isinstance(cursor, str):
        raise MalformedPayload(f"Slack {method}: 'next_cursor' is not a string: {cursor!r}")
    return cursor
