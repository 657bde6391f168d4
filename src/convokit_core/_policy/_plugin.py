"""Built-in plugin: the rules, the keyword classifier and ``convokit check``.

Core features register through the same hooks as third-party plugins.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import click

from .._errors import ConfigError, ConvokitError
from .._timeutil import parse_timestamp
from ..hookspecs import hookimpl
from ._classifiers import KeywordClassifier
from ._findings import STATUSES
from ._rules import BUILTIN_RULES

FAIL_ON = ("breached", "at_risk", "never")


@hookimpl
def register_rules(register: Callable[..., None]) -> None:
    for name, (factory, description) in BUILTIN_RULES.items():
        register(name, factory, description=description)


@hookimpl
def register_classifiers(register: Callable[..., None]) -> None:
    register(
        "keywords",
        KeywordClassifier(),
        description="English keyword rules tagging 'complaint' and 'question'",
    )


@hookimpl
def register_engines(register: Callable[..., None]) -> None:
    from ._engines import PythonEngine

    register(
        "python",
        PythonEngine(),
        description="the reference engine: conversation by conversation in Python",
    )


#: How long past the newest stored message a default ``--as-of`` (now) gets a hint.
STALE_AFTER = timedelta(days=30)


def _parse_only(value: str) -> frozenset[str] | None:
    """``--only``: a comma list of statuses, or ``all`` (``None``: keep everything)."""
    items = {part.strip() for part in value.split(",") if part.strip()}
    if items == {"all"}:
        return None
    known = {str(s) for s in STATUSES}
    bad = sorted(items - known)
    if bad or not items:
        raise click.BadParameter(
            f"expected 'all' or a comma list of statuses among {', '.join(sorted(known))}, "
            f"found {value!r}",
            param_hint="--only",
        )
    return frozenset(items)


def _parse_as_of(value: str) -> datetime | None:
    """``--as-of``: a timestamp, or ``latest`` (``None`` here; resolved on the store)."""
    if value.strip().lower() == "latest":
        return None
    try:
        return parse_timestamp(value, what="--as-of")
    except ValueError as exc:
        raise click.BadParameter(f"{exc}, or 'latest'", param_hint="--as-of") from None


@hookimpl
def register_commands(cli: click.Group) -> None:
    from .._cli import CliState, pass_state

    @cli.command("check")
    @click.option(
        "--policy",
        "policy_path",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Policy file [default: the [[commitment]] tables of convokit.toml].",
    )
    @click.option(
        "--as-of",
        "as_of",
        metavar="TS|latest",
        help="Evaluate history as it stood at TS; 'latest' = the newest stored message "
        "[default: now].",
    )
    @click.option(
        "--format",
        "fmt",
        default="table",
        show_default=True,
        metavar="|".join(["table", "json", "junit", "markdown"]),
        help="Output format (plugins add more).",
    )
    @click.option(
        "--only",
        metavar="STATUSES",
        help="List only findings with these statuses (comma list, e.g. breached,at_risk), "
        "or 'all' [default: breached,at_risk for table, markdown and junit; all for json].",
    )
    @click.option(
        "--fail-on",
        type=click.Choice(FAIL_ON),
        default="breached",
        show_default=True,
        help="Exit 1 when an error-severity commitment has findings at this level.",
    )
    @click.option(
        "--output",
        "-o",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Write the report to a file instead of stdout.",
    )
    @click.option(
        "--engine",
        default="auto",
        show_default=True,
        metavar="auto|python|NAME",
        help="Evaluation engine: auto takes the fastest one that runs every rule of the "
        "policy ('convokit plugins' lists the engines; -v says which ran and why).",
    )
    @click.option(
        "--input",
        "input_",
        metavar="DIR|URL",
        help="The dataset a dataset engine reads (e.g. --engine spark); no store is opened.",
    )
    @pass_state
    @click.pass_context
    def check_command(
        ctx: click.Context,
        state: CliState,
        policy_path: Path | None,
        as_of: str | None,
        fmt: str,
        only: str | None,
        fail_on: str,
        output: Path | None,
        engine: str,
        input_: str | None,
    ) -> None:
        """Evaluate commitments against the store.

        Exit codes: 0 all kept, 1 a commitment breached (per --fail-on), 2 usage,
        policy or input error.
        """
        from .._output import atomic_output
        from .._plugins import get_plugin_manager
        from .._progress import progress
        from ._engines import choose_engine
        from ._policyfile import load_policy, policy_from_config
        from ._run import check, notify_findings

        manager = get_plugin_manager()
        reporter = manager.reporters.get(fmt)
        if reporter is None:
            known = ", ".join(manager.reporters.names())
            raise click.BadParameter(
                f"unknown format {fmt!r} (known: {known})", param_hint="--format"
            )
        if only is not None:
            keep = _parse_only(only)
        else:
            default = reporter.options.get("default_only")
            keep = None if default is None else frozenset(default)
        latest = as_of is not None and as_of.strip().lower() == "latest"
        as_of_dt = None if as_of is None else _parse_as_of(as_of)
        if policy_path is not None:
            policy = load_policy(policy_path)
        else:
            policy = policy_from_config(state.config)
        if not policy.commitments:
            if policy_path is not None:
                where = f"{policy_path}: no [[commitment]] tables"
            elif state.config.path is not None:
                where = f"{state.config.path}: no [[commitment]] tables and no --policy FILE"
            else:
                where = "no --policy FILE given and no convokit.toml in the current directory"
            raise ConfigError(
                f"{where}: no commitments to check; pass --policy FILE or add "
                "[[commitment]] tables to convokit.toml"
            )
        choice = choose_engine(engine, policy.commitments, manager)
        logging.getLogger("convokit.policy").info("engine: %s (%s)", choice.name, choice.reason)
        if choice.engine.reads == "dataset":
            if input_ is None:
                raise click.UsageError(
                    f"--engine {choice.name} reads a dataset: pass --input DIR|URL"
                )
            if latest:
                newest_of = getattr(choice.engine, "latest_message_at", None)
                as_of_dt = newest_of(input_) if callable(newest_of) else None
                if as_of_dt is None:
                    raise ConfigError(
                        f"--as-of latest: dataset {input_!r} holds no message to take the time of"
                    )
            with progress("Checking", unit="conversations", quiet=state.quiet) as advance:
                report = check(
                    input_,
                    policy,
                    as_of=as_of_dt,
                    only=keep,
                    progress=advance,
                    engine=choice.name,
                    plugins=manager,
                )
        else:
            if input_ is not None:
                raise click.UsageError(
                    f"--input is for dataset engines; engine {choice.name!r} reads the store"
                )
            report = _check_store(state, policy, choice.name, as_of_dt, latest, as_of, keep)
        report = attrs.evolve(report, fail_on=fail_on)
        render: Any = reporter.value
        # The whole report is rendered before stdout or the file is touched: a failure
        # while rendering leaves the earlier file, or nothing, behind.
        with atomic_output(output, staged=True) as stream:
            try:
                render(report, stream)
            except ConvokitError:
                raise
            except Exception as exc:
                raise ConvokitError(
                    f"--format {fmt}: the reporter failed: {type(exc).__name__}: {exc}"
                ) from exc
        problem = notify_findings(report, manager)
        if problem:
            click.echo(f"Warning: {problem}", err=True)
        if report.failed():
            ctx.exit(1)


def _check_store(
    state: Any,
    policy: Any,
    engine: str,
    as_of_dt: datetime | None,
    latest: bool,
    as_of: str | None,
    keep: frozenset[str] | None,
) -> Any:
    from .._plugins import get_plugin_manager
    from .._progress import progress
    from ._run import check, latest_message_at

    store = state.open_store(create=False)
    try:
        # The hint costs one MAX(sent_at) query; a backend without that query is
        # only scanned when --as-of latest asks for it.
        cheap = callable(getattr(store, "latest_message_at", None))
        wanted = latest or (as_of is None and cheap)
        newest = latest_message_at(store) if wanted else None
        if latest:
            if newest is None:
                raise ConfigError(
                    f"--as-of latest: store {store.url!r} holds no message to take the time of"
                )
            as_of_dt = newest
        elif as_of is None and newest is not None:
            now = datetime.now(UTC)
            if now - newest > STALE_AFTER:
                state.echo(
                    f"Hint: the newest stored message is from {newest:%Y-%m-%d}, "
                    f"{(now - newest).days} days before now, the default --as-of; "
                    "use --as-of latest to check the history as it stood then.",
                    err=True,
                )
        with progress("Checking", unit="conversations", quiet=state.quiet) as advance:
            report = check(
                store,
                policy,
                as_of=as_of_dt,
                only=keep,
                progress=advance,
                engine=engine,
                plugins=get_plugin_manager(),
            )
    finally:
        store.close()
    return report
