"""convokit-meta: Facebook Pages and Instagram professional accounts, via the Graph API.

One distribution registers **two platforms**, ``facebook`` and ``instagram``: they are
different presences with different handles, so commitments can be scoped to either
(``where = { platform = ["instagram"] }``). Within a platform, ``surfaces`` chooses
public comments, direct messages, or both::

    [[source]]
    name = "acme-facebook"
    platform = "facebook"
    page_id = "104857600123456"
    access_token = "${META_PAGE_TOKEN}"

    [[source]]
    name = "acme-instagram"
    platform = "instagram"
    ig_user_id = "17841400008460056"
    access_token = "${META_IG_TOKEN}"
"""

from __future__ import annotations

from collections.abc import Callable

from convokit_core.hookspecs import hookimpl

from ._adapter import (
    FACEBOOK,
    INSTAGRAM,
    UNKNOWN_AUTHOR,
    FacebookAdapter,
    InstagramAdapter,
    create_facebook,
    create_instagram,
)
from ._config import (
    DEFAULT_API_URL,
    DEFAULT_API_VERSION,
    FACEBOOK_SURFACES,
    INSTAGRAM_SURFACES,
    FacebookConfig,
    InstagramConfig,
)
from ._cursor import State, SurfaceState
from ._graph import (
    THROTTLE_CODES,
    USAGE_HEADERS,
    GraphError,
    MetaApiError,
    MetaThrottled,
    Usage,
    parse_graph_time,
    parse_usage,
)

__all__ = [
    "DEFAULT_API_URL",
    "DEFAULT_API_VERSION",
    "FACEBOOK",
    "FACEBOOK_SURFACES",
    "INSTAGRAM",
    "INSTAGRAM_SURFACES",
    "THROTTLE_CODES",
    "UNKNOWN_AUTHOR",
    "USAGE_HEADERS",
    "FacebookAdapter",
    "FacebookConfig",
    "GraphError",
    "InstagramAdapter",
    "InstagramConfig",
    "MetaApiError",
    "MetaThrottled",
    "State",
    "SurfaceState",
    "Usage",
    "create_facebook",
    "create_instagram",
    "parse_graph_time",
    "parse_usage",
    "register_platforms",
]

__version__ = "0.1.0"


@hookimpl
def register_platforms(register: Callable[..., None]) -> None:
    """Register ``platform = "facebook"`` and ``platform = "instagram"``."""
    register(
        FACEBOOK,
        config=FacebookConfig,
        create=create_facebook,
        description="Facebook Page: posts and comments, Messenger conversations (Graph API)",
    )
    register(
        INSTAGRAM,
        config=InstagramConfig,
        create=create_instagram,
        description="Instagram: comments and replies on our media, direct messages (Graph API)",
    )
