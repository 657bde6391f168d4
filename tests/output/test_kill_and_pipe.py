"""A killed ``check -o`` never destroys the earlier report; a closed pipe ends quietly
with SIGPIPE; a reporter that fails midway leaves nothing half-written.

The kill happens at a chosen point, not after a timer: a plugin reporter writes part
of the report, tells the test through a pipe, and blocks reading another pipe nobody
writes to until the test kills the process.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from convokit_core._cli import cli
from convokit_core._plugins import PluginManager, set_plugin_manager
from convokit_core.hookspecs import hookimpl

MSG = (
    '{"id":"%s","platform":"t","conversation":"c%s","author":"a","direction":"inbound",'
    '"sent_at":"2024-01-01T00:00:00Z"}\n'
)
POLICY = '[[commitment]]\nname = "first"\nrule = "first_reply"\nwithin = "1h"\n'
AS_OF = ("--as-of", "2024-01-02T00:00:00Z")

CHILD = """
import os, sys
from convokit_core._cli import main
from convokit_core._plugins import PluginManager, set_plugin_manager
from convokit_core.hookspecs import hookimpl

ready, block = int(os.environ["READY_FD"]), int(os.environ["BLOCK_FD"])

class Blocking:
    @hookimpl
    def register_reporters(self, register):
        def render(report, stream):
            stream.write('{"findings": [')
            stream.flush()
            os.write(ready, b"!")  # part of the report is written
            os.read(block, 1)  # nobody writes here: wait to be killed

        register("blocking", render)

set_plugin_manager(PluginManager(plugins=[Blocking()], load_entry_points=False))
main(sys.argv[1:])
"""

ENTRY = "import sys; from convokit_core._cli import main; main(sys.argv[1:])"


def run(*args: str, input: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def store() -> str:
    url = "sqlite:///s.db"
    lines = "".join(MSG % (i, i) for i in range(50))
    assert run("--store", url, "import", "-", input=lines)[0] == 0
    Path("policy.toml").write_text(POLICY, encoding="utf-8")
    return url


def test_sigkill_while_check_writes_leaves_the_earlier_report(store: str) -> None:
    check = ("--store", store, "check", "--policy", "policy.toml", *AS_OF)
    code, _, _ = run(*check, "--format", "json", "-o", "report.json")
    assert code == 1
    good = Path("report.json").read_text(encoding="utf-8")
    assert len(json.loads(good)["findings"]) == 50
    ready_r, ready_w = os.pipe()
    block_r, block_w = os.pipe()
    env = {**os.environ, "READY_FD": str(ready_w), "BLOCK_FD": str(block_r)}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, *check, "--format", "blocking", "-o", "report.json"],
        env=env,
        pass_fds=(ready_w, block_r),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    os.close(ready_w)
    os.close(block_r)
    try:
        signal_byte = os.read(ready_r, 1)  # blocks until the reporter is midway
        assert signal_byte == b"!", child.communicate()[1]
        # The chosen point: part of the new report is written, the process is alive.
        assert Path("report.json").read_text(encoding="utf-8") == good
        child.kill()
        child.wait()
    finally:
        os.close(ready_r)
        os.close(block_w)
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == -signal.SIGKILL
    assert Path("report.json").read_text(encoding="utf-8") == good


def _closed_pipe_run(args: list[str]) -> subprocess.CompletedProcess[bytes]:
    """Run the CLI with its stdout a pipe whose reader is already gone."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run(
            [sys.executable, "-c", ENTRY, *args],
            stdout=write_end,
            stderr=subprocess.PIPE,
            check=False,
        )
    finally:
        os.close(write_end)


@pytest.mark.parametrize(
    "args",
    [
        ["check", "--policy", "policy.toml", *AS_OF, "--fail-on", "never"],
        ["check", "--policy", "policy.toml", *AS_OF, "--format", "json"],
        ["export"],
    ],
)
def test_a_closed_pipe_ends_quietly_with_sigpipe(store: str, args: list[str]) -> None:
    done = _closed_pipe_run(["--store", store, *args])
    assert done.returncode == -signal.SIGPIPE  # a shell shows 141, never 1
    assert done.stderr == b""


def test_a_closed_pipe_in_a_shell_is_141(store: str) -> None:
    script = (
        f'"{sys.executable}" -c "{ENTRY}" --store {store} export | true; '
        'echo "status=${PIPESTATUS[0]}"'
    )
    bash = "/bin/bash"
    if not Path(bash).exists():
        pytest.skip("no bash for PIPESTATUS")
    # `true` exits without reading; the export's writes then hit a closed pipe. The
    # export is ~50 lines, so a write can also succeed before `true` exits: both 0 and
    # 141 are what a Unix tool gives there; 1 (and any message) never is.
    done = subprocess.run([bash, "-c", script], capture_output=True, check=True)
    assert done.stdout.decode().strip() in {"status=0", "status=141"}
    assert done.stderr == b""


@pytest.fixture
def failing_reporter() -> Iterator[None]:
    class Failing:
        @hookimpl
        def register_reporters(self, register: Callable[..., None]) -> None:
            def render(report: Any, stream: Any) -> None:
                stream.write('{"findings": [')
                raise OverflowError("date value out of range")

            register("failing", render)

    set_plugin_manager(PluginManager(plugins=[Failing()], load_entry_points=False))
    yield
    set_plugin_manager(None)


def test_a_reporter_failing_midway_writes_nothing(store: str, failing_reporter: None) -> None:
    check = ("--store", store, "check", "--policy", "policy.toml", *AS_OF, "--format", "failing")
    code, out, err = run(*check)
    assert (code, out) == (2, "")
    assert err == (
        "Error: --format failing: the reporter failed: OverflowError: date value out of range\n"
    )
    Path("report.txt").write_text("earlier\n", encoding="utf-8")
    code, out, _ = run(*check, "-o", "report.txt")
    assert code == 2
    assert Path("report.txt").read_text(encoding="utf-8") == "earlier\n"
