"""The import's fast paths give what the full validation gives, or step aside.

``well_formed_message_row`` either returns exactly the row of the full way
(``record_type`` + ``message_values`` + the row conversion) or ``None``; ``read_jsonl``
decodes what ``json.loads`` decodes and reports the rest; the SQLite store's plain
``INSERT`` of message rows ends in the state the upsert gives.
"""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from convokit_core import open_store
from convokit_core._errors import InvalidRecord
from convokit_core._io._importer import _row, import_records
from convokit_core._io._jsonl import export_jsonl, read_jsonl
from convokit_core._io._records import message_values, record_type, well_formed_message_row

BASE: dict[str, Any] = {
    "id": "1",
    "platform": "twitter",
    "conversation": "c1",
    "channel": "acme",
    "author": "ana",
    "direction": "inbound",
    "sent_at": "2024-03-01T09:00:00Z",
    "in_reply_to": "0",
    "text": "hello",
    "visibility": "public",
    "automated": False,
    "deleted": False,
}

ODD_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**20), 10**20),
    st.floats(allow_nan=False),
    st.sampled_from(
        [
            "",
            "x",
            "é",
            "a\x00b",
            "\ud800",
            "x" * 129,
            "é" * 200,
            "x" * 600,
            "inbound",
            "outbound",
            "public",
            "private",
            "message",
            "status",
            "2024-03-01T09:00:00Z",
            "2024-03-01T09:00:00+02:00",
            "2024-03-01T09:00:00-00:00",
            "2024-03-01T09:00:00",
            "2024-03-01T09:00:00.123456Z",
            "2024-03-01",
            "1899-12-31T23:59:59Z",
            "1900-01-01T00:00:00Z",
            "2999-12-31T23:59:59.999999Z",
            "3000-01-01T00:00:00Z",
            "0001-01-01T00:00:00+01:00",
            "9999-12-31T23:59:59-01:00",
            "2024-03-01T09:00:00.1234567890123456789012345678901234567890123456Z",
        ]
    ),
    st.text(max_size=20),
    st.lists(st.text(max_size=3), max_size=3),
    st.dictionaries(st.text(max_size=3), st.text(max_size=3), max_size=2),
)
KEYS = st.sampled_from([*BASE, "type", "tags", "url", "edited_at", "unknown", "Text", "sent_at "])


def full_row(obj: Any) -> tuple[Any, ...] | None:
    """The row of the full validation, or ``None`` for what it does not write as a row
    (an error, another record type, a message without conversation)."""
    try:
        if record_type(obj) != "message" or not obj.get("conversation"):
            return None
        return _row(message_values(obj))
    except InvalidRecord:
        return None


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(KEYS, ODD_VALUES, max_size=4), st.lists(KEYS, max_size=2))
def test_fast_row_is_the_full_row_or_steps_aside(changes: dict[str, Any], drop: list[str]) -> None:
    obj = {**BASE, **changes}
    for key in drop:
        obj.pop(key, None)
    row = well_formed_message_row(obj)
    if row is not None:
        assert row == full_row(obj)


def test_fast_row_takes_the_common_shapes() -> None:
    assert well_formed_message_row(BASE) == full_row(BASE)
    minimal = {k: BASE[k] for k in ("id", "platform", "conversation", "author", "direction")}
    minimal["sent_at"] = "2024-03-01T09:00:00.5Z"
    assert well_formed_message_row(minimal) == full_row(minimal)
    assert well_formed_message_row({**BASE, "text": "café ☕", "type": "message"}) is not None
    for odd in (
        {**BASE, "text": "\ud800"},
        {**BASE, "id": 1},
        {**BASE, "sent_at": "2024-03-01T09:00:00+01:00"},
        {**BASE, "tags": ["a"]},
        {**BASE, "conversation": ""},
        {**BASE, "extra": 1},
        [BASE],
    ):
        assert well_formed_message_row(odd) is None


def reference_read(text: str) -> list[tuple[int, Any]]:
    out: list[tuple[int, Any]] = []
    for number, line in enumerate(io.StringIO(text), start=1):
        if not line.strip():
            continue
        try:
            out.append((number, json.loads(line)))
        except (ValueError, RecursionError):
            out.append((number, "error"))
    return out


