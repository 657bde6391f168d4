"""PostgreSQL storage backend for convokit: one shared store for many sync workers.

Installing this distribution registers the ``postgresql://`` and ``postgres://`` store
URL schemes and the ``convokit store migrate`` command::

    convokit --store postgresql://convokit@db.internal/convokit sync

The public API is re-exported here and imported on first use, so loading the plugin
(which every ``convokit`` start does) does not import psycopg.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._schema import MIGRATIONS, SCHEMA_VERSION, Migration
    from ._store import MigrationReport, PostgresStore, migrate, source_lock_key

__all__ = [
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "Migration",
    "MigrationReport",
    "PostgresStore",
    "migrate",
    "source_lock_key",
]

_LAZY = {
    "MIGRATIONS": "._schema",
    "SCHEMA_VERSION": "._schema",
    "Migration": "._schema",
    "MigrationReport": "._store",
    "PostgresStore": "._store",
    "migrate": "._store",
    "source_lock_key": "._store",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module, __name__), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
