"""FakePlatform: paging styles, order, auth, injected faults, respx and loopback."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import respx

from convokit_core import HttpClient, HttpError, ResetStyle, RetryPolicy
from convokit_core.testing import FakePlatform, Fault, Order, Paging, serve_loopback

T0 = datetime(2024, 11, 4, 9, 0, tzinfo=UTC)
ROWS = [
    {"id": f"p{n:02d}", "created_at": (T0 + timedelta(minutes=n)).isoformat(), "n": n}
    for n in range(1, 8)
]


def get(fake: FakePlatform, url: str, **params: Any) -> httpx.Response:
    with httpx.Client(transport=httpx.MockTransport(fake)) as client:
        return client.get(url, params=params or None)


def ids(body: Any) -> list[str]:
    rows = body["items"] if isinstance(body, dict) else body
    return [r["id"] for r in rows]


def test_page_numbers_newest_first_until_a_short_page() -> None:
    fake = FakePlatform(ROWS, page_size=3)
    pages = [get(fake, "https://x.test/api/items", page=n).json() for n in (1, 2, 3, 4)]
    assert [ids(p) for p in pages] == [
        ["p07", "p06", "p05"],
        ["p04", "p03", "p02"],
        ["p01"],
        [],
    ]
    assert [p["next"] for p in pages] == ["2", "3", None, None]
    # A larger limit is clamped to the page size; a smaller one is honoured.
    assert ids(get(fake, "https://x.test/api/items", limit=50).json()) == ["p07", "p06", "p05"]
    assert ids(get(fake, "https://x.test/api/items", limit=1, page=2).json()) == ["p06"]


def test_oldest_first_opaque_cursor_is_keyset_so_arrivals_do_not_shift_it() -> None:
    fake = FakePlatform(ROWS, paging=Paging.CURSOR, order=Order.OLDEST_FIRST, page_size=3)
    first = get(fake, "https://x.test/api/items").json()
    assert ids(first) == ["p01", "p02", "p03"]
    # An item arriving in the past of the listing does not move what follows.
    fake.rows.append({"id": "p00", "created_at": T0.isoformat(), "n": 0})
    second = get(fake, "https://x.test/api/items", cursor=first["next"]).json()
    assert ids(second) == ["p04", "p05", "p06"]
    third = get(fake, "https://x.test/api/items", cursor=second["next"]).json()
    assert (ids(third), third["next"]) == (["p07"], None)
    bad = get(fake, "https://x.test/api/items", cursor="garbage!")
    assert (bad.status_code, bad.json()) == (400, {"error": "invalid cursor"})


def test_link_header_paging_with_a_bare_list_body() -> None:
    fake = FakePlatform(ROWS, paging=Paging.LINK, page_size=4)
    response = get(fake, "https://x.test/api/items", limit=4)
    assert ids(response.json()) == ["p07", "p06", "p05", "p04"]
    following = response.links["next"]["url"]
    assert following.startswith("https://x.test/api/items?")
    last = get(fake, following)
    assert ids(last.json()) == ["p03", "p02", "p01"]
    assert "link" not in last.headers


def test_after_id_and_a_custom_envelope() -> None:
    fake = FakePlatform(
        ROWS,
        paging=Paging.AFTER_ID,
        order=Order.OLDEST_FIRST,
        cursor_param="after",
        page_size=5,
        envelope=lambda rows, token: {"data": rows, "has_more": token is not None},
    )
    first = get(fake, "https://x.test/api/items").json()
    assert [r["id"] for r in first["data"]] == ["p01", "p02", "p03", "p04", "p05"]
    assert first["has_more"] is True
    rest = get(fake, "https://x.test/api/items", after="p05").json()
    assert ([r["id"] for r in rest["data"]], rest["has_more"]) == (["p06", "p07"], False)


def test_token_and_path_are_checked() -> None:
    fake = FakePlatform(ROWS, token="s3cr3t-token-for-tests")
    assert get(fake, "https://x.test/api/items").status_code == 401
    with httpx.Client(
        transport=httpx.MockTransport(fake),
        headers={"Authorization": "Bearer s3cr3t-token-for-tests"},
    ) as client:
        assert client.get("https://x.test/api/items").status_code == 200
        assert client.get("https://x.test/api/other").status_code == 404
    assert len(fake.requests) == 3


@pytest.mark.parametrize(
    ("style", "value"),
    [
        (ResetStyle.ISO_TIMESTAMP, "2024-11-04T09:00:42Z"),
        (ResetStyle.EPOCH_SECONDS, str(int(T0.timestamp()) + 42)),
        (ResetStyle.SECONDS_UNTIL, "42"),
    ],
)
def test_rate_limit_in_the_platform_reset_style_is_honoured(style: ResetStyle, value: str) -> None:
    fake = FakePlatform(ROWS, reset_header="X-RateLimit-Reset", reset_style=style, clock=lambda: T0)
    fake.fail_next(Fault.rate_limited(42))
    assert get(fake, "https://x.test/api/items").headers["x-ratelimit-reset"] == value
    # The HTTP helper reads it back as the same wait.
    fake.fail_next(Fault.rate_limited(42))
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    async def go() -> Any:
        async with httpx.AsyncClient(transport=httpx.MockTransport(fake)) as client:
            http = HttpClient(
                client,
                base_url="https://x.test",
                reset_header="X-RateLimit-Reset",
                reset_style=style,
                sleep=sleep,
                clock=lambda: T0,
                policy=RetryPolicy(backoff_base=0.0),
            )
            return await http.get_json("/api/items")

    assert ids(asyncio.run(go())) == ["p07", "p06", "p05"]
    assert waits == [42.0]


def test_retry_after_server_errors_and_timeouts_through_respx() -> None:
    fake = FakePlatform(ROWS)
    fake.fail_next(
        Fault.rate_limited(3, retry_after=True), Fault.server_error(502), Fault.timeout()
    )
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    async def go() -> Any:
        with respx.mock(assert_all_called=True) as router:
            router.route(host="api.forum.test").mock(side_effect=fake)
            async with httpx.AsyncClient() as client:
                http = HttpClient(
                    client,
                    base_url="https://api.forum.test",
                    sleep=sleep,
                    policy=RetryPolicy(backoff_base=0.0),
                )
                return await http.get_json("/api/items")

    assert ids(asyncio.run(go())) == ["p07", "p06", "p05"]
    assert waits == [3.0, 0.0, 0.0]
    assert len(fake.requests) == 4


def test_loopback_server_pages_and_times_out_for_real() -> None:
    fake = FakePlatform(ROWS, paging=Paging.LINK, page_size=4, token="s3cr3t-token-for-tests")
    with fake.serve() as base_url:
        assert base_url.startswith("http://127.0.0.1:")
        headers = {"Authorization": "Bearer s3cr3t-token-for-tests"}
        with httpx.Client(base_url=base_url, headers=headers) as client:
            first = client.get("/api/items")
            assert ids(first.json()) == ["p07", "p06", "p05", "p04"]
            assert first.links["next"]["url"].startswith(base_url)
            assert ids(client.get(first.links["next"]["url"]).json()) == ["p03", "p02", "p01"]
            fake.fail_next(Fault.timeout())
            # The server never answers; the client's own timeout ends the wait.
            with pytest.raises(httpx.ReadTimeout):
                client.get("/api/items", timeout=0.5)
            assert client.get("/api/items").status_code == 200
    assert len(fake.requests) == 4


def test_loopback_server_with_the_http_helper() -> None:
    fake = FakePlatform(ROWS)
    fake.fail_next(Fault.server_error(500))

    async def go(base_url: str) -> Any:
        async with httpx.AsyncClient() as client:
            http = HttpClient(client, base_url=base_url, policy=RetryPolicy(max_retries=0))
            with pytest.raises(HttpError, match="HTTP 500"):
                await http.get_json("/api/items")
            return await http.get_json("/api/items", params={"page": 3})

    with serve_loopback(fake.handler) as base_url:
        assert ids(asyncio.run(go(base_url))) == ["p01"]


def test_bad_parameters_are_400_and_naive_row_times_are_utc() -> None:
    fake = FakePlatform([{"id": "a", "created_at": "2024-11-04T09:00:00"}, *ROWS])
    assert get(fake, "https://x.test/api/items", page="x").status_code == 400
    assert get(fake, "https://x.test/api/items", page=0).status_code == 400
    assert get(fake, "https://x.test/api/items", page=3).json()["items"][-1]["id"] == "a"
    with pytest.raises(ValueError, match="loopback"), serve_loopback(fake.handler, host="0.0.0.0"):
        pass
