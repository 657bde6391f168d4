"""Cooperative cancellation of blocking work running in a worker thread.

The asyncio API (:mod:`._async`) runs blocking calls in a worker thread and, when the
awaiting task is cancelled, sets that thread's cancel flag. Long loops pass their
items through :func:`checkpointed`, which looks at the flag every few hundred items and
unwinds with :class:`Cancelled` (rolling back any transaction it passes through).
Outside such a worker the flag is never set and a checkpoint costs one attribute read.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from typing import TypeVar

__all__ = ["Cancelled", "checkpointed", "running_cancellable"]

T = TypeVar("T")

#: Items between two looks at the cancel flag.
EVERY = 256

_current = threading.local()


class Cancelled(BaseException):
    """Unwinds a cancelled call inside its worker thread.

    A BaseException, so no ``except Exception`` on the way swallows it, and every
    transaction it passes through rolls back.
    """


def checkpoint() -> None:
    """Raise :class:`Cancelled` when this thread's call has been cancelled."""
    event: threading.Event | None = getattr(_current, "cancel", None)
    if event is not None and event.is_set():
        raise Cancelled


def checkpointed(items: Iterable[T]) -> Iterator[T]:
    """``items``, with a :func:`checkpoint` every :data:`EVERY` items."""
    for n, item in enumerate(items):
        if n % EVERY == 0:
            checkpoint()
        yield item


class running_cancellable:
    """``with running_cancellable(event):`` makes ``event`` this thread's cancel flag."""

    def __init__(self, event: threading.Event) -> None:
        self._event = event

    def __enter__(self) -> None:
        _current.cancel = self._event

    def __exit__(self, *_exc: object) -> None:
        _current.cancel = None
