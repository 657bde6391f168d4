"""The built-in notifier kinds: ``webhook`` (signed JSON POST) and ``slack``."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import attrs
import httpx

from .._errors import HttpError
from .._http import HttpClient, check_url_scheme
from .._secrets import MIN_SECRET_LENGTH, register_secrets
from .._timeutil import format_datetime
from ._settings import DeliveryContext, Notification, NotifierSettings, reject_keys

__all__ = ["SIGNATURE_HEADER", "SlackNotifier", "WebhookNotifier", "sign"]

SIGNATURE_HEADER = "Convokit-Signature"


def sign(secret: str, body: bytes) -> str:
    """The ``Convokit-Signature`` value of ``body``: ``sha256=<hex HMAC-SHA256>``."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def _require_url(settings: NotifierSettings) -> str:
    if settings.url is None:
        raise ValueError("'url' is required")
    check_url_scheme(settings.url)
    return settings.url


async def _post(
    url: str,
    body: bytes,
    headers: dict[str, str],
    context: DeliveryContext,
    secrets: dict[str, str],
) -> None:
    http = HttpClient(
        context.client,
        base_url=url,
        headers=headers,
        secret_headers=secrets,
        policy=context.policy,
        sleep=context.sleep,
    )
    response = await http.request("POST", url, content=body, idempotent=True)
    if not 200 <= response.status_code < 300:
        raise HttpError(
            f"POST {http.base_url}: the receiver answered HTTP {response.status_code}, not 2xx",
            status=response.status_code,
            url=http.base_url,
        )


@attrs.frozen(kw_only=True)
class WebhookNotifier:
    """POST every notification as JSON to ``url``; with ``secret``, sign the raw body."""

    url: str = attrs.field(repr=False)
    secret: str | None = attrs.field(default=None, repr=False)

    @classmethod
    def create(cls, settings: NotifierSettings) -> WebhookNotifier:
        reject_keys(settings, "smtp", "from", "to", "fallback")
        return cls(url=_require_url(settings), secret=settings.secret)

    def body(self, notification: Notification) -> bytes:
        """The exact bytes POSTed (and signed)."""
        return json.dumps(
            notification.to_dict(), ensure_ascii=False, separators=(",", ":"), sort_keys=True
        ).encode("utf-8")

    async def deliver(self, notification: Notification, context: DeliveryContext) -> None:
        body = self.body(notification)
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": notification.idempotency_key,
        }
        secrets = {}
        if self.secret is not None:
            # The signature is not secret, but it is sent only to the receiver's origin.
            secrets[SIGNATURE_HEADER] = sign(self.secret, body)
        await _post(self.url, body, headers, context, secrets)


_EVENT_WORDS = {
    "at_risk": "at risk",
    "breached": "breached",
    "recovered": "answered",
}


def slack_text(notification: Notification) -> str:
    """A readable Slack message (mrkdwn) for ``notification``, with a link when known."""
    n = notification
    what = n.conversation or n.subject
    where = f" on {n.platform}" if n.platform else ""
    link = f"<{n.url}|{what}>" if n.url else f"`{what}`"
    lines = [f"*{n.commitment}* is {_EVENT_WORDS.get(n.event, n.event)}: {link}{where}"]
    if n.promise:
        lines.append(f"> {n.promise}")
    if n.message:
        lines.append(n.message)
    details = []
    if n.owner:
        details.append(f"owner: {n.owner}")
    if n.deadline is not None:
        details.append(f"deadline: {format_datetime(n.deadline)}")
    if details:
        lines.append(" · ".join(details))
    return "\n".join(lines)


@attrs.frozen(kw_only=True)
class SlackNotifier:
    """Post a readable message to a Slack incoming webhook (``{"text": …}``)."""

    url: str = attrs.field(repr=False)

    @classmethod
    def create(cls, settings: NotifierSettings) -> SlackNotifier:
        if settings.secret is not None:
            raise ValueError("'secret' is not used by Slack incoming webhooks (the URL is)")
        reject_keys(settings, "smtp", "from", "to", "fallback")
        url = _require_url(settings)
        # The webhook URL's path is its credential: keep it out of every message (a
        # path too short to scrub safely is not one).
        path = httpx.URL(url).path
        if len(path) >= MIN_SECRET_LENGTH:
            register_secrets([path])
        return cls(url=url)

    async def deliver(self, notification: Notification, context: DeliveryContext) -> None:
        payload: dict[str, Any] = {"text": slack_text(notification)}
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        headers = {"Content-Type": "application/json"}
        await _post(self.url, body, headers, context, {})
