"""An iterator produced on a thread of its own, a few items ahead of its consumer."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Generator, Iterator
from typing import Any, TypeVar

__all__ = ["PREFETCH_DEPTH", "prefetched"]

T = TypeVar("T")

#: Batches read ahead at most.
PREFETCH_DEPTH = 2


class _Failure:
    __slots__ = ("error",)

    def __init__(self, error: BaseException) -> None:
        self.error = error


_DONE = object()


def prefetched(
    make: Callable[[], Iterator[T]],
    depth: int = PREFETCH_DEPTH,
    name: str = "convokit-columnar-reader",
) -> Generator[T, None, None]:
    """The items of ``make()``, produced on a thread (``name``) at most ``depth`` ahead.

    The whole iterator runs on that one thread (a connection is used by one thread at a
    time, and its read transaction is one snapshot). An error there is raised here;
    when the consumer stops early (an error, an interrupt, a cancelled run) the reader
    stops after the item it is on, closes its iterator, and is joined."""
    items: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                items.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            source = make()
            try:
                for item in source:
                    if not put(item):
                        return
            finally:
                close = getattr(source, "close", None)
                if close is not None:
                    close()
            put(_DONE)
        except BaseException as error:  # handed to the consumer, raised there
            put(_Failure(error))

    thread = threading.Thread(target=work, name=name, daemon=True)
    thread.start()
    try:
        while True:
            item = items.get()
            if item is _DONE:
                return
            if isinstance(item, _Failure):
                raise item.error
            yield item
    finally:
        stop.set()
        thread.join()
