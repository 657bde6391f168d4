"""Missing, empty and read-only SQLite stores: read commands never create a store, and a
store that cannot be written is one clear error for writes and readable for reads.

Tests run as root in CI, and root ignores file modes: ``unwritable`` makes a path
unwritable for the current process either way (``chmod`` for a normal user, the
immutable attribute for root) and first proves that the trick holds, skipping when it
cannot be made to hold (a file system without ``chattr +i``).
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from convokit_core import StorageError, open_store
from convokit_core._cli import cli
from convokit_core._model import Batch
from convokit_core.testing import sample_message

MSG = (
    '{"id":"%s","platform":"t","conversation":"c","author":"a","direction":"inbound",'
    '"sent_at":"2024-01-01T00:00:00Z"}\n'
)
POLICY = '[[commitment]]\nname = "first"\nrule = "first_reply"\nwithin = "1h"\n'


def run(*args: str, input: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def _make_store(path: Path) -> str:
    url = f"sqlite:///{path}"
    with open_store(url) as store:
        store.write(Batch(messages=[sample_message("m1")]))
    return url


@pytest.fixture
def unwritable() -> Iterator[object]:
    made: list[tuple[Path, int]] = []

    def make(path: Path) -> None:
        mode = path.stat().st_mode
        if os.geteuid() != 0:
            path.chmod(0o555 if path.is_dir() else 0o444)
        elif subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode:
            pytest.skip("running as root and chattr +i is not available here")
        made.append((path, mode))
        probe = path / "probe" if path.is_dir() else path
        with pytest.raises(PermissionError):  # the trick holds for this process
            os.close(os.open(probe, os.O_WRONLY | os.O_CREAT))

    yield make
    for path, mode in made:
        if os.geteuid() == 0:
            subprocess.run(["chattr", "-i", str(path)], check=True)
        path.chmod(mode)


# -- missing and empty stores -------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["check", "--policy", "policy.toml"],
        ["export"],
        ["store", "info"],
    ],
)
def test_read_commands_never_create_a_store(args: list[str]) -> None:
    Path("policy.toml").write_text(POLICY, encoding="utf-8")
    code, out, err = run("--store", "sqlite:///typo.db", *args)
    assert code == 2
    assert err.startswith("Error: store 'sqlite:///typo.db' does not exist")
    assert "Traceback" not in err
    assert not Path("typo.db").exists()
    assert out == ""


def test_an_empty_database_is_not_a_store_for_read_commands() -> None:
    Path("empty.db").write_bytes(b"")
    code, _, err = run("--store", "sqlite:///empty.db", "export")
    assert code == 2
    assert "sqlite:///empty.db' is an empty database, not a convokit store" in err
    assert Path("empty.db").stat().st_size == 0  # not migrated by a read


def test_write_commands_still_create_the_store() -> None:
    code, _, _ = run("--store", "sqlite:///new.db", "import", "-", input=MSG % "1")
    assert code == 0
    assert Path("new.db").exists()


def test_memory_stores_are_exempt() -> None:
    code, out, _ = run("--store", "memory:", "store", "info")
    assert code == 0
    assert out.startswith("memory:")
    with open_store("sqlite:///:memory:", create=False) as store:
        assert store.counts()["messages"] == 0


def test_open_store_create_false_names_the_url(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'missing.db'}"
    with pytest.raises(StorageError, match=r"missing\.db' does not exist"):
        open_store(url, create=False)
    assert not (tmp_path / "missing.db").exists()


# -- read-only stores ------------------------------------------------------------------------


def test_mode_ro_reads_and_refuses_writes(tmp_path: Path) -> None:
    url = _make_store(tmp_path / "s.db")
    with open_store(url + "?mode=ro") as store:
        assert [m.id for m in store.iter_messages()] == ["m1"]
        with pytest.raises(StorageError, match="is read-only"):
            store.write(Batch(messages=[sample_message("m2")]))
    with open_store(url) as store:
        assert store.counts()["messages"] == 1


def test_unknown_url_parameter_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="unknown parameter 'journal=off'"):
        open_store(f"sqlite:///{tmp_path / 's.db'}?journal=off")


def test_an_unwritable_store_file_is_one_clear_error_for_writes(
    tmp_path: Path, unwritable: object
) -> None:
    url = _make_store(tmp_path / "s.db")
    unwritable(tmp_path / "s.db")  # type: ignore[operator]
    code, _, err = run("--store", url, "import", "-", input=MSG % "2")
    assert code == 2
    assert err.startswith(f"Error: store {url!r} is read-only")
    assert err.count("\n") == 1  # one line, no traceback
    code, out, err = run("--store", url, "export")
    assert (code, err) == (0, "")
    assert [json.loads(line)["id"] for line in out.splitlines()] == ["m1"]


def test_a_store_in_an_unwritable_directory_is_readable(tmp_path: Path, unwritable: object) -> None:
    directory = tmp_path / "ro"
    directory.mkdir()
    url = _make_store(directory / "s.db")
    assert not Path(f"{directory / 's.db'}-wal").exists()  # checkpointed on close
    unwritable(directory)  # type: ignore[operator]
    Path("policy.toml").write_text(POLICY, encoding="utf-8")
    code, out, err = run(
        "--store", url, "check", "--policy", "policy.toml", "--as-of", "2024-03-02T00:00:00Z"
    )
    assert code == 1, err  # m1 was never answered: the data was read
    assert "Traceback" not in err
    code, out, _ = run("--store", url, "export")
    assert code == 0
    assert [json.loads(line)["id"] for line in out.splitlines()] == ["m1"]
    code, _, err = run("--store", url, "import", "-", input=MSG % "2")
    assert code == 2
    assert "is read-only" in err
    assert "Traceback" not in err
