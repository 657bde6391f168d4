"""convokit-slack: sync the watched channels of a Slack workspace into convokit.

Configure a source in ``convokit.toml``::

    [[source]]
    name = "slack"
    platform = "slack"
    token = "${SLACK_TOKEN}"
    channels = ["C0123ABCD", "#support"]
"""

from __future__ import annotations

from collections.abc import Callable

from convokit_core.hookspecs import hookimpl

from ._adapter import CONTENT_SUBTYPES, PLATFORM, SlackAdapter, create
from ._api import RETRYABLE_ERRORS, SlackApiError
from ._config import DEFAULT_API_URL, SlackConfig
from ._cursor import ChannelState, State
from ._text import mrkdwn_to_text
from ._ts import ts_key, ts_to_datetime

__all__ = [
    "CONTENT_SUBTYPES",
    "DEFAULT_API_URL",
    "PLATFORM",
    "RETRYABLE_ERRORS",
    "ChannelState",
    "SlackAdapter",
    "SlackApiError",
    "SlackConfig",
    "State",
    "create",
    "mrkdwn_to_text",
    "register_platforms",
    "ts_key",
    "ts_to_datetime",
]

__version__ = "0.1.0"


@hookimpl
def register_platforms(register: Callable[..., None]) -> None:
    """Register ``platform = "slack"``."""
    register(
        PLATFORM,
        config=SlackConfig,
        create=create,
        description="Slack: watched channels with their threads (conversations.history/replies)",
    )
