from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from convokit_core import InputError, open_store
from convokit_core._io._jsonl import export_jsonl, import_jsonl


def lines(*objs: Any) -> io.StringIO:
    return io.StringIO("".join(json.dumps(o) + "\n" for o in objs))


def message(id: str, **kw: Any) -> dict[str, Any]:
    obj = {
        "id": id,
        "platform": "twitter",
        "conversation": "c1",
        "author": "ana",
        "direction": "inbound",
        "sent_at": "2024-03-01T09:00:00Z",
    }
    obj.update(kw)
    return {k: v for k, v in obj.items() if v is not None}


FULL_SET = [
    {
        "type": "channel",
        "id": "help",
        "platform": "twitter",
        "handle": "@help",
        "created_at": "2009-05-01T00:00:00Z",
        "owner_team": "cx",
    },
    {
        "type": "team_member",
        "id": "kc",
        "name": "KC",
        "handles": {"twitter": "help"},
        "active_until": "2018-01-31T00:00:00Z",
    },
    {
        "type": "stakeholder",
        "id": "115712",
        "kind": "customer",
        "display_name": 'Zoë "Z" O\'Neil',
        "identities": {"twitter": "115712"},
    },
    {
        "type": "conversation",
        "id": "8",
        "platform": "twitter",
        "channel": "help",
        "stakeholder": "115712",
        "owner": "kc",
        "status": "open",
        "tags": ["vip"],
    },
    {
        "type": "status",
        "platform": "twitter",
        "conversation": "8",
        "status": "pending",
        "at": "2017-10-31T22:00:00Z",
    },
    message(
        "8",
        conversation="8",
        channel="help",
        author="115712",
        sent_at="2017-10-31T21:40:00Z",
        text="line\nbreak, tab\t, 'quotes' \"double\" 😀",
        tags=["complaint"],
    ),
    message(
        "6",
        conversation="8",
        channel="help",
        author="help",
        direction="outbound",
        sent_at="2017-10-31T21:46:24.500000Z",
        in_reply_to="8",
        text="Sorry!",
        visibility="private",
        automated=True,
        url="https://t.example/6",
        edited_at="2017-10-31T21:50:00+02:00",
        deleted=True,
    ),
]


def export_text(store: Any) -> str:
    out = io.StringIO()
    export_jsonl(store, out)
    return out.getvalue()


def test_export_import_export_is_byte_for_byte_stable(tmp_path: Any) -> None:
    first = open_store(f"sqlite:///{tmp_path}/a.db")
    result = import_jsonl(first, lines(*FULL_SET))
    assert result.counts == {
        "message": 2,
        "conversation": 1,
        "status": 1,
        "stakeholder": 1,
        "channel": 1,
        "team_member": 1,
    }
    exported = export_text(first)
    second = open_store("memory:")
    import_jsonl(second, io.StringIO(exported))
    assert export_text(second) == exported
    # Canonical form: UTC with Z, microseconds kept, None fields left out.
    records = [json.loads(line) for line in exported.splitlines()]
    outbound = next(r for r in records if r.get("id") == "6")
    assert outbound["sent_at"] == "2017-10-31T21:46:24.500000Z"
    assert outbound["edited_at"] == "2017-10-31T19:50:00Z"
    assert [r["type"] for r in records] == [
        "channel",
        "team_member",
        "stakeholder",
        "conversation",
        "status",
        "message",
        "message",
    ]


def test_import_is_idempotent_last_write_wins() -> None:
    store = open_store("memory:")
    import_jsonl(store, lines(message("1", text="old"), message("2")))
    import_jsonl(store, lines(message("1", text="new")))
    assert store.counts()["messages"] == 2
    assert next(store.iter_messages()).text == "new"


