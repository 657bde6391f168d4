"""Built-in plugin: the rules, the keyword classifier and ``convokit check``.

Core features register through the same hooks as third-party plugins.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from .._errors import ConfigError
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


def _parse_only(value: str | None) -> frozenset[str] | None:
    if value is None:
        return None
    items = {part.strip() for part in value.split(",") if part.strip()}
    known = {str(s) for s in STATUSES}
    bad = sorted(items - known)
    if bad or not items:
        raise click.BadParameter(
            f"expected a comma list of statuses among {', '.join(sorted(known))}, found {value!r}"
        )
    return frozenset(items)


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
    @click.option("--as-of", "as_of", metavar="TS", help="Evaluate history as it stood at TS.")
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
        help="Show only findings with these statuses (comma list, e.g. breached,at_risk).",
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
    ) -> None:
        """Evaluate commitments against the store.

        Exit codes: 0 all kept, 1 a commitment breached (per --fail-on), 2 usage,
        policy or input error.
        """
        from .._plugins import get_plugin_manager
        from ._policyfile import load_policy, policy_from_config
        from ._run import check, notify_findings

        manager = get_plugin_manager()
        reporter = manager.reporters.get(fmt)
        if reporter is None:
            known = ", ".join(manager.reporters.names())
            raise click.BadParameter(
                f"unknown format {fmt!r} (known: {known})", param_hint="--format"
            )
        keep = _parse_only(only)
        as_of_dt = None
        if as_of is not None:
            try:
                as_of_dt = parse_timestamp(as_of)
            except ValueError as exc:
                raise click.BadParameter(str(exc), param_hint="--as-of") from None
        if policy_path is not None:
            policy = load_policy(policy_path)
        else:
            policy = policy_from_config(state.config)
        if not policy.commitments:
            raise ConfigError(
                f"{policy.source}: no commitments to check; pass --policy FILE or add "
                "[[commitment]] tables to convokit.toml"
            )
        store = state.open_store()
        try:
            report = check(store, policy, as_of=as_of_dt, only=keep)
        finally:
            store.close()
        render: Any = reporter.value
        if output is not None:
            with output.open("w", encoding="utf-8") as stream:
                render(report, stream)
        else:
            render(report, sys.stdout)
            sys.stdout.flush()
        problem = notify_findings(report, manager)
        if problem:
            click.echo(f"Warning: {problem}", err=True)
        if report.failed(fail_on):
            ctx.exit(1)
