"""Parquet interchange: export → import → export is exact; bad datasets write nothing."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from test_jsonl import FULL_SET, lines, message

from convokit_core import (
    DATASET_SCHEMAS,
    ConfigError,
    InputError,
    export_parquet,
    import_jsonl,
    import_parquet,
    open_store,
)
from convokit_core._cli import cli
from convokit_core._io import _parquet
from convokit_core._io._jsonl import export_jsonl
from convokit_core.testing import HistorySpec, generate_history

DOCS = Path(__file__).resolve().parents[2] / "docs" / "parquet.md"


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def jsonl_of(store: Any) -> str:
    out = io.StringIO()
    export_jsonl(store, out)
    return out.getvalue()


def tables_of(directory: Path) -> dict[str, pa.Table]:
    manifest = json.loads((directory / "convokit-dataset.json").read_text())
    return {
        name: pa.concat_tables([pq.read_table(directory / f) for f in info["files"]])
        for name, info in manifest["tables"].items()
    }


def files_of(directory: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(directory)): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def full_store(tmp_path: Path) -> Any:
    store = open_store(f"sqlite:///{tmp_path}/full.db")
    import_jsonl(store, lines(*FULL_SET))
    yield store
    store.close()


def test_export_import_export_gives_the_same_data_and_bytes(
    full_store: Any, tmp_path: Path
) -> None:
    rows = export_parquet(full_store, tmp_path / "one")
    assert rows == {
        "channels": 1,
        "team_members": 1,
        "stakeholders": 1,
        "conversations": 1,
        "status_changes": 1,
        "messages": 2,
    }
    for backend in ("memory:", f"sqlite:///{tmp_path}/two.db"):
        second = open_store(backend)
        result = import_parquet(second, tmp_path / "one")
        assert result.total == 7
        target = tmp_path / f"again-{len(backend)}"
        export_parquet(second, target)
        assert files_of(target) == files_of(tmp_path / "one")
        assert jsonl_of(second) == jsonl_of(full_store)
        second.close()


def test_the_schema_is_the_documented_one(full_store: Any, tmp_path: Path) -> None:
    export_parquet(full_store, tmp_path / "ds")
    tables = tables_of(tmp_path / "ds")
    docs = DOCS.read_text(encoding="utf-8")
    for name, schema in DATASET_SCHEMAS.items():
        assert tables[name].schema.equals(schema), name
        assert f"### `{name}`" in docs, f"docs/parquet.md does not document {name}"
        for field in schema:
            assert re.search(rf"\| `{field.name}` \|", docs), f"{name}.{field.name} undocumented"
    messages = tables["messages"].to_pylist()
    outbound = next(m for m in messages if m["id"] == "6")
    assert outbound["sent_at"].isoformat() == "2017-10-31T21:46:24.500000+00:00"
    assert outbound["tags"] == []
    assert outbound["automated"]
    assert outbound["deleted"]
    assert tables["stakeholders"].to_pylist()[0]["identities"] == [
        {"platform": "twitter", "id": "115712"}
    ]


def test_derived_conversations_stay_derived(tmp_path: Path) -> None:
    store = open_store("memory:")
    import_jsonl(store, lines(message("1"), message("2", direction="outbound", in_reply_to="1")))
    assert list(store.iter_conversation_records()) == []
    export_parquet(store, tmp_path / "ds")
    assert tables_of(tmp_path / "ds")["conversations"].num_rows == 0
    again = open_store("memory:")
    import_parquet(again, tmp_path / "ds")
    assert list(again.iter_conversation_records()) == []
    assert [c.id for c in again.iter_conversations()] == ["c1"]


def test_a_conversation_never_spans_two_message_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_parquet, "FILE_ROWS", 40)
    monkeypatch.setattr(_parquet, "ROW_GROUP_ROWS", 16)
    store = open_store("memory:")
    with store.transaction() as tx:
        for batch in generate_history(spec=HistorySpec(conversations=60, seed=7)):
            tx.write(batch)
    export_parquet(store, tmp_path / "ds")
    manifest = json.loads((tmp_path / "ds" / "convokit-dataset.json").read_text())
    files = manifest["tables"]["messages"]["files"]
    assert len(files) > 3
    seen: dict[tuple[str, str], str] = {}
    order: list[tuple[str, str, Any, str]] = []
    for name in files:
        table = pq.read_table(tmp_path / "ds" / name)
        assert table.num_rows >= 40 or name == files[-1]
        for row in table.select(["platform", "conversation_id", "sent_at", "id"]).to_pylist():
            key = (row["platform"], row["conversation_id"])
            assert seen.setdefault(key, name) == name, f"{key} spans two files"
            order.append((row["platform"], row["conversation_id"], row["sent_at"], row["id"]))
    assert order == sorted(order)
    assert len(order) == store.counts()["messages"]
    again = open_store("memory:")
    import_parquet(again, tmp_path / "ds")
    assert jsonl_of(again) == jsonl_of(store)


def test_cli_round_trip_and_a_non_empty_directory_is_refused(
    full_store: Any, tmp_path: Path
) -> None:
    url = full_store.url
    (tmp_path / "empty").mkdir()
    code, _, err = run("--store", url, "export", "--format", "parquet", "-o", "empty")
    assert code == 0, err
    assert "Exported 7 records to empty" in err
    code, _, err = run("--store", url, "export", "--format", "parquet", "-o", "empty")
    assert code == 2
    assert "empty: the directory is not empty" in err
    assert "Traceback" not in err
    code, _, err = run("--store", url, "export", "--format", "parquet")
    assert code == 2
    assert "give -o DIR" in err
    # the format is recognised from the manifest
    code, out, err = run("--store", "sqlite:///copy.db", "import", "empty")
    assert code == 0, err
    assert "Imported 2 messages, 1 conversation" in out
    with open_store("sqlite:///copy.db") as copy:
        assert jsonl_of(copy) == jsonl_of(full_store)


def test_an_interrupted_export_leaves_nothing(
    full_store: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = _parquet._rows

    def failing(store: Any, table: str) -> Any:
        if table == "messages":
            raise KeyboardInterrupt
        return real(store, table)

    monkeypatch.setattr(_parquet, "_rows", failing)
    with pytest.raises(KeyboardInterrupt):
        export_parquet(full_store, tmp_path / "ds")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["full.db", "full.db-shm", "full.db-wal"]


@pytest.fixture
def dataset(full_store: Any, tmp_path: Path) -> Path:
    export_parquet(full_store, tmp_path / "ds")
    return tmp_path / "ds"


def _rewrite(path: Path, table: pa.Table) -> None:
    pq.write_table(table, path)


def _expect_refused(directory: Path, *needles: str) -> None:
    store = open_store("memory:")
    with pytest.raises((ConfigError, InputError)) as info:
        import_parquet(store, directory)
    for needle in needles:
        assert needle in str(info.value)
    assert sum(store.counts().values()) == 0, "a refused dataset wrote something"
    code, _, err = run("--store", "sqlite:///x.db", "import", "--format", "parquet", str(directory))
    assert code == 2
    assert "Traceback" not in err
    for needle in needles:
        assert needle in err
    with open_store("sqlite:///x.db") as written:
        assert sum(written.counts().values()) == 0


def test_a_column_of_the_wrong_type_is_refused(dataset: Path) -> None:
    path = dataset / "messages" / "part-00000.parquet"
    table = pq.read_table(path)
    index = table.schema.get_field_index("sent_at")
    as_text = pa.array([v.isoformat() for v in table.column("sent_at").to_pylist()])
    _rewrite(path, table.set_column(index, "sent_at", as_text))
    _expect_refused(dataset, "part-00000.parquet: column 'sent_at'", "expected timestamp[us")


def test_a_missing_or_unknown_column_is_refused(dataset: Path) -> None:
    path = dataset / "channels" / "part-00000.parquet"
    table = pq.read_table(path)
    _rewrite(path, table.drop_columns(["handle"]))
    _expect_refused(dataset, "channels/part-00000.parquet: column 'handle' is missing")
    _rewrite(path, table.append_column("colour", pa.array(["red"])))
    _expect_refused(dataset, "unknown column 'colour'")


def test_a_corrupt_or_missing_file_is_refused(dataset: Path) -> None:
    path = dataset / "messages" / "part-00000.parquet"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    _expect_refused(dataset, "part-00000.parquet: not a readable Parquet file")
    path.unlink()
    _expect_refused(dataset, "part-00000.parquet: listed in the manifest but missing")


def test_a_foreign_manifest_or_version_is_refused(dataset: Path, tmp_path: Path) -> None:
    manifest = dataset / "convokit-dataset.json"
    data = json.loads(manifest.read_text())
    manifest.write_text(json.dumps({**data, "version": 2}))
    _expect_refused(dataset, "dataset version 2; this convokit reads version 1 only")
    data["tables"]["messages"]["rows"] = 3
    manifest.write_text(json.dumps(data))
    _expect_refused(dataset, "table 'messages' holds 2 rows, the manifest says 3")
    data["tables"]["messages"]["files"] = ["../../etc/passwd"]
    manifest.write_text(json.dumps(data))
    _expect_refused(dataset, "is outside the dataset")
    manifest.unlink()
    _expect_refused(dataset, "not a convokit Parquet dataset")


def test_an_invalid_record_names_its_file_row_and_field(dataset: Path) -> None:
    path = dataset / "messages" / "part-00000.parquet"
    table = pq.read_table(path)
    index = table.schema.get_field_index("direction")
    column = table.column("direction").to_pylist()
    column[1] = "sideways"
    _rewrite(path, table.set_column(index, table.schema.field(index), pa.array(column)))
    _expect_refused(dataset, f"{path}, row 2, field 'direction'", "sideways")


def test_a_dataset_from_another_writer_is_read(dataset: Path) -> None:
    """Spark and polars write every column nullable, large strings, other time units."""
    for path in dataset.rglob("*.parquet"):
        table = pq.read_table(path)
        fields = []
        for field in table.schema:
            kind = field.type
            if pa.types.is_string(kind):
                kind = pa.large_string()
            elif pa.types.is_timestamp(kind):
                kind = pa.timestamp("ns", tz="UTC")
            fields.append(pa.field(field.name, kind, nullable=True))
        pq.write_table(table.cast(pa.schema(fields)), path)
    store = open_store("memory:")
    assert import_parquet(store, dataset).total == 7


def test_the_twcs_sample_round_trips_exactly(twcs_csv: Path, tmp_path: Path) -> None:
    # the core's CSV mapping (the convokit-twcs plugin is not installed with the core)
    mapping = Path(__file__).resolve().parents[2] / "examples" / "twcs-mapping.toml"
    code, _, err = run(
        "--store", "sqlite:///a.db", "import", str(twcs_csv), "--mapping", str(mapping),
        "--skip-invalid",
    )  # fmt: skip
    assert code == 0, err
    for args in (
        ("--store", "sqlite:///a.db", "export", "--format", "parquet", "-o", "one"),
        ("--store", "sqlite:///b.db", "import", "one"),
        ("--store", "sqlite:///b.db", "export", "--format", "parquet", "-o", "two"),
        ("--store", "sqlite:///a.db", "export", "-o", "a.jsonl"),
        ("--store", "sqlite:///b.db", "export", "-o", "b.jsonl"),
    ):
        code, _, err = run(*args)
        assert code == 0, err
    assert files_of(tmp_path / "one") == files_of(tmp_path / "two")
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()
    with open_store("sqlite:///b.db") as store:
        counts = store.counts()
    assert counts["messages"] > 4900
    assert counts["conversations"] > 1000  # derived from reply chains, not stored
    assert tables_of(tmp_path / "one")["conversations"].num_rows == 0
