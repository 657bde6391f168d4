"""Hostile import input: one clear error per bad line (exit 2), never a traceback, nothing
half-written; under ``--skip-invalid`` the bad line is skipped and reported."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from convokit_core import InputError, InvalidRecord, open_store
from convokit_core._cli import cli
from convokit_core._io._jsonl import import_jsonl, read_jsonl
from convokit_core._limits import MAX_ID_BYTES, MAX_STRING_BYTES, MAX_TEXT_BYTES

GOOD = {
    "id": "m0",
    "platform": "twitter",
    "conversation": "c1",
    "author": "ana",
    "direction": "inbound",
    "sent_at": "2024-03-01T09:00:00Z",
}


def line(**changes: Any) -> str:
    obj = {**GOOD, "id": "m1", **changes}
    return json.dumps({k: v for k, v in obj.items() if v is not None})


def raw(text: str) -> str:
    """A message line with ``text`` spliced in as raw JSON for the ``text`` field."""
    return json.dumps({**GOOD, "id": "m1"})[:-1] + f', "text": {text}}}'


#: (name, the second line of the input, the field named in the error or None, a phrase)
HOSTILE: list[tuple[str, str, str | None, str]] = [
    ("huge integer", raw("1" + "0" * 5000), None, "4300 digits"),
    ("deep nesting", raw("[" * 1000 + "]" * 1000), None, "nested too deeply"),
    ("nesting the parser takes", raw("[" * 200 + "]" * 200), "text", "expected a string"),
    ("year 1 with offset", line(sent_at="0001-01-01T00:00:00+01:00"), "sent_at", "out of range"),
    ("year 9999 with offset", line(sent_at="9999-12-31T23:59:59-01:00"), "sent_at", "range"),
    ("before 1900", line(sent_at="1899-12-31T23:59:59Z"), "sent_at", "out of range"),
    ("year 3000", line(sent_at="3000-01-01T00:00:00Z"), "sent_at", "out of range"),
    ("edited_at in year 1", line(edited_at="0001-01-01T00:00:00+01:00"), "edited_at", "range"),
    ("lone surrogate in text", raw('"\\ud800"'), "text", "lone surrogate U+D800"),
    ("lone surrogate in id", line(id="\ud800x"), "id", "lone surrogate"),
    ("lone surrogate in a tag", line(tags=["ok", "\udfff"]), "tags", "lone surrogate"),
    ("NUL in text", line(text="a\x00b"), "text", "NUL"),
    ("NUL in platform", line(platform="x\x00"), "platform", "NUL"),
    ("NUL in author", line(author="\x00"), "author", "NUL"),
    ("id over the limit", line(id="x" * (MAX_ID_BYTES + 1)), "id", "limit is 512"),
    ("multibyte id over the limit", line(id="é" * 257), "id", "514 UTF-8 bytes"),
    ("conversation over the limit", line(conversation="c" * 9000), "conversation", "limit"),
    ("in_reply_to over the limit", line(in_reply_to="r" * 600), "in_reply_to", "limit"),
    ("url over the limit", line(url="u" * (MAX_STRING_BYTES + 1)), "url", "limit"),
    ("text over the limit", line(text="t" * (MAX_TEXT_BYTES + 1)), "text", "limit"),
    ("huge string in a wrong type", line(automated="y" * 100_000), "automated", "true or false"),
    ("timestamp as a number", line(sent_at=1e308), "sent_at", "ISO 8601"),
]


def invoke(args: list[str], stdin: bytes | None = None) -> Result:
    result = CliRunner().invoke(cli, args, input=stdin)
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def export(store: str) -> str:
    result = invoke(["--store", store, "export"])
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture
def store(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    source = tmp_path / "seed.jsonl"
    source.write_text(json.dumps({**GOOD, "id": "seed"}) + "\n", encoding="utf-8")
    assert invoke(["--store", url, "import", str(source)]).exit_code == 0
    return url


@pytest.mark.parametrize(("name", "bad", "field", "phrase"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_a_hostile_line_is_one_clear_error_and_nothing_is_written(
    tmp_path: Path, store: str, name: str, bad: str, field: str | None, phrase: str
) -> None:
    path = tmp_path / "in.jsonl"
    path.write_bytes((json.dumps(GOOD) + "\n" + bad + "\n").encode("utf-8", "surrogatepass"))
    before = export(store)

    result = invoke(["--store", store, "import", str(path)])

    assert result.exit_code == 2
    where = f"{path}, line 2" + (f", field {field!r}" if field else "")
    assert where in result.output
    assert phrase in result.output
    assert len(result.output) < 2000  # the bad value is not echoed in full
    assert export(store) == before


@pytest.mark.parametrize(("name", "bad", "field", "phrase"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_skip_invalid_skips_and_reports_the_hostile_line(
    tmp_path: Path, store: str, name: str, bad: str, field: str | None, phrase: str
) -> None:
    path = tmp_path / "in.jsonl"
    path.write_bytes((json.dumps(GOOD) + "\n" + bad + "\n").encode("utf-8", "surrogatepass"))

    result = invoke(["--store", store, "import", "--skip-invalid", str(path)])

    assert result.exit_code == 0, result.output
    assert f"skipped: {path}, line 2" in result.output
    assert "Imported 1 message" in result.output
    exported = [json.loads(x) for x in export(store).splitlines()]
    assert sorted(m["id"] for m in exported) == ["m0", "seed"]


def test_an_invalid_utf8_byte_is_reported_on_its_line(tmp_path: Path, store: str) -> None:
    path = tmp_path / "in.jsonl"
    good = json.dumps(GOOD).encode()
    path.write_bytes(good + b"\n" + b'{"id": "m1", "text": "caf\xe9"}\n' + good + b"\n")
    before = export(store)

    result = invoke(["--store", store, "import", str(path)])
    assert result.exit_code == 2
    assert f"{path}, line 2: not UTF-8 text: invalid byte 0xE9" in result.output
    assert export(store) == before

    result = invoke(["--store", store, "import", "--skip-invalid", str(path)])
    assert result.exit_code == 0
    assert f"skipped: {path}, line 2: not UTF-8" in result.output
    assert "Imported 2 messages" in result.output


def test_invalid_utf8_on_stdin_is_reported_on_its_line(store: str) -> None:
    data = json.dumps(GOOD).encode() + b"\n\xff\xfe\n"
    result = invoke(["--store", store, "import", "--skip-invalid", "-"], stdin=data)
    assert result.exit_code == 0
    assert (
        "skipped: <stdin>, line 2: not UTF-8 text: invalid byte 0xFF at column 1" in result.output
    )


def test_a_byte_order_mark_on_the_first_line_is_accepted(tmp_path: Path, store: str) -> None:
    path = tmp_path / "in.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(GOOD).encode() + b"\n")
    result = invoke(["--store", store, "import", str(path)])
    assert result.exit_code == 0, result.output


def test_the_api_reports_bytes_lines_that_are_not_utf8() -> None:
    items = list(read_jsonl([json.dumps(GOOD).encode(), b'{"id": "\xc3"}']))
    assert items[0][1]["id"] == "m0"
    number, error = items[1]
    assert number == 2
    assert isinstance(error, InvalidRecord)
    assert "not UTF-8 text" in error.reason


def test_a_strict_text_stream_that_fails_to_decode_names_the_line() -> None:
    data = (json.dumps(GOOD) + "\n").encode() + b"\xff\n"
    stream = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8")
    with open_store("memory:") as store, pytest.raises(InputError) as caught:
        import_jsonl(store, stream, source="in.jsonl", skip_invalid=True)
    assert "in.jsonl, line 1: not UTF-8 text (invalid start byte) at or after this line" in str(
        caught.value
    )


def test_the_api_raises_input_error_for_limits_on_every_backend() -> None:
    text = "\n".join([json.dumps(GOOD), line(text="a\x00"), line(id="i" * 600)])
    with open_store("memory:") as store:
        with pytest.raises(InputError) as caught:
            import_jsonl(store, io.StringIO(text), source="in.jsonl")
        assert [(e.line, e.field) for e in caught.value.errors] == [(2, "text"), (3, "id")]
        assert list(store.iter_messages()) == []


@pytest.mark.parametrize(
    ("record", "field"),
    [
        ({"type": "stakeholder", "id": "s", "display_name": "\x00"}, "display_name"),
        ({"type": "stakeholder", "id": "s", "identities": {"x": "\ud800"}}, "identities.x"),
        ({"type": "team_member", "id": "t", "active_from": "0001-01-01T00:00:00+01:00"}, None),
        ({"type": "team_member", "id": "t" * 513}, "id"),
        ({"type": "channel", "id": "c", "platform": "p", "handle": "h" * 9000}, "handle"),
        (
            {"type": "channel", "id": "c", "platform": "p", "created_at": "9999-12-31T23:00-01:00"},
            None,
        ),
        (
            {"type": "status", "conversation": "c1", "status": "open", "at": "1000-01-01T00:00Z"},
            "at",
        ),
        ({"type": "conversation", "id": "c", "platform": "p", "owner": "\x00"}, "owner"),
        ({"type": "conversation", "id": "c", "platform": "p", "status": [1, [2]]}, "status"),
        ({"type": "message\x00"}, "type"),
        ({"id": "m", "x" * 10_000: 1}, None),
    ],
)
def test_every_record_type_checks_the_limits(record: dict[str, Any], field: str | None) -> None:
    text = json.dumps(GOOD) + "\n" + json.dumps(record) + "\n"
    with open_store("memory:") as store, pytest.raises(InputError) as caught:
        import_jsonl(store, io.StringIO(text), source="in.jsonl")
    (error,) = caught.value.errors
    assert error.line == 2
    if field is not None:
        assert error.field == field
    assert len(str(error)) < 400


# -- CSV through a mapping ---------------------------------------------------------------

MAPPING = """\
platform = "web"

