"""Calls to the Meta Graph API: error bodies, throttling codes, usage headers, paging.

Meta answers failures with HTTP 400/403 (sometimes 500) and a body
``{"error": {"message", "type", "code", "error_subcode", "is_transient", "fbtrace_id"}}``.
Throttling is one of those errors, told apart by its ``code`` (:data:`THROTTLE_CODES`),
not by a 429. The shared :class:`~convokit_core.HttpClient` retries 429, 5xx and
transport failures itself; it turns every other 4xx into an
:class:`~convokit_core.HttpError` without the body, so the body of the last answer is
kept by a thin transport in front of the host's client (:class:`_Recorder`), and the
code is read from there: throttling codes are retried here after a wait, every other
error fails at once with Meta's own message.

Every answer also carries usage headers (``X-App-Usage``, ``X-Page-Usage``,
``X-Business-Use-Case-Usage``): percentages of the hourly allowance and, when Meta has
started blocking, ``estimated_time_to_regain_access`` in minutes. :class:`GraphApi`
slows down *before* the next request when any percentage passes ``slow_down_at``
(a pause proportional to how far past it), waits out a reported block when the run's
wait budget covers it, and otherwise stops the source with a message saying so.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Final

import attrs
import httpx

from convokit_core import HttpClient, HttpError, MalformedPayload, SyncError

__all__ = [
    "THROTTLE_CODES",
    "USAGE_HEADERS",
    "GraphApi",
    "GraphError",
    "MetaApiError",
    "MetaThrottled",
    "Usage",
    "parse_graph_time",
    "parse_usage",
]

log = logging.getLogger("convokit.meta")

THROTTLE_CODES: Final = frozenset({4, 17, 32, 613} | set(range(80001, 80015)))
"""Graph error codes that mean "too many calls": app (4), user (17), page (32), custom
(613) and the Business Use Case limits (80001 Pages, 80002 Instagram, 80006 Messenger,
… 80014). Only these are retried."""

USAGE_HEADERS: Final = ("x-app-usage", "x-page-usage", "x-business-use-case-usage")

_TIME: Final = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?(Z|[+-]\d{2}:?\d{2})$"
)
_MESSAGE_LIMIT: Final = 200


def parse_graph_time(value: object, what: str) -> datetime:
    """A Graph timestamp as an aware UTC datetime.

    Graph writes ``2024-03-01T12:34:56+0000``: the offset has **no colon**, which
    :func:`datetime.fromisoformat` rejected before Python 3.11 and strict ISO 8601
    parsers still do. ``Z`` and ``+00:00`` are accepted too; a time without an offset is
    an error, never guessed. Raises :class:`~convokit_core.MalformedPayload` naming
    ``what``.
    """
    match = _TIME.match(value) if isinstance(value, str) else None
    if match is None:
        raise MalformedPayload(
            f"{what}: expected a Graph time like 2024-03-01T12:34:56+0000, found {value!r}"[:200]
        )
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    if offset == "Z":
        tz = UTC
    else:
        sign = -1 if offset[0] == "-" else 1
        digits = offset[1:].replace(":", "")
        delta = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        if delta >= timedelta(hours=24):
            raise MalformedPayload(f"{what}: offset {offset!r} is out of range")
        tz = timezone(sign * delta)
    try:
        moment = datetime(
            int(year),
            int(month),
            int(day),
            int(hour),
            int(minute),
            int(second),
            int((fraction or "0").ljust(6, "0")),
            tzinfo=tz,
        )
    except ValueError as exc:
        raise MalformedPayload(f"{what}: {value!r} is not a valid time ({exc})") from None
    return moment.astimezone(UTC)


@attrs.frozen(kw_only=True)
class Usage:
    """What the usage headers of one answer say.

    Attributes:
        percent: the highest ``call_count`` / ``total_cputime`` / ``total_time`` over
            every usage header (0 when none came).
        regain_minutes: the highest ``estimated_time_to_regain_access`` (minutes; 0: not
            blocked).
        source: the header (and business object) that gave ``percent`` or the block.
    """

    percent: float = 0.0
    regain_minutes: float = 0.0
    source: str | None = None


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if value >= 0 else None


def _usage_of(entry: Mapping[str, Any], label: str, best: Usage) -> Usage:
    percent, regain, source = best.percent, best.regain_minutes, best.source
    for key in ("call_count", "total_cputime", "total_time"):
        value = _number(entry.get(key))
        if value is not None and value > percent:
            percent, source = value, label
    value = _number(entry.get("estimated_time_to_regain_access"))
    if value is not None and value > regain:
        regain, source = value, label
    return Usage(percent=percent, regain_minutes=regain, source=source)


def parse_usage(headers: Mapping[str, str]) -> Usage:
    """The highest usage and block any of :data:`USAGE_HEADERS` reports.

    ``X-App-Usage`` and ``X-Page-Usage`` are one JSON object each;
    ``X-Business-Use-Case-Usage`` maps business object ids to lists of such objects
    (with a ``type``: ``pages``, ``instagram``, ``messenger``…). A header that is not
    JSON of that shape is ignored (logged at DEBUG): it is advice, not data.
    """
    usage = Usage()
    for name in USAGE_HEADERS:
        raw = headers.get(name)
        if raw is None:
            continue
        try:
            data = json.loads(raw)
        except ValueError:
            log.debug("ignoring a %s header that is not JSON", name)
            continue
        if not isinstance(data, dict):
            log.debug("ignoring a %s header that is not a JSON object", name)
            continue
        if name == "x-business-use-case-usage":
            for business, entries in data.items():
                for entry in entries if isinstance(entries, list) else []:
                    if isinstance(entry, dict):
                        kind = entry.get("type")
                        kind = kind if isinstance(kind, str) and kind.isidentifier() else "?"
                        label = f"{name} ({kind} of {str(business)[:40]})"
                        usage = _usage_of(entry, label, usage)
        else:
            usage = _usage_of(data, name, usage)
    return usage


@attrs.frozen(kw_only=True)
class GraphError:
    """The ``error`` object of a Graph answer (only what is safe to show)."""

    code: int | None
    subcode: int | None
    type: str | None
    message: str | None
    is_transient: bool | None
    trace: str | None

    @property
    def throttled(self) -> bool:
        """Whether ``code`` is one of :data:`THROTTLE_CODES`."""
        return self.code in THROTTLE_CODES

    def describe(self) -> str:
        parts = [f"code {self.code}" if self.code is not None else "no error code"]
        if self.subcode is not None:
            parts.append(f"subcode {self.subcode}")
        if self.type:
            parts.append(self.type)
        text = ", ".join(parts)
        if self.message:
            text += f": {self.message}"
        if self.trace:
            text += f" (fbtrace_id {self.trace})"
        return text


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _short(value: object, pattern: str = r"^[A-Za-z0-9_.\-]{1,64}$") -> str | None:
    return value if isinstance(value, str) and re.match(pattern, value) else None


def graph_error(body: object) -> GraphError | None:
    """The :class:`GraphError` in a decoded body, ``None`` if it holds none."""
    if not isinstance(body, dict) or not isinstance(body.get("error"), dict):
        return None
    error = body["error"]
    message = error.get("message")
    transient = error.get("is_transient")
    return GraphError(
        code=_int(error.get("code")),
        subcode=_int(error.get("error_subcode")),
        type=_short(error.get("type")),
        message=message[:_MESSAGE_LIMIT] if isinstance(message, str) else None,
        is_transient=transient if isinstance(transient, bool) else None,
        trace=_short(error.get("fbtrace_id")),
    )


class MetaApiError(HttpError):
    """The Graph API answered with an error that is not worth retrying.

    Attributes:
        error: what Meta said (code, subcode, type, message).
    """

    def __init__(self, message: str, *, error: GraphError, status: int | None, url: str | None):
        self.error = error
        super().__init__(message, status=status, url=url)


class MetaThrottled(SyncError):
    """Meta throttles or blocks us for longer than the run's wait budget allows."""


