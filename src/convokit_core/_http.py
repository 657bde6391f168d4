"""The one HTTP helper every platform adapter uses (DESIGN §7).

:class:`HttpClient` wraps an :class:`httpx.AsyncClient` that the host owns and adds what
talking to rate-limited platform APIs needs:

- a timeout on every request (:attr:`RetryPolicy.timeout`);
- retries with exponential backoff and full jitter for 429, 5xx, timeouts and
  connection errors — on idempotent requests only (``GET``, ``HEAD``, ``OPTIONS``,
  ``PUT``, ``DELETE``; a ``POST`` only when the caller says ``idempotent=True``);
- ``Retry-After`` (seconds or an HTTP date) and the platform's rate-limit reset header
  (:class:`ResetStyle`) are honoured: the wait is the larger of the backoff and the
  server's wait;
- a total retry budget (seconds slept for one request); when the next wait would exceed
  it, or ``max_retries`` is spent, :class:`~convokit_core.HttpError` is raised;
- no retry on any other 4xx: :class:`~convokit_core.HttpError` at once, with the
  platform's own error message when the body is JSON;
- redirects are followed by hand: a redirect to another origin drops ``Authorization``
  and every secret header; ``http://`` is accepted only for loopback hosts;
- secrets (secret header values) never appear in ``repr``, log lines or exception
  messages: every form ``convokit_core._secrets.secret_forms`` lists (raw,
  percent-encoded, base64 …) is replaced as a whole by ``***``; URLs in messages have
  credentials and secret-looking query values removed. A secret header whose value (or
  credential after ``Bearer``/``Basic``…) breaks the secret rules — shorter than 8
  characters, or containing a control character — is refused with
  :class:`~convokit_core.ConfigError`;
- relative request URLs are joined *below* the base URL's path: with ``base_url``
  ``https://h/a/b``, both ``x`` and ``/x`` mean ``https://h/a/b/x`` (the base is the
  API root); an absolute URL (``https://…``, e.g. a ``Link`` header's) is used as is.

The helper logs to ``logging.getLogger("convokit.http")`` and never configures logging.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import enum
import ipaddress
import json as jsonlib
import logging
import random
import re
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Final

import attrs
import httpx

from ._errors import ConfigError, HttpError, MalformedPayload
from ._secrets import Scrubber, check_secret, register_secrets, scrub

__all__ = [
    "HttpClient",
    "ResetStyle",
    "RetryPolicy",
    "check_url_scheme",
    "join_url",
    "parse_reset",
    "parse_retry_after",
    "redact_url",
]

log = logging.getLogger("convokit.http")

IDEMPOTENT_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})
_REDIRECTS: Final = frozenset({301, 302, 303, 307, 308})
_MAX_REDIRECTS: Final = 10
_SECRET_PARAM = re.compile(
    r"(token|secret|password|passwd|key|auth|sig|signature|session|code|credential)",
    re.IGNORECASE,
)


class ResetStyle(enum.StrEnum):
    """How a platform's rate-limit reset header expresses when the window resets."""

    ISO_TIMESTAMP = "iso"
    """An ISO 8601 moment, e.g. ``2026-11-22T18:30:00.000Z`` (Mastodon)."""
    EPOCH_SECONDS = "epoch"
    """A moment as Unix epoch seconds, e.g. ``1795631400`` (Bluesky, GitHub)."""
    SECONDS_UNTIL = "seconds"
    """A duration in seconds from now, e.g. ``42`` or ``41.7`` (Reddit)."""


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """How hard :class:`HttpClient` tries before giving up on one request.

    Attributes:
        max_retries: retries after the first attempt (0 disables retrying).
        backoff_base: the first backoff ceiling in seconds; attempt ``n`` (0-based)
            sleeps a uniformly random time in ``[0, min(backoff_max, backoff_base * 2**n)]``
            (full jitter), or the server's requested wait when that is longer.
        backoff_max: the largest backoff ceiling in seconds (a server's ``Retry-After``
            may ask for longer; only the budget caps that).
        budget: the most seconds slept across all retries of one request; a wait that
            would exceed what is left fails the request instead.
        timeout: seconds allowed for each attempt (connect, read, write and pool).
    """

    max_retries: int = attrs.field(default=5, validator=attrs.validators.ge(0))
    backoff_base: float = attrs.field(default=0.5, validator=attrs.validators.ge(0))
    backoff_max: float = attrs.field(default=60.0, validator=attrs.validators.ge(0))
    budget: float = attrs.field(default=300.0, validator=attrs.validators.ge(0))
    timeout: float = attrs.field(default=30.0, validator=attrs.validators.gt(0))

    def backoff(self, attempt: int, rng: random.Random | None = None) -> float:
        """The jittered backoff before retry number ``attempt`` (0-based)."""
        ceiling = min(self.backoff_max, self.backoff_base * (2.0 ** min(attempt, 62)))
        return (rng or random).uniform(0.0, ceiling)


