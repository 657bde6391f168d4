"""JSONL import and export (DESIGN §6)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import IO, Any

from .._cancel import checkpointed
from .._errors import InvalidRecord
from ..protocols import StorageBackend
from ._importer import ImportResult, import_records
from ._records import Record, dump_record

__all__ = ["export_jsonl", "import_jsonl", "iter_export", "read_jsonl"]


def read_jsonl(lines: Iterable[str | bytes]) -> Iterator[tuple[int, Any]]:
    """``(line number, decoded object)`` for every non-blank line; a line that is not
    valid JSON yields an :class:`InvalidRecord` in place of the object."""
    loads = json.JSONDecoder().decode
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            if isinstance(line, bytes):
                line = line.decode("utf-8")
            yield number, loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            reason = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
            yield number, InvalidRecord(f"invalid JSON: {reason}")


def import_jsonl(
    store: StorageBackend,
    stream: IO[str] | IO[bytes] | Iterable[str],
    *,
    source: str = "<input>",
    skip_invalid: bool = False,
) -> ImportResult:
    """Import JSONL from a text or binary stream into ``store``.

    All or nothing unless ``skip_invalid`` (see :func:`import_records`). Returns what
    was written and what was skipped.
    """
    return import_records(store, read_jsonl(stream), source=source, skip_invalid=skip_invalid)


def iter_export(store: StorageBackend) -> Iterator[Record]:
    """Every record of the store in the canonical export order: channels, team members,
    stakeholders, conversation records, status changes, then messages by conversation."""
    yield from store.iter_channels()
    yield from store.iter_team_members()
    yield from store.iter_stakeholders()
    yield from store.iter_conversation_records()
    yield from store.iter_status_changes()
    yield from store.iter_messages()


def export_jsonl(store: StorageBackend, stream: IO[str]) -> int:
    """Write the whole store as JSONL; returns the number of records written.

    The output is canonical: exporting, importing it into an empty store and exporting
    again gives the same bytes.
    """
    count = 0
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    write = stream.write
    for record in checkpointed(iter_export(store)):
        write(dumps(dump_record(record)))
        write("\n")
        count += 1
    return count