def _hint(error: GraphError) -> str:
    if error.code == 190:
        return (
            "; the access token was rejected (expired, revoked or of the wrong kind): "
            "give a Page access token (or an Instagram user token) in 'access_token'"
        )
    if error.code in (10, 200) or (error.code is not None and 200 <= error.code < 300):
        return "; the token lacks a permission this read needs (see the plugin's README)"
    if error.code == 100:
        return "; check 'page_id' / 'ig_user_id' and 'api_version'"
    return ""


@attrs.frozen(kw_only=True)
class _Seen:
    status: int
    headers: httpx.Headers
    content: bytes


class _Recorder(httpx.AsyncBaseTransport):
    """A transport that sends through the host's client and remembers the last answer.

    The host's client keeps control of where bytes go (tests mock it); this only keeps
    the status, headers and body of the last answer, so an error body the shared
    helper does not expose can still be read.
    """

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client
        self.last: _Seen | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._client.send(request, follow_redirects=False)
        try:
            content = await response.aread()
        finally:
            await response.aclose()
        headers = httpx.Headers(
            [
                (k, v)
                for k, v in response.headers.multi_items()
                if k.lower() not in ("content-encoding", "content-length", "transfer-encoding")
            ]
        )
        self.last = _Seen(status=response.status_code, headers=headers, content=content)
        return httpx.Response(
            response.status_code, headers=headers, content=content, request=request
        )

    async def aclose(self) -> None:
        """The host's client is the host's to close."""


