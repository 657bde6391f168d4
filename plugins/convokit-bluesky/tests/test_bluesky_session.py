"""One session per adapter, refreshed on expiry, never re-created per request."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from bluesky_fake import (
    APP_PASSWORD,
    REFRESHED,
    SESSION,
    FakeBluesky,
    sync,
    sync_expiring_after,
)
from convokit_bluesky._session import xrpc_error

from convokit_core import HttpClient, HttpError, SyncContext

CREATE = "com.atproto.server.createSession"
REFRESH = "com.atproto.server.refreshSession"


def test_one_session_for_the_whole_sync(fake: FakeBluesky, context: SyncContext) -> None:
    sync(context)
    queries = sum(n for nsid, n in fake.calls.items() if nsid.startswith("app.bsky."))
    assert queries >= 10
    assert fake.calls[CREATE] == 1
    assert fake.calls[REFRESH] == 0
    # Every query carried the access token; the login carried none.
    for request in fake.requests:
        auth = request.headers.get("authorization")
        if request.url.path.endswith(CREATE):
            assert auth is None
        else:
            assert auth == f"Bearer {SESSION['accessJwt']}"


def test_expired_access_token_is_refreshed_once(fake: FakeBluesky, context: SyncContext) -> None:
    pages = sync_expiring_after(fake, context, 1)
    assert fake.calls[CREATE] == 1
    assert fake.calls[REFRESH] == 1
    refresh = next(r for r in fake.requests if r.url.path.endswith(REFRESH))
    assert refresh.headers["authorization"] == f"Bearer {SESSION['refreshJwt']}"
    # After the refresh, queries use the new access token.
    assert fake.requests[-1].headers["authorization"] == f"Bearer {REFRESHED['accessJwt']}"
    # Nothing was lost to the expiry.
    assert {m.id for page in pages for m in page.messages} == {
        m.id for page in sync(context) for m in page.messages
    }


def test_rejected_refresh_token_creates_a_new_session(
    fake: FakeBluesky, context: SyncContext
) -> None:
    fake.refresh_rejected = True
    pages = sync_expiring_after(fake, context, 2)
    assert len(pages) == 3
    assert fake.calls[REFRESH] == 1
    assert fake.calls[CREATE] == 2


def test_wrong_app_password_fails_clearly(fake: FakeBluesky, context: SyncContext) -> None:
    with pytest.raises(HttpError) as info:
        sync(context, app_password="zzzz-zzzz-zzzz-zzzz")
    assert info.value.status == 401
    assert "Invalid identifier or password" in str(info.value)
    assert "zzzz-zzzz" not in str(info.value)
    assert APP_PASSWORD not in str(info.value)
    # The login is not retried (a POST), so a bad password costs one attempt.
    assert fake.calls[CREATE] == 1


def test_other_client_errors_are_not_treated_as_expiry(
    fake: FakeBluesky, context: SyncContext
) -> None:
    fake.faults = [httpx.Response(400, json={"error": "InvalidRequest", "message": "bad limit"})]
    with pytest.raises(HttpError, match="bad limit"):
        sync(context)
    assert fake.calls[REFRESH] == 0


@pytest.mark.parametrize(
    ("response", "name"),
    [
        (
            httpx.Response(400, json={"error": "ExpiredToken", "message": "Token has expired"}),
            "ExpiredToken",
        ),
        (
            httpx.Response(401, json={"error": "InvalidToken", "message": "Bad token scope"}),
            "InvalidToken",
        ),
        (
            httpx.Response(400, json={"error": "NotFound", "message": "Post not found: at://x"}),
            "NotFound",
        ),
        (httpx.Response(400, text="Bad Request"), None),
        (
            httpx.Response(
                401, text="<html><body>401</body></html>", headers={"content-type": "text/html"}
            ),
            None,
        ),
    ],
)
def test_xrpc_error_names_survive_the_http_helper(
    response: httpx.Response, name: str | None
) -> None:
    """The session logic reads XRPC error names out of the helper's HttpError."""

    async def run() -> HttpError:
        transport = httpx.MockTransport(lambda request: response)
        async with httpx.AsyncClient(transport=transport) as client:
            http = HttpClient(client, base_url="https://pds.test")
            with pytest.raises(HttpError) as info:
                await http.get_json("xrpc/app.bsky.feed.getPostThread")
            return info.value

    assert xrpc_error(asyncio.run(run())) == name
