"""Parquet interchange: a store as a directory of Parquet datasets (docs/parquet.md).

Layout (dataset version :data:`DATASET_VERSION`)::

    DIR/convokit-dataset.json           the manifest: version, files and row counts
    DIR/messages/part-00000.parquet     messages, by (platform, conversation_id, sent_at, id)
    DIR/conversations/part-00000.parquet  stored conversation records only
    DIR/status_changes/…  DIR/stakeholders/…  DIR/channels/…  DIR/team_members/…

Every table has at least one file (maybe with no rows), so readers always see the
schema. Message files are cut at conversation boundaries: a conversation lies in exactly
one file. Only pyarrow is needed to write or read a dataset.

Export streams the store (one batch of rows in memory at a time) into a hidden folder
beside ``DIR`` and renames it into place at the end, so an interrupted export leaves no
half-written dataset. Import checks the manifest and every file's schema before reading
a row, then validates every record exactly as a JSONL import does (same limits, same
all-or-nothing transaction).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from .._cancel import checkpointed
from .._errors import ConfigError, InputError, InvalidRecord
from .._timeutil import to_micros
from ..protocols import StorageBackend
from ._importer import ImportResult, import_records

__all__ = [
    "DATASET_SCHEMAS",
    "DATASET_VERSION",
    "MANIFEST",
    "export_parquet",
    "import_parquet",
    "is_dataset",
    "read_parquet",
]

#: The version of the dataset layout and schemas; a reader refuses any other.
DATASET_VERSION = 1
#: The manifest's file name inside a dataset directory.
MANIFEST = "convokit-dataset.json"
_FORMAT = "convokit-dataset"

_TS = pa.timestamp("us", tz="UTC")
_STR = pa.string()
_TAGS = pa.list_(pa.field("item", _STR, nullable=False))
_HANDLES = pa.list_(
    pa.field(
        "item",
        pa.struct(
            [pa.field("platform", _STR, nullable=False), pa.field("id", _STR, nullable=False)]
        ),
        nullable=False,
    )
)


def _schema(*fields: tuple[str, pa.DataType, bool]) -> pa.Schema:
    return pa.schema(
        [pa.field(name, kind, nullable=nullable) for name, kind, nullable in fields],
        metadata={"convokit.dataset.version": str(DATASET_VERSION)},
    )


#: The Arrow schema of each table, in export order (documented in docs/parquet.md).
DATASET_SCHEMAS: dict[str, pa.Schema] = {
    "channels": _schema(
        ("platform", _STR, False),
        ("id", _STR, False),
        ("handle", _STR, True),
        ("created_at", _TS, True),
        ("owner_team", _STR, True),
    ),
    "team_members": _schema(
        ("id", _STR, False),
        ("name", _STR, True),
        ("handles", _HANDLES, False),
        ("active_from", _TS, True),
        ("active_until", _TS, True),
    ),
    "stakeholders": _schema(
        ("id", _STR, False),
        ("kind", _STR, False),
        ("display_name", _STR, True),
        ("identities", _HANDLES, False),
    ),
    "conversations": _schema(
        ("platform", _STR, False),
        ("id", _STR, False),
        ("channel_id", _STR, True),
        ("stakeholder_id", _STR, True),
        ("owner_id", _STR, True),
        ("status", _STR, False),
        ("tags", _TAGS, False),
    ),
    "status_changes": _schema(
        ("platform", _STR, False),
        ("conversation_id", _STR, False),
        ("at", _TS, False),
        ("status", _STR, False),
    ),
    "messages": _schema(
        ("platform", _STR, False),
        ("id", _STR, False),
        ("conversation_id", _STR, False),
        ("channel_id", _STR, True),
        ("author_id", _STR, False),
        ("direction", _STR, False),
        ("sent_at", _TS, False),
        ("in_reply_to", _STR, True),
        ("text", _STR, False),
        ("visibility", _STR, False),
        ("automated", pa.bool_(), False),
        ("tags", _TAGS, False),
        ("url", _STR, True),
        ("edited_at", _TS, True),
        ("deleted", pa.bool_(), False),
    ),
}

#: Rows per Parquet row group, and the size at which a message file is closed (at the
#: next conversation boundary).
ROW_GROUP_ROWS = 65_536
FILE_ROWS = 1_000_000


# -- export ---------------------------------------------------------------------------


def _us(value: datetime | None) -> int | None:
    return None if value is None else to_micros(value)


def _pairs(mapping: Any) -> list[dict[str, str]]:
    return [{"platform": k, "id": v} for k, v in sorted(mapping.items())]


def _rows(store: StorageBackend, table: str) -> Iterator[tuple[tuple[Any, ...], Any]]:
    """``(row, conversation key or None)`` of ``table``, in the store's canonical order."""
    row: tuple[Any, ...]
    if table == "channels":
        for c in store.iter_channels():
            yield (c.platform, c.id, c.handle, _us(c.created_at), c.owner_team), None
    elif table == "team_members":
        for t in store.iter_team_members():
            row = (t.id, t.name, _pairs(t.handles), _us(t.active_from), _us(t.active_until))
            yield row, None
    elif table == "stakeholders":
        for s in store.iter_stakeholders():
            yield (s.id, s.kind.value, s.display_name, _pairs(s.identities)), None
    elif table == "conversations":
        for v in store.iter_conversation_records():
            row = (v.platform, v.id, v.channel_id, v.stakeholder_id, v.owner_id)
            yield (*row, v.status.value, list(v.tags)), None
    elif table == "status_changes":
        for sc in store.iter_status_changes():
            yield (sc.platform, sc.conversation_id, to_micros(sc.at), sc.status.value), None
    else:
        for m in store.iter_messages():
            row = (
                m.platform, m.id, m.conversation_id, m.channel_id, m.author_id,
                m.direction.value, to_micros(m.sent_at), m.in_reply_to, m.text,
                m.visibility.value, m.automated, list(m.tags), m.url, _us(m.edited_at),
                m.deleted,
            )  # fmt: skip
            yield row, (m.platform, m.conversation_id)


