"""The core's storage limits (docs/limits.md) against a real server: what the core lets
through, PostgreSQL stores; what PostgreSQL would reject, the core reports by line and
field first."""

from __future__ import annotations

import io
import json
import random
import string
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from convokit_core import Batch, InputError, Message, StorageError, open_store
from convokit_core._io._jsonl import export_jsonl, import_jsonl
from convokit_core._limits import MAX_ID_BYTES, MAX_STRING_BYTES, MAX_TEXT_BYTES

_ALPHABET = string.ascii_letters + string.digits


def incompressible(n: int, seed: int) -> str:
    """``n`` random ASCII characters (PostgreSQL cannot compress them away)."""
    rng = random.Random(seed)
    return "".join(rng.choice(_ALPHABET) for _ in range(n))


def message(**fields: object) -> str:
    base: dict[str, object] = {
        "id": "m0",
        "platform": "web",
        "conversation": "c0",
        "author": "ana",
        "direction": "inbound",
        "sent_at": "2024-03-01T09:00:00Z",
    }
    return json.dumps({**base, **fields})


def test_values_at_every_limit_are_stored_and_exported_exactly(pg_url: str) -> None:
    at_limit = {
        "platform": incompressible(MAX_ID_BYTES, 1),
        "id": incompressible(MAX_ID_BYTES, 2),
        "conversation": incompressible(MAX_ID_BYTES, 3),
        "channel": incompressible(MAX_ID_BYTES, 4),
        "author": incompressible(MAX_ID_BYTES, 5),
        "in_reply_to": incompressible(MAX_ID_BYTES, 6),
        "tags": [incompressible(MAX_ID_BYTES, 7)],
        "url": incompressible(MAX_STRING_BYTES, 8),
        "text": incompressible(MAX_TEXT_BYTES, 9),
        "sent_at": "2999-12-31T23:59:59.999999Z",
    }
    multibyte = {"id": "é" * (MAX_ID_BYTES // 2), "text": "😀" * (MAX_TEXT_BYTES // 4)}
    text = message(**at_limit) + "\n" + message(**multibyte) + "\n"
    with open_store(pg_url) as store:
        result = import_jsonl(store, io.StringIO(text), source="limits.jsonl")
        assert result.counts["message"] == 2
        out = io.StringIO()
        export_jsonl(store, out)
    exported = {m["id"]: m for m in map(json.loads, out.getvalue().splitlines())}
    assert exported[at_limit["id"]]["platform"] == at_limit["platform"]
    assert exported[at_limit["id"]]["text"] == at_limit["text"]
    assert exported["é" * (MAX_ID_BYTES // 2)]["text"] == multibyte["text"]


def test_what_postgres_rejects_is_reported_by_the_core_before_the_store(pg_url: str) -> None:
    over = 1024  # three 1,024-byte identifiers exceed PostgreSQL's btree entry size
    lines = [
        message(),
        message(id="m1", text="a\x00b"),
        message(
            id=incompressible(over, 1),
            platform=incompressible(over, 2),
            conversation=incompressible(over, 3),
        ),
        message(id="m3", tags=["\x00"]),
    ]
    text = "\n".join(lines) + "\n"
    with open_store(pg_url) as store:
        with pytest.raises(InputError) as caught:
            import_jsonl(store, io.StringIO(text), source="bad.jsonl")
        assert [(e.line, e.field) for e in caught.value.errors] == [
            (2, "text"),
            (3, "platform"),
            (4, "tags"),
        ]
        assert list(store.iter_messages()) == []
        result = import_jsonl(store, io.StringIO(text), source="bad.jsonl", skip_invalid=True)
        assert result.counts["message"] == 1
        assert [m.id for m in store.iter_messages()] == ["m0"]


def test_postgres_itself_rejects_what_the_limits_keep_out(pg_url: str) -> None:
    """The measurement behind the identifier limit: the same values written straight to
    the store (bypassing the importer's checks) fail inside PostgreSQL."""
    over = 1024
    wide = Message(
        id=incompressible(over, 1),
        platform=incompressible(over, 2),
        conversation_id=incompressible(over, 3),
        author_id="ana",
        direction="inbound",
        sent_at=datetime(2024, 3, 1, tzinfo=UTC),
    )
    with open_store(pg_url) as store:
        with pytest.raises(StorageError, match=r"index row size|btree"):
            store.write(Batch(messages=[wide]))
        with pytest.raises(StorageError, match=r"NUL|0x00"):
            store.write(Batch(messages=[Message(
                id="n", platform="web", conversation_id="c", author_id="a",
                direction="inbound", sent_at=datetime(2024, 3, 1, tzinfo=UTC), text="a\x00b",
            )]))  # fmt: skip
        assert list(store.iter_messages()) == []


_any_text = st.text(
    alphabet=st.characters(blacklist_categories=()),  # includes NUL and lone surrogates
    max_size=12,
)
_id_text = st.one_of(
    _any_text.filter(bool),
    st.integers(min_value=1, max_value=1200).map(lambda n: "x" * n),
)


@settings(
    max_examples=20,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    rows=st.lists(
        st.fixed_dictionaries(
            {"id": _id_text, "platform": _id_text, "conversation": _id_text, "author": _id_text},
            optional={"text": _any_text, "tags": st.lists(_any_text, max_size=2), "url": _any_text},
        ),
        min_size=1,
        max_size=5,
    )
)
def test_fuzz_postgres_never_sees_a_value_it_rejects(
    pg_url: str, rows: list[dict[str, object]]
) -> None:
    lines = [
        json.dumps({**row, "direction": "inbound", "sent_at": "2024-03-01T09:00:00Z"})
        for row in rows
    ]
    with open_store(pg_url) as store:
        result = import_jsonl(
            store, io.StringIO("\n".join(lines) + "\n"), source="f.jsonl", skip_invalid=True
        )  # never a StorageError: what PostgreSQL rejects never gets past the core
        assert all(error.line is not None for error in result.skipped)
        assert result.counts["message"] + len(result.skipped) == len(rows)
        store.write(Batch())  # the store still works after the import
