"""Built-in plugin: the ``webhook``, ``slack`` and ``email`` notifiers, ``convokit watch``
and ``convokit queue``."""

from __future__ import annotations

import asyncio
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
import httpx

from .._errors import ConfigError
from .._http import RetryPolicy
from .._sync._config import load_sources, load_team
from .._timeutil import format_datetime, parse_duration, parse_timestamp
from ..hookspecs import hookimpl
from ..protocols import StorageBackend
from ._email import EmailNotifier
from ._engine import (
    WATCHED_STATUSES,
    CycleResult,
    Delivery,
    baseline,
    count_open,
    deliver_all,
    ledger_of,
    plan_notifications,
)
from ._notifiers import SlackNotifier, WebhookNotifier
from ._settings import NotifierSpec, load_notifiers


@hookimpl
def register_notifiers(register: Callable[..., None]) -> None:
    register(
        "webhook",
        WebhookNotifier.create,
        description="JSON POST, signed with HMAC-SHA256 when a secret is set",
    )
    register("slack", SlackNotifier.create, description="Slack incoming webhook message")
    register("email", EmailNotifier.create, description="plain-text e-mail over SMTP")


def _parse_interval(value: str) -> float:
    try:
        seconds = parse_duration(value).total_seconds()
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--interval") from None
    if seconds <= 0:
        raise click.BadParameter("expected a positive duration", param_hint="--interval")
    return seconds


def _stderr_is_terminal() -> bool:
    return sys.stderr.isatty()