[fields]
id = "id"
conversation = "thread"
author = "who"
direction = { column = "dir", values = { "in" = "inbound", "out" = "outbound" } }
sent_at = { column = "when", format = "%Y-%m-%d %H:%M:%S %z" }
text = "body"
"""
HEADER = b"id,thread,who,dir,when,body\n"
GOOD_ROW = b"r0,t1,ana,in,2024-03-01 09:00:00 +0000,hello\n"


@pytest.mark.parametrize(
    ("row", "column", "phrase"),
    [
        (b"r1,t1,ana,in,2024-03-01 09:00:00 +0000,caf\xe9\n", "body", "invalid byte 0xE9"),
        (b"r1,t\xff,ana,in,2024-03-01 09:00:00 +0000,x\n", "thread", "invalid byte 0xFF"),
        (b"r1,t1,ana,in,0001-01-01 00:00:00 +0100,x\n", "when", "range"),
        (b"r1,t1,ana,in,9999-12-31 23:59:59 -0100,x\n", "when", "range"),
        (b"r1,t1,ana,in,1850-01-01 00:00:00 +0000,x\n", "when", "out of range"),
        (b"r1,t1,ana,in,2024-03-01 09:00:00 +0000,a\x00b\n", None, "NUL"),
        (b"r" + b"1" * 600 + b",t1,ana,in,2024-03-01 09:00:00 +0000,x\n", "id", "limit is 512"),
    ],
)
def test_a_hostile_csv_row_is_named_by_line_and_column(
    tmp_path: Path, store: str, row: bytes, column: str | None, phrase: str
) -> None:
    (tmp_path / "map.toml").write_text(MAPPING, encoding="utf-8")
    path = tmp_path / "in.csv"
    path.write_bytes(HEADER + GOOD_ROW + row)
    before = export(store)
    args = ["--store", store, "import", str(path), "--mapping", str(tmp_path / "map.toml")]

    result = invoke(args)
    assert result.exit_code == 2, result.output
    assert f"{path}, line 3" in result.output
    if column is not None:
        assert f"field {column!r}" in result.output
    assert phrase in result.output
    assert export(store) == before

    result = invoke([*args, "--skip-invalid"])
    assert result.exit_code == 0, result.output
    assert f"skipped: {path}, line 3" in result.output
    assert "Imported 1 message" in result.output


def test_an_undecodable_csv_header_is_a_config_error(tmp_path: Path, store: str) -> None:
    (tmp_path / "map.toml").write_text(MAPPING, encoding="utf-8")
    path = tmp_path / "in.csv"
    path.write_bytes(b"id,thr\xffead,who,dir,when,body\n" + GOOD_ROW)
    args = ["--store", store, "import", str(path), "--mapping", str(tmp_path / "map.toml")]
    result = invoke(args)
    assert result.exit_code == 2
    assert f"{path}, line 1: cannot read the CSV header: not UTF-8 text" in result.output


@pytest.mark.parametrize(
    "mapping",
    [
        MAPPING + "x = 1" + "0" * 5000 + "\n",
        "a = " + "[" * 2000 + "]" * 2000 + "\n",
        MAPPING.replace('"%Y-%m-%d %H:%M:%S %z"', '"%"'),
    ],
    ids=["huge integer", "deep nesting", "bad format"],
)
def test_a_hostile_mapping_file_is_a_config_error(tmp_path: Path, store: str, mapping: str) -> None:
    (tmp_path / "map.toml").write_text(mapping, encoding="utf-8")
    path = tmp_path / "in.csv"
    path.write_bytes(HEADER + GOOD_ROW)
    args = ["--store", store, "import", str(path), "--mapping", str(tmp_path / "map.toml")]
    result = invoke(args)
    assert result.exit_code == 2
    assert "Error:" in result.output


def test_a_strict_csv_text_stream_that_fails_to_decode_names_the_line() -> None:
    from convokit_core._io._csv import import_csv, parse_mapping

    mapping = parse_mapping({"platform": "web", "fields": {"id": "id", "author": "who",
                             "direction": {"value": "inbound"}, "sent_at": "when",
                             "conversation": "id"}})  # fmt: skip
    data = b"id,who,when\nr1,ana,2024-03-01T09:00:00Z\nr2,\xff,2024-03-01T09:00:00Z\n"
    stream = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8", newline="")
    with open_store("memory:") as store, pytest.raises(InputError) as caught:
        import_csv(store, stream, mapping, source="in.csv", skip_invalid=True)
    assert "in.csv, line 1: not UTF-8 text (invalid start byte) at or after" in str(caught.value)
    assert list(store.iter_messages()) == []


def test_a_hostile_csv_header_is_shown_escaped_and_short(tmp_path: Path, store: str) -> None:
    (tmp_path / "map.toml").write_text(MAPPING, encoding="utf-8")
    path = tmp_path / "in.csv"
    columns = [b"\x1b]0;owned\x07", "\u202e".encode()] + [b"c%d" % i for i in range(500)]
    path.write_bytes(b",".join(columns) + b"\n")
    args = ["--store", store, "import", str(path), "--mapping", str(tmp_path / "map.toml")]
    result = invoke(args)
    assert result.exit_code == 2
    assert "\x1b" not in result.output
    assert "\u202e" not in result.output
    assert "\\x1b]0;owned\\x07" in result.output
    assert "(502 columns)" in result.output
