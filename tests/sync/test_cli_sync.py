"""``convokit sync`` end to end on the toy platform (mock transport, SQLite store)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from rich.console import Console

from convokit_core._cli import cli
from convokit_core._plugins import PluginManager, set_plugin_manager
from convokit_core._storage._sqlite import SQLiteStore
from convokit_core._sync import _engine, _plugin
from convokit_core.hookspecs import hookimpl

from .toy import ToyConfig, ToyServer, create

TOKEN = "toy-secret-token"


class ToyPlugin:
    __name__ = "toy-cli-plugin"

    @hookimpl
    def register_platforms(self, register: object) -> None:
        assert callable(register)
        register("toy", config=ToyConfig, create=create, description="toy platform")


@pytest.fixture(autouse=True)
def toy_world(monkeypatch: pytest.MonkeyPatch) -> Iterator[ToyServer]:
    server = ToyServer(10, token=TOKEN)
    set_plugin_manager(PluginManager(plugins=[ToyPlugin()]))
    monkeypatch.setattr(
        _engine,
        "default_client",
        lambda: httpx.AsyncClient(transport=httpx.MockTransport(server)),
    )
    monkeypatch.setenv("TOY_TOKEN", TOKEN)
    yield server
    set_plugin_manager(None)


CONFIG = """
store = "sqlite:///store.db"

[[source]]
name = "one"
platform = "toy"
url = "https://toy.example"
token = "${TOY_TOKEN}"

[[source]]
name = "two"
platform = "toy"
url = "https://toy.example"
token = "${TOY_TOKEN}"
limit = 4

[[team]]
id = "ac"
name = "Acme account"
handles = { toy = "@ACME" }
"""

BAD_TOKEN = """
[[source]]
name = "bad"
platform = "toy"
url = "https://toy.example"
token = "wrong-token-987654"
"""


def run(*args: str, config: str = CONFIG) -> tuple[int, str, str]:
    Path("convokit.toml").write_text(config, encoding="utf-8")
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def stored_ids() -> set[str]:
    with SQLiteStore("sqlite:///store.db") as store:
        return {m.id for m in store.iter_messages()}


def test_sync_all_sources_with_plain_progress_lines() -> None:
    code, out, err = run("sync")
    assert code == 0, err
    assert out == ""
    assert "one: syncing (toy)" in err
    assert "one: page 1 written (3 records so far)" in err
    assert "one: 4 pages, 10 records in" in err
    assert "two: 3 pages, 10 records in" in err
    assert stored_ids() == {f"{i:04d}" for i in range(1, 11)}
    with SQLiteStore("sqlite:///store.db") as store:
        assert store.get_cursor("one") == "0010"
        assert [t.id for t in store.iter_team_members()] == ["ac"]
        directions = {m.author_id: m.direction.value for m in store.iter_messages()}
    assert directions["acme"] == "outbound"  # a [[team]] handle
    assert directions["user1"] == "inbound"


def test_quiet_prints_nothing() -> None:
    code, out, err = run("-q", "sync")
    assert code == 0
    assert (out, err) == ("", "")


def test_a_second_sync_resumes_and_writes_nothing_new() -> None:
    run("-q", "sync")
    code, _, err = run("sync", "--source", "one")
    assert code == 0
    assert "one: 0 pages, 0 records" in err
    assert "two:" not in err


def test_a_failed_source_exits_1_naming_it_while_the_others_sync() -> None:
    code, _, err = run("sync", config=CONFIG + BAD_TOKEN)
    assert code == 1
    assert (
        "Error: source 'bad' failed: GET https://toy.example/api/items?limit=3 failed: "
        "HTTP 401 Unauthorized: The access token is invalid"
    ) in err
    assert "wrong-token" not in err
    assert "Traceback" not in err
    assert stored_ids() == {f"{i:04d}" for i in range(1, 11)}

    code, out, _ = run("sync", "--status", config=CONFIG + BAD_TOKEN)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["source", "started", "took", "pages", "records", "result"]
    by_source = {line.split()[0]: line for line in lines[1:]}
    assert by_source["one"].endswith("ok")
    assert "failed: GET https://toy.example" in by_source["bad"]
    assert "wrong-token" not in out


def test_status_before_any_sync() -> None:
    code, out, _ = run("sync", "--status")
    assert code == 0
    assert out.strip() == "no sync runs recorded yet"


def test_unknown_source_is_a_usage_error_with_a_suggestion() -> None:
    code, _, err = run("sync", "--source", "onw")
    assert code == 2
    assert "no [[source]] named 'onw'; did you mean 'one'?" in err


def test_missing_env_var_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TOY_TOKEN")
    code, _, err = run("sync")
    assert code == 2
    assert "source 'one' needs the environment variable TOY_TOKEN" in err


def test_no_sources_configured() -> None:
    code, _, err = run("sync", config='store = "sqlite:///store.db"\n')
    assert code == 0
    assert "no [[source]] configured" in err


def test_progress_bars_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=100)
    real = _plugin.RichObserver
    monkeypatch.setattr(_plugin, "_stderr_is_terminal", lambda: True)
    monkeypatch.setattr(_plugin, "RichObserver", lambda: real(console))
    code, _, err = run("sync")
    assert code == 0
    assert err == ""  # no plain log lines on a terminal
    shown = screen.getvalue()
    assert "done: 4 pages, 10 records" in shown
    assert "done: 3 pages, 10 records" in shown


def test_status_limits_runs_per_source_and_filters() -> None:
    for _ in range(3):
        run("-q", "sync")
    code, out, _ = run("sync", "--status", "--limit", "2")
    assert code == 0
    sources = [line.split()[0] for line in out.splitlines()[1:]]
    assert sorted(sources) == ["one", "one", "two", "two"]
    code, out, _ = run("sync", "--status", "--source", "two")
    assert [line.split()[0] for line in out.splitlines()[1:]] == ["two", "two", "two"]
    # Newest first: the first run wrote 10 records, the later ones nothing new.
    records = [int(line.split()[4]) for line in out.splitlines()[1:]]
    assert records == [0, 0, 10]
