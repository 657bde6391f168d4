"""Where commands write their output: standard output, a special file, or a regular file
replaced atomically.

``-o FILE`` semantics (the same for every command):

- a regular file (new, existing, or reached through a symlink) is written to a temporary
  file in the same directory, flushed, ``fsync``-ed and renamed over the target with
  :func:`os.replace`, only when everything went well; a crash or a kill at any point
  leaves the previous file untouched. A symlink stays a symlink: the file it points at
  is replaced. The new file gets the mode of the file it replaces, or for a new file the
  mode the user's umask gives (``0666 & ~umask``), as ``>`` in a shell would;
- a FIFO, a character device or a symlink to one (``/dev/stdout``, ``/dev/null``) is
  written to directly and never replaced by a regular file;
- ``-`` or no path is standard output.

Any failure to write (missing or unwritable directory, ``/proc``, a directory given as
the file, a full disk) is one :class:`~convokit_core.ConfigError` naming the path
(exit code 2).

With ``staged=True`` the output is first written to an anonymous temporary file and
copied to standard output or a special file only once complete, so an error while
rendering leaves nothing half-written there either (regular files are staged by
construction).
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import stat
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TextIO

from ._errors import ConfigError

__all__ = ["atomic_output", "current_umask"]

_umask_lock = threading.Lock()


def current_umask() -> int:
    """The process's umask (read without changing it for other threads' file creation:
    the short set-and-restore happens under a lock shared by every caller here)."""
    with _umask_lock:
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


class _Staged(io.TextIOWrapper):
    """An anonymous temporary text file that reports the tty-ness of the stream it will
    be copied to (so a reporter can choose colours for a terminal)."""

    def __init__(self, tty: bool) -> None:
        super().__init__(tempfile.TemporaryFile(), encoding="utf-8", newline="\n")  # noqa: SIM115
        self._tty = tty

    def isatty(self) -> bool:
        return self._tty


def _tty(stream: IO[str]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError, OSError):
        return False


@contextlib.contextmanager
def _staged_to(stream: TextIO) -> Iterator[IO[str]]:
    stage = _Staged(_tty(stream))
    try:
        yield stage
        stage.flush()
        stage.seek(0)
        shutil.copyfileobj(stage, stream, 1 << 16)
        stream.flush()
    finally:
        stage.close()


def _error(path: str | os.PathLike[str], what: str, exc: OSError) -> ConfigError:
    reason = exc.strerror or type(exc).__name__
    return ConfigError(f"{os.fspath(path)}: {what}: {reason}")


@contextlib.contextmanager
def _special(path: str | os.PathLike[str], staged: bool) -> Iterator[IO[str]]:
    """Write to an existing FIFO or device (or a symlink to one) in place."""
    try:
        handle = open(path, "w", encoding="utf-8", newline="\n")  # noqa: SIM115
    except OSError as exc:
        raise _error(path, "cannot open for writing", exc) from None
    with handle:
        if staged:
            with _staged_to(handle) as stage:
                yield stage
        else:
            yield handle


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def _regular(path: str | os.PathLike[str], existing: os.stat_result | None) -> Iterator[IO[str]]:
    """Write a temporary file next to the real target and rename it over the target."""
    target = Path(os.path.realpath(path))
    directory = target.parent
    if not directory.is_dir():
        raise ConfigError(f"{os.fspath(path)}: directory {str(directory)!r} does not exist")
    mode = stat.S_IMODE(existing.st_mode) if existing is not None else 0o666 & ~current_umask()
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise _error(path, f"cannot create a file in {str(directory)!r}", exc) from None
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise _error(path, "cannot write", exc) from None
        raise
    _fsync_dir(directory)


@contextlib.contextmanager
def atomic_output(
    path: str | os.PathLike[str] | None, *, staged: bool = False
) -> Iterator[IO[str]]:
    """A text stream for a command's output to ``path`` (see the module docstring).

    ``None`` or ``"-"`` is standard output (streamed directly unless ``staged``).
    """
    if path is None or os.fspath(path) == "-":
        if staged:
            with _staged_to(sys.stdout) as stage:
                yield stage
        else:
            yield sys.stdout
            sys.stdout.flush()
        return
    try:
        existing: os.stat_result | None = os.stat(path)  # follows symlinks
    except FileNotFoundError:
        existing = None
    except OSError as exc:
        raise _error(path, "cannot write", exc) from None
    if existing is not None and stat.S_ISDIR(existing.st_mode):
        raise ConfigError(f"{os.fspath(path)}: is a directory, expected a file")
    if existing is not None and not stat.S_ISREG(existing.st_mode):
        with _special(path, staged) as stream:
            yield stream
        return
    with _regular(path, existing) as stream:
        yield stream