class _TableWriter:
    """Writes one table's files: row groups of :data:`ROW_GROUP_ROWS`, a new file once
    :data:`FILE_ROWS` rows are written, cut only where ``cut_ok`` says."""

    def __init__(self, root: Path, table: str) -> None:
        self.root = root
        self.table = table
        self.schema = DATASET_SCHEMAS[table]
        (root / table).mkdir()
        self.files: list[str] = []
        self.rows = 0
        self._writer: pq.ParquetWriter | None = None
        self._file_rows = 0

    def _open(self) -> pq.ParquetWriter:
        name = f"{self.table}/part-{len(self.files):05d}.parquet"
        self.files.append(name)
        self._file_rows = 0
        self._writer = pq.ParquetWriter(
            self.root / name, self.schema, compression="zstd", write_statistics=True
        )
        return self._writer

    def write(self, columns: list[list[Any]], *, new_file: bool) -> None:
        if new_file and self._writer is not None:
            self._writer.close()
            self._writer = None
        writer = self._writer or self._open()
        batch = pa.record_batch(
            [pa.array(col, type=f.type) for col, f in zip(columns, self.schema, strict=True)],
            schema=self.schema,
        )
        writer.write_batch(batch, row_group_size=ROW_GROUP_ROWS)
        self.rows += batch.num_rows
        self._file_rows += batch.num_rows

    @property
    def file_rows(self) -> int:
        """Rows written to the current file."""
        return self._file_rows

    def close(self) -> None:
        if self._writer is None:
            self._open()  # an empty table still has one file, with its schema
        assert self._writer is not None
        self._writer.close()
        self._writer = None