# -- header parsing --------------------------------------------------------------------


def _nonneg(value: float) -> float | None:
    if value != value or value in (float("inf"), float("-inf")):  # NaN / inf
        return None
    return max(0.0, value)


def parse_retry_after(value: str, now: datetime) -> float | None:
    """Seconds to wait according to a ``Retry-After`` header value.

    Accepts delay-seconds (``"120"``; a decimal like ``"1.5"`` is tolerated) and an
    HTTP date (``"Wed, 21 Oct 2015 07:28:00 GMT"``), measured from ``now`` (aware).
    A moment in the past means 0. Returns ``None`` when the value is neither.
    """
    text = value.strip()
    if not text:
        return None
    try:
        return _nonneg(float(text))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if moment is None:  # pragma: no cover - older Pythons returned None
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return _nonneg((moment - now).total_seconds())


def parse_reset(value: str, style: ResetStyle, now: datetime) -> float | None:
    """Seconds until a platform's rate-limit window resets, from its reset header.

    ``style`` says how the platform writes it (:class:`ResetStyle`); ``now`` is aware.
    A moment in the past means 0. Returns ``None`` for a value that does not parse.
    """
    text = value.strip()
    if not text:
        return None
    style = ResetStyle(style)
    if style is ResetStyle.ISO_TIMESTAMP:
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return _nonneg((moment - now).total_seconds())
    try:
        number = float(text)
    except ValueError:
        return None
    if style is ResetStyle.EPOCH_SECONDS:
        return _nonneg(number - now.timestamp())
    return _nonneg(number)


# -- URLs --------------------------------------------------------------------------------


def _is_loopback(host: str) -> bool:
    host = host.strip("[]").lower().rstrip(".")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url_scheme(url: httpx.URL | str) -> httpx.URL:
    """Return ``url`` if it is ``https://``, or ``http://`` on a loopback host.

    Raises :class:`~convokit_core.ConfigError` for anything else (plain ``http://`` to
    a remote host would send credentials in clear text).
    """
    parsed = httpx.URL(url) if isinstance(url, str) else url
    scheme = parsed.scheme.lower()
    if scheme == "https" and parsed.host:
        return parsed
    if scheme == "http" and parsed.host and _is_loopback(parsed.host):
        return parsed
    shown = redact_url(parsed)
    if scheme == "http":
        raise ConfigError(
            f"refusing plain http:// URL {shown}: only https:// is allowed, except for "
            "loopback hosts (127.0.0.0/8, ::1, localhost)"
        )
    raise ConfigError(f"expected an https:// URL, found {shown!r}")


def join_url(base: httpx.URL, url: str) -> httpx.URL:
    """``url`` resolved against the API root ``base``.

    An absolute URL (with a scheme, or ``//host/...``) is returned as is. Anything else
    is a path below ``base``'s path, whether or not it starts with ``/``:
    ``https://h/a/b`` + ``x`` or ``/x`` gives ``https://h/a/b/x``; ``""`` gives
    ``base`` itself. A query or fragment in ``url`` is kept.
    """
    parsed = httpx.URL(url)
    if parsed.is_absolute_url or url.startswith("//"):
        return base.join(url)
    if not url:
        return base
    root = base.copy_with(query=None, fragment=None)
    path = root.path if root.path.endswith("/") else root.path + "/"
    return root.copy_with(path=path).join(url.lstrip("/"))


