"""The ``convokit`` command-line tool (DESIGN §8): the group, its global options and
error handling — nothing else.

Every sub-command, built-in or not, is added by a plugin's ``register_commands`` hook
(``_io``, ``_policy``, ``_sync``, ``_storage``, ``_demo``, ``_plugins_cli`` for the
built-ins). The global options (``--config``, ``--store``, ``-v``, ``-q``) are accepted
before or after the sub-command.

Exit codes: 0 success / all commitments kept; 1 a commitment breached (per
``--fail-on``) or a sync source failed; 2 usage, config or input error. Errors are one
clear message on stderr; ``-v`` adds the traceback. When the reader of standard output
goes away (``convokit export | head -1``) the process ends as a Unix tool does: quietly,
killed by SIGPIPE (a shell reports 141), never with exit code 1.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

import attrs
import click

from ._config import DEFAULT_STORE, Config, load_config
from ._errors import ConvokitError
from ._plugins import PluginManager, get_plugin_manager, open_store
from ._secrets import scrubbed_traceback
from .protocols import StorageBackend

__all__ = ["CliError", "CliState", "cli", "main", "pass_state"]

log = logging.getLogger("convokit.cli")


@attrs.define(kw_only=True)
class CliState:
    """What every sub-command gets through ``click.Context.obj`` (``@pass_state``)."""

    config_path: Path | None
    store_option: str | None
    verbose: int
    quiet: bool
    _config: Config | None = None

    @property
    def config(self) -> Config:
        """The loaded ``convokit.toml`` (loaded on first use)."""
        if self._config is None:
            self._config = load_config(self.config_path)
        return self._config

    @property
    def store_url(self) -> str:
        """``--store``, else ``store`` from the config, else ``sqlite:///convokit.db``."""
        return self.store_option or self.config.store or DEFAULT_STORE

    @property
    def plugins(self) -> PluginManager:
        return get_plugin_manager()

    def open_store(self, *, create: bool = True) -> StorageBackend:
        """Open the configured store (close it when done; it is a context manager).

        Read commands pass ``create=False``: a store that does not exist is then an
        error naming the URL, never a new empty store (DESIGN §8).
        """
        store: StorageBackend = open_store(self.store_url, create=create)
        return store

    def echo(self, message: str = "", *, err: bool = False) -> None:
        """Print unless ``-q``."""
        if not self.quiet:
            click.echo(message, err=err)

    def set_config_path(self, path: Path) -> None:
        """``--config`` given after the sub-command."""
        self.config_path = path
        self._config = None

    def configure_logging(self) -> None:
        """Send ``convokit`` log records to stderr at ``-v`` (INFO) or ``-vv`` (DEBUG).

        Only the CLI does this, and only when the application configured no logging.
        """
        if not self.verbose or logging.getLogger().handlers:
            return
        logger = logging.getLogger("convokit")
        handler = next((h for h in logger.handlers if getattr(h, _CLI_HANDLER, False)), None)
        if handler is None:
            handler = logging.StreamHandler(sys.stderr)
            handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
            setattr(handler, _CLI_HANDLER, True)
            logger.addHandler(handler)
        elif isinstance(handler, logging.StreamHandler):
            handler.setStream(sys.stderr)  # this run's stderr (the CLI may run in-process again)
        logger.setLevel(logging.DEBUG if self.verbose > 1 else logging.INFO)


_CLI_HANDLER = "_convokit_cli_handler"

pass_state = click.make_pass_decorator(CliState)