def _write_table(
    store: StorageBackend, root: Path, table: str, advance: Callable[[int], None] | None
) -> dict[str, Any]:
    writer = _TableWriter(root, table)
    width = len(writer.schema)
    columns: list[list[Any]] = [[] for _ in range(width)]
    pending = 0
    last_key: Any = None
    new_file = False
    for done, (row, key) in enumerate(checkpointed(_rows(store, table)), start=1):
        boundary = key is None or key != last_key
        if boundary and pending:
            if key is not None and (0 if new_file else writer.file_rows) + pending >= FILE_ROWS:
                # the file is full: it ends with this conversation, the next one starts
                # a new file (a conversation never spans two files)
                writer.write(columns, new_file=new_file)
                columns = [[] for _ in range(width)]
                pending = 0
                new_file = True
            elif pending >= ROW_GROUP_ROWS:
                writer.write(columns, new_file=new_file)
                columns = [[] for _ in range(width)]
                pending = 0
                new_file = False
        last_key = key
        for col, value in zip(columns, row, strict=True):
            col.append(value)
        pending += 1
        if advance is not None and done % 1000 == 0:
            advance(1000)
    if pending:
        writer.write(columns, new_file=new_file)
    writer.close()
    return {"files": writer.files, "rows": writer.rows}


def _refuse_target(target: Path) -> None:
    if target.is_symlink() or target.exists():
        if not target.is_dir():
            raise ConfigError(f"{target}: exists and is not a directory")
        if any(target.iterdir()):
            raise ConfigError(
                f"{target}: the directory is not empty; a Parquet export writes a new "
                "directory (remove it or choose another)"
            )


