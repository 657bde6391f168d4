"""CSV import through a column mapping (a small TOML file).

Example — the "Customer Support on Twitter" export::

    platform = "twitter"

    [fields]
    id = "tweet_id"
    author = "author_id"
    text = "text"
    sent_at = { column = "created_at", format = "%a %b %d %H:%M:%S %z %Y" }
    in_reply_to = { column = "in_response_to_tweet_id", integer_id = true }
    direction = { column = "inbound", values = { "True" = "inbound", "False" = "outbound" } }

Each key of ``[fields]`` is a message field of the interchange format; its value is a
column name, or a table with ``column`` (or a constant ``value``) and optionally
``values`` (a value map; unmapped values are errors), ``format`` (``strptime`` format
for timestamps; must include the offset, ``%z``), ``integer_id`` (``"3.0"`` → ``"3"``)
and ``split`` (a separator, for ``tags``). Top-level ``platform`` and ``direction``
are constants; ``delimiter`` sets the CSV delimiter.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import attrs

from .._config import did_you_mean, find_line, read_toml
from .._errors import ConfigError, InputError, InvalidRecord
from .._limits import show
from .._timeutil import check_timestamp, format_datetime
from ..protocols import StorageBackend
from ._importer import ImportResult, import_records
from ._records import FIELDS

__all__ = ["ColumnMapping", "FieldSpec", "import_csv", "load_mapping", "read_csv"]

_MESSAGE_FIELDS = tuple(f for f in FIELDS["message"] if f != "type")
_SPEC_KEYS = ("column", "value", "values", "format", "integer_id", "split")
_INTEGER_ID = re.compile(r"^(-?\d+)\.0+$")


@attrs.frozen(kw_only=True)
class FieldSpec:
    """How one message field is read from a row."""

    field: str
    column: str | None = None
    value: Any = None
    values: dict[str, Any] | None = None
    format: str | None = None
    integer_id: bool = False
    split: str | None = None

    def extract(self, row: Mapping[str, str]) -> Any:
        if self.column is None:
            return self.value
        raw = row.get(self.column)
        if raw is None or raw == "":
            return None
        if self.values is not None:
            if raw not in self.values:
                allowed = ", ".join(repr(v) for v in self.values)
                raise InvalidRecord(
                    f"expected one of {allowed}; found {show(raw)}", field=self.column
                )
            return self.values[raw]
        if self.integer_id:
            match = _INTEGER_ID.match(raw)
            return match.group(1) if match else raw
        if self.format is not None:
            try:
                parsed = datetime.strptime(raw, self.format)
            except ValueError:
                raise InvalidRecord(
                    f"expected a timestamp in format {self.format!r}; found {show(raw)}",
                    field=self.column,
                ) from None
            if parsed.tzinfo is None:
                raise InvalidRecord(
                    f"timestamp {show(raw)} has no offset; add %z to the mapping's format",
                    field=self.column,
                )
            try:
                return format_datetime(check_timestamp(parsed))
            except ValueError as exc:
                raise InvalidRecord(str(exc), field=self.column) from None
        if self.split is not None:
            return [part.strip() for part in raw.split(self.split) if part.strip()]
        return raw


@attrs.frozen(kw_only=True)
class ColumnMapping:
    """A parsed mapping file: how CSV columns become interchange message fields."""

    fields: tuple[FieldSpec, ...]
    delimiter: str = ","
    source: str = "<mapping>"

    def columns(self) -> set[str]:
        return {f.column for f in self.fields if f.column is not None}

    def to_record(self, row: Mapping[str, str]) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "message"}
        for spec in self.fields:
            value = spec.extract(row)
            if value is not None:
                out[spec.field] = value
        return out


def load_mapping(path: str | Path) -> ColumnMapping:
    """Read and check a mapping file; errors name the file, line and key."""
    path = Path(path)
    text, data = read_toml(path, "mapping file")
    return parse_mapping(data, source=str(path), text=text)


def parse_mapping(
    data: Mapping[str, Any], *, source: str = "<mapping>", text: str = ""
) -> ColumnMapping:
    def where(key: str) -> str:
        line = find_line(text, key.rsplit(".", 1)[-1])
        return f"{source}:{line} ({key})" if line else f"{source} ({key})"

    allowed_top = ("fields", "platform", "direction", "delimiter")
    for key in data:
        if key not in allowed_top:
            raise ConfigError(
                f"{where(key)}: unknown key {key!r}{did_you_mean(key, allowed_top)} "
                f"(expected one of: {', '.join(allowed_top)})"
            )
    fields_table = data.get("fields")
    if not isinstance(fields_table, dict) or not fields_table:
        raise ConfigError(
            f"{where('fields')}: expected a [fields] table mapping message fields to columns"
        )
    specs: list[FieldSpec] = []
    for const in ("platform", "direction"):
        if const in data:
            if not isinstance(data[const], str):
                raise ConfigError(f"{where(const)}: expected a string, found {data[const]!r}")
            if const in fields_table:
                raise ConfigError(f"{where('fields.' + const)}: {const} is set twice")
            specs.append(FieldSpec(field=const, value=data[const]))
    for name, raw in fields_table.items():
        key = f"fields.{name}"
        if name not in _MESSAGE_FIELDS:
            raise ConfigError(
                f"{where(key)}: unknown message field {name!r}{did_you_mean(name, _MESSAGE_FIELDS)}"
                f" (expected one of: {', '.join(_MESSAGE_FIELDS)})"
            )
        if isinstance(raw, str):
            specs.append(FieldSpec(field=name, column=raw))
            continue
        if not isinstance(raw, dict):
            raise ConfigError(f"{where(key)}: expected a column name or a table, found {raw!r}")
        for sub in raw:
            if sub not in _SPEC_KEYS:
                raise ConfigError(
                    f"{where(key)}: unknown key {sub!r}{did_you_mean(sub, _SPEC_KEYS)} "
                    f"(expected one of: {', '.join(_SPEC_KEYS)})"
                )
        if ("column" in raw) == ("value" in raw):
            raise ConfigError(f"{where(key)}: give exactly one of 'column' or 'value'")
        if "column" in raw and not isinstance(raw["column"], str):
            raise ConfigError(
                f"{where(key + '.column')}: expected a column name, found {raw['column']!r}"
            )
        values = raw.get("values")
        if values is not None and not isinstance(values, dict):
            raise ConfigError(f"{where(key + '.values')}: expected a table of value → value")
        fmt = raw.get("format")
        if fmt is not None and not isinstance(fmt, str):
            raise ConfigError(f"{where(key + '.format')}: expected a strptime format string")
        split = raw.get("split")
        if split is not None and (not isinstance(split, str) or not split):
            raise ConfigError(
                f"{where(key + '.split')}: expected a non-empty separator string, "
                f"found {show(split)}"
            )
        integer_id = raw.get("integer_id", False)
        if not isinstance(integer_id, bool):
            raise ConfigError(f"{where(key + '.integer_id')}: expected true or false")
        specs.append(
            FieldSpec(
                field=name,
                column=raw.get("column"),
                value=raw.get("value"),
                values=values,
                format=fmt,
                integer_id=integer_id,
                split=split,
            )
        )
    delimiter = data.get("delimiter", ",")
    if not isinstance(delimiter, str) or len(delimiter) != 1:
        raise ConfigError(f"{where('delimiter')}: expected one character, found {delimiter!r}")
    return ColumnMapping(fields=tuple(specs), delimiter=delimiter, source=source)


def read_csv(
    lines: Iterable[str], mapping: ColumnMapping, *, source: str
) -> Iterator[tuple[int, Any]]:
    """``(line number, interchange object)`` per CSV record; malformed records (wrong
    number of columns, unmapped values) yield an :class:`InvalidRecord` instead."""
    reader = csv.reader(lines, delimiter=mapping.delimiter)
    try:
        header = next(reader)
    except StopIteration:
        return
    except UnicodeDecodeError as exc:
        raise _undecodable_stream(exc, source, 1) from None
    except csv.Error as exc:
        raise ConfigError(f"{source}, line 1: cannot read the CSV header: {exc}") from exc
    bad = _undecodable(header)
    if bad is not None:
        raise ConfigError(f"{source}, line 1: cannot read the CSV header: {bad}")
    missing = sorted(mapping.columns() - set(header))
    if missing:
        names = ", ".join(map(repr, missing))
        raise ConfigError(
            f"{source}: the mapping {mapping.source} names column(s) {names}"
            f" that the CSV header does not have (header: {_shown_header(header)})"
        )
    width = len(header)
    previous_end = reader.line_num
    while True:
        start = previous_end + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except UnicodeDecodeError as exc:  # a strictly decoding text stream
            raise _undecodable_stream(exc, source, start) from None
        except csv.Error as exc:
            yield start, InvalidRecord(f"malformed CSV: {exc}")
            previous_end = reader.line_num
            continue
        previous_end = reader.line_num
        if not row:
            continue
        if len(row) != width:
            yield start, InvalidRecord(f"expected {width} columns, found {len(row)}")
            continue
        bad = _undecodable(row)
        if bad is not None:
            column = next(h for h, cell in zip(header, row, strict=True) if _undecodable([cell]))
            yield start, InvalidRecord(bad, field=column)
            continue
        try:
            yield start, mapping.to_record(dict(zip(header, row, strict=True)))
        except InvalidRecord as exc:
            yield start, exc


def _shown_header(header: list[str], most: int = 20) -> str:
    """The header's column names for a message: printable, at most ``most`` of them."""
    names = []
    for name in header[:most]:
        text = show(name)  # a quoted repr; drop the quotes
        names.append(text[1:-1] if text[:1] in ("'", '"') and text[-1:] == text[:1] else text)
    more = f", … ({len(header)} columns)" if len(header) > most else ""
    return ", ".join(names) + more