def _late_store(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    state = ctx.find_object(CliState)
    if state is not None and value is not None:
        state.store_option = value


def _late_config(ctx: click.Context, _param: click.Parameter, value: Path | None) -> None:
    state = ctx.find_object(CliState)
    if state is not None and value is not None:
        state.set_config_path(value)


def _late_verbose(ctx: click.Context, _param: click.Parameter, value: int) -> None:
    state = ctx.find_object(CliState)
    if state is not None and value:
        state.verbose += value
        state.configure_logging()


def _late_quiet(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    state = ctx.find_object(CliState)
    if state is not None and value:
        state.quiet = True


def _global_options() -> list[click.Option]:
    """The group's options again, for use after a sub-command (hidden from its help)."""
    common: dict[str, Any] = {"expose_value": False, "hidden": True}
    return [
        click.Option(
            ["--config"],
            type=click.Path(dir_okay=False, path_type=Path),
            callback=_late_config,
            **common,
        ),
        click.Option(["--store"], metavar="URL", callback=_late_store, **common),
        click.Option(["-v", "--verbose"], count=True, callback=_late_verbose, **common),
        click.Option(["-q", "--quiet"], is_flag=True, callback=_late_quiet, **common),
    ]


def _accept_global_options(command: click.Command) -> None:
    """Let ``command`` (and its sub-commands) take the global options after its name.

    An option name the command already uses for itself is left to the command.
    """
    if getattr(command, "_convokit_globals", False):
        return
    taken = {opt for param in command.params for opt in getattr(param, "opts", ())}
    taken |= {opt for param in command.params for opt in getattr(param, "secondary_opts", ())}
    for option in _global_options():
        if not taken.intersection(option.opts):
            command.params.append(option)
    command._convokit_globals = True  # type: ignore[attr-defined]
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            _accept_global_options(sub)


class _Group(click.Group):
    """Adds plugin commands lazily and turns library errors into exit code 2."""

    _plugins_loaded = False

    def _load_plugin_commands(self) -> None:
        if not self._plugins_loaded:
            type(self)._plugins_loaded = True
            get_plugin_manager().hook.register_commands(cli=self)

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._load_plugin_commands()
        return super().list_commands(ctx)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        self._load_plugin_commands()
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            _accept_global_options(command)
        return command

    def invoke(self, ctx: click.Context) -> Any:
        try:
            try:
                return super().invoke(ctx)
            finally:
                sys.stdout.flush()  # a closed pipe surfaces here, not at interpreter exit
        except BrokenPipeError:
            _closed_pipe()
        except ConvokitError as exc:
            state = ctx.obj if isinstance(ctx.obj, CliState) else None
            if state is not None and state.verbose:
                click.echo(scrubbed_traceback(exc), err=True, nl=False)
            raise cli_error(exc.exit_code)(str(exc)) from exc
        except KeyboardInterrupt:
            raise cli_error(130)("interrupted") from None


_AS_PROCESS = False
"""Set by :func:`main`: the CLI owns the process (not a test runner or an application)."""


def _closed_pipe() -> NoReturn:
    """The reader of standard output went away: end quietly, as a Unix tool does.

    As the ``convokit`` process, standard output is pointed at ``/dev/null`` (so nothing
    buffered is written, or complained about, at exit) and the process re-raises SIGPIPE
    with the default action, so a shell sees 141 (128 + 13). Embedded (a test runner, an
    application) it exits with 141 instead of killing its host.
    """
    code = 128 + signal.SIGPIPE
    if _AS_PROCESS:
        with contextlib.suppress(OSError, ValueError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGPIPE)
    raise click.exceptions.Exit(code)


class CliError(click.ClickException):
    """A library error shown as one ``Error: …`` line; exit code 2."""

    exit_code = 2


@functools.cache
def cli_error(exit_code: int) -> type[CliError]:
    """The :class:`CliError` subclass that exits with ``exit_code``."""
    if exit_code == CliError.exit_code:
        return CliError
    return type(f"CliError{exit_code}", (CliError,), {"exit_code": exit_code})


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Config file [default: ./convokit.toml if present].",
)
@click.option(
    "--store",
    "store_option",
    metavar="URL",
    envvar="CONVOKIT_STORE",
    help=f"Store URL [default: from config, else {DEFAULT_STORE}].",
)
@click.option("-v", "--verbose", count=True, help="More output; -v shows tracebacks.")
@click.option("-q", "--quiet", is_flag=True, help="Only errors and requested output.")
@click.version_option(package_name="convokit-core", prog_name="convokit")
@click.pass_context
def cli(
    ctx: click.Context,
    config_path: Path | None,
    store_option: str | None,
    verbose: int,
    quiet: bool,
) -> None:
    """Keep the conversations your organisation starts honest."""
    ctx.obj = state = CliState(
        config_path=config_path, store_option=store_option, verbose=verbose, quiet=quiet
    )
    state.configure_logging()


def main(argv: Sequence[str] | None = None) -> Any:
    """Console-script entry point."""
    global _AS_PROCESS
    _AS_PROCESS = True
    return cli.main(args=argv, prog_name="convokit")