def export_parquet(
    store: StorageBackend,
    directory: str | os.PathLike[str],
    *,
    advance: Callable[[int], None] | None = None,
) -> dict[str, int]:
    """Write the whole store as a Parquet dataset into ``directory`` (created; an
    existing non-empty directory is refused). Returns the rows written per table.

    The dataset appears complete or not at all: it is written into a hidden folder
    beside ``directory`` and renamed into place. Exporting, importing into an empty
    store and exporting again gives the same data (and, with the same pyarrow, the same
    bytes). ``advance(n)`` is told of progress every 1,000 rows.
    """
    target = Path(directory)
    _refuse_target(target)
    parent = target.parent if str(target.parent) else Path(".")
    if not parent.is_dir():
        raise ConfigError(f"{target}: the parent directory {parent} does not exist")
    try:
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=parent))
    except OSError as exc:
        raise ConfigError(f"{target}: cannot write here: {exc.strerror}") from None
    try:
        tables = {table: _write_table(store, staging, table, advance) for table in DATASET_SCHEMAS}
        manifest = {"format": _FORMAT, "version": DATASET_VERSION, "tables": tables}
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        _fsync_tree(staging)
        if target.is_dir():
            target.rmdir()  # empty (checked above); os.replace cannot replace a directory
        os.replace(staging, target)
        _fsync_dir(parent)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return {table: int(info["rows"]) for table, info in tables.items()}


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_tree(root: Path) -> None:
    for folder, _, files in os.walk(root):
        for name in files:
            fd = os.open(Path(folder) / name, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        _fsync_dir(Path(folder))


# -- import ---------------------------------------------------------------------------


def is_dataset(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a directory holding a dataset manifest."""
    return (Path(path) / MANIFEST).is_file()


def _manifest(root: Path) -> dict[str, Any]:
    path = root / MANIFEST
    if not root.is_dir():
        what = "no such directory" if not root.exists() else "not a directory"
        raise ConfigError(f"{root}: {what}; expected a Parquet dataset directory")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"{root}: not a convokit Parquet dataset (no {MANIFEST}; "
            "write one with convokit export --format parquet)"
        ) from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ConfigError(f"{path}: not a readable dataset manifest: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != _FORMAT:
        raise ConfigError(f"{path}: not a convokit dataset manifest (no format {_FORMAT!r})")
    version = data.get("version")
    if version != DATASET_VERSION:
        raise ConfigError(
            f"{path}: dataset version {version!r}; this convokit reads version "
            f"{DATASET_VERSION} only"
        )
    tables = data.get("tables")
    if not isinstance(tables, dict):
        raise ConfigError(f"{path}: key 'tables': expected an object of tables")
    unknown = sorted(set(tables) - set(DATASET_SCHEMAS))
    if unknown:
        raise ConfigError(f"{path}: key 'tables': unknown table {unknown[0]!r}")
    for table, info in tables.items():
        files = info.get("files") if isinstance(info, dict) else None
        if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
            raise ConfigError(f"{path}: key 'tables.{table}.files': expected a list of paths")
        for name in files:
            resolved = (root / name).resolve()
            if root.resolve() not in resolved.parents:
                raise ConfigError(
                    f"{path}: key 'tables.{table}.files': {name!r} is outside the dataset"
                )
        rows = info.get("rows")
        if not isinstance(rows, int) or isinstance(rows, bool) or rows < 0:
            raise ConfigError(f"{path}: key 'tables.{table}.rows': expected a row count")
    return data


def _type_ok(found: pa.DataType, expected: pa.DataType) -> bool:
    """Types a dataset written by another tool (Spark, polars) may use for ours."""
    if bool(found.equals(expected)):
        return True
    if pa.types.is_timestamp(expected):
        return bool(pa.types.is_timestamp(found) and found.tz in ("UTC", "Etc/UTC", "+00:00"))
    if pa.types.is_string(expected):
        return bool(pa.types.is_string(found) or pa.types.is_large_string(found))
    if pa.types.is_list(expected):
        if not (pa.types.is_list(found) or pa.types.is_large_list(found)):
            return False
        return _type_ok(found.value_type, expected.value_type)
    if pa.types.is_struct(expected):
        if not pa.types.is_struct(found) or found.num_fields != expected.num_fields:
            return False
        return all(
            found.field(i).name == expected.field(i).name
            and _type_ok(found.field(i).type, expected.field(i).type)
            for i in range(expected.num_fields)
        )
    return False


def _check_file(path: Path, table: str, rows: int | None) -> pq.ParquetFile:
    expected = DATASET_SCHEMAS[table]
    try:
        handle = pq.ParquetFile(path)
        schema = handle.schema_arrow
    except FileNotFoundError:
        raise ConfigError(f"{path}: listed in the manifest but missing") from None
    except (OSError, pa.ArrowException) as exc:
        raise ConfigError(f"{path}: not a readable Parquet file: {exc}") from None
    names = schema.names
    for field in expected:
        if field.name not in names:
            raise ConfigError(f"{path}: column {field.name!r} is missing ({table} schema v1)")
        found = schema.field(field.name).type
        if not _type_ok(found, field.type):
            raise ConfigError(
                f"{path}: column {field.name!r}: expected {field.type}, found {found}"
            )
    extra = [n for n in names if n not in expected.names]
    if extra:
        raise ConfigError(f"{path}: unknown column {extra[0]!r} ({table} schema v1)")
    if rows is not None and handle.metadata.num_rows != rows:
        raise ConfigError(
            f"{path}: holds {handle.metadata.num_rows} rows, the manifest says {rows}"
        )
    return handle


def _handles(value: list[dict[str, str]] | None) -> Any:
    if value is None:
        return None
    out: dict[str, str] = {}
    for pair in value:
        if pair["platform"] in out:
            return value  # not a mapping: the record check reports it
        out[pair["platform"]] = pair["id"]
    return out


def _records(table: str, batch: pa.RecordBatch) -> Iterator[dict[str, Any]]:
    cols: dict[str, list[Any]] = {}
    for name in batch.schema.names:
        column = batch.column(name)
        if pa.types.is_timestamp(column.type):
            # one vectorised cast to ISO text ("2017-10-31 21:46:24.500000Z"), which the
            # record check parses and range-checks as it does a JSONL timestamp
            column = column.cast(pa.timestamp("us", tz="UTC"))
            cols[name] = column.cast(pa.string()).to_pylist()
        else:
            cols[name] = column.to_pylist()
    n = batch.num_rows
    if table == "messages":
        yield from (
            {
                "type": "message", "id": i, "platform": p, "conversation": c, "channel": ch,
                "author": a, "direction": d, "sent_at": s, "in_reply_to": r, "text": t,
                "visibility": v, "automated": au, "tags": tg, "url": u, "edited_at": e,
                "deleted": de,
            }
            for p, i, c, ch, a, d, s, r, t, v, au, tg, u, e, de in zip(
                *(cols[f] for f in DATASET_SCHEMAS["messages"].names), strict=True
            )
        )  # fmt: skip
    elif table == "conversations":
        for k in range(n):
            yield {
                "type": "conversation",
                "id": cols["id"][k],
                "platform": cols["platform"][k],
                "channel": cols["channel_id"][k],
                "stakeholder": cols["stakeholder_id"][k],
                "owner": cols["owner_id"][k],
                "status": cols["status"][k],
                "tags": cols["tags"][k],
            }
    elif table == "status_changes":
        for k in range(n):
            yield {
                "type": "status",
                "platform": cols["platform"][k],
                "conversation": cols["conversation_id"][k],
                "status": cols["status"][k],
                "at": cols["at"][k],
            }
    elif table == "stakeholders":
        for k in range(n):
            yield {
                "type": "stakeholder",
                "id": cols["id"][k],
                "kind": cols["kind"][k],
                "display_name": cols["display_name"][k],
                "identities": _handles(cols["identities"][k]),
            }
    elif table == "channels":
        for k in range(n):
            yield {
                "type": "channel",
                "id": cols["id"][k],
                "platform": cols["platform"][k],
                "handle": cols["handle"][k],
                "created_at": cols["created_at"][k],
                "owner_team": cols["owner_team"][k],
            }
    else:
        for k in range(n):
            yield {
                "type": "team_member",
                "id": cols["id"][k],
                "name": cols["name"][k],
                "handles": _handles(cols["handles"][k]),
                "active_from": cols["active_from"][k],
                "active_until": cols["active_until"][k],
            }


def read_parquet(
    directory: str | os.PathLike[str],
) -> Iterator[tuple[tuple[str, int, str], Any]]:
    """``((file, row, "row"), record object)`` for every row of the dataset, tables in
    export order, objects in the interchange shape (DESIGN §6) for the importer.

    The manifest and every file's schema are checked before the first row is yielded:
    a missing or foreign file, a schema mismatch or a row count that disagrees with the
    manifest is a :class:`ConfigError` naming the file (and column).
    """
    root = Path(directory)
    manifest = _manifest(root)
    plan: list[tuple[str, Path, pq.ParquetFile]] = []
    for table in DATASET_SCHEMAS:
        info = manifest["tables"].get(table)
        if info is None:
            continue
        files: Sequence[str] = info["files"]
        total = 0
        for name in files:
            path = root / name
            handle = _check_file(path, table, None)
            total += handle.metadata.num_rows
            plan.append((table, path, handle))
        if total != info["rows"]:
            raise ConfigError(
                f"{root / MANIFEST}: table {table!r} holds {total} rows, the manifest says "
                f"{info['rows']}"
            )
    return _read(plan)


def _read(plan: list[tuple[str, Path, pq.ParquetFile]]) -> Iterator[Any]:
    for table, path, handle in plan:
        name = str(path)
        row = 0
        try:
            for batch in handle.iter_batches(batch_size=8192):
                for obj in _records(table, batch):
                    row += 1
                    yield (name, row, "row"), obj
        except (OSError, pa.ArrowException) as exc:
            raise InputError(
                [InvalidRecord(f"cannot read the file: {exc}", source=name, line=row + 1)]
            ) from None


def import_parquet(
    store: StorageBackend,
    directory: str | os.PathLike[str],
    *,
    skip_invalid: bool = False,
) -> ImportResult:
    """Import a Parquet dataset (written by :func:`export_parquet`) into ``store``.

    All or nothing unless ``skip_invalid``: every record is validated as a JSONL record
    is, and errors name the file and row."""
    return import_records(
        store, read_parquet(directory), source=str(directory), skip_invalid=skip_invalid
    )
