"""The sync engine: runs platform adapters and writes their pages to a store (DESIGN §7).

- :class:`SyncContext`: what an adapter knows about its source (team handles, ours).
- :func:`load_sources` / :func:`load_team`: ``[[source]]`` and ``[[team]]`` tables.
- :func:`run_sync`: sync several sources concurrently into a store.
- :func:`sync_adapter`: sync one adapter (pages and cursors in one transaction each).
"""

from ._config import SourceSpec, load_sources, load_team, select_sources
from ._context import SyncContext, normalize_handle
from ._engine import (
    DEFAULT_CONCURRENCY,
    SourceResult,
    SyncObserver,
    SyncReport,
    run_sync,
    sync_adapter,
)

__all__ = [
    "DEFAULT_CONCURRENCY",
    "SourceResult",
    "SourceSpec",
    "SyncContext",
    "SyncObserver",
    "SyncReport",
    "load_sources",
    "load_team",
    "normalize_handle",
    "run_sync",
    "select_sources",
    "sync_adapter",
]
