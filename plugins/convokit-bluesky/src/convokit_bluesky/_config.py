"""The ``[[source]]`` keys of a Bluesky source."""

from __future__ import annotations

from typing import Any

import attrs

__all__ = ["DEFAULT_SERVICE", "BlueskyConfig"]

DEFAULT_SERVICE = "https://bsky.social"


def _handle(value: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"handle must be a string, found {type(value).__name__}")
    handle = value.strip().removeprefix("@").lower()
    if "." not in handle and not handle.startswith("did:"):
        raise ValueError(
            f"handle must be a full Bluesky handle like 'acme.bsky.social' (or a DID), "
            f"found {value!r}"
        )
    return handle


def _non_empty(instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, str) or not value.strip():
        # Never echo the value: it may be a secret.
        raise ValueError(f"{attribute.name} must be a non-empty string")


def _service(value: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("service must be a URL like 'https://bsky.social'")
    return value.strip().rstrip("/")


@attrs.frozen(kw_only=True)
class BlueskyConfig:
    """A Bluesky source: our account and how to reach its PDS.

    ``convokit.toml``::

        [[source]]
        name = "bluesky-main"
        platform = "bluesky"
        handle = "acme.bsky.social"
        app_password = "${BSKY_APP_PASSWORD}"
    """

    handle: str = attrs.field(converter=_handle)
    """Our account's handle (a leading ``@`` is dropped); also counted as ours."""
    app_password: str = attrs.field(repr=False, validator=_non_empty, metadata={"secret": True})
    """An app password (Settings → Privacy and security → App passwords), never the
    account password. Secret: never shown in ``repr``, logs, errors or the store."""
    service: str = attrs.field(default=DEFAULT_SERVICE, converter=_service)
    """The PDS (or entryway) that creates the session and answers queries."""
    page_size: int = attrs.field(
        default=50,
        validator=[attrs.validators.instance_of(int), attrs.validators.in_(range(1, 101))],
    )
    """Items per listing page (``limit``, 1 to 100)."""
