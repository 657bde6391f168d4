"""X (Twitter API v2) platform adapter for convokit.

Registers ``platform = "x"``: the posts that mention our account, our own posts, and the
conversation threads of the mentions (recent search by ``conversation_id``). See the
package README for the mapping and the limits of the API.
"""

from __future__ import annotations

from collections.abc import Callable

from convokit_core.hookspecs import hookimpl

from ._adapter import XAdapter, create_adapter
from ._config import XConfig

__all__ = ["XAdapter", "XConfig", "create_adapter", "register_platforms"]

__version__ = "0.1.0"


@hookimpl
def register_platforms(register: Callable[..., None]) -> None:
    """Register the ``x`` platform."""
    register(
        "x",
        config=XConfig,
        create=create_adapter,
        description="X (Twitter API v2): mentions and their threads; our posts for activity",
    )
