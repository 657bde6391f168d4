"""Evaluation engines: who computes the findings of a check (DESIGN §11).

An engine takes the commitments and a source — a store, or for a dataset engine a
directory or URL — and returns a :class:`CheckReport`. Every engine must produce
exactly the findings of the ``python`` engine, which is the reference. Engines register
through ``register_engines``; ``auto`` picks the fastest registered local engine that
supports every rule of the policy, and falls back to ``python``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

from .._errors import ConfigError

if TYPE_CHECKING:
    from ._evaluate import Classifier, Commitment
    from ._findings import CheckReport

__all__ = ["AUTO", "Engine", "EngineChoice", "PythonEngine", "choose_engine"]

log = logging.getLogger("convokit.policy")

AUTO = "auto"

#: Local store engines ``auto`` tries, fastest first (each only when registered).
AUTO_ORDER: tuple[str, ...] = ("columnar",)


@runtime_checkable
class Engine(Protocol):
    """What ``register_engines`` registers.

    ``reads`` says what ``convokit check --engine NAME`` hands to :meth:`check`: an
    open store (``"store"``), or the ``--input DIR|URL`` string of a dataset
    (``"dataset"``, no store is opened).
    """

    reads: Literal["store", "dataset"]

    def unsupported(self, commitments: Sequence[Commitment]) -> str | None:
        """``None`` when this engine evaluates every rule of ``commitments``; otherwise
        why not, naming the commitment and the rule (one line)."""

    def check(
        self,
        source: Any,
        commitments: Sequence[Commitment],
        *,
        as_of: datetime,
        only: Collection[str] | None,
        classifiers: Sequence[Classifier],
        progress: Callable[[int], None] | None,
    ) -> CheckReport:
        """The report of ``commitments`` over ``source`` at ``as_of`` (aware)."""


class PythonEngine:
    """The reference engine: conversation by conversation through Python objects.

    It runs every rule, third-party ones included."""

    reads: Literal["store", "dataset"] = "store"

    def unsupported(self, commitments: Sequence[Commitment]) -> str | None:
        return None

    def check(
        self,
        source: Any,
        commitments: Sequence[Commitment],
        *,
        as_of: datetime,
        only: Collection[str] | None,
        classifiers: Sequence[Classifier],
        progress: Callable[[int], None] | None,
    ) -> CheckReport:
        from ._evaluate import check_commitments

        return check_commitments(
            source,
            commitments,
            as_of=as_of,
            only=only,
            classifiers=classifiers,
            progress=progress,
        )


class EngineChoice:
    """The engine a run uses, and why (``-v`` logs the reason)."""

    __slots__ = ("engine", "name", "reason")

    def __init__(self, name: str, engine: Engine, reason: str) -> None:
        self.name = name
        self.engine = engine
        self.reason = reason


def choose_engine(
    requested: str, commitments: Sequence[Commitment], plugins: Any = None
) -> EngineChoice:
    """Resolve ``requested`` (``auto`` or a registered name) for ``commitments``.

    ``auto`` takes the first engine of :data:`AUTO_ORDER` that is registered and
    supports every rule, else ``python``. A named engine that cannot run a rule is a
    :class:`ConfigError` naming the rule.
    """
    from .._plugins import get_plugin_manager

    registry = (plugins or get_plugin_manager()).engines
    if requested == AUTO:
        reasons = []
        for name in AUTO_ORDER:
            reg = registry.get(name)
            if reg is None:
                reasons.append(f"no {name!r} engine is registered")
                continue
            engine: Engine = reg.value
            why = engine.unsupported(commitments)
            if why is None:
                return EngineChoice(name, engine, f"every rule has a {name} form")
            reasons.append(why)
        python = registry.get("python")
        assert python is not None, "the python engine is built in"
        return EngineChoice("python", python.value, "; ".join(reasons) or "the default")
    reg = registry.get(requested)
    if reg is None:
        known = ", ".join([AUTO, *registry.names()])
        raise ConfigError(f"--engine: unknown engine {requested!r} (known: {known})")
    engine = reg.value
    why = engine.unsupported(commitments)
    if why is not None:
        raise ConfigError(f"--engine {requested}: {why}")
    return EngineChoice(requested, engine, "asked for")
