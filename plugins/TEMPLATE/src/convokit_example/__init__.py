"""convokit platform plugin for the Example Inbox API (a copyable template).

Registers ``platform = "example"``. Copy ``plugins/TEMPLATE``, rename ``example``, and
replace the API calls and the mapping in ``_adapter.py`` with your platform's.
"""

from __future__ import annotations

from collections.abc import Callable

from convokit_core import hookimpl

from ._adapter import ExampleAdapter, ExampleConfig, create_adapter

__all__ = ["ExampleAdapter", "ExampleConfig", "create_adapter", "register_platforms"]


@hookimpl
def register_platforms(register: Callable[..., None]) -> None:
    """Register the ``example`` platform with its config class and factory."""
    register(
        "example",
        config=ExampleConfig,
        create=create_adapter,
        description="Example Inbox API: every message of the account's inbox",
    )
