"""Every hook a convokit plugin can implement (DESIGN §4).

A plugin is a module or object with functions decorated with :data:`hookimpl`,
advertised under the ``convokit`` entry-point group::

    [project.entry-points.convokit]
    myplatform = "convokit_myplatform"

``register_*`` hooks receive a ``register`` callback instead of returning values, so
the host validates what is registered, names both plugins when two claim the same
name, and lists what each plugin provides (``convokit plugins``). Built-in storage
backends, rules and reporters register through these very hooks.

Hooks are called once per process (``register_*``), once per CLI start
(``register_commands``) or once per check run (``findings_ready``) — never per message.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    import click

__all__ = ["hookimpl", "hookspec"]

PROJECT = "convokit"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)
"""Decorate a plugin's hook implementations with this marker."""


@hookspec
def register_platforms(register: Callable[..., None]) -> None:
    """Register platform adapters.

    Call ``register(name, *, config, create, description="")`` once per platform:

    - ``name``: the value of ``platform = "..."`` in a ``[[source]]`` table;
    - ``config``: an attrs class; the source table's keys (minus ``name`` and
      ``platform``) are passed to it as keyword arguments. Mark secret fields with
      ``metadata={"secret": True}`` and ``repr=False``;
    - ``create``: ``create(config, client, context) -> PlatformAdapter`` where ``client``
      is an :class:`httpx.AsyncClient` owned by the host;
    - ``description``: one line shown by ``convokit plugins``.
    """


@hookspec
def register_storage(register: Callable[..., None]) -> None:
    """Register storage backends by URL scheme.

    Call ``register(scheme, open, *, description="")`` where ``scheme`` is the part of
    the store URL before ``:`` (``"sqlite"``, ``"postgresql"``) and ``open(url)`` returns
    a :class:`convokit_core.protocols.StorageBackend`.

    ``open`` should also accept ``create: bool = True``: read commands (``check``,
    ``export``, ``store info`` …) pass ``create=False``, and the backend must then raise
    ``StorageError`` naming the URL for a store that does not exist (or was never
    initialised) instead of creating it. An ``open`` without the keyword is called as
    ``open(url)``.
    """


@hookspec
def register_rules(register: Callable[..., None]) -> None:
    """Register rule types usable by name from policy files.

    Call ``register(name, factory, *, description="", columnar=None)``: a policy table
    ``{ rule = "name", key = value, ... }`` calls ``factory(**params)`` with the table's
    other keys; the factory raises ``ValueError`` or ``TypeError`` for bad parameters
    (the host reports them with the file and key path) and returns a
    :class:`convokit_core.protocols.Rule`.

    ``columnar`` is the rule's optional columnar form, used by the columnar engine for
    conversation-level rules whose ``name`` is ``name``:
    ``columnar(rule, batch, context)`` takes a :class:`convokit_core.ColumnarBatch`
    (whole conversations as numpy columns) and the commitment's ``RuleContext``, and
    returns a :class:`convokit_core.ColumnarOutcomes` with exactly the outcomes the
    rule's ``evaluate`` gives, conversation by conversation (docs/engines.md). Without
    it, ``--engine auto`` runs the python engine for policies using the rule.
    """


@hookspec
def register_classifiers(register: Callable[..., None]) -> None:
    """Register message taggers.

    Call ``register(name, classify, *, description="")`` where
    ``classify(texts: Sequence[str]) -> Sequence[Collection[str]]`` returns the tags
    for each text of a batch (``complaint``, ``question``, ``praise`` …). A classifier
    tag never replaces a tag the source platform gave.
    """


@hookspec
def register_reporters(register: Callable[..., None]) -> None:
    """Register output formats for ``convokit check``.

    Call ``register(name, render, *, description="")`` where ``render(report, stream)``
    writes a :class:`convokit_core.CheckReport` to a text stream.
    """


@hookspec
def register_importers(register: Callable[..., None]) -> None:
    """Register input formats for ``convokit import --format NAME``.

    Call ``register(name, read, *, description="", lenient=False)`` where
    ``read(source)`` takes a :class:`convokit_core.ImportSource` (the file, directory or
    standard input, and the ``--option KEY=VALUE`` pairs) and yields ``(line, record)``
    pairs: ``record`` is an interchange-format object (a dict, as one JSONL line) or an
    :class:`convokit_core.InvalidRecord` for an input record that cannot be read. The
    host validates and writes them exactly as it does JSONL: all or nothing, or with
    ``--skip-invalid`` the good ones. ``lenient=True`` makes ``--skip-invalid`` the
    default for a format whose data is known to be dirty. Raise
    :class:`convokit_core.ConfigError` for an unknown option or an unreadable input.
    The built-in ``jsonl``, ``csv`` and ``convokit-corpus`` formats register this way.
    """


@hookspec
def register_engines(register: Callable[..., None]) -> None:
    """Register evaluation engines for ``convokit check --engine NAME``.

    Call ``register(name, engine, *, description="")`` where ``engine`` is a
    :class:`convokit_core.Engine`: its ``reads`` says whether it evaluates an open store
    (``"store"``) or a dataset given by ``--input DIR|URL`` (``"dataset"``), its
    ``unsupported(commitments)`` returns ``None`` or why it cannot run a rule, and its
    ``check(source, commitments, *, as_of, only, classifiers, progress)`` returns a
    :class:`convokit_core.CheckReport` whose findings equal those of the ``python``
    engine, the reference. The built-in ``python`` engine registers this way.
    """


@hookspec
def register_notifiers(register: Callable[..., None]) -> None:
    """Register notifier kinds usable from ``[[notify]]`` tables (``convokit watch``).

    Call ``register(kind, create, *, description="")`` where ``kind`` is the value of
    ``kind = "..."`` and ``create(settings)`` receives the validated
    :class:`convokit_core.NotifierSettings` of one table and returns a
    :class:`convokit_core.protocols.Notifier`; raise ``ValueError`` for settings the
    kind cannot use (the host reports it with the file, line and key). The built-in
    ``webhook``, ``slack`` and ``email`` kinds register this way.
    """


@hookspec
def register_commands(cli: click.Group) -> None:
    """Add sub-commands to the ``convokit`` command-line tool (``@cli.command()``)."""


@hookspec
def findings_ready(findings: Sequence[Any], context: dict[str, Any]) -> None:
    """Called once after a check run with every finding of that run.

    ``context`` holds ``as_of`` (datetime), ``store`` (the store URL with any password
    removed) and ``commitments`` (their names). Use it for side effects such as posting
    a summary to a webhook; exceptions are reported and do not change the exit code.
    """
