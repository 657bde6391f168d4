"""JSONL import and export (DESIGN §6)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from itertools import chain, compress, islice, repeat
from operator import is_
from typing import IO, Any

from .._cancel import checkpointed
from .._errors import InputError, InvalidRecord
from ..protocols import StorageBackend
from ._importer import ImportResult, ObjectBlock, import_records
from ._records import _DICT_ONLY, _STR_ONLY, Record, dump_record

__all__ = ["export_jsonl", "import_jsonl", "iter_export", "read_jsonl", "read_jsonl_blocks"]


def _orjson_loads() -> Callable[[str], Any] | None:
    try:
        from orjson import loads
    except ImportError:  # pragma: no cover - a dependency; json alone gives the same
        return None
    return loads


#: The fast decoder of the object lines (orjson, three times json's speed; tests
#: switch it off to check json alone reads the same), or ``None``.
FAST_LOADS = _orjson_loads()
#: The value types orjson decodes as json does (exact types: orjson makes no subclasses).
_PLAIN_TYPES = frozenset((str, bool, type(None)))
_PLAIN_TYPES_OR_LIST = _PLAIN_TYPES | {list}
#: Lines a block of :func:`read_jsonl_blocks`.
BLOCK_LINES = 256


def read_jsonl(
    lines: Iterable[str | bytes], *, source: str | None = None
) -> Iterator[tuple[int, Any]]:
    """``(line number, decoded object)`` for every non-blank line.

    A line that cannot be decoded yields an :class:`InvalidRecord` in place of the
    object, so that the importer reports it with its number (and skips it under
    ``skip_invalid``): invalid JSON, invalid UTF-8 (bytes lines, or text decoded with
    ``errors="surrogateescape"`` as the CLI does), a number too long to convert, or
    nesting deeper than the JSON parser takes.

    A text stream that itself fails to decode (opened with strict errors) cannot be
    resumed: that raises :class:`InputError` naming the line.
    """
    return _read_lines(lines, source, 0)


def read_jsonl_blocks(
    lines: Iterable[str | bytes], *, source: str | None = None, size: int = BLOCK_LINES
) -> Iterator[tuple[int, Any]]:
    """What :func:`read_jsonl` yields, except that ``size`` consecutive text lines that
    all decode to flat objects (values JSON strings, booleans, nulls or empty lists:
    what a message record is) come as one item, ``(number of the first line,``
    :class:`ObjectBlock` ``of their objects)``. The importer takes such a block a column
    at a time (:func:`import_records`); any other run of lines (a blank one, bytes, a
    nested value, bad JSON…) is read line by line by :func:`read_jsonl`.

    Needs orjson; without it, this is :func:`read_jsonl`.
    """
    if FAST_LOADS is None:  # pragma: no cover - a dependency
        yield from _read_lines(lines, source, 0)
        return
    it = iter(lines)
    number = 0  # lines read before this block
    while True:
        block: list[Any] = []
        append = block.append
        try:
            for line in islice(it, size):
                append(line)
        except UnicodeDecodeError as exc:
            # the lines before it one by one, then the stream's error as read_jsonl gives it
            yield from _read_lines(chain(block, _raise(exc)), source, number)
            return
        if not block:
            return
        objects = _decoded(block)
        if objects is None:
            yield from _read_lines(block, source, number)
        else:
            yield number + 1, ObjectBlock(objects)
        number += len(block)
        if len(block) < size:
            return


def _raise(exc: BaseException) -> Iterator[Any]:
    raise exc
    yield  # a generator  # pragma: no cover


def _decoded(block: list[Any]) -> list[Any] | None:
    """The objects of a block of lines when every line is text that orjson decodes to an
    object of JSON scalars and empty lists (what json decodes them to), else ``None``."""
    if not _STR_ONLY.issuperset(map(type, block)):
        return None
    try:
        objects = list(map(FAST_LOADS, block))  # type: ignore[arg-type]
    except Exception:  # a line orjson refuses: read line by line, which reports it
        return None
    if not _DICT_ONLY.issuperset(map(type, objects)):
        return None
    values = list(chain.from_iterable(map(dict.values, objects)))
    types = set(map(type, values))
    if _PLAIN_TYPES.issuperset(types):
        return objects
    if _PLAIN_TYPES_OR_LIST.issuperset(types) and not any(
        compress(values, map(is_, map(type, values), repeat(list)))
    ):
        return objects  # (empty lists, as the export writes "tags": [])
    return None


def _read_lines(
    lines: Iterable[str | bytes], source: str | None, start: int
) -> Iterator[tuple[int, Any]]:
    """:func:`read_jsonl`, numbering the lines after ``start``."""
    decoder = json.JSONDecoder()
    loads = decoder.decode
    # The scanner ``loads`` itself runs: a line that is one object from its first column
    # up to an optional newline decodes to the same value, without the whitespace passes.
    scan: Callable[[str, int], tuple[Any, int]] = decoder.scan_once  # type: ignore[attr-defined]
    fast = FAST_LOADS
    plain_types = _PLAIN_TYPES.issuperset
    number = start
    try:
        for line in lines:
            number += 1
            if isinstance(line, bytes):
                raw = line
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    yield number, _not_utf8(raw, exc.start, exc.reason)
                    continue
            elif not line.isascii():
                try:
                    line.encode("utf-8")
                except UnicodeEncodeError as exc:
                    # a lone surrogate in the text itself: an undecodable byte under
                    # errors="surrogateescape" (JSON escapes like "\ud800" are not seen here)
                    char = ord(line[exc.start])
                    if 0xDC80 <= char <= 0xDCFF:
                        yield (
                            number,
                            _not_utf8(bytes([char - 0xDC00]), 0, "invalid byte", exc.start),
                        )
                    else:
                        yield (
                            number,
                            InvalidRecord(
                                f"not valid Unicode text: lone surrogate U+{char:04X} at "
                                f"column {exc.start + 1}"
                            ),
                        )
                    continue
            if number == 1 and line.startswith("\ufeff"):
                line = line[1:]  # a byte order mark
            if line[:1] == "{":
                if fast is not None:
                    # orjson, for an object of strings, booleans and nulls (what a
                    # record is, but for tags): there it gives what json gives. A number
                    # or a nested value goes to json (orjson turns an integer past 64
                    # bits into a float), as does what orjson refuses (NaN, lone
                    # surrogate escapes, bad JSON), for the value or the message.
                    try:
                        obj = fast(line)
                    except Exception:
                        pass
                    else:
                        # (the types of the values, tested in C: about a third of the
                        # time of a Python loop over them)
                        if plain_types(map(type, obj.values())):
                            yield number, obj
                            continue
                try:
                    obj, end = scan(line, 0)
                except Exception:  # decoded again below, for the message
                    pass
                else:
                    size = len(line)
                    if end == size or (end == size - 1 and line[end] == "\n"):
                        yield number, obj
                        continue
            if not line.strip():
                continue
            try:
                yield number, loads(line)
            except json.JSONDecodeError as exc:
                yield number, InvalidRecord(f"invalid JSON: {exc.msg} (column {exc.colno})")
            except RecursionError:
                yield (
                    number,
                    InvalidRecord(
                        "invalid record: JSON nested too deeply (records are flat objects "
                        "whose values are at most lists or objects of strings)"
                    ),
                )
            except ValueError as exc:  # e.g. an integer over 4,300 digits
                yield number, InvalidRecord(f"invalid JSON value: {str(exc).split(';')[0]}")
    except UnicodeDecodeError as exc:  # from the stream itself: it cannot be resumed
        raise InputError(
            [
                InvalidRecord(
                    f"not UTF-8 text ({exc.reason}) at or after this line; the rest "
                    "cannot be read (open the input in binary mode, or with "
                    "errors='surrogateescape', to skip bad lines)",
                    source=source,
                    line=number + 1,
                )
            ]
        ) from None


def _not_utf8(data: bytes, start: int, reason: str, column: int | None = None) -> InvalidRecord:
    byte = data[start] if start < len(data) else 0
    col = start + 1 if column is None else column + 1
    return InvalidRecord(f"not UTF-8 text: {reason} 0x{byte:02X} at column {col}")


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
    return import_records(
        store, read_jsonl_blocks(stream, source=source), source=source, skip_invalid=skip_invalid
    )


def iter_export(store: StorageBackend) -> Iterator[Record]:
    """Every record of the store in the canonical export order: channels, team members,
    stakeholders, conversation records, status changes, then messages by conversation."""
    yield from store.iter_channels()
    yield from store.iter_team_members()
    yield from store.iter_stakeholders()
    yield from store.iter_conversation_records()
    yield from store.iter_status_changes()
    yield from store.iter_messages()


def export_jsonl(
    store: StorageBackend,
    stream: IO[str],
    *,
    advance: Callable[[int], None] | None = None,
) -> int:
    """Write the whole store as JSONL; returns the number of records written.

    The output is canonical: exporting, importing it into an empty store and exporting
    again gives the same bytes. ``advance(n)`` is told of progress every 1,000 records.
    """
    count = 0
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    write = stream.write
    for record in checkpointed(iter_export(store)):
        write(dumps(dump_record(record)))
        write("\n")
        count += 1
        if advance is not None and count % 1000 == 0:
            advance(1000)
    return count
