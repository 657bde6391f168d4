from __future__ import annotations

import io
from pathlib import Path

import pytest

from convokit_core import ConfigError, InputError, open_store
from convokit_core._io._csv import import_csv, load_mapping, parse_mapping

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

# Written for these tests, in the shape of the twcs export (first column unnamed).
CSV = (
    ",tweet_id,author_id,inbound,created_at,text,response_tweet_id,in_response_to_tweet_id\n"
    '0,10,acme_help,False,Mon Mar 04 10:05:00 +0000 2024,"@501 Sorry, DM us",,11.0\n'
    "1,11,501,True,Mon Mar 04 10:00:00 +0000 2024,@acme_help my order never came,10,\n"
    '2,12,501,True,Mon Mar 04 10:07:00 +0000 2024,"@acme_help done, sent\nthe DM",,10.0\n'
    "3,20,777,True,Mon Mar 04 11:00:00 +0000 2024,@acme_help hello?,,\n"
)


def mapping() -> object:
    return load_mapping(EXAMPLES / "twcs-mapping.toml")


def test_example_mapping_imports_messages_and_derives_conversations() -> None:
    store = open_store("memory:")
    result = import_csv(store, io.StringIO(CSV), mapping(), source="t.csv")  # type: ignore[arg-type]
    assert result.counts["message"] == 4
    assert result.derived_conversations == 2
    convs = {
        c.id: [(m.id, m.direction.value) for m in c.messages] for c in store.iter_conversations()
    }
    assert convs == {
        "11": [("11", "inbound"), ("10", "outbound"), ("12", "inbound")],
        "20": [("20", "inbound")],
    }
    twelve = next(m for m in store.iter_messages() if m.id == "12")
    assert twelve.text == "@acme_help done, sent\nthe DM"
    assert twelve.in_reply_to == "10"
    assert twelve.sent_at.isoformat() == "2024-03-04T10:07:00+00:00"


def test_malformed_rows_are_named_by_line_and_nothing_is_written() -> None:
    broken = (
        CSV
        + '4,30,888,True,Mon Mar 04 12:00:00 +0000 2024,"short row"\n5,31,888,Maybe,Mon Mar 04 12:00:00 +0000 2024,x,,\n'
    )
    store = open_store("memory:")
    with pytest.raises(InputError) as info:
        import_csv(store, io.StringIO(broken), mapping(), source="t.csv")  # type: ignore[arg-type]
    assert [(e.line, e.field) for e in info.value.errors] == [(7, None), (8, "inbound")]
    assert "expected 8 columns, found 6" in str(info.value)
    assert store.counts()["messages"] == 0
    result = import_csv(store, io.StringIO(broken), mapping(), source="t.csv", skip_invalid=True)  # type: ignore[arg-type]
    assert result.counts["message"] == 4
    assert len(result.skipped) == 2


def test_mapping_errors_name_file_line_and_key(tmp_path: Path) -> None:
    path = tmp_path / "m.toml"
    path.write_text('platform = "x"\n\n[fields]\nid = "a"\nauthr = "b"\n', encoding="utf-8")
    with pytest.raises(
        ConfigError,
        match=r"m\.toml:5 \(fields\.authr\): unknown message field 'authr'; did you mean 'author'",
    ):
        load_mapping(path)
    with pytest.raises(ConfigError, match="exactly one of 'column' or 'value'"):
        parse_mapping({"fields": {"id": {"format": "%Y"}}})
    with pytest.raises(ConfigError, match="fields"):
        parse_mapping({"platform": "x"})
    with pytest.raises(ConfigError, match="not found"):
        load_mapping(tmp_path / "nope.toml")


def test_columns_missing_from_the_header_are_a_config_error() -> None:
    with pytest.raises(ConfigError, match="'created_at'"):
        import_csv(
            open_store("memory:"),
            io.StringIO("tweet_id,author_id\n1,2\n"),
            mapping(),
            source="x.csv",
        )  # type: ignore[arg-type]


def test_real_twcs_sample(twcs_csv: Path) -> None:
    """The real sample: 5,000 rows, one of them broken across three physical lines."""
    store = open_store("sqlite:///:memory:")
    with pytest.raises(InputError), twcs_csv.open(encoding="utf-8", newline="") as f:
        import_csv(store, f, mapping(), source=str(twcs_csv))  # type: ignore[arg-type]
    assert store.counts()["messages"] == 0
    with twcs_csv.open(encoding="utf-8", newline="") as f:
        result = import_csv(store, f, mapping(), source=str(twcs_csv), skip_invalid=True)  # type: ignore[arg-type]
    assert [e.line for e in result.skipped] == [2589, 2591]
    assert result.counts["message"] == 4999
    counts = store.counts()
    assert counts["messages"] == 4999
    assert counts["conversations"] == result.derived_conversations == 1312
    directions = dict.fromkeys(("inbound", "outbound"), 0)
    for m in store.iter_messages():
        directions[m.direction.value] += 1
    # Checked independently with the csv module: 2,777 customer tweets, 2,222 brand replies.
    assert directions == {"inbound": 2777, "outbound": 2222}
