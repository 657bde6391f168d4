from __future__ import annotations

import importlib.metadata as md
import re
import types
from pathlib import Path
from typing import Any

import pytest

from convokit_core import PluginError, PluginManager, hookimpl, hookspecs, open_store

DOCS = Path(__file__).resolve().parents[1] / "docs"


def make_plugin(name: str, **hooks: Any) -> types.ModuleType:
    module = types.ModuleType(name)
    for hook_name, fn in hooks.items():
        setattr(module, hook_name, hookimpl(fn))
    return module


class FakeEntryPoint:
    def __init__(self, name: str, load: Any, version: str = "1.2.3") -> None:
        self.name = name
        self._load = load
        self.dist = types.SimpleNamespace(version=version)

    def load(self) -> Any:
        return self._load()


@pytest.fixture
def entry_points(monkeypatch: pytest.MonkeyPatch) -> list[FakeEntryPoint]:
    eps: list[FakeEntryPoint] = []

    def fake(*, group: str) -> list[FakeEntryPoint]:
        assert group == "convokit"
        return eps

    monkeypatch.setattr(md, "entry_points", fake)
    return eps


def storage_plugin(scheme: str, name: str) -> types.ModuleType:
    def register_storage(register: Any) -> None:
        register(scheme, lambda url: ("opened", url), description=f"{scheme} store")

    return make_plugin(name, register_storage=register_storage)


def test_builtins_register_through_the_same_hooks() -> None:
    manager = PluginManager(load_entry_points=False)
    assert {"memory", "sqlite"} <= set(manager.storage.names())
    infos = manager.plugin_infos(include_builtins=True)
    sqlite = next(i for i in infos if i.registered.get("storage") == ("sqlite",))
    assert sqlite.builtin
    assert sqlite.version == md.version("convokit-core")
    assert "register_storage" in sqlite.hooks
    assert manager.plugin_infos() == []


def test_entry_point_plugins_load_with_version(entry_points: list[FakeEntryPoint]) -> None:
    entry_points.append(FakeEntryPoint("fancy", lambda: storage_plugin("fancy", "fancy_mod")))
    manager = PluginManager()
    (info,) = manager.plugin_infos()
    assert (info.name, info.version, info.registered) == ("fancy", "1.2.3", {"storage": ("fancy",)})
    assert open_store("fancy://x", plugins=manager) == ("opened", "fancy://x")


def test_a_plugin_that_fails_to_import_is_reported_and_others_load(
    entry_points: list[FakeEntryPoint],
) -> None:
    def broken() -> Any:
        raise ImportError("No module named 'missing_dependency'")

    entry_points.append(FakeEntryPoint("broken", broken))
    entry_points.append(FakeEntryPoint("fine", lambda: storage_plugin("fine", "fine_mod")))
    manager = PluginManager()
    assert [f.name for f in manager.failures] == ["broken"]
    assert "missing_dependency" in manager.failures[0].error
    assert "fine" in manager.storage


def test_allow_list_env_var(
    entry_points: list[FakeEntryPoint], monkeypatch: pytest.MonkeyPatch
) -> None:
    entry_points.append(FakeEntryPoint("one", lambda: storage_plugin("one", "one_mod")))
    entry_points.append(FakeEntryPoint("two", lambda: storage_plugin("two", "two_mod")))
    monkeypatch.setenv("CONVOKIT_LOAD_PLUGINS", "two")
    assert [i.name for i in PluginManager().plugin_infos()] == ["two"]
    monkeypatch.setenv("CONVOKIT_LOAD_PLUGINS", "")
    manager = PluginManager()
    assert manager.plugin_infos() == []
    assert "sqlite" in manager.storage  # built-ins are never filtered


def test_two_plugins_claiming_one_name_is_an_error_naming_both(
    entry_points: list[FakeEntryPoint],
) -> None:
    entry_points.append(FakeEntryPoint("alpha", lambda: storage_plugin("shared", "alpha_mod")))
    entry_points.append(FakeEntryPoint("beta", lambda: storage_plugin("shared", "beta_mod")))
    manager = PluginManager()
    with pytest.raises(PluginError) as info:
        manager.storage  # noqa: B018
    assert "'alpha'" in str(info.value)
    assert "'beta'" in str(info.value)


def test_a_plugin_cannot_take_a_builtin_name() -> None:
    manager = PluginManager(plugins=[storage_plugin("sqlite", "impostor")], load_entry_points=False)
    with pytest.raises(PluginError, match="sqlite"):
        manager.registry("register_storage", "storage scheme")


def test_unknown_hook_is_rejected_by_check_pending() -> None:
    def register_storrage(register: Any) -> None:  # typo on purpose
        pass

    with pytest.raises(PluginError, match="register_storrage"):
        PluginManager(
            plugins=[make_plugin("typo", register_storrage=register_storrage)],
            load_entry_points=False,
        )


def test_unknown_scheme_lists_the_known_ones() -> None:
    from convokit_core import ConfigError

    with pytest.raises(ConfigError, match=r"memory:.*sqlite:"):
        open_store("nosuch:///x")
    with pytest.raises(ConfigError, match="convokit-postgres"):
        open_store("postgresql://u@h/db", plugins=PluginManager(load_entry_points=False))
    with pytest.raises(ConfigError, match="no scheme"):
        open_store("just-a-path.db")


def test_every_hook_is_documented() -> None:
    text = (DOCS / "plugins.md").read_text(encoding="utf-8")
    hooks = [
        name
        for name, value in vars(hookspecs).items()
        if callable(value) and hasattr(value, "convokit_spec")
    ]
    assert len(hooks) == 10
    for name in hooks:
        assert re.search(rf"^##+ `?{name}\(", text, re.MULTILINE), (
            f"{name} missing from docs/plugins.md"
        )