def test_any_bad_line_writes_nothing_and_every_bad_line_is_reported() -> None:
    store = open_store("memory:")
    bad = io.StringIO(
        json.dumps(message("1"))
        + "\n"
        + "\n"
        + "{not json\n"
        + json.dumps(message("3", direction="sideways"))
        + "\n"
        + json.dumps(message("4", sent_at="2024-03-01T09:00:00"))
        + "\n"
        + json.dumps(message("5", sent_at=None))
        + "\n"
        + json.dumps(message("6", colour="red"))
        + "\n"
        + json.dumps({"type": "widget", "id": "7"})
        + "\n"
        + json.dumps(["a list"])
        + "\n"
        + json.dumps(message("10", tags="complaint"))
        + "\n"
    )
    with pytest.raises(InputError) as info:
        import_jsonl(store, bad, source="in.jsonl")
    got = [(e.line, e.field) for e in info.value.errors]
    assert got == [
        (3, None),
        (4, "direction"),
        (5, "sent_at"),
        (6, "sent_at"),
        (7, "colour"),
        (8, "type"),
        (9, None),
        (10, "tags"),
    ]
    assert "in.jsonl, line 4, field 'direction'" in str(info.value)
    assert "nothing was written" in str(info.value)
    assert store.counts()["messages"] == 0


def test_skip_invalid_imports_the_good_lines() -> None:
    store = open_store("memory:")
    result = import_jsonl(
        store, lines(message("1"), message("2", direction="up"), message("3")), skip_invalid=True
    )
    assert result.counts["message"] == 2
    assert [(e.line, e.field) for e in result.skipped] == [(2, "direction")]
    assert sorted(m.id for m in store.iter_messages()) == ["1", "3"]


@pytest.mark.parametrize("url", ["memory:", "sqlite:///:memory:"])
def test_conversations_are_derived_from_reply_chains(url: str) -> None:
    store = open_store(url)
    result = import_jsonl(
        store,
        lines(
            # a reply listed before its parent, chained through a message that names its conversation
            message("r2", conversation=None, in_reply_to="r1", sent_at="2024-03-01T09:02:00Z"),
            message("r1", conversation=None, in_reply_to="root", sent_at="2024-03-01T09:01:00Z"),
            message("root", conversation="thread-A"),
            # a chain whose root is absent from the input: the topmost present message names it
            message("x2", conversation=None, in_reply_to="x1", sent_at="2024-03-01T10:01:00Z"),
            message(
                "x1", conversation=None, in_reply_to="not-here", sent_at="2024-03-01T10:00:00Z"
            ),
            # a lone message is its own conversation
            message("solo", conversation=None),
        ),
    )
    convs = {c.id: sorted(m.id for m in c.messages) for c in store.iter_conversations()}
    assert convs == {"thread-A": ["r1", "r2", "root"], "x1": ["x1", "x2"], "solo": ["solo"]}
    assert result.derived_conversations == 3
    assert result.counts["message"] == 6


def test_reply_cycles_are_reported() -> None:
    store = open_store("memory:")
    with pytest.raises(InputError) as info:
        import_jsonl(
            store,
            lines(
                message("a", conversation=None, in_reply_to="b"),
                message("b", conversation=None, in_reply_to="a"),
            ),
        )
    assert {(e.line, e.field) for e in info.value.errors} == {
        (1, "in_reply_to"),
        (2, "in_reply_to"),
    }


def test_status_without_platform_takes_the_only_platform() -> None:
    store = open_store("memory:")
    import_jsonl(
        store,
        lines(
            message("1"),
            {
                "type": "status",
                "conversation": "c1",
                "status": "resolved",
                "at": "2024-03-02T00:00:00Z",
            },
        ),
    )
    (conv,) = store.iter_conversations()
    assert conv.status == "resolved"
    with pytest.raises(InputError, match="platform"):
        import_jsonl(
            open_store("memory:"),
            lines(
                message("1"),
                message("2", platform="reddit"),
                {
                    "type": "status",
                    "conversation": "c1",
                    "status": "resolved",
                    "at": "2024-03-02T00:00:00Z",
                },
            ),
        )


texts = st.text(
    st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"), max_size=40
)


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    text=texts,
    ident=texts.filter(bool),
    tags=st.lists(texts.filter(bool), max_size=3),
    when=st.datetimes(
        min_value=datetime(1971, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
    ),
)
def test_any_message_round_trips(text: str, ident: str, tags: list[str], when: datetime) -> None:
    store = open_store("sqlite:///:memory:")
    obj = message(
        ident, conversation=ident, author=ident, text=text, tags=tags, sent_at=when.isoformat()
    )
    import_jsonl(store, lines(obj))
    once = export_text(store)
    again = open_store("memory:")
    import_jsonl(again, io.StringIO(once))
    assert export_text(again) == once
    (m,) = again.iter_messages()
    assert (m.id, m.text, list(m.tags), m.sent_at) == (ident, text, tags, when)
