"""The one exception tree of convokit_core.

Every error the library raises on purpose derives from :class:`ConvokitError`.
Third-party errors are wrapped (``raise ... from exc``) so callers catch one root.
The CLI maps :class:`ConvokitError` to exit code 2 unless the error says otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "ConfigError",
    "ConvokitError",
    "HttpError",
    "InputError",
    "InvalidRecord",
    "MalformedPayload",
    "PluginError",
    "SourceLocked",
    "StorageError",
    "SyncError",
]


class ConvokitError(Exception):
    """Root of every error raised by convokit_core and its plugins.

    ``exit_code`` is what the ``convokit`` CLI exits with when this error reaches it.

    Its ``str`` and ``repr`` never show a registered secret (see
    ``convokit_core._secrets``): whatever built the message, the text is scrubbed when
    shown, also in a printed traceback.
    """

    exit_code: int = 2

    def __str__(self) -> str:
        from ._secrets import scrub

        return scrub(super().__str__())

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"


class ConfigError(ConvokitError):
    """A configuration or policy file, or a CLI option, is wrong.

    The message names the file and the line or key path, what was found and what was
    expected.
    """


class PluginError(ConvokitError):
    """A plugin failed to load or registered something invalid or clashing."""


class StorageError(ConvokitError):
    """A storage backend could not open, read or write its store."""


class InvalidRecord(ConvokitError):
    """One input record is invalid.

    Attributes:
        source: where the record came from (a file name, ``<stdin>``, a platform).
        line: 1-based line number in ``source``, when known (a row number for a
            Parquet file: ``unit`` says which).
        field: the offending field or column, when known.
        reason: what was wrong and what was expected.
        unit: what ``line`` counts: ``"line"`` (text files) or ``"row"``.
    """

    def __init__(
        self,
        reason: str,
        *,
        source: str | None = None,
        line: int | None = None,
        field: str | None = None,
        unit: str = "line",
    ) -> None:
        self.reason = reason
        self.source = source
        self.line = line
        self.field = field
        self.unit = unit
        super().__init__(self._render())

    def located(
        self, *, source: str | None = None, line: int | None = None, unit: str | None = None
    ) -> InvalidRecord:
        """Return a copy of this error with its location filled in."""
        return InvalidRecord(
            self.reason,
            source=source if source is not None else self.source,
            line=line if line is not None else self.line,
            field=self.field,
            unit=unit if unit is not None else self.unit,
        )

    def _render(self) -> str:
        where = self.source or "<input>"
        if self.line is not None:
            where += f", {self.unit} {self.line}"
        if self.field is not None:
            where += f", field {self.field!r}"
        return f"{where}: {self.reason}"


class InputError(ConvokitError):
    """Input was rejected; ``errors`` lists every invalid record found.

    Raised by importers after validating the whole input when any record was bad and
    ``skip_invalid`` was not requested. Nothing was written.
    """

    def __init__(self, errors: Sequence[InvalidRecord], *, limit: int = 20) -> None:
        self.errors = list(errors)
        shown = [str(e) for e in self.errors[:limit]]
        more = len(self.errors) - len(shown)
        lines = [f"{len(self.errors)} invalid record(s); nothing was written:"]
        lines += [f"  {s}" for s in shown]
        if more > 0:
            lines.append(f"  … and {more} more")
        super().__init__("\n".join(lines))


class SourceLocked(StorageError):
    """Another worker holds the sync lock of this source."""


class SyncError(ConvokitError):
    """A sync source failed (the CLI exits 1 and names the source)."""

    exit_code = 1


class HttpError(SyncError):
    """A platform answered with an error, or could not be reached, after retries.

    ``status`` is the last HTTP status (``None`` for transport errors); ``url`` never
    carries credentials.
    """

    def __init__(self, message: str, *, status: int | None = None, url: str | None = None) -> None:
        self.status = status
        self.url = url
        super().__init__(message)


class MalformedPayload(SyncError):
    """A platform returned a payload of an unexpected shape; the page is not written."""
