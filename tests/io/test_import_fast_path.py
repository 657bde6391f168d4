"""The import's fast paths give what the full validation gives, or step aside.

``well_formed_message_row`` either returns exactly the row of the full way
(``record_type`` + ``message_values`` + the row conversion) or ``None``; ``read_jsonl``
decodes what ``json.loads`` decodes and reports the rest; the SQLite store's plain
``INSERT`` of message rows ends in the state the upsert gives. The block path:
``read_jsonl_blocks`` yields what ``read_jsonl`` yields, runs of flat objects gathered
into an ``ObjectBlock``; ``well_formed_message_rows`` is the rows of
``well_formed_message_row`` for every object, or steps aside; and an import through
blocks leaves the store, the result and the errors of an import line by line.
"""

from __future__ import annotations

import io
import json
import tempfile
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from convokit_core import InputError, open_store
from convokit_core._errors import InvalidRecord
from convokit_core._io._importer import ObjectBlock, _row, import_records
from convokit_core._io._jsonl import BLOCK_LINES, export_jsonl, read_jsonl, read_jsonl_blocks
from convokit_core._io._plugin import import_with
from convokit_core._io._records import (
    message_values,
    record_type,
    well_formed_message_row,
    well_formed_message_rows,
)
from convokit_core._io._source import ImportSource
from convokit_core._limits import MAX_TEXT_BYTES

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


# -- the block path ---------------------------------------------------------------------

SLOW = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def flattened(items: Any) -> list[tuple[int, Any]]:
    out: list[tuple[int, Any]] = []
    for number, obj in items:
        if type(obj) is ObjectBlock:
            out.extend(enumerate(obj, start=number))
        else:
            out.append((number, obj))
    return out


# -- rows a block at a time -------------------------------------------------------------

OBJECTS = st.builds(
    lambda changes, drop: {k: v for k, v in {**BASE, **changes}.items() if k not in drop},
    st.dictionaries(KEYS, ODD_VALUES, max_size=3),
    st.lists(KEYS, max_size=2),
)
#: Mostly well-formed: a block of them is taken whole often enough to be tested.
COMMON = st.builds(
    lambda id_, conv, text, reply, extra: {
        **BASE,
        "id": id_,
        "conversation": conv,
        "text": text,
        "in_reply_to": reply,
        **extra,
    },
    st.text("0123456789", min_size=1, max_size=12),
    st.text("abc", min_size=1, max_size=40),
    st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=30),
    st.none() | st.text("0123456789", min_size=1, max_size=12),
    st.fixed_dictionaries(
        {},
        optional={
            "type": st.just("message"),
            "tags": st.just([]),
            "url": st.none(),
            "edited_at": st.none(),
            "channel": st.none() | st.just("acme"),
            "visibility": st.sampled_from(["public", "private"]),
            "direction": st.sampled_from(["inbound", "outbound"]),
            "sent_at": st.sampled_from(
                ["2024-03-01T09:00:00.000001Z", "1900-01-01T00:00:00Z", "2024-03-01T09:00:00+00:00"]
            ),
            "automated": st.booleans(),
            "deleted": st.booleans(),
        },
    ),
)


@SLOW
@given(st.lists(OBJECTS | COMMON, max_size=6))
def test_block_rows_are_the_rows_or_step_aside(objs: list[Any]) -> None:
    rows = well_formed_message_rows(objs)
    one_by_one = [well_formed_message_row(o) for o in objs]
    if rows is not None:
        assert repr(rows) == repr(one_by_one)  # (types too: 1, not True)
        assert None not in one_by_one
    elif None not in one_by_one:
        # It steps aside only on the identifiers' summed maxima.
        columns = ("platform", "id", "conversation", "author", "channel", "in_reply_to")
        longest = sum(max((len(o.get(k) or "") for o in objs), default=0) for k in columns)
        assert longest > 128


@SLOW
@given(st.lists(COMMON, min_size=1, max_size=8))
def test_a_block_of_common_messages_is_taken_whole(objs: list[Any]) -> None:
    rows = well_formed_message_rows(objs)
    assert rows is not None
    assert repr(rows) == repr([well_formed_message_row(o) for o in objs])