def _parse_now(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_timestamp(value, what="--now")
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--now") from None


class _LineObserver:
    """Plain log lines on stderr (not a terminal)."""

    def delivered(self, delivery: Delivery) -> None:
        n = delivery.notification
        click.echo(
            f"sent {n.event} {n.commitment} {n.subject} to {delivery.notifier} "
            f"(key {n.idempotency_key})",
            err=True,
        )

    def failed(self, delivery: Delivery, error: str) -> None:
        n = delivery.notification
        click.echo(
            f"FAILED {n.event} {n.commitment} {n.subject} to {delivery.notifier}: {error}",
            err=True,
        )


def _what(delivery: Delivery) -> str:
    from rich.markup import escape

    n = delivery.notification
    return escape(f"{n.event} {n.commitment} {n.subject} → {delivery.notifier}")


class _RichObserver(_LineObserver):
    """A live status line on a terminal, and one printed line per delivery."""

    def __init__(self) -> None:
        from rich.console import Console

        self.console = Console(stderr=True)
        self._status: Any = None

    @contextmanager
    def running(self, text: str) -> Iterator[None]:
        with self.console.status(text) as status:
            self._status = status
            try:
                yield
            finally:
                self._status = None

    def update(self, text: str) -> None:
        if self._status is not None:
            self._status.update(text)

    def delivered(self, delivery: Delivery) -> None:
        self.console.print(f"[green]sent[/] {_what(delivery)}", highlight=False)

    def failed(self, delivery: Delivery, error: str) -> None:
        from rich.markup import escape

        self.console.print(f"[red]failed[/] {_what(delivery)}: {escape(error)}", highlight=False)


def _summary(result: CycleResult) -> str:
    parts = [
        f"watch {format_datetime(result.at.replace(microsecond=0))}:",
        f"{result.at_risk} at risk, {result.breached} breached;",
    ]
    if result.baselined:
        parts.append(f"baseline recorded {result.baselined} without sending")
    else:
        parts.append(f"{result.delivered} of {result.planned} sent")
    if result.failed:
        parts.append(f"{len(result.failed)} failed (retried next cycle)")
    if result.held:
        parts.append(f"{result.held} held for quiet hours")
    if result.interrupted:
        parts.append("interrupted by SIGTERM")
    return ", ".join([" ".join(parts[:3]), *parts[3:]]) if len(parts) > 3 else " ".join(parts)


@hookimpl
def register_commands(cli: click.Group) -> None:
    from .._cli import CliState, pass_state

    @cli.command("queue")
    @click.option(
        "--format",
        "fmt",
        type=click.Choice(["table", "json"]),
        default="table",
        show_default=True,
        help="Output format.",
    )
    @click.option("--owner", metavar="ID", help="Only conversations this team member owns.")
    @click.option(
        "--policy",
        "policy_path",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Policy file [default: the [[commitment]] tables of convokit.toml].",
    )
    @click.option(
        "--now", "now_text", metavar="TS", hidden=True, help="For tests: the time taken as now."
    )
    @pass_state
    def queue_command(
        state: CliState,
        fmt: str,
        owner: str | None,
        policy_path: Path | None,
        now_text: str | None,
    ) -> None:
        """Who do I answer next: every conversation waiting on us, earliest deadline
        first (overdue ones first), with its most urgent commitment, the time left, the
        owner and the last message."""
        from .._policy._policyfile import load_policy, policy_from_config
        from .._policy._run import check
        from ._queue import WAITING, build_queue, render_json, render_table

        now = _parse_now(now_text) or datetime.now(UTC)
        policy = load_policy(policy_path) if policy_path else policy_from_config(state.config)
        if not policy.commitments:
            raise ConfigError(
                "no commitments to rank by; pass --policy FILE or add [[commitment]] tables "
                "to convokit.toml"
            )
        store = state.open_store(create=False)
        try:
            report = check(store, policy, as_of=now, only=WAITING, plugins=state.plugins)
            items = build_queue(report, store, now=now, owner=owner)
        finally:
            store.close()
        from .._output import atomic_output

        with atomic_output(None, staged=True) as stream:
            if fmt == "json":
                render_json(items, stream)
            else:
                render_table(items, stream)

    @cli.command("watch")
    @click.option(
        "--interval",
        default="5m",
        show_default=True,
        metavar="DURATION",
        help="Time between cycles (e.g. 30s, 5m, 1h).",
    )
    @click.option("--once", is_flag=True, help="Run one cycle and exit (cron, CI).")
    @click.option(
        "--baseline",
        is_flag=True,
        help="Record what is at risk or breached now without sending, then exit.",
    )
    @click.option(
        "--policy",
        "policy_path",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Policy file [default: the [[commitment]] tables of convokit.toml].",
    )
    @click.option(
        "--retries",
        type=click.IntRange(min=0),
        default=2,
        show_default=True,
        help="Retries of one delivery within a cycle (with backoff) before it waits for "
        "the next cycle.",
    )
    @click.option(
        "--now",
        "now_text",
        metavar="TS",
        hidden=True,
        help="For tests: the time every cycle takes as now.",
    )
    @pass_state
    @click.pass_context
    def watch_command(
        ctx: click.Context,
        state: CliState,
        interval: str,
        once: bool,
        baseline: bool,
        policy_path: Path | None,
        retries: int,
        now_text: str | None,
    ) -> None:
        """Check commitments in a loop and notify every new at-risk, breached (and,
        when asked, recovered) conversation through the [[notify]] tables.

        Each cycle syncs the [[source]] tables (when any), checks the policy as of now,
        and sends what the notification ledger has not recorded yet. Exit codes with
        --once: 0 every delivery went through, 1 one failed (retried next run), 2 usage
        or config error.
        """
        from .._policy._policyfile import load_policy, policy_from_config

        seconds = _parse_interval(interval)
        fixed_now = _parse_now(now_text)
        policy = load_policy(policy_path) if policy_path else policy_from_config(state.config)
        if not policy.commitments:
            raise ConfigError(
                "no commitments to watch; pass --policy FILE or add [[commitment]] tables "
                "to convokit.toml"
            )
        manager = state.plugins
        specs = load_notifiers(
            state.config,
            manager,
            calendars=policy.calendars,
            commitments=[c.name for c in policy.commitments],
        )
        if not specs:
            where = state.config.path or "convokit.toml"
            raise ConfigError(f"{where}: no [[notify]] tables: nothing to notify")
        sources = load_sources(state.config, manager)
        team = load_team(state.config)
        observer: _LineObserver | None = None
        rich: _RichObserver | None = None
        if not state.quiet:
            observer = rich = _RichObserver() if _stderr_is_terminal() else None
            if observer is None:
                observer = _LineObserver()
        stop = threading.Event()
        previous = signal.getsignal(signal.SIGTERM)

        def on_term(_signum: int, _frame: Any) -> None:
            stop.set()

        signal.signal(signal.SIGTERM, on_term)
        policy_retry = RetryPolicy(max_retries=retries, budget=60.0, timeout=30.0)
        store = state.open_store(create=bool(sources))
        failed = False
        lead = getattr(store, "acquire_leadership", None)
        lease: Any = None
        try:
            ledger_of(store)
            while True:
                if callable(lead):
                    if lease is not None and not lease.alive():
                        click.echo("Warning: watch: lost the leadership lock", err=True)
                        lease = None
                    if lease is None:
                        lease = lead("watch")
                    if lease is None:
                        state.echo(
                            "watch: another watch process leads this store; waiting", err=True
                        )
                        if once or baseline or stop.wait(seconds):
                            break
                        continue
                now = fixed_now or datetime.now(UTC)
                text = f"watch: cycle at {format_datetime(now.replace(microsecond=0))}"
                if rich is not None:
                    with rich.running(text):
                        result = _cycle(
                            store,
                            policy,
                            specs,
                            sources,
                            team,
                            now,
                            baseline,
                            policy_retry,
                            stop,
                            observer,
                            state.plugins,
                        )
                else:
                    result = _cycle(
                        store,
                        policy,
                        specs,
                        sources,
                        team,
                        now,
                        baseline,
                        policy_retry,
                        stop,
                        observer,
                        state.plugins,
                    )
                for error in result.sync_errors:
                    click.echo(f"Warning: {error}", err=True)
                state.echo(_summary(result), err=True)
                failed = failed or not result.ok
                if once or baseline or stop.is_set():
                    break
                if stop.wait(seconds):
                    break
        finally:
            if lease is not None:
                lease.release()
            store.close()
            signal.signal(signal.SIGTERM, previous)
        if failed and (once or baseline):
            ctx.exit(1)


def _cycle(
    store: StorageBackend,
    policy: Any,
    specs: list[NotifierSpec],
    sources: list[Any],
    team: list[Any],
    now: datetime,
    baseline_only: bool,
    retry: RetryPolicy,
    stop: threading.Event,
    observer: _LineObserver | None,
    plugins: Any,
) -> CycleResult:
    from .._policy._run import check
    from .._sync._engine import run_sync

    sync_errors: list[str] = []
    if sources:
        report = asyncio.run(run_sync(sources, store, team=team))
        sync_errors = [f"source {r.source!r} failed: {r.error}" for r in report.failed]
    checked = check(store, policy, as_of=now, only=WATCHED_STATUSES, plugins=plugins)
    counts = count_open(checked)
    deliveries, held = plan_notifications(
        checked, store, specs, now=now, quiet_hours=not baseline_only
    )
    if baseline_only:
        recorded = baseline(deliveries, store)
        return CycleResult(
            at=now,
            planned=len(deliveries),
            delivered=0,
            failed=(),
            held=0,
            baselined=recorded,
            interrupted=False,
            sync_errors=tuple(sync_errors),
            **counts,
        )

    async def go() -> tuple[int, list[tuple[str, str]], bool]:
        async with httpx.AsyncClient() as client:
            return await deliver_all(
                deliveries, store, client=client, policy=retry, stop=stop, observer=observer
            )

    delivered, failures, interrupted = asyncio.run(go()) if deliveries else (0, [], False)
    return CycleResult(
        at=now,
        planned=len(deliveries),
        delivered=delivered,
        failed=tuple(failures),
        held=held,
        baselined=0,
        interrupted=interrupted,
        sync_errors=tuple(sync_errors),
        **counts,
    )
