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


# -- errors name the key's line, what was found and what was expected ---------------------


def _page_size_converter(value: object) -> int:
    if isinstance(value, str) and value.isdigit():
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise ValueError(f"must be a whole number, like 20, found {value!r}")


def _mode_converter(value: object) -> str:
    if value not in ("fast", "safe"):
        raise ConfigError(f"mode must be 'fast' or 'safe', not {value!r}")
    return str(value)


@attrs.frozen(kw_only=True)
class StrictConfig:
    token: str = attrs.field(repr=False, metadata={"secret": True})
    page_size: int = attrs.field(default=20, validator=attrs.validators.in_([10, 20, 40]))
    retries: int = attrs.field(default=3, validator=attrs.validators.instance_of(int))
    timeout: float = attrs.field(default=5.0, validator=attrs.validators.gt(0))
    depth: int = attrs.field(default=1, converter=_page_size_converter)
    mode: str = attrs.field(default="safe", converter=_mode_converter)
    label: str = "x"
    base: str = "https://strict.example"


class StrictPlugin:
    __name__ = "strict"

    @hookimpl
    def register_platforms(self, register: object) -> None:
        assert callable(register)
        register("strict", config=StrictConfig, create=create)


STRICT = """# a comment
store = "sqlite:///x.db"

[[source]]
name = "first"
platform = "strict"
token = "first-token-value"

[[source]]
name = "second"
platform = "strict"
token = "second-token-value"
{extra}

[[team]]
id = "kc"
"""


def strict_error(extra: str, **env: str) -> str:
    manager = PluginManager(plugins=[StrictPlugin()], load_entry_points=False)
    with pytest.raises(ConfigError) as info:
        load_sources(config(STRICT.format(extra=extra)), manager, env=env)
    message = str(info.value)
    assert "Attribute(" not in message
    assert "attrs" not in message
    return message


@pytest.mark.parametrize(
    ("extra", "key", "expected"),
    [
        (
            "page_size = 15",
            "page_size",
            "source 'second': expected one of 10, 20, 40, found 15",
        ),
        (
            'retries = "3"',
            "retries",
            "source 'second': expected an integer, found '3'",
        ),
        (
            "timeout = -1.5",
            "timeout",
            "source 'second': expected a value > 0, found -1.5",
        ),
        (
            'depth = "deep"',
            "depth",
            "source 'second': must be a whole number, like 20, found 'deep'",
        ),
        (
            'mode = "turbo"',
            "mode",
            "source 'second': mode must be 'fast' or 'safe', not 'turbo'",
        ),
        (
            "label = 7",
            "label",
            "source 'second': expected a string, found 7",
        ),
    ],
)
def test_each_kind_of_error_names_the_keys_line_and_path(
    extra: str, key: str, expected: str
) -> None:
    message = strict_error(f'label = "ok"\n{extra}' if key != "label" else extra)
    line = STRICT.format(extra=f'label = "ok"\n{extra}' if key != "label" else extra)
    number = next(i for i, text in enumerate(line.splitlines(), 1) if text.startswith(key))
    assert message == f"convokit.toml:{number} (source[1].{key}): {expected}"


def test_the_key_line_is_found_in_its_own_table_not_the_first_match() -> None:
    # page_size is valid in the first source and invalid in the second: the second's line.
    text = STRICT.replace(
        'token = "first-token-value"', 'token = "first-token-value"\npage_size = 10'
    )
    manager = PluginManager(plugins=[StrictPlugin()], load_entry_points=False)
    with pytest.raises(ConfigError) as info:
        load_sources(config(text.format(extra="page_size = 11")), manager, env={})
    assert str(info.value).startswith("convokit.toml:14 (source[1].page_size): ")  # not 8


def test_a_validator_error_never_shows_a_secret_value() -> None:
    @attrs.frozen(kw_only=True)
    class TokenChecked:
        token: str = attrs.field(
            repr=False, metadata={"secret": True}, validator=attrs.validators.in_(["a" * 9])
        )

    class Plugin:
        __name__ = "token-checked"

        @hookimpl
        def register_platforms(self, register: object) -> None:
            assert callable(register)
            register("tc", config=TokenChecked, create=create)

    text = '[[source]]\nname = "a"\nplatform = "tc"\n\ntoken = "${T}"\n'
    manager = PluginManager(plugins=[Plugin()], load_entry_points=False)
    with pytest.raises(ConfigError) as info:
        load_sources(config(text), manager, env={"T": "distinct-secret-42"})
    message = str(info.value)
    assert message.startswith("convokit.toml:5 (source[0].token): source 'a': expected one of")
    assert "value hidden" in message
    assert "distinct-secret-42" not in message
    assert "distinct-secret-42" not in repr(info.value)


