"""Built-in plugin: registers the ``columnar`` engine through ``register_engines``."""

from __future__ import annotations

from collections.abc import Callable

from ..hookspecs import hookimpl


@hookimpl
def register_engines(register: Callable[..., None]) -> None:
    from ._engine import ColumnarEngine

    register(
        "columnar",
        ColumnarEngine(),
        description="whole conversations in Arrow batches, rules vectorised with numpy "
        "(SQLite and PostgreSQL stores; every built-in rule and composition, and plugin "
        "rules registered with a columnar form)",
    )
