"""Test kits for plugin authors: conformance suites and data helpers.

- :class:`StorageConformance`: subclass it with a ``store`` fixture to check a backend.
"""

import pytest

pytest.register_assert_rewrite("convokit_core.testing._storage", "convokit_core.testing._adapters")

from ._storage import StorageConformance, sample_message  # noqa: E402

__all__ = ["StorageConformance", "sample_message"]
