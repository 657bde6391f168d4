"""The storage conformance kit against the built-in backends."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from convokit_core import open_store
from convokit_core.testing import StorageConformance


class TestMemoryStore(StorageConformance):
    @pytest.fixture
    def store(self) -> Iterator[Any]:
        backend = open_store("memory:")
        yield backend
        backend.close()


class TestSQLiteFileStore(StorageConformance):
    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[Any]:
        backend = open_store(f"sqlite:///{tmp_path}/store.db")
        yield backend
        backend.close()


class TestSQLiteInMemoryStore(StorageConformance):
    @pytest.fixture
    def store(self) -> Iterator[Any]:
        backend = open_store("sqlite:///:memory:")
        yield backend
        backend.close()
