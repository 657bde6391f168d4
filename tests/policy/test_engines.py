"""Engines: ``check --engine``, ``--input`` for dataset engines, and ``auto``'s choice."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Collection, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import pytest
from click.testing import CliRunner

from convokit_core import Engine, PythonEngine, check, load_policy
from convokit_core._cli import cli
from convokit_core._model import Batch
from convokit_core._plugins import PluginManager, open_store, set_plugin_manager
from convokit_core._policy._engines import choose_engine
from convokit_core._policy._findings import CheckReport
from convokit_core.hookspecs import hookimpl

from .helpers import conv, msg

AS_OF = "2024-03-04T12:00:00Z"
POLICY = '[[commitment]]\nname = "first"\nrule = "first_reply"\nwithin = "1h"\n'


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def store_url() -> str:
    url = "sqlite:///store.db"
    store = open_store(url)
    store.write(
        Batch(
            conversations=[
                conv(msg("1", 0), msg("2", 30, "outbound"), cid="c1"),
                conv(msg("4", 0, author_id="u2"), cid="c2", stakeholder_id="u2"),
            ]
        )
    )
    store.close()
    Path("policy.toml").write_text(POLICY)
    return url


class DatasetEngine:
    """Reads a 'dataset' (a directory holding one store.db) by delegating to python."""

    reads: Literal["store", "dataset"] = "dataset"

    def __init__(self) -> None:
        self.sources: list[Any] = []

    def unsupported(self, commitments: Sequence[Any]) -> str | None:
        for c in commitments:
            if c.rule.name != "first_reply":
                return f"commitment {c.name!r}: rule {c.rule.name!r} has no dataset form"
        return None

    def latest_message_at(self, source: str) -> datetime | None:
        store = open_store(f"sqlite:///{source}/store.db", create=False)
        try:
            return store.latest_message_at()  # type: ignore[attr-defined,no-any-return]
        finally:
            store.close()

    def check(
        self,
        source: Any,
        commitments: Sequence[Any],
        *,
        as_of: datetime,
        only: Collection[str] | None,
        classifiers: Sequence[Any],
        progress: Callable[[int], None] | None,
    ) -> CheckReport:
        self.sources.append(source)
        store = open_store(f"sqlite:///{source}/store.db", create=False)
        try:
            return PythonEngine().check(
                store,
                commitments,
                as_of=as_of,
                only=only,
                classifiers=classifiers,
                progress=progress,
            )
        finally:
            store.close()


class EnginePlugin:
    def __init__(self) -> None:
        self.engine = DatasetEngine()

    @hookimpl
    def register_engines(self, register: Callable[..., None]) -> None:
        register("lake", self.engine, description="a test dataset engine")


@pytest.fixture
def plugin() -> Iterator[EnginePlugin]:
    third = EnginePlugin()
    set_plugin_manager(PluginManager(plugins=[third], load_entry_points=False))
    yield third
    set_plugin_manager(None)


def test_the_python_engine_is_registered_and_satisfies_the_protocol() -> None:
    manager = PluginManager(load_entry_points=False)
    reg = manager.engines.get("python")
    assert reg is not None
    assert reg.plugin == "policy.plugin"
    assert isinstance(reg.value, Engine)


def test_check_takes_an_engine_and_a_store_url(store_url: str) -> None:
    policy = load_policy("policy.toml")
    as_of = datetime(2024, 3, 4, 12, tzinfo=UTC)
    store = open_store(store_url)
    try:
        by_object = check(store, policy, as_of=as_of, engine="python")
    finally:
        store.close()
    by_url = check(store_url, policy, as_of=as_of, engine="auto")
    assert [f.subject for f in by_url.findings] == [f.subject for f in by_object.findings]
    assert by_url.commitments[0].counts["breached"] == 1


def test_auto_falls_back_to_python_and_says_why(
    store_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    policy = load_policy("policy.toml")
    manager = PluginManager(load_entry_points=False)
    choice = choose_engine("auto", policy.commitments, manager)
    if manager.engines.get("columnar") is None:
        assert (choice.name, choice.reason) == ("python", "no 'columnar' engine is registered")
    with caplog.at_level(logging.INFO, logger="convokit"):
        code, _, _ = run(
            "--store", store_url, "-v", "check", "--policy", "policy.toml", "--as-of", AS_OF
        )
    assert code == 1
    assert f"engine: {choice.name} ({choice.reason})" in caplog.messages


def test_an_unknown_engine_is_one_error_listing_the_known(store_url: str) -> None:
    code, _, err = run("--store", store_url, "check", "--policy", "policy.toml", "--engine", "warp")
    assert code == 2
    assert "--engine: unknown engine 'warp' (known: auto, " in err
    assert "python" in err
    assert "Traceback" not in err


def test_a_dataset_engine_reads_input_and_opens_no_store(
    store_url: str, plugin: EnginePlugin, tmp_path: Path
) -> None:
    lake = tmp_path / "lake"
    lake.mkdir()
    Path("store.db").rename(lake / "store.db")
    for suffix in ("-wal", "-shm"):
        if Path(f"store.db{suffix}").exists():
            Path(f"store.db{suffix}").rename(lake / f"store.db{suffix}")
    # no store at the default or given URL: a dataset engine must not open one
    code, out, err = run(
        "--store",
        "sqlite:///missing.db",
        "check",
        "--policy",
        "policy.toml",
        "--engine",
        "lake",
        "--input",
        str(lake),
        "--as-of",
        "latest",
        "--format",
        "json",
    )
    assert code == 0, (out, err)
    assert not Path("missing.db").exists()
    assert plugin.engine.sources == [str(lake)]
    findings = json.loads(out)["findings"]
    assert [f["status"] for f in findings] == ["met", "pending"]


def test_a_dataset_engine_without_input_is_a_usage_error(plugin: EnginePlugin) -> None:
    Path("policy.toml").write_text(POLICY)
    code, _, err = run("check", "--policy", "policy.toml", "--engine", "lake")
    assert code == 2
    assert "--engine lake reads a dataset: pass --input DIR|URL" in err


def test_input_with_a_store_engine_is_a_usage_error(store_url: str) -> None:
    code, _, err = run(
        "--store",
        store_url,
        "check",
        "--policy",
        "policy.toml",
        "--engine",
        "python",
        "--input",
        "somewhere",
    )
    assert code == 2
    assert "--input is for dataset engines; engine 'python' reads the store" in err


def test_a_named_engine_refuses_a_rule_it_cannot_run(store_url: str, plugin: EnginePlugin) -> None:
    Path("two.toml").write_text(
        POLICY + '\n[[commitment]]\nname = "later"\nrule = "next_reply"\nwithin = "1h"\n'
    )
    code, _, err = run("check", "--policy", "two.toml", "--engine", "lake", "--input", ".")
    assert code == 2
    assert "--engine lake: commitment 'later': rule 'next_reply' has no dataset form" in err


def test_engines_are_listed_by_convokit_plugins(plugin: EnginePlugin) -> None:
    code, out, _ = run("plugins", "--all", "--format", "json")
    assert code == 0
    infos = {p["name"]: p for p in json.loads(out)["plugins"]}
    assert infos["policy.plugin"]["registered"]["engines"] == ["python"]
    assert any(p["registered"].get("engines") == ["lake"] for p in infos.values())
