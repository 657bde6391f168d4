"""The public entry point: check a store against a policy, as ``convokit check`` does."""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from ..protocols import StorageBackend
from ._engines import choose_engine
from ._evaluate import Classifier, Commitment, _resolve_as_of
from ._findings import CheckReport
from ._policyfile import Policy, PolicyError, load_policy

__all__ = ["check", "latest_message_at", "notify_findings", "resolve_classifiers"]

log = logging.getLogger("convokit.policy")


def resolve_classifiers(names: Sequence[str] | None, plugins: Any = None) -> list[Classifier]:
    """Registered classifiers by name (``None``: all of them)."""
    from .._plugins import get_plugin_manager

    registry = (plugins or get_plugin_manager()).classifiers
    if names is None:
        return [reg.value for reg in registry]
    out = []
    for name in names:
        reg = registry.get(name)
        if reg is None:
            known = ", ".join(registry.names()) or "none"
            raise PolicyError(f"classifiers: unknown classifier {name!r} (registered: {known})")
        out.append(reg.value)
    return out


def notify_findings(report: CheckReport, plugins: Any = None) -> str | None:
    """Call the ``findings_ready`` hook once for ``report``. A failing plugin is logged
    and does not stop the run; its error is returned (``None`` when all went well)."""
    from .._plugins import get_plugin_manager

    manager = plugins or get_plugin_manager()
    context = {
        "as_of": report.as_of,
        "store": report.store,
        "commitments": [c.name for c in report.commitments],
        "report": report,
    }
    try:
        manager.hook.findings_ready(findings=report.findings, context=context)
    except Exception as exc:
        message = f"a findings_ready hook failed: {type(exc).__name__}: {exc}"
        log.warning("%s", message)
        return message
    return None


def check(
    store: StorageBackend | str,
    policy: Policy | Sequence[Commitment] | str | Path,
    *,
    as_of: datetime | None = None,
    only: Collection[str] | None = None,
    classifiers: Sequence[Classifier] | None = None,
    notify: bool = False,
    plugins: Any = None,
    progress: Callable[[int], None] | None = None,
    engine: str = "auto",
) -> CheckReport:
    """Check ``store`` against ``policy`` (a :class:`Policy`, commitments, or the path
    of a policy file) at ``as_of`` (default: now).

    Every finding is counted in ``report.commitments``; ``only`` limits the findings the
    report keeps. ``classifiers`` default to those the policy names (all registered
    ones when it names none). With ``notify``, the ``findings_ready`` hook is called
    once after the run. ``progress`` is called with how many more conversations are
    done, once per batch.

    ``engine`` names the evaluation engine (``convokit plugins`` lists them): ``auto``
    (default) runs the columnar engine when it supports every rule of the policy and
    the reference ``python`` engine otherwise; the log (``-v``) says which ran and why.
    Every engine produces the same findings. A dataset engine (``reads == "dataset"``)
    takes a dataset directory or URL as ``store``; for a store engine a string is a
    store URL, opened for this run and closed after it.
    """
    if isinstance(policy, str | Path):
        policy = load_policy(policy)
    if isinstance(policy, Policy):
        commitments: Sequence[Commitment] = policy.commitments
        names = policy.classifiers
    else:
        commitments = list(policy)
        names = None
    if classifiers is None:
        classifiers = resolve_classifiers(names, plugins)
    choice = choose_engine(engine, commitments, plugins)
    log.debug("engine: %s (%s)", choice.name, choice.reason)
    source: Any = store
    opened = None
    if isinstance(store, str) and choice.engine.reads == "store":
        from .._plugins import open_store

        source = opened = open_store(store, create=False)
    try:
        report = choice.engine.check(
            source,
            commitments,
            as_of=_resolve_as_of(as_of),
            only=only,
            classifiers=classifiers,
            progress=progress,
        )
    finally:
        if opened is not None:
            opened.close()
    if notify:
        notify_findings(report, plugins)
    return report


def latest_message_at(store: StorageBackend) -> datetime | None:
    """When the newest stored message was sent (``None`` for a store without messages).

    Uses the backend's ``latest_message_at()`` (one ``MAX(sent_at)`` query in the
    built-in backends); a third-party backend without it is scanned once.
    """
    query = getattr(store, "latest_message_at", None)
    if callable(query):
        found: datetime | None = query()
        return found
    newest: datetime | None = None
    for message in store.iter_messages():
        if newest is None or message.sent_at > newest:
            newest = message.sent_at
    return newest
