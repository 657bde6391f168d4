"""Each watch cycle syncs the configured sources first (a loopback FakePlatform), and the
long-running mode stops cleanly on SIGTERM while it waits for the next cycle."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from kit.test_fake_platform_cli import T0, TOKEN, toy_api
from sync.toy import ToyConfig, create

from convokit_core import PluginManager, open_store, set_plugin_manager
from convokit_core._cli import cli
from convokit_core._timeutil import format_datetime
from convokit_core.hookspecs import hookimpl

from .receiver import running_receiver
from .test_watch_e2e import NOW, SECRET, receiver, watch_once

__all__ = ["receiver"]  # the loopback receiver fixture, with the e2e history imported


class ToyPlugin:
    __name__ = "toy-watch-plugin"

    @hookimpl
    def register_platforms(self, register: object) -> None:
        assert callable(register)
        register("toy", config=ToyConfig, create=create, description="toy platform")


@pytest.fixture
def toy_plugin() -> Iterator[None]:
    set_plugin_manager(PluginManager(plugins=[ToyPlugin()]))
    yield
    set_plugin_manager(None)


CONFIG = """\
store = "sqlite:///store.db"

[[source]]
name = "loop"
platform = "toy"
url = "{api}"
token = "{token}"

[[commitment]]
name = "first"
rule = "first_reply"
within = "1h"

[[notify]]
name = "hook"
kind = "webhook"
url = "{hook}"
"""


@pytest.mark.usefixtures("toy_plugin")
def test_a_cycle_syncs_then_notifies() -> None:
    api = toy_api()
    with running_receiver() as hook, api.serve() as base_url:
        Path("convokit.toml").write_text(
            CONFIG.format(api=base_url, token=TOKEN, hook=hook.url), encoding="utf-8"
        )
        now = format_datetime(T0 + timedelta(hours=5))
        result = CliRunner().invoke(cli, ["watch", "--once", "--now", now], catch_exceptions=False)
        assert result.exit_code == 0, result.stderr
        with open_store("sqlite:///store.db") as store:
            assert {m.id for m in store.iter_messages()} == api.ids()
        # c0 and c1 were answered within the hour; c2 (item 10) never was
        assert [(b["conversation"], b["event"]) for b in hook.bodies()] == [("c2", "breached")]
        assert TOKEN not in result.stderr


def test_the_loop_stops_on_sigterm_while_waiting(receiver: object) -> None:
    hook = receiver
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from convokit_core._cli import main; main()",
            "watch",
            "--interval",
            "1h",
            "--now",
            format_datetime(NOW),
        ],
        env={**os.environ, "WEBHOOK_SECRET": SECRET},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert child.stderr is not None
        # the cycle's summary line is written once both deliveries were recorded
        for line in child.stderr:
            if b"2 of 2 sent" in line:
                break
        else:
            pytest.fail("the first cycle never finished")
        child.send_signal(signal.SIGTERM)
        child.wait(timeout=120)
    finally:
        if child.poll() is None:
            child.kill()
        child.communicate()
    assert child.returncode == 0
    assert len(hook.requests) == 2  # type: ignore[attr-defined]
    assert watch_once()[0] == 0
    assert len(hook.requests) == 2  # type: ignore[attr-defined]
