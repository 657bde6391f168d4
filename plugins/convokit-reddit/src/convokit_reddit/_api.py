"""Authenticated, rate-limited requests to Reddit's OAuth API.

- **Tokens.** ``POST {auth_url}/api/v1/access_token`` with HTTP basic auth
  (``client_id:client_secret``) and a form body (``grant_type=password`` for a script
  app, ``grant_type=refresh_token`` otherwise). A token is requested on the first call,
  reused until shortly before ``expires_in`` runs out, and requested again when the API
  answers 401 (the call is then repeated once).
- **User-Agent.** Every request sends the configured, descriptive ``User-Agent``.
- **Rate limits.** Reddit reports ``X-Ratelimit-Remaining`` (a float string such as
  ``"598.0"``) and ``X-Ratelimit-Reset`` (seconds until the window ends). When the
  remaining budget reaches 0 the next request first waits for the reset; a 429 is
  retried by the shared helper, which reads the same reset header
  (:attr:`~convokit_core.ResetStyle.SECONDS_UNTIL`).
- **Secrets.** Errors raised from here never carry the client secret, the password,
  the refresh token or an access token, even when the server echoes them.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import math
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import httpx

from convokit_core import (
    ConvokitError,
    HttpClient,
    HttpError,
    MalformedPayload,
    ResetStyle,
    RetryPolicy,
    SyncError,
    parse_reset,
)

from ._config import RedditConfig

__all__ = ["RATE_LIMIT_REMAINING", "RATE_LIMIT_RESET", "RedditApi"]

log = logging.getLogger("convokit.reddit")

RATE_LIMIT_REMAINING = "X-Ratelimit-Remaining"
RATE_LIMIT_RESET = "X-Ratelimit-Reset"
TOKEN_PATH = "/api/v1/access_token"
_EXPIRY_MARGIN = timedelta(seconds=60)
_MAX_WINDOW_WAIT = 600.0
"""Reddit's rate-limit window is 10 minutes; a longer reset value is not believed."""

T = TypeVar("T")


