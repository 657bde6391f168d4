"""Test kits for plugin authors: conformance suites and data helpers.

- :class:`StorageConformance`: subclass it with a ``store`` fixture to check a backend.
- :class:`AdapterConformance`: subclass it with a few fixtures to check a platform adapter.
- :class:`FakePlatform`: fixture rows served as a paged API (page numbers, opaque
  cursors, ``Link`` headers; newest or oldest first) with injected :class:`Fault` answers
  (429 in the platform's reset-header style, 5xx, timeouts), through a mock transport or
  on loopback (:meth:`FakePlatform.serve`, :func:`serve_loopback`).
- :func:`sample_message`: a message for tests.
- :func:`generate_history` / :class:`HistorySpec`: realistic generated support traffic
  (for demos, tests and benchmarks) and :data:`DEMO_POLICY`, a policy that exercises
  every finding status on it.

The kits need pytest (and respx for the adapter kit); they are imported on first use,
so the rest of this package — the data generator used by ``convokit demo`` — works in an
installation without test dependencies.
"""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING, Any

from ._fake import FakePlatform, Fault, Order, Paging, serve_loopback
from ._generate import DEMO_POLICY, HistorySpec, generate_history, generate_rows

if TYPE_CHECKING:
    from ._adapters import AdapterConformance, FaultInjector
    from ._storage import StorageConformance, sample_message

__all__ = [
    "DEMO_POLICY",
    "AdapterConformance",
    "FakePlatform",
    "Fault",
    "FaultInjector",
    "HistorySpec",
    "Order",
    "Paging",
    "StorageConformance",
    "generate_history",
    "generate_rows",
    "sample_message",
    "serve_loopback",
]

_LAZY = {
    "AdapterConformance": "._adapters",
    "FaultInjector": "._adapters",
    "StorageConformance": "._storage",
    "sample_message": "._storage",
}


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    full_name = f"{__name__}{module_name}"
    if full_name not in sys.modules:
        import pytest

        # Rewrite the kits' asserts so failures show values, as in the author's own
        # tests (possible only before the module is first imported).
        pytest.register_assert_rewrite(full_name)
    module = importlib.import_module(module_name, __name__)
    return getattr(module, name)