def redact_url(url: httpx.URL | str, secrets: frozenset[str] = frozenset()) -> str:
    """``url`` without user info and with secret-looking query values replaced by ``redacted``."""
    try:
        parsed = httpx.URL(url) if isinstance(url, str) else url
    except (httpx.InvalidURL, TypeError):
        return "<invalid URL>"
    if parsed.userinfo:
        parsed = parsed.copy_with(username=None, password=None)
    if parsed.query:
        params = [
            (k, "redacted" if _SECRET_PARAM.search(k) or v in secrets else v)
            for k, v in parsed.params.multi_items()
        ]
        parsed = parsed.copy_with(params=params)
    return str(parsed)


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    port = url.port
    if port is None:
        port = {"https": 443, "http": 80}.get(url.scheme.lower())
    return (url.scheme.lower(), url.host.lower(), port)


def _platform_message(response: httpx.Response) -> str:
    """A short platform error message from a JSON body, or a plain-text one."""
    content_type = response.headers.get("content-type", "").lower()
    try:
        text = response.text
    except (UnicodeDecodeError, LookupError):
        return ""
    text = text.strip()
    if not text:
        return ""
    if "json" in content_type or text[:1] in "{[":
        try:
            data = jsonlib.loads(text)
        except ValueError:
            data = None
        if isinstance(data, dict):
            parts: list[str] = []
            for key in ("error", "message", "error_description", "errors", "detail"):
                value = data.get(key)
                if isinstance(value, str) and value and value not in parts:
                    parts.append(value)
                elif isinstance(value, list) and value:
                    parts.append("; ".join(str(v) for v in value[:3]))
            return ": ".join(parts)[:300]
        if data is not None:
            return ""
    if "html" in content_type or text[:1] == "<":
        return ""
    return text.splitlines()[0][:300]


# -- secrets ----------------------------------------------------------------------------


def _secret_values(name: str, value: str) -> tuple[str, ...]:
    """The values to scrub for secret header ``name``; ConfigError if one breaks a rule."""
    try:
        check_secret(value, f"the secret header {name!r}")
        values = [value]
        scheme, _, credentials = value.partition(" ")
        if credentials and scheme.isalpha():
            check_secret(credentials, f"the credential of the secret header {name!r}")
            values.append(credentials)  # "Bearer abc…" -> also "abc…"
            if scheme.lower() == "basic":
                try:
                    decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
                except (binascii.Error, UnicodeDecodeError):
                    decoded = ""
                _user, colon, password = decoded.partition(":")
                if colon:
                    values.append(decoded)
                    check_secret(password, f"the password in the secret header {name!r}")
                    values.append(password)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    return tuple(values)


# -- the client --------------------------------------------------------------------------


async def _sleep(seconds: float) -> None:
    """The default sleep (a module attribute so test kits can make retries instant)."""
    await asyncio.sleep(seconds)