async def _default_sleep(seconds: float) -> None:
    await asyncio.sleep(seconds)


def recording_client(client: httpx.AsyncClient) -> tuple[httpx.AsyncClient, _Recorder]:
    """A client for :class:`~convokit_core.HttpClient` that sends through ``client``."""
    recorder = _Recorder(client)
    return httpx.AsyncClient(transport=recorder, headers=client.headers), recorder


class GraphApi:
    """Graph GET requests with Meta's throttling rules.

    Args:
        http: the shared helper, based at ``https://graph.facebook.com/v{N}/``.
        recorder: the transport under ``http``'s client (see :func:`recording_client`).
        budget: seconds this run may spend waiting on usage and throttling, in all.
        max_retries: retries of one request after a throttling error.
        slow_down_at: the usage percentage above which requests are spaced out.
        max_pause: the pause (seconds) at 100 % usage; proportional in between.
        sleep: awaited for every such wait.
    """

    def __init__(
        self,
        http: HttpClient,
        recorder: _Recorder,
        *,
        budget: float,
        max_retries: int,
        slow_down_at: float,
        max_pause: float,
        sleep: Callable[[float], Awaitable[None]] | None = None,
    ) -> None:
        self.http = http
        self._recorder = recorder
        self.budget = budget
        self.max_retries = max_retries
        self.slow_down_at = slow_down_at
        self.max_pause = max_pause
        self._sleep = sleep or _default_sleep
        self.waited = 0.0
        self._pause = 0.0
        self._pause_reason = ""
        self.waits: list[float] = []

    @property
    def remaining(self) -> float:
        """Seconds of the wait budget left."""
        return max(0.0, self.budget - self.waited)

    async def _wait(self, seconds: float, reason: str) -> None:
        log.info("Meta Graph API: %s; waiting %.0fs", reason, seconds)
        self.waits.append(seconds)
        self.waited += seconds
        await self._sleep(seconds)

    def _note(self, headers: Mapping[str, str]) -> None:
        """Plan the pause before the next request from an answer's usage headers."""
        usage = parse_usage(headers)
        if usage.regain_minutes > 0:
            self._pause = usage.regain_minutes * 60.0
            self._pause_reason = (
                f"{usage.source} says access is blocked for about "
                f"{usage.regain_minutes:g} min (estimated_time_to_regain_access)"
            )
        elif usage.percent > self.slow_down_at:
            share = min(1.0, (usage.percent - self.slow_down_at) / (100.0 - self.slow_down_at))
            self._pause = self.max_pause * share
            self._pause_reason = (
                f"{usage.source} at {usage.percent:g}% (slowing down above {self.slow_down_at:g}%)"
            )
        else:
            self._pause, self._pause_reason = 0.0, ""

    async def _pace(self) -> None:
        pause, reason = self._pause, self._pause_reason
        self._pause, self._pause_reason = 0.0, ""
        if pause <= 0:
            return
        if pause > self.remaining:
            if "blocked" in reason:
                raise MetaThrottled(
                    f"Meta Graph API: {reason}, more than the {self.remaining:.0f}s left of "
                    f"the retry budget ({self.budget:g}s); run the sync again later or "
                    "raise 'retry_budget'"
                )
            pause = self.remaining  # slow down as much as the budget allows
            if pause <= 0:
                return
        await self._wait(pause, reason)

    async def get(self, path: str, params: Mapping[str, str | int], what: str) -> dict[str, Any]:
        """``GET`` ``path`` and return its JSON object (never an ``error`` body).

        Raises :class:`MetaApiError` for a Graph error that is not throttling,
        :class:`MetaThrottled` when throttling outlasts the retries or the budget,
        :class:`~convokit_core.MalformedPayload` for an answer that is not a JSON object,
        :class:`~convokit_core.HttpError` for other HTTP failures.
        """
        attempt = 0
        while True:
            await self._pace()
            self._recorder.last = None
            status: int | None
            try:
                response = await self.http.request("GET", path, params=dict(params))
            except HttpError as exc:
                seen = self._recorder.last
                if seen is None or exc.status is None or seen.status != exc.status:
                    raise
                self._note(seen.headers)
                try:
                    body: object = json.loads(seen.content)
                except ValueError:
                    body = None
                error = graph_error(body)
                if error is None:
                    raise
                status, url = exc.status, exc.url
            else:
                self._note(response.headers)
                body = self.http.json_of(response)
                error = graph_error(body)
                if error is None:
                    if not isinstance(body, dict):
                        raise MalformedPayload(
                            f"Graph {what}: expected a JSON object, found "
                            f"{self.http.scrub(str(body))[:80]!r}"
                        )
                    return body
                status, url = response.status_code, None
            if not error.throttled:
                raise MetaApiError(
                    self.http.scrub(
                        f"Graph {what} failed (HTTP {status}): {error.describe()}{_hint(error)}"
                    ),
                    error=error,
                    status=status,
                    url=url,
                )
            # Throttled: wait for what the usage headers say, else back off.
            wait = self._pause or min(self.max_pause, 30.0 * 2**attempt)
            self._pause, self._pause_reason = 0.0, ""
            if attempt >= self.max_retries or wait > self.remaining:
                why = (
                    f"{attempt + 1} attempts"
                    if attempt >= self.max_retries
                    else f"a {wait:.0f}s wait is more than the {self.remaining:.0f}s left "
                    f"of the retry budget ({self.budget:g}s)"
                )
                raise MetaThrottled(
                    self.http.scrub(
                        f"Graph {what}: Meta is throttling this app, page or account "
                        f"({error.describe()}); gave up after {why}. Run the sync again "
                        "later, or raise 'retry_budget'"
                    )
                )
            await self._wait(wait, f"throttled ({error.describe()})")
            attempt += 1

    async def pages(
        self,
        path: str,
        params: Mapping[str, str | int],
        what: str,
        *,
        after: str | None = None,
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """The ``data`` list of each page of an edge, following ``paging.cursors.after``.

        ``paging.next`` (a full URL that carries the access token in its query) only
        says that another page exists: it is never requested, logged or stored; the next
        request is built from ``after`` instead. No ``paging.next`` ends the listing.
        ``after`` starts the listing below a cursor an earlier answer gave (embedded
        ``replies`` of Instagram comments).
        """
        seen: set[str] = set()
        while True:
            query = dict(params)
            if after is not None:
                query["after"] = after
            data = await self.get(path, query, what)
            items = data.get("data")
            if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
                raise MalformedPayload(f"Graph {what}: expected a 'data' list of objects")
            yield items
            after = next_after(data, what)
            if after is None:
                return
            if after in seen:
                raise MalformedPayload(f"Graph {what}: paging cursor repeated")
            seen.add(after)


def next_after(data: Mapping[str, Any], what: str) -> str | None:
    """The ``after`` cursor of the next page, ``None`` when ``paging.next`` is absent."""
    paging = data.get("paging")
    if paging is None:
        return None
    if not isinstance(paging, dict):
        raise MalformedPayload(f"Graph {what}: 'paging' is not an object")
    if paging.get("next") is None:
        return None
    cursors = paging.get("cursors")
    after = cursors.get("after") if isinstance(cursors, dict) else None
    if not isinstance(after, str) or not after:
        raise MalformedPayload(
            f"Graph {what}: 'paging.next' without a 'paging.cursors.after' cursor"
        )
    return after