LINE_PARTS = st.sampled_from(
    ['{"a":1}', '{"a":"é"}', "{", "}", "[1]", " ", "\t", "\r", "\u3000", '{"b":[2]}', "x", ","]
)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.lists(LINE_PARTS, max_size=4).map("".join), max_size=6))
def test_read_jsonl_decodes_as_json_loads(lines: list[str]) -> None:
    text = "".join(line + "\n" for line in lines)
    got = [
        (n, "error" if isinstance(obj, InvalidRecord) else obj)
        for n, obj in read_jsonl(io.StringIO(text))
    ]
    assert got == reference_read(text)


def message(id_: str, conversation: str, text: str) -> dict[str, Any]:
    return {**BASE, "id": id_, "conversation": conversation, "text": text, "in_reply_to": None}


def export(store: Any) -> str:
    out = io.StringIO()
    export_jsonl(store, out)
    return out.getvalue()


def test_plain_insert_then_a_repeated_id_ends_as_the_upsert(tmp_path: Any) -> None:
    """Repeats within a batch, across batches and of stored rows: last write wins."""
    first = [message(str(i), f"c{i % 3}", f"first {i}") for i in range(10)]
    again = [message(str(i), f"d{i % 2}", f"again {i}") for i in range(5, 15)]
    items = [*first, message("2", "c9", "within"), *again]
    expected: dict[str, dict[str, Any]] = {}
    for obj in items:
        expected[obj["id"]] = obj
    for batch_size in (1, 4, 7, 100):
        store = open_store(f"sqlite:///{tmp_path}/s{batch_size}.db")
        import_records(store, enumerate(items, start=1), source="x", batch_size=batch_size)
        assert store.counts()["messages"] == 15
        stored = {m.id: (m.conversation_id, m.text) for m in store.iter_messages()}
        assert stored == {k: (v["conversation"], v["text"]) for k, v in expected.items()}
        before = export(store)
        import_records(store, enumerate(items, start=1), source="x", batch_size=batch_size)
        assert export(store) == before
        store.close()


# -- the fast decoder (orjson) reads exactly what json reads ---------------------------

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()  # past 64 bits too: orjson refuses those, json reads them
    | st.integers(min_value=-(2**64), max_value=2**64)
    | st.floats()  # NaN and infinities written as json writes them
    | st.text(),  # lone surrogates too: escaped by json.dumps
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=8,
)
RAW_LINES = st.sampled_from(
    [
        '{"a": 1, "a": 2}',  # a repeated key: the last wins in both
        '{"a": 1e400}',  # out of range: json gives inf
        '{"a": -0}',
        '{"a": 0.1e-400}',
        '{"a": 1.0000000000000000000000001}',
        '{"a": 123456789012345678901234567890}',
        '{"a": NaN}',
        '{"a": "\\ud800"}',
        '{"a": "\\u0000"}',
        '{"a": "raw \x01 control"}',
        '{"a": 1} ',
        '{"a": 1}\r',
        '{"a": 1} {"b": 2}',
        '{"a": 01}',
        '{"a": [1, 2,]}',
        '{"a": "' + "x" * 5000 + '"}',
        "{" * 2000 + "}" * 2000,
        '{"a": ' + "[" * 1100 + "]" * 1100 + "}",
        '{"a": 1' + "0" * 5000 + "}",
    ]
)


def _same(items: list[tuple[int, Any]]) -> list[tuple[int, str]]:
    """Comparable form: NaN is not equal to itself, and errors compare by message."""
    return [
        (n, f"error: {obj}" if isinstance(obj, InvalidRecord) else repr(obj)) for n, obj in items
    ]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.dictionaries(st.text(max_size=6), JSON_VALUES, max_size=4).map(lambda d: json.dumps(d))
        | st.dictionaries(st.text(max_size=6), JSON_VALUES, max_size=4).map(
            lambda d: json.dumps(d, ensure_ascii=False)
        )
        | RAW_LINES,
        min_size=1,
        max_size=5,
    )
)
def test_the_fast_decoder_reads_what_json_reads(lines: list[str]) -> None:
    from convokit_core._io import _jsonl

    if _jsonl.FAST_LOADS is None:  # pragma: no cover - orjson is a dependency
        pytest.fail("orjson is not installed")
    text = "".join(line + "\n" for line in lines)
    fast = _same(list(read_jsonl(io.StringIO(text))))
    saved = _jsonl.FAST_LOADS
    _jsonl.FAST_LOADS = None
    try:
        slow = _same(list(read_jsonl(io.StringIO(text))))
    finally:
        _jsonl.FAST_LOADS = saved
    assert fast == slow