@pytest.mark.parametrize(
    ("token", "problem"),
    [
        ("Xy7-q", "too short: a secret must have at least 8 characters (found 5)"),
        ("a-long-token\r\nX-Evil: 1", "control character U+000D at position 13"),
        ("a-long-token\x00", "control character U+0000"),
        ("a-long-token\x7f", "control character U+007F"),
        ("a-long-token\x85", "control character U+0085"),
        ("a-long-\ttoken", "control character U+0009"),
    ],
)
def test_secrets_breaking_the_rules_are_refused_naming_the_key(
    plugins: PluginManager, token: str, problem: str
) -> None:
    text = '[[source]]\nname = "a"\nplatform = "toy"\nurl = "https://t.example"\ntoken = "${T}"\n'
    with pytest.raises(ConfigError) as info:
        load_sources(config(text), plugins, env={"T": token})
    message = str(info.value)
    assert message.startswith("convokit.toml:5 (source[0].token): source 'a': the secret 'token'")
    assert problem in message
    assert token not in message
    assert token.split("\r")[0] not in message


def test_a_secret_that_is_not_a_string_is_refused(plugins: PluginManager) -> None:
    text = '[[source]]\nname = "a"\nplatform = "toy"\nurl = "https://t.example"\ntoken = 12345678\n'
    with pytest.raises(
        ConfigError,
        match=r"expected a string for the secret 'token', found an integer$",
    ):
        load_sources(config(text), plugins, env={})


@pytest.mark.parametrize(
    "url", ["http://toy.example", "HTTP://toy.example/api", "  http://10.0.0.1:8080"]
)
def test_a_remote_http_url_is_a_config_error_at_load_time(plugins: PluginManager, url: str) -> None:
    text = f'[[source]]\nname = "a"\nplatform = "toy"\n\nurl = "{url}"\ntoken = "t-long-enough"\n'
    with pytest.raises(ConfigError) as info:
        load_sources(config(text), plugins, env={})
    assert str(info.value).startswith(
        "convokit.toml:5 (source[0].url): source 'a': refusing plain http://"
    )
    assert info.value.exit_code == 2


@pytest.mark.parametrize("url", ["http://127.0.0.1:8080", "http://localhost/x", "http://[::1]:9"])
def test_loopback_http_stays_allowed(plugins: PluginManager, url: str) -> None:
    text = f'[[source]]\nname = "a"\nplatform = "toy"\nurl = "{url}"\ntoken = "t-long-enough"\n'
    (spec,) = load_sources(config(text), plugins, env={})
    assert spec.config.url == url


def test_team_handle_errors_name_the_nested_key() -> None:
    text = '[[team]]\nid = "a"\n\n[[team]]\nid = "b"\nhandles = { toy = "@b", mastodon = 3 }\n'
    with pytest.raises(ConfigError) as info:
        load_team(config(text))
    assert str(info.value) == (
        "convokit.toml:6 (team[1].handles.mastodon): expected a non-empty handle string "
        '(platform = "handle"), found 3'
    )


def test_team_key_errors_use_the_members_own_line() -> None:
    text = '[[team]]\nid = "a"\nname = "A"\n\n[[team]]\nid = "b"\nname = 3\n'
    with pytest.raises(ConfigError) as info:
        load_team(config(text))
    assert str(info.value) == "convokit.toml:7 (team[1].name): expected a string, found 3"


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_team_moments_that_overflow_utc_are_config_errors(moment: str) -> None:
    text = f'[[team]]\nid = "a"\nactive_from = {moment}\n'
    with pytest.raises(ConfigError) as info:
        load_team(config(text))
    message = str(info.value)
    assert message.startswith("convokit.toml:3 (team[0].active_from): ")
    assert moment in message
    assert "out of range" in message


def test_key_line_scans_only_the_tables_span() -> None:
    from convokit_core._config import key_line

    text = (
        'store = "x"\n'
        "[[source]]\n"
        'name = "a"\n'
        "[[source]]  # second\n"
        'name = "b"\n'
        ' "page_size" = 4\n'
        "[source.extra]\n"
        "depth = 2\n"
        "[[team]]\n"
        "page_size = 9\n"
    )
    assert key_line(text, "store") == 1
    assert key_line(text, "source[0]") == 2
    assert key_line(text, "source[0].page_size") == 2  # absent in its table: the header
    assert key_line(text, "source[1].page_size") == 6
    assert key_line(text, "source[1].depth") == 8  # a sub-table belongs to the element
    assert key_line(text, "team[0].page_size") == 10