def test_block_rows_edges() -> None:
    assert well_formed_message_rows([]) == []
    good = {**BASE, "text": "café ☕"}
    assert well_formed_message_rows([good, BASE]) == [
        well_formed_message_row(good),
        well_formed_message_row(BASE),
    ]
    for odd in (
        {**BASE, "text": "\ud800"},
        {**BASE, "direction": []},  # unhashable where a string belongs
        {**BASE, "visibility": {}},
        {**BASE, "tags": ["a"]},
        {**BASE, "url": "https://x"},
        {**BASE, "type": "status"},
        {**BASE, "sent_at": "2024-03-01T09:00:00+01:00"},
        {**BASE, "sent_at": "yesterday"},
        {**BASE, "id": "é"},
        {**BASE, "text": "x" * (MAX_TEXT_BYTES + 1)},
        {**BASE, "text": "é" * (MAX_TEXT_BYTES // 2 + 1)},
        {**BASE, "automated": 0},
        ["not", "a", "dict"],
    ):
        assert well_formed_message_rows([BASE, odd]) is None, odd
    near = {**BASE, "text": "é" * (MAX_TEXT_BYTES // 2)}  # at the limit, encoded: taken
    assert well_formed_message_rows([near]) == [well_formed_message_row(near)]


# -- the reader ---------------------------------------------------------------------------

MESSAGE_LINES = st.builds(json.dumps, COMMON) | st.builds(
    lambda o: json.dumps(o, ensure_ascii=False), COMMON
)
ODD_LINES = (
    st.sampled_from(
        [
            "",
            "   ",
            "\ufeff" + json.dumps(BASE),
            " " + json.dumps(BASE),
            json.dumps({**BASE, "tags": ["a"]}),
            json.dumps({**BASE, "tags": []}),
            json.dumps({**BASE, "n": 1}),
            '"a string"',
            "[]",
            "{",
            '{"text": "\udc80"}',
        ]
    )
    | RAW_LINES
)


@SLOW
@given(
    st.lists(MESSAGE_LINES | ODD_LINES, max_size=12),
    st.integers(1, 5),
    st.booleans(),
)
def test_read_jsonl_blocks_reads_what_read_jsonl_reads(
    lines: list[str], size: int, as_bytes: bool
) -> None:
    data: list[Any] = [line + "\n" for line in lines]
    if as_bytes:
        data = [line.encode("utf-8", "surrogateescape") for line in data]
    expected = _same(list(read_jsonl(data)))
    assert _same(flattened(read_jsonl_blocks(data, size=size))) == expected


def test_flat_lines_come_as_blocks() -> None:
    lines = [json.dumps({**BASE, "id": str(i), "tags": []}) + "\n" for i in range(10)]
    items = list(read_jsonl_blocks(lines, size=4))
    assert [(n, type(obj), len(obj)) for n, obj in items] == [
        (1, ObjectBlock, 4),
        (5, ObjectBlock, 4),
        (9, ObjectBlock, 2),
    ]
    lines[5] = "\n"  # a blank line: its block is read line by line, and skipped
    items = list(read_jsonl_blocks(lines, size=4))
    assert [n for n, obj in items if type(obj) is not ObjectBlock] == [5, 7, 8]
    assert BLOCK_LINES >= 64


def test_a_stream_that_fails_to_decode_names_the_same_line() -> None:
    good = "".join(json.dumps({**BASE, "id": str(i)}) + "\n" for i in range(300))
    data = good.encode() + b'{"id": "\xff"}\n' + good.encode()

    def run(reader: Any) -> tuple[list[tuple[int, Any]], str]:
        got: list[tuple[int, Any]] = []
        items = reader(io.TextIOWrapper(io.BytesIO(data), encoding="utf-8"))
        with pytest.raises(InputError) as caught:
            got.extend(items)
        return flattened(got), str(caught.value)

    lines_seen, message = run(read_jsonl)
    assert run(lambda s: read_jsonl_blocks(s, size=7)) == (lines_seen, message)
    assert "line" in message


# -- the import ---------------------------------------------------------------------------

IMPORT_LINES = (
    MESSAGE_LINES
    | st.builds(lambda o: json.dumps({k: v for k, v in o.items() if k != "conversation"}), COMMON)
    | st.sampled_from(
        [
            json.dumps(
                {"type": "status", "conversation": "a", "status": "closed", "at": BASE["sent_at"]}
            ),
            json.dumps(
                {"type": "conversation", "id": "a", "platform": "twitter", "status": "open"}
            ),
            json.dumps({**BASE, "direction": "sideways"}),
            json.dumps({**BASE, "id": "x" * 200}),
            "not json",
            "",
        ]
    )
)


def outcome(tmp: str, name: str, items: Any, skip: bool, batch: int) -> tuple[Any, ...]:
    store = open_store(f"sqlite:///{tmp}/{name}.db")
    try:
        result = import_records(store, items, source="in", skip_invalid=skip, batch_size=batch)
    except InputError as exc:
        return ("error", str(exc), export(store))
    else:
        summary = (result.counts, result.derived_conversations, [str(e) for e in result.skipped])
        return (*summary, export(store))
    finally:
        store.close()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(IMPORT_LINES, max_size=14),
    st.integers(1, 5),
    st.booleans(),
    st.integers(1, 6),
)
def test_an_import_through_blocks_is_the_import_line_by_line(
    lines: list[str], size: int, skip: bool, batch: int
) -> None:
    data = [line + "\n" for line in lines]
    with tempfile.TemporaryDirectory() as tmp:
        by_line = outcome(tmp, "lines", read_jsonl(data), skip, batch)
        by_block = outcome(tmp, "blocks", read_jsonl_blocks(data, size=size), skip, batch)
    assert by_block == by_line


def test_progress_counts_the_records_of_a_block(tmp_path: Any) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text("".join(json.dumps({**BASE, "id": str(i)}) + "\n" for i in range(2600)))
    told: list[int] = []
    store = open_store(f"sqlite:///{tmp_path}/s.db")
    result = import_with(store, ImportSource.of(str(path)), "jsonl", advance=told.append)
    assert result.counts["message"] == 2600
    assert all(n >= 1000 for n in told)
    assert 2600 - BLOCK_LINES - 1000 < sum(told) <= 2600
    store.close()
