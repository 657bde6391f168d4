"""convokit-zendesk: sync a Zendesk Support account's tickets into convokit.

Configure a source in ``convokit.toml``::

    [[source]]
    name = "helpdesk"
    platform = "zendesk"
    subdomain = "acme"
    email = "support-bot@acme.example"
    api_token = "${ZENDESK_API_TOKEN}"
"""

from __future__ import annotations

from collections.abc import Callable

from convokit_core.hookspecs import hookimpl

from ._adapter import AUTOMATED_CHANNELS, PLATFORM, ExportPacer, ZendeskAdapter, create, map_status
from ._config import HOLD_STATUSES, ZendeskConfig
from ._cursor import CURSOR_VERSION, State

__all__ = [
    "AUTOMATED_CHANNELS",
    "CURSOR_VERSION",
    "HOLD_STATUSES",
    "PLATFORM",
    "ExportPacer",
    "State",
    "ZendeskAdapter",
    "ZendeskConfig",
    "create",
    "map_status",
    "register_platforms",
]

__version__ = "0.1.0"


@hookimpl
def register_platforms(register: Callable[..., None]) -> None:
    """Register ``platform = "zendesk"``."""
    register(
        PLATFORM,
        config=ZendeskConfig,
        create=create,
        description="Zendesk Support: tickets (incremental export), comments, status history",
    )
