"""``convokit demo`` and ``convokit init``: a realistic history checked end to end."""

from __future__ import annotations

import contextlib
import sys
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO

import attrs
import click

from ._cli import CliState, pass_state
from ._errors import ConfigError
from ._output import atomic_output
from ._plugins import open_store
from ._timeutil import format_datetime
from .hookspecs import hookimpl
from .testing._generate import DEMO_POLICY, HistorySpec, generate_history

__all__ = ["DEMO_POLICY", "DemoResult", "demo_spec", "register_commands", "run_demo"]


@attrs.frozen(kw_only=True)
class DemoResult:
    """Where the demo put its store and policy, and what it generated."""

    store_url: str
    policy_path: Path
    counts: dict[str, int]
    as_of: datetime
    """The end of the generated history: the moment the demo checks at."""


#: The demo's history: three platforms, an abandoned Mastodon account, and a team that
#: answers more than twice as fast by the end of the quarter as at its start.
DEMO_CHANNELS: tuple[tuple[str, str], ...] = (
    ("acme", "twitter"),
    ("acme_help", "twitter"),
    ("acme_billing", "twitter"),
    ("acme@social.example", "mastodon"),
    ("community.acme.example", "discourse"),
)
DEMO_ABANDONED = "acme@social.example"


def demo_spec(conversations: int = 400, seed: int = 2024) -> HistorySpec:
    """The :class:`HistorySpec` of ``convokit demo``."""
    return HistorySpec(
        conversations=conversations,
        seed=seed,
        channels=tuple(c for c, _ in DEMO_CHANNELS),
        channel_platforms=tuple((c, p) for c, p in DEMO_CHANNELS if p != "twitter"),
        abandoned=(DEMO_ABANDONED,),
        abandoned_after_days=35,
        median_response_minutes=90.0,
        improvement=0.8,
    )


def run_demo(directory: Path, *, conversations: int = 400, seed: int = 2024) -> DemoResult:
    """Generate a realistic support history into ``directory/convokit.db`` and write the
    demo policy to ``directory/policy.toml``."""
    directory.mkdir(parents=True, exist_ok=True)
    db = directory / "convokit.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    policy_path = directory / "policy.toml"
    policy_path.write_text(DEMO_POLICY, encoding="utf-8")
    url = f"sqlite:///{db}"
    spec = demo_spec(conversations, seed)
    with open_store(url) as store:
        with store.transaction() as tx:
            for batch in generate_history(spec=spec):
                tx.write(batch)
        counts = store.counts()
    as_of = spec.start + timedelta(days=spec.days)
    return DemoResult(store_url=url, policy_path=policy_path, counts=counts, as_of=as_of)


def _write_report(result: DemoResult, target: Path) -> None:
    from ._report._html import build_report, render_html

    with open_store(result.store_url, create=False) as store:
        data = build_report(
            store, result.policy_path, as_of=result.as_of, title="convokit demo: Acme support"
        )
    with atomic_output(target) as stream:
        render_html(data, stream)


def write_starter_config(stream: IO[str]) -> None:
    """The ``convokit.toml`` that ``convokit init`` writes."""
    stream.write(
        "# convokit configuration — see docs/cli.md and docs/policy-files.md\n"
        'store = "sqlite:///convokit.db"\n\n'
        "# Platforms to sync (see docs/sync.md), for example:\n"
        "# [[source]]\n"
        '# name = "mastodon-main"\n'
        '# platform = "mastodon"\n'
        '# instance = "https://social.example"\n'
        '# account = "acme"\n'
        '# token = "${MASTODON_TOKEN}"\n\n'
        "# Who speaks for us (outbound messages are recognised by these handles):\n"
        "# [[team]]\n"
        '# id = "kim"\n'
        '# handles = { mastodon = "kim@social.example" }\n\n'
    )
    stream.write(DEMO_POLICY)


