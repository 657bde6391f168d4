"""``-o FILE``: atomic for regular files, straight through for FIFOs and devices, the
user's umask for new files, and one clear error when the file cannot be written."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from convokit_core import ConfigError
from convokit_core._cli import cli
from convokit_core._output import atomic_output

MSG = (
    '{"id":"%s","platform":"t","conversation":"c","author":"a","direction":"inbound",'
    '"sent_at":"2024-01-01T00:00:00Z"}\n'
)


def run(*args: str, input: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def store() -> str:
    url = "sqlite:///s.db"
    assert run("--store", url, "import", "-", input=MSG % "1" + MSG % "2")[0] == 0
    return url


@pytest.fixture
def umask_027() -> Iterator[None]:
    old = os.umask(0o027)
    yield
    os.umask(old)


def _leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


def test_a_new_file_gets_the_mode_the_umask_gives(store: str, umask_027: None) -> None:
    assert run("--store", store, "export", "-o", "out.jsonl")[0] == 0
    assert stat.S_IMODE(Path("out.jsonl").stat().st_mode) == 0o640  # not mkstemp's 0600


def test_a_replaced_file_keeps_its_mode(store: str) -> None:
    Path("out.jsonl").write_text("old\n", encoding="utf-8")
    Path("out.jsonl").chmod(0o604)
    assert run("--store", store, "export", "-o", "out.jsonl")[0] == 0
    assert Path("out.jsonl").read_text(encoding="utf-8").count("\n") == 2
    assert stat.S_IMODE(Path("out.jsonl").stat().st_mode) == 0o604


def test_a_symlink_to_a_file_stays_a_symlink(store: str, tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (real / "report.jsonl").write_text("old\n", encoding="utf-8")
    Path("link.jsonl").symlink_to(real / "report.jsonl")
    assert run("--store", store, "export", "-o", "link.jsonl")[0] == 0
    assert Path("link.jsonl").is_symlink()
    assert (real / "report.jsonl").read_text(encoding="utf-8").count("\n") == 2
    assert _leftovers(real) == []
    assert _leftovers(Path()) == []


def test_a_fifo_is_written_through_not_replaced(store: str) -> None:
    os.mkfifo("pipe")
    # Our end is open before the export runs (non-blocking, so nothing waits on
    # anything): the export's writer finds a reader, and its two lines fit the pipe.
    reader = os.open("pipe", os.O_RDONLY | os.O_NONBLOCK)
    try:
        code, _, err = run("--store", store, "export", "-o", "pipe")
        try:
            received = os.read(reader, 1 << 16)
        except BlockingIOError:  # nothing was written into the FIFO
            received = b""
    finally:
        os.close(reader)
    assert (code, err.count("Exported 2 records")) == (0, 1)
    assert stat.S_ISFIFO(os.lstat("pipe").st_mode)
    assert [json.loads(line)["id"] for line in received.splitlines()] == ["1", "2"]


def test_a_symlink_to_a_device_is_written_through(store: str) -> None:
    Path("devnull").symlink_to(os.devnull)
    assert run("--store", store, "export", "-o", "devnull")[0] == 0
    assert Path("devnull").is_symlink()
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode)
    assert _leftovers(Path()) == []


def test_a_failure_midway_leaves_the_earlier_file(tmp_path: Path) -> None:
    target = tmp_path / "report.txt"
    target.write_text("good\n", encoding="utf-8")

    def crash() -> None:
        with atomic_output(target) as stream:
            stream.write("half")
            raise RuntimeError("crash while rendering")

    with pytest.raises(RuntimeError):
        crash()
    assert target.read_text(encoding="utf-8") == "good\n"
    assert _leftovers(tmp_path) == []


def test_staged_stdout_gets_nothing_when_rendering_fails(
    capsys: pytest.CaptureFixture[str],
) -> None:
    def crash() -> None:
        with atomic_output(None, staged=True) as stream:
            stream.write("half")
            raise RuntimeError("crash while rendering")

    with pytest.raises(RuntimeError):
        crash()
    assert capsys.readouterr().out == ""
    with atomic_output("-", staged=True) as stream:
        stream.write("whole\n")
    assert capsys.readouterr().out == "whole\n"


@pytest.mark.parametrize("command", ["export", "check"])
def test_an_unwritable_directory_is_one_clear_error(
    store: str, command: str, tmp_path: Path, unwritable: Callable[[Path], None]
) -> None:
    directory = tmp_path / "locked"
    directory.mkdir()
    unwritable(directory)
    Path("policy.toml").write_text(
        '[[commitment]]\nname = "f"\nrule = "first_reply"\nwithin = "1h"\n', encoding="utf-8"
    )
    extra = ["--policy", "policy.toml", "--as-of", "2024-01-02T00:00:00Z"]
    extra = extra if command == "check" else []
    code, _, err = run("--store", store, command, *extra, "-o", str(directory / "out"))
    assert code == 2
    assert err.startswith(f"Error: {directory / 'out'}: cannot create a file in ")
    assert "Permission denied" in err or "Operation not permitted" in err  # chmod / chattr
    assert err.count("\n") == 1  # one line, no traceback


@pytest.mark.parametrize("target", ["/proc/convokit-out.json", "/proc/self/status"])
def test_proc_is_one_clear_error(store: str, target: str) -> None:
    code, _, err = run("--store", store, "export", "-o", target)
    assert code == 2
    assert err.startswith(f"Error: {target}: ")
    assert "Traceback" not in err


def test_a_directory_or_a_missing_directory_is_an_error() -> None:
    Path("d").mkdir()
    with pytest.raises(ConfigError, match="is a directory"), atomic_output("d"):
        pass
    with pytest.raises(ConfigError, match="does not exist"), atomic_output("no/such/file"):
        pass
