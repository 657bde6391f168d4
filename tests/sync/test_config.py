"""``[[source]]`` and ``[[team]]`` tables: validation and clear errors."""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime
from pathlib import Path

import attrs
import pytest

from convokit_core._config import Config
from convokit_core._errors import ConfigError
from convokit_core._plugins import PluginManager
from convokit_core._sync._config import load_sources, load_team, select_sources
from convokit_core.hookspecs import hookimpl

from .toy import ToyConfig, create


class ToyPlugin:
    __name__ = "toy-plugin"

    @hookimpl
    def register_platforms(self, register: object) -> None:
        assert callable(register)
        register("toy", config=ToyConfig, create=create, description="toy platform")


@pytest.fixture
def plugins() -> PluginManager:
    return PluginManager(plugins=[ToyPlugin()], load_entry_points=False)


def config(text: str) -> Config:
    return Config(path=Path("convokit.toml"), data=tomllib.loads(text), text=text)


GOOD = """
[[source]]
name = "one"
platform = "toy"
url = "https://toy.example"
token = "${TOY_TOKEN}"
limit = 5

[[source]]
name = "two"
platform = "toy"
url = "https://toy.example"
token = "prefix-${TOY_TOKEN}-suffix"
"""


def test_sources_are_built_with_env_interpolation(plugins: PluginManager) -> None:
    specs = load_sources(config(GOOD), plugins, env={"TOY_TOKEN": "s3cr3t-value"})
    assert [s.name for s in specs] == ["one", "two"]
    assert specs[0].config == ToyConfig(url="https://toy.example", token="s3cr3t-value", limit=5)
    assert specs[1].config.token == "prefix-s3cr3t-value-suffix"
    assert specs[0].secrets == ("s3cr3t-value",)
    assert specs[0].create is create
    assert "s3cr3t" not in repr(specs[0])


def test_missing_env_var_names_the_source_and_variable(plugins: PluginManager) -> None:
    with pytest.raises(ConfigError) as info:
        load_sources(config(GOOD), plugins, env={})
    message = str(info.value)
    assert "source 'one'" in message
    assert "TOY_TOKEN" in message
    assert "convokit.toml:6" in message


def test_unknown_key_suggests_the_right_one(plugins: PluginManager) -> None:
    text = '[[source]]\nname = "a"\nplatform = "toy"\nurl = "https://t.example"\ntokn = "x"\n'
    with pytest.raises(ConfigError, match="unknown key 'tokn'; did you mean 'token'") as info:
        load_sources(config(text), plugins, env={})
    assert "convokit.toml:5" in str(info.value)


def test_missing_key_is_named(plugins: PluginManager) -> None:
    text = '[[source]]\nname = "a"\nplatform = "toy"\nurl = "https://t.example"\n'
    with pytest.raises(ConfigError, match=r"source 'a' .*is missing 'token'"):
        load_sources(config(text), plugins, env={})


def test_unknown_platform_lists_the_installed_ones(plugins: PluginManager) -> None:
    text = '[[source]]\nname = "a"\nplatform = "tyo"\n'
    with pytest.raises(ConfigError, match="unknown platform 'tyo'; did you mean 'toy'") as info:
        load_sources(config(text), plugins, env={})
    assert "pip install convokit-tyo" in str(info.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[source]]\nplatform = "toy"\n', "needs a non-empty string 'name'"),
        ('[[source]]\nname = "a"\n', "needs a 'platform' string"),
        (
            '[[source]]\nname = "a"\nplatform = "toy"\nurl="https://x.example"\ntoken="t-long-enough"\n'
            '[[source]]\nname = "a"\nplatform = "toy"\nurl="https://x.example"\ntoken="t-long-enough"\n',
            "two \\[\\[source\\]\\] tables are named 'a'",
        ),
        ("source = 3\n", "expected \\[\\[source\\]\\] tables"),
    ],
)
def test_malformed_source_tables(plugins: PluginManager, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_sources(config(text), plugins, env={})


@attrs.frozen(kw_only=True)
class PickyConfig:
    token: str = attrs.field(repr=False, metadata={"secret": True})
    retries: int = 3

    @token.validator
    def _check(self, attribute: object, value: str) -> None:
        if not value.startswith("tok_"):
            raise ValueError(f"token {value!r} must start with tok_")


class PickyPlugin:
    __name__ = "picky"

    @hookimpl
    def register_platforms(self, register: object) -> None:
        assert callable(register)
        register("picky", config=PickyConfig, create=create)


def test_a_value_the_platform_rejects_is_a_config_error_without_the_secret() -> None:
    manager = PluginManager(plugins=[PickyPlugin()], load_entry_points=False)
    text = '[[source]]\nname = "a"\nplatform = "picky"\ntoken = "${T}"\n'
    with pytest.raises(ConfigError, match="source 'a': token '\\*\\*\\*' must start") as info:
        load_sources(config(text), manager, env={"T": "hunter2-secret"})
    assert "hunter2" not in str(info.value)


def test_select_sources(plugins: PluginManager) -> None:
    specs = load_sources(config(GOOD), plugins, env={"TOY_TOKEN": "x-long-enough"})
    assert [s.name for s in select_sources(specs, [])] == ["one", "two"]
    assert [s.name for s in select_sources(specs, ["two"])] == ["two"]
    with pytest.raises(ConfigError, match="no \\[\\[source\\]\\] named 'tow'; did you mean 'two'"):
        select_sources(specs, ["tow"])


TEAM = """
[[team]]
id = "kc"
name = "KC"
handles = { mastodon = "@kc@mastodon.example", bluesky = "kc.bsky.social" }
active_from = 2024-01-01T00:00:00Z
active_until = "2025-06-30T17:00:00+02:00"

[[team]]
id = "ann"
"""


def test_team_members_are_loaded() -> None:
    kc, ann = load_team(config(TEAM))
    assert kc.id == "kc"
    assert kc.handles == {"mastodon": "@kc@mastodon.example", "bluesky": "kc.bsky.social"}
    assert kc.active_from == datetime(2024, 1, 1, tzinfo=UTC)
    assert kc.active_until == datetime(2025, 6, 30, 15, 0, tzinfo=UTC)
    assert ann.handles == {}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[team]]\nid = "a"\nhandle = {}\n', "unknown key 'handle'; did you mean 'handles'"),
        ('[[team]]\nname = "A"\n', "needs a non-empty string 'id'"),
        ('[[team]]\nid = "a"\nactive_from = 2024-01-01T00:00:00\n', "with a timezone"),
        ('[[team]]\nid = "a"\nactive_from = 2024-01-01\n', "found the date 2024-01-01"),
        ('[[team]]\nid = "a"\nhandles = { mastodon = 3 }\n', 'platform = "handle"'),
        ('[[team]]\nid = "a"\n[[team]]\nid = "a"\n', "two \\[\\[team\\]\\] members have id"),
    ],
)
def test_team_errors(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_team(config(text))
