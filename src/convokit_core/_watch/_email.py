"""The built-in ``email`` notifier: SMTP through :mod:`smtplib` in a worker thread."""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

import attrs

from .._http import _is_loopback
from .._secrets import check_secret, register_secrets
from .._timeutil import format_datetime
from ._settings import DeliveryContext, Notification, NotifierSettings, reject_keys

__all__ = ["EmailNotifier"]

_SCHEMES = {"smtp": 25, "smtps": 465, "smtp+starttls": 587}


@attrs.frozen(kw_only=True)
class EmailNotifier:
    """Send each notification as a plain-text e-mail.

    ``smtp`` is ``smtp://host:port`` (plain, loopback or trusted networks only when it
    carries credentials), ``smtps://host:port`` (TLS from the start) or
    ``smtp+starttls://host:port`` (upgraded with STARTTLS); ``user:password@`` in it logs
    in. ``to = "owner"`` sends to the owning team member's ``email`` handle, else to
    ``fallback``; a list of addresses sends to those.
    """

    scheme: str
    host: str
    port: int
    sender: str
    to: str | tuple[str, ...]
    fallback: tuple[str, ...] = ()
    user: str | None = None
    password: str | None = attrs.field(default=None, repr=False)

    @classmethod
    def create(cls, settings: NotifierSettings) -> EmailNotifier:
        reject_keys(settings, "url", "secret")
        if settings.smtp is None:
            raise ValueError("'smtp' is required (smtp://, smtps:// or smtp+starttls:// URL)")
        if settings.from_ is None:
            raise ValueError("'from' is required (the sender address)")
        if settings.to is None:
            raise ValueError("'to' is required: \"owner\" or a list of addresses")
        if settings.to == "owner" and not settings.fallback:
            raise ValueError(
                "to = \"owner\" needs a 'fallback' list for conversations whose owner has "
                "no e-mail handle"
            )
        parts = urlsplit(settings.smtp)
        scheme = parts.scheme.lower()
        if scheme not in _SCHEMES or not parts.hostname:
            raise ValueError(
                "'smtp': expected smtp://host:port, smtps://host:port or smtp+starttls://host:port"
            )
        try:
            port = parts.port or _SCHEMES[scheme]
        except ValueError:
            raise ValueError("'smtp': the port is not a number") from None
        user = unquote(parts.username) if parts.username else None
        password = unquote(parts.password) if parts.password else None
        if password is not None:
            try:
                check_secret(password, "the SMTP password")
            except ValueError as exc:
                raise ValueError(f"'smtp': {exc}") from None
            register_secrets([password])
            if scheme == "smtp" and not _is_loopback(parts.hostname):
                raise ValueError(
                    "'smtp': refusing to send a password over plain smtp:// to a remote "
                    "host; use smtps:// or smtp+starttls://"
                )
        return cls(
            scheme=scheme,
            host=parts.hostname,
            port=port,
            sender=settings.from_,
            to=settings.to,
            fallback=settings.fallback,
            user=user,
            password=password,
        )

    def recipients(self, notification: Notification) -> list[str]:
        """Where ``notification`` goes."""
        if self.to == "owner":
            email = notification.owner_handles.get("email")
            return [email] if email else list(self.fallback)
        return list(self.to)

    def message(self, notification: Notification) -> EmailMessage:
        """The e-mail for ``notification``."""
        n = notification
        what = n.conversation or n.subject
        words = {"at_risk": "at risk", "breached": "breached", "recovered": "answered"}
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = ", ".join(self.recipients(notification))
        message["Subject"] = f"[convokit] {n.commitment} {words.get(n.event, n.event)}: {what}"
        message["Message-ID"] = f"<{n.idempotency_key}@convokit>"
        lines = [n.message or "", ""]
        if n.promise:
            lines.append(f"Promise: {n.promise}")
        for label, value in (
            ("Conversation", what),
            ("Platform", n.platform),
            ("Owner", n.owner),
            ("Deadline", None if n.deadline is None else format_datetime(n.deadline)),
            ("Link", n.url),
        ):
            if value:
                lines.append(f"{label}: {value}")
        message.set_content("\n".join(lines) + "\n")
        return message

    def _send(self, message: EmailMessage, recipients: list[str], timeout: float) -> None:
        smtp: smtplib.SMTP
        if self.scheme == "smtps":
            smtp = smtplib.SMTP_SSL(
                self.host, self.port, timeout=timeout, context=ssl.create_default_context()
            )
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=timeout)
        with smtp:
            if self.scheme == "smtp+starttls":
                smtp.starttls(context=ssl.create_default_context())
            if self.user is not None and self.password is not None:
                smtp.login(self.user, self.password)
            refused = smtp.send_message(message, from_addr=self.sender, to_addrs=recipients)
            if refused:
                raise smtplib.SMTPRecipientsRefused(refused)

    async def deliver(self, notification: Notification, context: DeliveryContext) -> None:
        recipients = self.recipients(notification)
        await asyncio.to_thread(
            self._send, self.message(notification), recipients, context.policy.timeout
        )
