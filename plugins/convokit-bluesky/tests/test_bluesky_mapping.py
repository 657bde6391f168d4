"""Pure mapping from AppView JSON to records."""

from __future__ import annotations

import copy
import re
from datetime import UTC, datetime
from typing import Any

import pytest
from bluesky_fake import load
from convokit_bluesky._mapping import (
    PostRef,
    flatten_thread,
    message_from_post,
    parse_time,
    root_uri,
    sort_time,
    stakeholder_from_author,
)

from convokit_core import Direction, MalformedPayload


def _to_message(view: dict[str, Any]) -> Any:
    post = PostRef.from_view(view, where="t")
    return message_from_post(post, is_ours=lambda p: False, channel_id=None)


def _view(thread_file: str = "thread_f.json") -> dict[str, Any]:
    return copy.deepcopy(load(thread_file)["thread"]["post"])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-11-05T14:03:22.123Z", datetime(2024, 11, 5, 14, 3, 22, 123000, tzinfo=UTC)),
        ("2024-11-05T14:03:22Z", datetime(2024, 11, 5, 14, 3, 22, tzinfo=UTC)),
        ("2024-11-05T16:03:22.5+02:00", datetime(2024, 11, 5, 14, 3, 22, 500000, tzinfo=UTC)),
        ("2024-11-05T14:03:22.123456789Z", datetime(2024, 11, 5, 14, 3, 22, 123456, tzinfo=UTC)),
        ("2024-11-05T14:03:22", None),  # naive: unusable
        ("last Tuesday", None),
        (1730815402, None),
        (None, None),
    ],
)
def test_parse_time(text: object, expected: datetime | None) -> None:
    assert parse_time(text) == expected


def test_sort_time_prefers_the_earlier_clock() -> None:
    view = _view()
    post = PostRef.from_view(view, where="t")
    assert post.created_at == datetime(2031, 6, 1, tzinfo=UTC)
    assert sort_time(post) == post.indexed_at
    view["record"]["createdAt"] = "2024-11-03T19:00:00Z"  # backdated an hour
    assert sort_time(PostRef.from_view(view, where="t")) == datetime(2024, 11, 3, 19, tzinfo=UTC)
    view["record"]["createdAt"] = "garbage"
    assert sort_time(PostRef.from_view(view, where="t")) == post.indexed_at


def test_message_fields() -> None:
    post = PostRef.from_view(_view("thread_b.json"), where="t")
    message = message_from_post(post, is_ours=lambda p: True, channel_id="did:plc:us")
    assert message.id == post.uri
    assert message.conversation_id == post.uri  # a root is its own conversation
    assert message.direction is Direction.OUTBOUND
    assert message.in_reply_to is None
    assert message.text == "Winter tents are in! Free shipping on all orders this week."
    assert message.url == "https://bsky.app/profile/acme.bsky.social/post/3la2hq2zr222b"
    assert message.channel_id == "did:plc:us"
    assert not message.deleted


def test_reply_refs_give_root_and_parent() -> None:
    reply = load("thread_b.json")["thread"]["replies"][0]["post"]
    post = PostRef.from_view(reply, where="t")
    root = load("thread_b.json")["thread"]["post"]["uri"]
    assert root_uri(post) == root
    assert post.parent_uri == root
    inbound = message_from_post(post, is_ours=lambda p: False, channel_id=None)
    assert inbound.direction is Direction.INBOUND
    assert inbound.in_reply_to == root


@pytest.mark.parametrize(
    ("mutate", "where"),
    [
        (lambda v: v.pop("indexedAt"), "t.indexedAt"),
        (lambda v: v.__setitem__("uri", "https://bsky.app/x"), "t.uri"),
        (lambda v: v["author"].pop("did"), "t.author.did"),
        (lambda v: v.__setitem__("record", "text"), "t.record"),
        (
            lambda v: v["record"].__setitem__("reply", {"root": {"cid": "x"}}),
            "record.reply.root.uri",
        ),
    ],
)
def test_malformed_views_name_the_field(mutate: Any, where: str) -> None:
    view = _view()
    mutate(view)
    with pytest.raises(MalformedPayload, match=re.escape(where)):
        _to_message(view)


def test_non_string_text_is_malformed() -> None:
    view = _view()
    view["record"]["text"] = ["not", "text"]
    with pytest.raises(MalformedPayload, match=r"record\.text"):
        _to_message(view)


def test_flatten_thread_skips_blocked_and_missing_posts() -> None:
    thread = load("thread_a.json")["thread"]
    posts = list(flatten_thread(thread))
    assert len(posts) == 5
    assert len({p.uri for p in posts}) == 5
    blocked = thread["replies"][2]["uri"]
    assert blocked not in {p.uri for p in posts}
    # A thread read upwards from a reply whose parent was deleted.
    (dave,) = flatten_thread(load("thread_c_dave.json")["thread"])
    assert dave.handle is None  # handle.invalid
    assert stakeholder_from_author(dave).identities == {"bluesky": dave.author_did}


def test_flatten_thread_walks_parents_and_skips_unknown_members() -> None:
    a = load("thread_a.json")["thread"]
    leaf = a["replies"][0]["replies"][0]["replies"][0]
    # The same thread, seen from Sam's reply: parents nested upwards.
    parent2 = {k: v for k, v in a["replies"][0]["replies"][0].items() if k != "replies"}
    parent1 = {k: v for k, v in a["replies"][0].items() if k != "replies"}
    root = {k: v for k, v in a.items() if k != "replies"}
    parent1["parent"] = root
    parent2["parent"] = parent1
    node = {**leaf, "parent": parent2, "replies": [{"$type": "app.bsky.feed.defs#futureThing"}]}
    uris = [p.uri for p in flatten_thread(node)]
    assert len(uris) == 4
    assert uris[0] == leaf["post"]["uri"]
    assert a["post"]["uri"] in uris


def test_flatten_thread_rejects_bad_shapes() -> None:
    with pytest.raises(MalformedPayload, match="thread: expected an object"):
        list(flatten_thread(["not", "a", "thread"]))
    bad = copy.deepcopy(load("thread_f.json")["thread"])
    bad["replies"] = {"oops": 1}
    with pytest.raises(MalformedPayload, match=r"thread\.replies: expected a list"):
        list(flatten_thread(bad))


def test_stakeholder_from_author() -> None:
    post = PostRef.from_view(load("thread_a.json")["thread"]["post"], where="t")
    person = stakeholder_from_author(post)
    assert person.id == post.author_did
    assert person.display_name == "Ana Duarte"
    assert person.identities == {"bluesky": "ana.example.com"}