@hookimpl
def register_commands(cli: click.Group) -> None:
    @cli.command("demo")
    @click.option(
        "--conversations", default=400, show_default=True, type=click.IntRange(1, 200_000)
    )
    @click.option("--seed", default=2024, show_default=True, type=int)
    @click.option(
        "--keep",
        "keep_dir",
        type=click.Path(file_okay=False, path_type=Path),
        help="Keep the store and policy in this directory instead of a temporary one.",
    )
    @click.option(
        "--format", "fmt", default="table", show_default=True, help="Report format (as for check)."
    )
    @click.option(
        "--show",
        default=12,
        show_default=True,
        type=click.IntRange(0),
        help="How many breached or at-risk findings to list.",
    )
    @click.option(
        "--html",
        "html_path",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Where to write the HTML report [default: report.html in the --keep "
        "directory, else in a new temporary directory that is kept].",
    )
    @pass_state
    def demo_command(
        state: CliState,
        conversations: int,
        seed: int,
        keep_dir: Path | None,
        fmt: str,
        show: int,
        html_path: Path | None,
    ) -> None:
        """Generate a realistic support history, check five commitments, write the report.

        The history lives in a temporary SQLite store (kept with --keep DIR): customer
        threads on five channels of three platforms over 90 days, response times shaped
        like a real support queue and improving week by week, complaints, threads never
        answered, an abandoned account, a team in which people left, a business-hours
        calendar. The HTML report is written and its path printed.
        """
        from ._policy._run import check

        reporter = state.plugins.reporters.get(fmt)
        if reporter is None:
            known = ", ".join(state.plugins.reporters.names())
            raise click.BadParameter(
                f"unknown format {fmt!r} (known: {known})", param_hint="--format"
            )
        with contextlib.ExitStack() as stack:
            if keep_dir is None:
                directory = Path(
                    stack.enter_context(tempfile.TemporaryDirectory(prefix="convokit-"))
                )
            else:
                directory = keep_dir
            result = run_demo(directory, conversations=conversations, seed=seed)
            counts = result.counts
            state.echo(
                f"Generated {counts['conversations']:,} conversations, {counts['messages']:,} "
                f"messages, {counts['channels']} channels and {counts['team_members']} team "
                f"members into {result.store_url}",
                err=True,
            )
            state.echo(
                f"Checking the commitments of {result.policy_path} as of "
                f"{format_datetime(result.as_of)}, the end of that history …\n",
                err=True,
            )
            store = open_store(result.store_url)
            try:
                report = check(
                    store, result.policy_path, as_of=result.as_of, only={"breached", "at_risk"}
                )
            finally:
                store.close()
            shown = attrs.evolve(report, findings=list(report.findings[:show]))
            reporter.value(shown, sys.stdout)
            sys.stdout.flush()
            hidden = len(report.findings) - len(shown.findings)
            if hidden > 0:
                state.echo(
                    f"… and {hidden} more breached or at-risk findings (--show N, or keep the "
                    "store with --keep DIR and run convokit check --format json).",
                    err=True,
                )
            target = html_path or (
                (keep_dir / "report.html")
                if keep_dir is not None
                else Path(tempfile.mkdtemp(prefix="convokit-demo-")) / "report.html"
            )
            _write_report(result, target)
            state.echo(f"\nWrote the HTML report to {target}", err=True)
        if keep_dir is not None:
            state.echo(
                f"\nExplore it: convokit --store {result.store_url} check --policy "
                f"{result.policy_path}",
                err=True,
            )
        state.echo(
            "\nYour own data: convokit init, then convokit import FILE (JSONL or CSV) or "
            "convokit sync, then convokit check. See docs/index.md.",
            err=True,
        )

    @cli.command("init")
    @click.option("--force", is_flag=True, help="Overwrite an existing file.")
    @click.argument(
        "path",
        required=False,
        default="convokit.toml",
        type=click.Path(dir_okay=False, path_type=Path),
    )
    @pass_state
    def init_command(state: CliState, force: bool, path: Path) -> None:
        """Write a starter convokit.toml (store, source and team examples, a policy)."""
        if path.exists() and not force:
            raise ConfigError(f"{path} already exists; use --force to overwrite it")
        with atomic_output(str(path)) as stream:
            write_starter_config(stream)
        state.echo(f"Wrote {path}. Edit it, then: convokit import FILE, convokit check.")
