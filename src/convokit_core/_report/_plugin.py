"""Built-in plugin: the reporters of ``convokit check`` and ``convokit simulate``."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import click

from .._errors import ConfigError
from .._timeutil import parse_timestamp
from ..hookspecs import hookimpl
from ._reporters import FAILING, render_json, render_junit, render_markdown, render_table
from ._simulate import render_simulation


@hookimpl
def register_reporters(register: Callable[..., None]) -> None:
    """The built-in formats. ``default_only`` (an option any reporter may register)
    names the statuses ``convokit check`` keeps when ``--only`` is not given."""
    register(
        "table",
        render_table,
        description="rich tables for a terminal (default): summaries and failing findings",
        default_only=FAILING,
    )
    register("json", render_json, description="one JSON document: as_of, commitments, findings")
    register(
        "junit",
        render_junit,
        description="JUnit XML: a test case per failing finding; failures match --fail-on",
        default_only=FAILING,
    )
    register(
        "markdown",
        render_markdown,
        description="Markdown tables for a PR or chat: summaries and failing findings",
        default_only=FAILING,
    )


@hookimpl
def register_commands(cli: click.Group) -> None:
    _add_simulate(cli)
    _add_report(cli)


def _add_simulate(cli: click.Group) -> None:
    from .._cli import CliState, pass_state

    @cli.command("simulate")
    @click.option(
        "--policy",
        "policy_path",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Policy file [default: the [[commitment]] tables of convokit.toml].",
    )
    @click.option("--since", metavar="TS", help="Count clocks that started at or after TS.")
    @click.option(
        "--until",
        metavar="TS|latest",
        help="Count clocks that started before TS (latest: up to the newest message); "
        "history is evaluated as of TS [default: now].",
    )
    @click.option(
        "--by",
        type=click.Choice(["platform", "channel", "owner"]),
        help="Also give the results per platform, channel or conversation owner.",
    )
    @click.option(
        "--format",
        "fmt",
        type=click.Choice(["table", "json"]),
        default="table",
        show_default=True,
    )
    @pass_state
    def simulate_command(
        state: CliState,
        policy_path: Path | None,
        since: str | None,
        until: str | None,
        by: str | None,
        fmt: str,
    ) -> None:
        """Backtest the commitments over history and suggest targets you can keep.

        For every time-based rule it prints the compliance the commitment would have had
        and the limits that would have been kept 90 %, 95 % and 99 % of the time, rounded
        up to a nice duration ("promise 3 business hours, not 1").
        """
        from .._policy._policyfile import load_policy, policy_from_config
        from ._simulate import simulate

        since_at = _timestamp(since, "--since")
        until_at = _timestamp(until, "--until")
        if isinstance(since_at, datetime) and isinstance(until_at, datetime):
            _resolve(None, since_at, until_at)  # order checked before any store is opened
        policy = load_policy(policy_path) if policy_path else policy_from_config(state.config)
        if not policy.commitments:
            raise ConfigError(
                f"{policy.source}: no commitments to simulate; pass --policy FILE or add "
                "[[commitment]] tables to convokit.toml"
            )
        with state.open_store(create=False) as store:
            since_dt, until_dt, _ = _resolve(store, since_at, until_at)
            result = simulate(store, policy, since=since_dt, until=until_dt, by=by)
        if fmt == "json":
            text = json.dumps(result.to_dict(), indent=2, ensure_ascii=False) + "\n"
            sys.stdout.write(text)
            sys.stdout.flush()
            return
        render_simulation(result, sys.stdout)
        sys.stdout.flush()


#: ``--as-of latest`` / ``--until latest``: resolved on the store (the newest message).
LATEST = "latest"


def _timestamp(value: str | None, option: str) -> datetime | str | None:
    if value is None:
        return None
    if value.strip().lower() == LATEST:
        return LATEST
    try:
        return parse_timestamp(value, what=option)
    except ValueError as exc:
        raise click.BadParameter(f"{exc}, or 'latest'", param_hint=option) from None


def _resolve(
    store: Any,
    since: datetime | str | None,
    until: datetime | str | None,
    as_of: datetime | str | None = None,
) -> tuple[datetime | None, datetime | None, datetime | None]:
    """``latest`` becomes the newest stored message (``--until latest`` just after it,
    so that message counts); then ``--since`` must come before ``--until``."""
    newest: datetime | None = None
    if LATEST in (since, until, as_of):
        from .._policy._run import latest_message_at

        newest = latest_message_at(store)
        if newest is None:
            raise ConfigError(f"store {store.url!r} holds no message; 'latest' means nothing")

    def resolved(value: datetime | str | None, *, after: bool = False) -> datetime | None:
        if value == LATEST:
            assert newest is not None
            return newest + timedelta(microseconds=1) if after else newest
        return value if isinstance(value, datetime) else None

    since_dt, until_dt = resolved(since), resolved(until, after=True)
    if since_dt is not None and until_dt is not None and since_dt >= until_dt:
        raise click.BadParameter("--since must be before --until", param_hint="--since")
    return since_dt, until_dt, resolved(as_of)


def _add_report(cli: click.Group) -> None:
    from .._cli import CliState, pass_state

    @cli.command("report")
    @click.option(
        "--html",
        "html_path",
        required=True,
        metavar="FILE",
        help="Write the report to FILE (one self-contained HTML page).",
    )
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
        help="Report the history as it stood at TS (latest: the newest stored message).",
    )
    @click.option(
        "--since", metavar="TS", help="Count findings whose clock started at or after TS."
    )
    @click.option("--until", metavar="TS", help="Count findings whose clock started before TS.")
    @click.option(
        "--redact",
        is_flag=True,
        help="Pseudonymise stakeholder handles, conversation ids and message texts.",
    )
    @pass_state
    def report_command(
        state: CliState,
        html_path: str,
        policy_path: Path | None,
        as_of: str | None,
        since: str | None,
        until: str | None,
        redact: bool,
    ) -> None:
        """Write an HTML report for people: compliance, trends, response times, queues.

        The page is one file that opens without a network; every number drills down to
        the findings behind it.
        """
        from .._output import atomic_output
        from .._policy._policyfile import load_policy, policy_from_config
        from ._html import build_report, render_html

        as_of_at = _timestamp(as_of, "--as-of")
        since_at = _timestamp(since, "--since")
        until_at = _timestamp(until, "--until")
        if isinstance(since_at, datetime) and isinstance(until_at, datetime):
            _resolve(None, since_at, until_at)  # order checked before any store is opened
        policy = load_policy(policy_path) if policy_path else policy_from_config(state.config)
        if not policy.commitments:
            raise ConfigError(
                f"{policy.source}: no commitments to report; pass --policy FILE or add "
                "[[commitment]] tables to convokit.toml"
            )
        with state.open_store(create=False) as store:
            since_dt, until_dt, as_of_dt = _resolve(store, since_at, until_at, as_of_at)
            data = build_report(
                store, policy, as_of=as_of_dt, since=since_dt, until=until_dt, redact=redact
            )
        with atomic_output(html_path) as stream:
            render_html(data, stream)
        state.echo(f"Wrote the report to {html_path}", err=True)
