"""Built-in plugin: the ``webhook`` and ``slack`` notifiers and ``convokit watch``."""

from __future__ import annotations

from collections.abc import Callable

from ..hookspecs import hookimpl
from ._notifiers import SlackNotifier, WebhookNotifier


@hookimpl
def register_notifiers(register: Callable[..., None]) -> None:
    register(
        "webhook",
        WebhookNotifier.create,
        description="JSON POST, signed with HMAC-SHA256 when a secret is set",
    )
    register("slack", SlackNotifier.create, description="Slack incoming webhook message")
