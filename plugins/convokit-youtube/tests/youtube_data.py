"""A small, realistic channel for the YouTube tests (imported by the test modules)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from convokit_youtube.testing import FakeYouTube, comment

CHANNEL = "UCa1b2C3d4E5f6G7h8I9j0Kx"
API_KEY = "AIzaSyD-test-key-for-the-fake-0123456"
OAUTH_TOKEN = "ya29.a0-test-oauth-token-for-the-fake"

ZOE = "UCzoeZOEzoeZOEzoeZOEzo01"
MAX = "UCmaxMAXmaxMAXmaxMAXma02"
IDA = "UCidaIDAidaIDAidaIDAid03"
KC = "UCkcKCkcKCkcKCkcKCkcKC04"  # a colleague's own channel (a [[team]] handle)

T0 = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)


def reply_id(thread: str, n: int) -> str:
    return f"{thread}.A{n:02d}rEpLy{n:02d}xYz{n:04d}QQ"


def channel_fake(*, api_key: str | None = API_KEY, oauth_token: str | None = None) -> FakeYouTube:
    """Our channel: three public uploads and a private one; six comment threads, one of
    them with seven replies (beyond the five a thread embeds), replies by us and by a
    colleague, a comment whose author has no channel id, one without ``textOriginal``."""
    fake = FakeYouTube(channel_id=CHANNEL, api_key=api_key, oauth_token=oauth_token)
    fake.add_upload("vid0000001A", "Unboxing the A1", T0)
    fake.add_upload("vid0000002B", "A1 setup guide", T0 + timedelta(days=10))
    fake.add_upload("vid0000003C", "Draft: A2 teaser", T0 + timedelta(days=15), privacy="private")
    fake.add_upload("vid0000004D", "A1 firmware 2.0", T0 + timedelta(days=20))

    def top(
        tid: str,
        author: str | None,
        name: str,
        at: datetime,
        text: str,
        *,
        video: str,
        text_original: bool = True,
    ) -> dict[str, Any]:
        return comment(
            tid,
            text=text,
            author=author,
            name=name,
            at=at,
            video=video,
            channel_id=CHANNEL,
            text_original=text_original,
        )

    t1 = "UgzT1aaaaaaaaaaaaaaaaaaa4AaABAg"
    fake.add_thread(
        top(
            t1, ZOE, "@zoe", T0 + timedelta(hours=2), "Mine arrived broken :(", video="vid0000001A"
        ),
        "vid0000001A",
    )
    fake.add_reply(
        t1,
        comment(
            reply_id(t1, 1),
            text="Sorry! Please write to support@acme.example",
            author=CHANNEL,
            name="@acme",
            at=T0 + timedelta(hours=5),
            parent=t1,
        ),
    )
    fake.add_reply(
        t1,
        comment(
            reply_id(t1, 2),
            text="Done, thanks",
            author=ZOE,
            name="@zoe",
            at=T0 + timedelta(hours=6),
            updated=T0 + timedelta(hours=7),
            parent=t1,
        ),
    )

    t2 = "UgxT2bbbbbbbbbbbbbbbbbbb4AaABAg"
    fake.add_thread(
        top(
            t2,
            MAX,
            "@max",
            T0 + timedelta(days=10, hours=1),
            "Does it work with Linux?",
            video="vid0000002B",
        ),
        "vid0000002B",
    )
    for n in range(1, 8):  # seven replies: two beyond the embedded five
        author, name = (CHANNEL, "@acme") if n == 1 else ((KC, "@kc") if n == 6 else (IDA, "@ida"))
        fake.add_reply(
            t2,
            comment(
                reply_id(t2, n),
                text=f"Reply number {n}",
                author=author,
                name=name,
                at=T0 + timedelta(days=10, hours=1 + n),
                parent=t2,
            ),
        )

    t3 = "UgyT3ccccccccccccccccccc4AaABAg"
    fake.add_thread(
        top(t3, None, "Former account", T0 + timedelta(days=11), "First!", video="vid0000002B"),
        "vid0000002B",
    )
    t4 = "UgwT4ddddddddddddddddddd4AaABAg"
    fake.add_thread(
        top(
            t4,
            IDA,
            "@ida",
            T0 + timedelta(days=12),
            "Great & simple\nthanks",
            video="vid0000002B",
            text_original=False,
        ),
        "vid0000002B",
    )
    t5 = "UgzT5eeeeeeeeeeeeeeeeeee4AaABAg"
    fake.add_thread(
        top(
            t5,
            CHANNEL,
            "@acme",
            T0 + timedelta(days=20, hours=1),
            "Changelog in the description",
            video="vid0000004D",
        ),
        "vid0000004D",
    )
    fake.add_reply(
        t5,
        comment(
            reply_id(t5, 1),
            text="Where do I get it?",
            author=MAX,
            name="@max",
            at=T0 + timedelta(days=20, hours=3),
            parent=t5,
        ),
    )
    t6 = "UgxT6fffffffffffffffffff4AaABAg"
    fake.add_thread(
        top(
            t6, ZOE, "@zoe", T0 + timedelta(days=21), "Update bricked my A1!!", video="vid0000004D"
        ),
        "vid0000004D",
    )
    return fake
