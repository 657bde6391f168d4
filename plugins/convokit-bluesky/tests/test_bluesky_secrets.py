"""The app password and session tokens never leak."""

from __future__ import annotations

import logging

import httpx
import pytest
from bluesky_fake import (
    APP_PASSWORD,
    HANDLE,
    REFRESHED,
    SESSION,
    FakeBluesky,
    make_adapter,
    sync_expiring_after,
)
from convokit_bluesky import BlueskyConfig

from convokit_core import HttpError, SyncContext

SECRETS = [
    APP_PASSWORD,
    SESSION["accessJwt"],
    SESSION["refreshJwt"],
    REFRESHED["accessJwt"],
    REFRESHED["refreshJwt"],
]


def _assert_clean(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text


def test_config_repr_hides_the_password() -> None:
    config = BlueskyConfig(handle="@Acme.bsky.social", app_password=APP_PASSWORD)
    _assert_clean(repr(config))
    assert config.handle == "acme.bsky.social"
    assert "app_password" not in repr(config)


def test_config_errors_do_not_echo_values() -> None:
    with pytest.raises(ValueError, match="app_password") as info:
        BlueskyConfig(handle=HANDLE, app_password="   ")
    assert "   '" not in str(info.value)
    with pytest.raises(ValueError, match="full Bluesky handle"):
        BlueskyConfig(handle="acme", app_password=APP_PASSWORD)
    with pytest.raises(ValueError, match="1"):
        BlueskyConfig(handle=HANDLE, app_password=APP_PASSWORD, page_size=500)


def test_secret_metadata_marks_only_the_password() -> None:
    import attrs

    secret = [f.name for f in attrs.fields(BlueskyConfig) if f.metadata.get("secret")]
    assert secret == ["app_password"]


def test_nothing_leaks_through_a_full_sync(
    fake: FakeBluesky, context: SyncContext, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    # A full sync whose access token expires half-way: login, refresh, more queries.
    pages = sync_expiring_after(fake, context, 2)
    assert fake.calls["com.atproto.server.refreshSession"] == 1
    _assert_clean(caplog.text)
    for page in pages:
        _assert_clean(repr(page))  # every record and the cursor


def test_errors_and_reprs_do_not_leak(
    fake: FakeBluesky, context: SyncContext, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fake.faults = [httpx.Response(500, text=f"echo {SESSION['accessJwt']}")] * 10

    import asyncio

    async def run() -> str:
        async with httpx.AsyncClient() as client:
            adapter = make_adapter(context, client)
            with pytest.raises(HttpError) as info:
                async for _ in adapter.fetch(None):
                    pass
            return f"{info.value!s} {info.value!r} {adapter!r} {adapter._xrpc!r}"

    text = asyncio.run(run())
    _assert_clean(text)
    _assert_clean(caplog.text)
