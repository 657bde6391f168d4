"""Pausing the cyclic garbage collector around hot loops that make no cycles."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["gc_paused"]


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector for the block (or a decorated function).

    The evaluator and the importer allocate millions of short-lived tuples and dicts
    and no reference cycles (reference counting frees them), while keeping many
    objects alive (kept findings; the importer's conversation map). With the collector
    on, it runs thousands of times and each full collection rescans everything alive:
    about a fifth of an evaluation, a third of a 1M-message import. It is re-enabled
    on exit, when it was enabled before.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