def _undecodable_stream(exc: UnicodeDecodeError, source: str, line: int) -> InputError:
    """A text stream opened with strict errors broke while reading: nothing after it can
    be read (a text stream decodes ahead of the reader, so the line is a lower bound)."""
    return InputError(
        [
            InvalidRecord(
                f"not UTF-8 text ({exc.reason}) at or after this line; the rest cannot be "
                "read (open the input with errors='surrogateescape' to skip bad rows)",
                source=source,
                line=line,
            )
        ]
    )


def _undecodable(cells: list[str]) -> str | None:
    """Why ``cells`` are not valid text, or ``None``: a lone surrogate is an undecodable
    byte (the CLI reads with ``errors="surrogateescape"``)."""
    joined = "".join(cells)
    if joined.isascii():
        return None
    try:
        joined.encode("utf-8")
    except UnicodeEncodeError as exc:
        char = ord(joined[exc.start])
        if 0xDC80 <= char <= 0xDCFF:
            return f"not UTF-8 text: invalid byte 0x{char - 0xDC00:02X}"
        return f"not valid Unicode text: lone surrogate U+{char:04X}"
    return None


def import_csv(
    store: StorageBackend,
    lines: Iterable[str],
    mapping: ColumnMapping,
    *,
    source: str = "<input>",
    skip_invalid: bool = False,
) -> ImportResult:
    """Import CSV records through ``mapping`` (all or nothing unless ``skip_invalid``)."""
    return import_records(
        store, read_csv(lines, mapping, source=source), source=source, skip_invalid=skip_invalid
    )