class _Retryable(Exception):
    """Internal: this attempt failed in a way worth retrying."""

    def __init__(self, reason: str, *, status: int | None, server_wait: float | None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.server_wait = server_wait


class HttpClient:
    """Resilient requests to one platform API (see the module docstring).

    Args:
        client: the host's :class:`httpx.AsyncClient` (its transport decides where bytes
            go, which is how tests mock platforms). Its own redirect following is not
            used; this helper follows redirects itself.
        base_url: the API's root; relative request URLs are joined to it (RFC 3986).
            ``https://`` or a loopback ``http://`` only.
        headers: sent with every request to ``base_url``'s origin and to others.
        secret_headers: sent only to ``base_url``'s origin (e.g. ``Authorization``);
            their values never show in ``repr``, logs or exceptions.
        policy: timeouts, retries and the retry budget.
        reset_header: the platform's rate-limit reset header (``X-RateLimit-Reset``).
        reset_style: how ``reset_header`` is written.
        sleep: awaited to wait between retries (default :func:`asyncio.sleep`).
        clock: the current aware time (default ``datetime.now(UTC)``), for dates in
            ``Retry-After`` and reset headers.
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        base_url: str,
        headers: Mapping[str, str] = {},
        secret_headers: Mapping[str, str] = {},
        policy: RetryPolicy = RetryPolicy(),
        reset_header: str | None = None,
        reset_style: ResetStyle | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        if (reset_header is None) != (reset_style is None):
            raise ValueError("reset_header and reset_style must be given together")
        self._client = client
        self._base = check_url_scheme(base_url)
        self._headers = dict(headers)
        self._secret_headers: dict[str, str] = {}
        self._secret_values: dict[str, tuple[str, ...]] = {}
        self._scrubber = Scrubber()
        for name, value in secret_headers.items():
            self.set_secret_header(name, value)
        self.policy = policy
        self._reset_header = reset_header
        self._reset_style = ResetStyle(reset_style) if reset_style is not None else None
        self._sleep = sleep
        self._clock = clock or (lambda: datetime.now(UTC))

    # -- secrets -------------------------------------------------------------------------

    def set_secret_header(self, name: str, value: str) -> None:
        """Set (or replace) a header sent only to the API's own origin, never shown.

        Raises :class:`~convokit_core.ConfigError` (naming the header, never the value)
        when the value, or its credential after an auth scheme (``Bearer abc…``), is
        shorter than 8 characters or contains a control character. For ``Basic``, the
        decoded ``user:password`` and the password are scrubbed too.
        """
        values = _secret_values(name, value)
        # Headers are case-insensitive: replace any spelling of the same name.
        for existing in [k for k in self._secret_headers if k.lower() == name.lower()]:
            del self._secret_headers[existing]
        self._secret_headers[name] = value
        self._secret_values[name.lower()] = values
        register_secrets(values)
        self._scrubber = Scrubber(v for vs in self._secret_values.values() for v in vs)

    @property
    def _secrets(self) -> frozenset[str]:
        return frozenset(v for vs in self._secret_values.values() for v in vs)

    def scrub(self, text: str) -> str:
        """``text`` with every form of every secret (this client's and the registered
        ones) replaced by ``***``."""
        return scrub(self._scrubber.scrub(text))

    def __repr__(self) -> str:
        names = ", ".join(sorted(self._secret_headers)) or "none"
        return f"<HttpClient base_url={str(self._base)!r} secret headers: {names}>"

    @property
    def base_url(self) -> str:
        """The API root requests are joined to."""
        return str(self._base)

    # -- requests ------------------------------------------------------------------------

    def _safe(self, url: httpx.URL) -> str:
        return self.scrub(redact_url(url, self._secrets))

    def _resolve(self, url: str) -> httpx.URL:
        return check_url_scheme(join_url(self._base, url))

    def _headers_for(self, url: httpx.URL, extra: Mapping[str, str] | None) -> dict[str, str]:
        headers = dict(self._headers)
        if extra:
            headers.update(extra)
        if _origin(url) == _origin(self._base):
            headers.update(self._secret_headers)
        else:
            # Another origin: drop Authorization and every secret header, whatever its
            # spelling, also when given per request.
            drop = {"authorization", "proxy-authorization", "cookie"}
            drop |= {k.lower() for k in self._secret_headers}
            headers = {k: v for k, v in headers.items() if k.lower() not in drop}
        return headers

    async def request(
        self,
        method: str,
        url: str,
        *,
        params: Any = None,
        json: Any = None,
        data: Mapping[str, str] | None = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
    ) -> httpx.Response:
        """Send one request with retries; return the final 2xx/3xx response.

        ``url`` is joined below ``base_url`` (:func:`join_url`). The body is ``json``
        (encoded as JSON), ``data`` (form fields, ``application/x-www-form-urlencoded``,
        e.g. an OAuth token request) or ``content`` (raw bytes sent as they are, e.g. a
        signed body; set its ``Content-Type`` in ``headers``), never two of them.
        ``idempotent`` overrides the method's default (only idempotent requests are
        retried). Raises
        :class:`~convokit_core.HttpError` for a non-retryable status, after the retries
        or budget are spent, or for transport errors; :class:`~convokit_core.ConfigError`
        for a non-https URL.
        """
        if sum(body is not None for body in (json, data, content)) > 1:
            raise ValueError(
                "give a request one json, data (form) or content body, not both or more"
            )
        method = method.upper()
        retry = method in IDEMPOTENT_METHODS if idempotent is None else idempotent
        target = self._resolve(url)
        if params is not None:
            target = target.copy_merge_params(params)
        attempt = 0
        slept = 0.0
        while True:
            try:
                return await self._attempt(
                    method, target, json=json, data=data, content=content, headers=headers
                )
            except _Retryable as failure:
                shown = self._safe(target)
                if not retry:
                    raise HttpError(
                        self.scrub(
                            f"{method} {shown} failed: {failure.reason} "
                            "(not retried: the request is not idempotent)"
                        ),
                        status=failure.status,
                        url=shown,
                    ) from None
                if attempt >= self.policy.max_retries:
                    raise HttpError(
                        self.scrub(
                            f"{method} {shown} failed after {attempt + 1} attempts: "
                            f"{failure.reason}"
                        ),
                        status=failure.status,
                        url=shown,
                    ) from None
                delay = self.policy.backoff(attempt)
                if failure.server_wait is not None:
                    delay = max(delay, failure.server_wait)
                remaining = self.policy.budget - slept
                if delay > remaining:
                    asked = (
                        f"the server asks to wait {failure.server_wait:.0f}s, "
                        if failure.server_wait is not None and failure.server_wait >= delay
                        else ""
                    )
                    raise HttpError(
                        self.scrub(
                            f"{method} {shown} failed after {attempt + 1} attempts: "
                            f"{failure.reason}; {asked}retry budget of "
                            f"{self.policy.budget:g}s exhausted ({slept:.1f}s already waited)"
                        ),
                        status=failure.status,
                        url=shown,
                    ) from None
                log.info(
                    "%s %s: %s; retry %d/%d in %.2fs",
                    method,
                    shown,
                    failure.reason,
                    attempt + 1,
                    self.policy.max_retries,
                    delay,
                )
                await (self._sleep or _sleep)(delay)
                slept += delay
                attempt += 1

    async def _attempt(
        self,
        method: str,
        target: httpx.URL,
        *,
        json: Any,
        data: Mapping[str, str] | None,
        headers: Mapping[str, str] | None,
        content: bytes | None = None,
    ) -> httpx.Response:
        """One attempt, following redirects; raises ``_Retryable`` or ``HttpError``."""
        url = target
        body = json
        form = dict(data) if data is not None else None
        raw = content
        for _ in range(_MAX_REDIRECTS + 1):
            request = self._client.build_request(
                method,
                url,
                json=body,
                data=form,
                content=raw,
                headers=self._headers_for(url, headers),
                timeout=self.policy.timeout,
            )
            try:
                response = await self._client.send(request, follow_redirects=False)
            except httpx.TimeoutException as exc:
                raise _Retryable(
                    f"timed out ({type(exc).__name__})", status=None, server_wait=None
                ) from None
            except httpx.TransportError as exc:
                raise _Retryable(
                    f"connection failed ({type(exc).__name__}: {self.scrub(str(exc))})",
                    status=None,
                    server_wait=None,
                ) from None
            try:
                await response.aread()
            except httpx.TimeoutException as exc:
                raise _Retryable(
                    f"timed out reading the body ({type(exc).__name__})",
                    status=None,
                    server_wait=None,
                ) from None
            except httpx.TransportError as exc:
                raise _Retryable(
                    f"connection failed while reading ({type(exc).__name__})",
                    status=None,
                    server_wait=None,
                ) from None
            finally:
                await response.aclose()
            status = response.status_code
            if status in _REDIRECTS and "location" in response.headers:
                try:
                    next_url = url.join(response.headers["location"])
                except httpx.InvalidURL as exc:
                    raise HttpError(
                        f"{method} {self._safe(url)}: invalid redirect location",
                        status=status,
                        url=self._safe(url),
                    ) from exc
                next_url = check_url_scheme(next_url)
                if status == 303 or (status in (301, 302) and method not in ("GET", "HEAD")):
                    method, body, form = ("HEAD" if method == "HEAD" else "GET"), None, None
                    raw = None
                log.debug("%s %s redirected to %s", method, self._safe(url), self._safe(next_url))
                url = next_url
                continue
            if status == 429 or status >= 500:
                raise _Retryable(
                    self._describe(response), status=status, server_wait=self._server_wait(response)
                )
            if status >= 400:
                shown = self._safe(url)
                raise HttpError(
                    self.scrub(f"{method} {shown} failed: {self._describe(response)}"),
                    status=status,
                    url=shown,
                )
            return response
        raise HttpError(
            f"{method} {self._safe(target)}: more than {_MAX_REDIRECTS} redirects",
            status=None,
            url=self._safe(target),
        )

    def _describe(self, response: httpx.Response) -> str:
        phrase = response.reason_phrase or ""
        text = f"HTTP {response.status_code}" + (f" {phrase}" if phrase else "")
        message = _platform_message(response)
        return self.scrub(f"{text}: {message}" if message else text)

    def _server_wait(self, response: httpx.Response) -> float | None:
        now = self._clock()
        waits: list[float] = []
        retry_after = response.headers.get("retry-after")
        if retry_after is not None:
            parsed = parse_retry_after(retry_after, now)
            if parsed is not None:
                waits.append(parsed)
        if response.status_code == 429 and self._reset_header and self._reset_style:
            reset = response.headers.get(self._reset_header)
            if reset is not None:
                parsed = parse_reset(reset, self._reset_style, now)
                if parsed is not None:
                    waits.append(parsed)
        return max(waits) if waits else None

    # -- JSON ----------------------------------------------------------------------------

    def json_of(self, response: httpx.Response) -> Any:
        """Decode ``response``'s JSON body; invalid JSON raises ``MalformedPayload``.

        For callers that need headers too (``Link`` paging): ``request`` then this.
        """
        try:
            return jsonlib.loads(response.content)
        except (ValueError, UnicodeDecodeError) as exc:
            raise MalformedPayload(
                f"{response.request.method} {self._safe(response.request.url)}: "
                f"response is not valid JSON ({type(exc).__name__}: {self.scrub(str(exc))[:120]})"
            ) from None

    async def get_json(self, url: str, *, params: Any = None) -> Any:
        """``GET`` ``url`` and decode its JSON body (invalid JSON: ``MalformedPayload``)."""
        return self.json_of(await self.request("GET", url, params=params))

    async def post_json(self, url: str, *, json: Any = None, idempotent: bool = False) -> Any:
        """``POST`` ``json`` to ``url`` and decode the JSON answer.

        Not retried unless ``idempotent=True`` (e.g. a read-only XRPC procedure).
        """
        return self.json_of(await self.request("POST", url, json=json, idempotent=idempotent))

    async def post_form(
        self, url: str, *, data: Mapping[str, str], idempotent: bool = False
    ) -> Any:
        """``POST`` form fields (``application/x-www-form-urlencoded``); decode the JSON answer.

        For endpoints that take no JSON body, such as OAuth 2 token requests. Not retried
        unless ``idempotent=True``. Field values are sent in the body, never in the URL.
        """
        return self.json_of(await self.request("POST", url, data=data, idempotent=idempotent))
