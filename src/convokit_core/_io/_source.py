"""What an importer plugin reads from: a file, a directory or standard input."""

from __future__ import annotations

import contextlib
import io
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO

import attrs

from .._errors import ConfigError

__all__ = ["ImportSource"]


@attrs.frozen(kw_only=True)
class ImportSource:
    """The input of one ``convokit import``, as an importer receives it.

    Attributes:
        name: how errors name the input (the path as given, or ``<stdin>``).
        path: the file or directory, or ``None`` for standard input.
        options: ``--option KEY=VALUE`` pairs (and ``mapping`` for CSV); an importer
            raises :class:`~convokit_core.ConfigError` for a key it does not know.
    """

    name: str
    path: Path | None
    options: Mapping[str, str] = attrs.field(factory=dict)

    @classmethod
    def of(cls, argument: str, options: Mapping[str, str] | None = None) -> ImportSource:
        """``-`` is standard input; anything else a path."""
        if argument == "-":
            return cls(name="<stdin>", path=None, options=dict(options or {}))
        return cls(name=argument, path=Path(argument), options=dict(options or {}))

    def require_path(self, what: str = "a file") -> Path:
        """The path, or a :class:`ConfigError` saying this importer cannot read stdin."""
        if self.path is None:
            raise ConfigError(f"{self.name}: this format reads {what}, not standard input")
        return self.path

    @contextlib.contextmanager
    def open_binary(self) -> Iterator[IO[bytes]]:
        """The input's bytes (a file, or standard input)."""
        if self.path is None:
            yield sys.stdin.buffer
            return
        try:
            handle = self.path.open("rb")
        except FileNotFoundError:
            raise ConfigError(f"{self.name}: no such file") from None
        except IsADirectoryError:
            raise ConfigError(f"{self.name}: is a directory, expected a file") from None
        except OSError as exc:
            raise ConfigError(f"{self.name}: cannot open: {exc.strerror}") from None
        with handle:
            yield handle

    @contextlib.contextmanager
    def open_text(self, *, newline: str | None = None) -> Iterator[IO[str]]:
        """The input as UTF-8 text (``newline=""`` for CSV).

        Undecodable bytes arrive as lone surrogates (``errors="surrogateescape"``), which
        the core's readers and validation report per line instead of aborting the whole
        input.
        """
        with self.open_binary() as raw:
            stream = io.TextIOWrapper(
                raw, encoding="utf-8", errors="surrogateescape", newline=newline
            )
            try:
                yield stream
            finally:
                stream.detach()
