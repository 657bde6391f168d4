"""``[[source]]`` tables for YouTube: the entry point, the keys and their errors."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from convokit_youtube import DEFAULT_API_URL, YouTubeConfig, create

from convokit_core import ConfigError, PluginManager, load_config, load_sources

KEY = "AIzaSyC-config-test-key-000000000000"
CHANNEL = "UCn0rThW1nDlAbs000000aBc"


@pytest.fixture
def plugins(monkeypatch: pytest.MonkeyPatch) -> PluginManager:
    monkeypatch.setenv("CONVOKIT_LOAD_PLUGINS", "youtube")
    return PluginManager()


def sources(plugins: PluginManager, tmp_path: Path, body: str) -> list[object]:
    path = tmp_path / "convokit.toml"
    path.write_text('[[source]]\nname = "yt"\nplatform = "youtube"\n' + body, encoding="utf-8")
    return list(load_sources(load_config(path), plugins, env={"YT_KEY": KEY}))


def test_the_entry_point_registers_the_platform(plugins: PluginManager) -> None:
    registration = plugins.platforms["youtube"]
    assert registration.plugin == "youtube"
    assert registration.options["config"] is YouTubeConfig
    assert registration.options["create"] is create


def test_excluded_by_convokit_load_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONVOKIT_LOAD_PLUGINS", "")
    assert "youtube" not in PluginManager().platforms


def test_a_full_table(plugins: PluginManager, tmp_path: Path) -> None:
    (spec,) = sources(
        plugins,
        tmp_path,
        f'channel_id = "{CHANNEL}"\napi_key = "${{YT_KEY}}"\npage_size = 50\n'
        'revisit = "30d"\nrate_limit_retries = 2\n',
    )
    config = spec.config  # type: ignore[attr-defined]
    assert config == YouTubeConfig(
        channel_id=CHANNEL,
        api_key=KEY,
        page_size=50,
        revisit=timedelta(days=30),
        rate_limit_retries=2,
    )
    assert config.api_url == DEFAULT_API_URL
    assert KEY not in repr(config)


@pytest.mark.parametrize(
    ("body", "key", "expected"),
    [
        ('channel_id = "northwindlabs"\napi_key = "${YT_KEY}"\n', "channel_id", "'UC' followed"),
        (f'channel_id = "{CHANNEL}"\n', "source[0]", "exactly one of 'api_key' and 'oauth_token'"),
        (
            f'channel_id = "{CHANNEL}"\napi_key = "${{YT_KEY}}"\noauth_token = "${{YT_KEY}}"\n',
            "source[0]",
            "(found both)",
        ),
        (
            f'channel_id = "{CHANNEL}"\napi_key = "${{YT_KEY}}"\npage_size = 101\n',
            "page_size",
            "from 1 to 100",
        ),
        (
            f'channel_id = "{CHANNEL}"\napi_key = "${{YT_KEY}}"\nrevisit = "soon"\n',
            "revisit",
            "duration",
        ),
        (
            f'channel_id = "{CHANNEL}"\napi_key = "${{YT_KEY}}"\n'
            'api_url = "http://yt.example/youtube/v3"\n',
            "api_url",
            "plain http://",
        ),
        (f'channel_id = "{CHANNEL}"\napi_key = "short"\n', "api_key", "too short"),
        (
            f'channel_id = "{CHANNEL}"\napi_key = "${{YT_KEY}}"\nchannel = "x"\n',
            "channel",
            "unknown key",
        ),
    ],
)
def test_errors_name_the_key(
    plugins: PluginManager, tmp_path: Path, body: str, key: str, expected: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        sources(plugins, tmp_path, body)
    message = str(raised.value)
    assert "convokit.toml:" in message
    assert key in message
    assert expected in message
    assert KEY not in message
