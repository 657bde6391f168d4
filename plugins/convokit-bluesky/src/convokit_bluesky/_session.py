"""XRPC calls with one app-password session, created once and refreshed on expiry.

``com.atproto.server.createSession`` is rate limited (30 per 5 minutes per account), so
a session is created lazily on the first call, reused for every later call, and renewed
with ``com.atproto.server.refreshSession`` when the PDS reports the access token expired.
Only when the refresh token is itself rejected is a new session created, once.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import attrs
import httpx

from convokit_core import (
    ConvokitError,
    HttpClient,
    HttpError,
    MalformedPayload,
    ResetStyle,
    RetryPolicy,
)

__all__ = ["Session", "XrpcClient", "xrpc_error"]

logger = logging.getLogger("convokit.bluesky")

CREATE_SESSION = "com.atproto.server.createSession"
REFRESH_SESSION = "com.atproto.server.refreshSession"

_EXPIRED = frozenset({"ExpiredToken", "InvalidToken"})
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
_ERROR_NAME = re.compile(r"HTTP \d{3}[^:]*: ([A-Z][A-Za-z0-9]*)(?::|$)")


def xrpc_error(exc: HttpError) -> str | None:
    """The XRPC error name (``ExpiredToken``, ``NotFound`` …) an :class:`HttpError` reports.

    XRPC errors are JSON ``{"error": NAME, "message": ...}``; the shared HTTP helper puts
    ``NAME`` right after the status in the exception message, followed by ``:`` and the
    message, or by nothing. A plain-text or HTML body gives ``None``.
    """
    match = _ERROR_NAME.search(str(exc))
    return match.group(1) if match else None


@attrs.frozen(kw_only=True)
class Session:
    """An authenticated session. Tokens are secrets: never shown in ``repr``."""

    did: str
    handle: str
    access_jwt: str = attrs.field(repr=False)
    refresh_jwt: str = attrs.field(repr=False)

    @classmethod
    def from_json(cls, data: object, *, what: str) -> Session:
        """Read a ``createSession``/``refreshSession`` answer."""
        if not isinstance(data, Mapping):
            raise MalformedPayload(f"{what}: expected an object, found {type(data).__name__}")
        values: dict[str, str] = {}
        for key in ("did", "handle", "accessJwt", "refreshJwt"):
            value = data.get(key)
            if not isinstance(value, str) or not value:
                raise MalformedPayload(f"{what}: field {key!r} missing or not a string")
            values[key] = value
        return cls(
            did=values["did"],
            handle=values["handle"],
            access_jwt=values["accessJwt"],
            refresh_jwt=values["refreshJwt"],
        )


RATE_LIMIT_RESET = "RateLimit-Reset"
"""Bluesky's rate-limit reset header: the end of the window in epoch seconds."""


class XrpcClient:
    """Authenticated XRPC queries against one PDS, through the shared HTTP helper.

    Args:
        client: the host's HTTP client (its transport decides where requests go).
        service: the PDS root, e.g. ``https://bsky.social``.
        identifier: the account's handle (or DID or e-mail).
        password: an app password. Kept only in this object; never logged or shown.
        policy: retries and timeouts for every call (default: the helper's).
        sleep: awaited between retries (tests make it instant).
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        service: str,
        identifier: str,
        password: str,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
    ) -> None:
        self._client = client
        self._service = service
        self._policy = policy or RetryPolicy()
        self._retry_sleep = sleep
        self._identifier = identifier
        self._password = password
        self._session: Session | None = None
        self._http = self._helper()

    def __repr__(self) -> str:
        state = "open" if self._session is not None else "not started"
        return f"<XrpcClient {self._service!r} as {self._identifier!r}, session {state}>"

    def _helper(self, secret_headers: Mapping[str, str] = {}) -> HttpClient:
        return HttpClient(
            self._client,
            base_url=self._service,
            secret_headers=secret_headers,
            policy=self._policy,
            reset_header=RATE_LIMIT_RESET,
            reset_style=ResetStyle.EPOCH_SECONDS,
            sleep=self._retry_sleep,
        )

    async def session(self) -> Session:
        """The current session, created on first use."""
        if self._session is None:
            await self._scrubbed(self._create())
        assert self._session is not None
        return self._session

    async def query(self, nsid: str, params: Mapping[str, Any]) -> Any:
        """``GET /xrpc/{nsid}`` with the session's access token; JSON answer.

        An expired access token is refreshed (or, failing that, the session re-created)
        and the query repeated once. Errors never carry the password or a token.
        """
        return await self._scrubbed(self._query(nsid, params))

    async def _query(self, nsid: str, params: Mapping[str, Any]) -> Any:
        await self.session()
        try:
            return await self._http.get_json(f"xrpc/{nsid}", params=dict(params))
        except HttpError as exc:
            if exc.status not in (400, 401) or xrpc_error(exc) not in _EXPIRED:
                raise
            logger.info("Bluesky access token expired; refreshing the session")
        await self._refresh()
        return await self._http.get_json(f"xrpc/{nsid}", params=dict(params))

    async def _scrubbed(self, call: Awaitable[Any]) -> Any:
        """Await ``call``; re-raise its convokit error with every secret removed.

        The new error is raised outside the handler, so neither ``__cause__`` nor
        ``__context__`` keeps the original (whose text a platform may have filled
        with an echo of our credentials).
        """
        try:
            return await call
        except HttpError as exc:
            failure: ConvokitError = HttpError(
                self._scrub(str(exc)), status=exc.status, url=self._scrub(exc.url or "") or None
            )
        except MalformedPayload as exc:
            failure = MalformedPayload(self._scrub(str(exc)))
        raise failure

    def _scrub(self, text: str) -> str:
        secrets = [self._password]
        if self._session is not None:
            secrets += [self._session.access_jwt, self._session.refresh_jwt]
        for secret in sorted(secrets, key=len, reverse=True):
            text = text.replace(secret, "***")
        # Any other JWT (a token of an earlier session, echoed by a server) goes too.
        return _JWT.sub("***", text)

    async def _create(self) -> None:
        logger.info("creating a Bluesky session for %s", self._identifier)
        # The login goes through a helper holding no token at all.
        # A login has no side effect worth guarding, so 429, 5xx and timeouts are retried.
        data = await self._helper().post_json(
            f"xrpc/{CREATE_SESSION}",
            json={"identifier": self._identifier, "password": self._password},
            idempotent=True,
        )
        self._install(Session.from_json(data, what=CREATE_SESSION))

    async def _refresh(self) -> None:
        assert self._session is not None
        # refreshSession authenticates with the refresh token instead of the access token.
        refresher = self._helper({"Authorization": f"Bearer {self._session.refresh_jwt}"})
        try:
            # Retrying is safe: if a lost answer had rotated the token, the retry is
            # rejected and a new session is created below.
            data = await refresher.post_json(f"xrpc/{REFRESH_SESSION}", idempotent=True)
        except HttpError as exc:
            if exc.status not in (400, 401):
                raise
            logger.info(
                "Bluesky refresh token rejected (%s); creating a new session", xrpc_error(exc)
            )
            self._session = None
            await self._create()
            return
        self._install(Session.from_json(data, what=REFRESH_SESSION))

    def _install(self, session: Session) -> None:
        self._session = session
        self._http.set_secret_header("Authorization", f"Bearer {session.access_jwt}")