class RedditApi:
    """Reddit's OAuth API for one account, through the shared HTTP helper.

    Args:
        config: the source's configuration (credentials, User-Agent, URLs).
        client: the host's HTTP client.
        user_agent: the ``User-Agent`` header to send.
        policy: retries and timeouts (default: the helper's).
        sleep: awaited for rate-limit waits and between retries (default asyncio's;
            tests record the waits instead).
        clock: the current aware time, for token expiry (default ``datetime.now(UTC)``).
    """

    def __init__(
        self,
        config: RedditConfig,
        client: httpx.AsyncClient,
        *,
        user_agent: str,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._config = config
        self._sleep = sleep
        self._clock = clock or (lambda: datetime.now(UTC))
        headers = {"User-Agent": user_agent, "Accept": "application/json"}
        basic = base64.b64encode(f"{config.client_id}:{config.client_secret}".encode()).decode(
            "ascii"
        )
        common: dict[str, Any] = {
            "headers": headers,
            "policy": policy or RetryPolicy(),
            "reset_header": RATE_LIMIT_RESET,
            "reset_style": ResetStyle.SECONDS_UNTIL,
            "sleep": sleep,
        }
        self._auth = HttpClient(
            client,
            base_url=config.auth_url,
            secret_headers={"Authorization": f"Basic {basic}"},
            **common,
        )
        self._http = HttpClient(client, base_url=config.api_url, **common)
        self._token: str | None = None
        self._expires: datetime | None = None
        self._spent_tokens: list[str] = []
        self._wait_before_next: float | None = None
        self.rate_limit_waits: list[float] = []
        """Seconds waited because the rate-limit budget was spent, in order."""

    def __repr__(self) -> str:
        state = "token held" if self._token else "no token yet"
        return f"<RedditApi {self._config.api_url} as u/{self._config.username}, {state}>"

    # -- secrets -------------------------------------------------------------------------

    def scrub(self, text: str) -> str:
        """``text`` without any credential or token this API has held."""
        config = self._config
        secrets = [config.client_secret, config.password, config.refresh_token]
        secrets += [self._token or "", *self._spent_tokens]
        for secret in sorted((s for s in secrets if len(s) >= 4), key=len, reverse=True):
            text = text.replace(secret, "***")
        return self._http.scrub(self._auth.scrub(text))

    def rescrub(self, exc: ConvokitError) -> ConvokitError:
        """A new error like ``exc`` (same class and status) with every secret removed.

        Raise it outside the ``except`` block that caught ``exc``, so the original
        (whose text a server may have filled with an echo of our credentials) is not
        chained as its context.
        """
        if isinstance(exc, HttpError):
            return HttpError(
                self.scrub(str(exc)), status=exc.status, url=self.scrub(exc.url or "") or None
            )
        if isinstance(exc, MalformedPayload):
            return MalformedPayload(self.scrub(str(exc)))
        if isinstance(exc, SyncError):
            return SyncError(self.scrub(str(exc)))
        return SyncError(self.scrub(f"{type(exc).__name__}: {exc}"))

    async def scrubbed(self, call: Awaitable[T]) -> T:
        """Await ``call``; re-raise a convokit error from it with every secret removed."""
        failure: ConvokitError | None = None
        try:
            return await call
        except ConvokitError as exc:
            failure = self.rescrub(exc)
        raise failure

    # -- tokens --------------------------------------------------------------------------

    def _token_valid(self) -> bool:
        if self._token is None or self._expires is None:
            return False
        return self._clock() < self._expires - _EXPIRY_MARGIN

    async def _obtain_token(self) -> None:
        config = self._config
        form = (
            {
                "grant_type": "password",
                "username": config.username,
                "password": config.password,
            }
            if config.grant == "password"
            else {"grant_type": "refresh_token", "refresh_token": config.refresh_token}
        )
        log.info(
            "requesting a Reddit access token for u/%s (%s grant)", config.username, config.grant
        )
        # Asking for a token has no side effect worth guarding: retried like a GET.
        failure: HttpError | None = None
        try:
            data = await self._auth.post_form(TOKEN_PATH, data=form, idempotent=True)
        except HttpError as exc:
            if exc.status is None or exc.status == 429 or exc.status >= 500:
                failure = exc  # the endpoint is down or busy: the helper's message says so
            else:
                # The body of a refusal is not repeated: a server may echo credentials in it.
                hint = (
                    "check client_id and client_secret"
                    if exc.status == 401
                    else "check the app's type and its credentials"
                )
                failure = HttpError(
                    f"getting a Reddit access token for u/{config.username} failed "
                    f"(HTTP {exc.status}): {hint}",
                    status=exc.status,
                    url=exc.url,
                )
        if failure is not None:
            raise failure
        if not isinstance(data, dict):
            raise MalformedPayload(f"{TOKEN_PATH}: expected a JSON object")
        error = data.get("error")
        if error is not None:
            # A wrong password is answered 200 {"error": "invalid_grant"}.
            raise SyncError(
                f"Reddit refused the {config.grant} credentials of u/{config.username}: "
                f"{str(error)[:80]} (check client_id, client_secret and the "
                f"{'password' if config.grant == 'password' else 'refresh token'})"
            )
        token = data.get("access_token")
        expires_in = data.get("expires_in")
        if not isinstance(token, str) or not token:
            raise MalformedPayload(f"{TOKEN_PATH}: answer has no 'access_token' string")
        if (
            not isinstance(expires_in, int | float)
            or isinstance(expires_in, bool)
            or not math.isfinite(expires_in)
            or expires_in <= 0
        ):
            raise MalformedPayload(f"{TOKEN_PATH}: 'expires_in' must be a positive number")
        token_type = data.get("token_type", "bearer")
        if not isinstance(token_type, str) or token_type.lower() != "bearer":
            raise MalformedPayload(f"{TOKEN_PATH}: expected a bearer token")
        if self._token:
            self._spent_tokens.append(self._token)
        self._token = token
        self._expires = self._clock() + timedelta(seconds=float(expires_in))
        self._http.set_secret_header("Authorization", f"Bearer {token}")

    # -- requests ------------------------------------------------------------------------

    async def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """``GET`` an API path as our account; the decoded JSON answer.

        Waits first when the last answer said the rate-limit budget is spent; gets or
        renews the token as needed (a 401 renews it and repeats the call once).
        """
        return await self.scrubbed(self._get(path, dict(params or {})))

    async def _get(self, path: str, params: dict[str, Any]) -> Any:
        if not self._token_valid():
            await self._obtain_token()
        try:
            response = await self._send(path, params)
        except HttpError as exc:
            if exc.status != 401:
                raise
            log.info("Reddit answered 401 to %s; renewing the access token", path)
            await self._obtain_token()
            response = await self._send(path, params)
        return self._http.json_of(response)

    async def _send(self, path: str, params: dict[str, Any]) -> httpx.Response:
        wait = self._wait_before_next
        if wait is not None:
            self._wait_before_next = None
            log.info("Reddit rate limit spent; waiting %.0fs for the window to reset", wait)
            self.rate_limit_waits.append(wait)
            await (self._sleep or asyncio.sleep)(wait)
        response = await self._http.request("GET", path, params={"raw_json": 1, **params})
        self._note_rate_limit(response)
        return response

    def _note_rate_limit(self, response: httpx.Response) -> None:
        remaining_text = response.headers.get(RATE_LIMIT_REMAINING)
        if remaining_text is None:
            return
        try:
            remaining = float(remaining_text)
        except ValueError:
            log.debug("ignoring %s %r", RATE_LIMIT_REMAINING, remaining_text)
            return
        if not math.isfinite(remaining) or remaining >= 1:
            return
        reset_text = response.headers.get(RATE_LIMIT_RESET)
        reset = (
            parse_reset(reset_text, ResetStyle.SECONDS_UNTIL, self._clock())
            if reset_text is not None
            else None
        )
        # No usable reset: wait a whole window rather than hammer a spent budget.
        self._wait_before_next = min(_MAX_WINDOW_WAIT, reset if reset is not None else 600.0)
