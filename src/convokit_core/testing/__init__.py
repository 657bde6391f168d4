"""Test kits for plugin authors: conformance suites and data helpers.

- :class:`StorageConformance`: subclass it with a ``store`` fixture to check a backend.
- :class:`AdapterConformance`: subclass it with a few fixtures to check a platform adapter.
"""

import pytest

pytest.register_assert_rewrite("convokit_core.testing._storage", "convokit_core.testing._adapters")

from ._adapters import AdapterConformance, FaultInjector  # noqa: E402
from ._storage import StorageConformance, sample_message  # noqa: E402

__all__ = ["AdapterConformance", "FaultInjector", "StorageConformance", "sample_message"]
