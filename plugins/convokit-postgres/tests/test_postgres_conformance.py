"""The storage conformance kit against a real PostgreSQL server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from convokit_core import open_store
from convokit_core.testing import StorageConformance


class TestPostgresStore(StorageConformance):
    @pytest.fixture
    def store(self, pg_url: str) -> Iterator[Any]:
        backend = open_store(pg_url)
        yield backend
        backend.close()
