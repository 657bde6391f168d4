"""The sync stays exact on WordPress servers that differ in the details.

Real sites (and other people's fakes) differ: some ignore ``order``/``orderby`` and
list newest first, some ignore ``after``, some answer an empty page instead of 400
past the last page, some send no ``X-WP-*`` headers. The first sync must store every
post and comment once, a second one nothing, and a new comment must arrive alone.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import httpx
import pytest
from convokit_wordpress import WordPressConfig, create
from convokit_wordpress.testing import FakeWordPress

from convokit_core import Page, SyncContext

QUIRKS = ["newest-first", "no-after", "empty-past-last", "no-headers", "offset-dates"]


def quirky(fake: FakeWordPress, quirks: set[str]) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        params = dict(request.url.params)
        if "newest-first" in quirks:
            params.pop("order", None)
            params.pop("orderby", None)
        if "no-after" in quirks:
            params.pop("after", None)
        url = request.url.copy_with(params=params)
        status, headers, body = fake.respond("GET", str(url), dict(request.headers))
        if "empty-past-last" in quirks and status == 400 and b"invalid_page_number" in body:
            status, body = 200, b"[]"
        if "no-headers" in quirks:
            headers = {k: v for k, v in headers.items() if not k.startswith("X-WP-")}
            headers.pop("Link", None)
        if "offset-dates" in quirks and status == 200 and body.startswith(b"["):
            items = json.loads(body)
            for item in items:
                if isinstance(item, dict) and "date_gmt" in item:
                    item["date_gmt"] += "+00:00"
            body = json.dumps(items).encode()
        return httpx.Response(status, headers=headers, content=body)

    return httpx.MockTransport(handle)


def run(fake: FakeWordPress, quirks: set[str], cursor: str | None) -> list[Page]:
    async def go() -> list[Page]:
        async with httpx.AsyncClient(transport=quirky(fake, quirks)) as client:
            config = WordPressConfig(site=fake.site, page_size=4)
            adapter = create(config, client, SyncContext(source="b", platform="wordpress"))
            return [page async for page in adapter.fetch(cursor)]

    return asyncio.run(go())


@pytest.mark.parametrize("quirk", [*QUIRKS, "all"])
def test_exact_on_every_server(quirk: str) -> None:
    quirks = set(QUIRKS) if quirk == "all" else {quirk}
    fake = FakeWordPress(posts=7)
    pages = run(fake, quirks, None)
    ids = [m.id for p in pages for m in p.messages]
    assert len(ids) == len(set(ids))
    assert set(ids) == fake.expected_ids()
    assert all(p.messages for p in pages)
    final = pages[-1].cursor
    assert run(fake, quirks, final) == []
    new = fake.add_comment(
        fake.public_posts()[1]["id"], datetime(2026, 11, 30, 7, 0, tzinfo=UTC), "Hi?", guest="Zoe"
    )
    more = run(fake, quirks, final)
    assert [m.id for p in more for m in p.messages] == [f"{fake.site_key}/comments/{new['id']}"]
    assert run(fake, quirks, more[-1].cursor) == []
