"""``[[source]]`` keys: validation, errors naming the key, secrets never echoed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from convokit_reddit import RedditConfig, create, reddit_name
from reddit_fake import CLIENT_ID, CLIENT_SECRET, PASSWORD, REFRESH_TOKEN

from convokit_core import ConfigError, PluginManager, load_config, load_sources

BASE: dict[str, Any] = {
    "username": "acme_support",
    "client_id": CLIENT_ID,
    "client_secret": CLIENT_SECRET,
    "password": PASSWORD,
}


def test_defaults() -> None:
    config = RedditConfig(**BASE)
    assert config.api_url == "https://oauth.reddit.com"
    assert config.auth_url == "https://www.reddit.com"
    assert config.page_size == 100
    assert config.subreddits == ()
    assert config.bot_accounts == ("automoderator",)
    assert config.own_threads is True
    assert config.grant == "password"
    assert config.channel_id == "u/acme_support"
    assert config.effective_user_agent("9.9") == "python:convokit-reddit:9.9 (by /u/acme_support)"


def test_handles_are_normalised() -> None:
    config = RedditConfig(
        **{**BASE, "username": "/u/acme_support", "subreddits": ["r/Acme", "acme", "/r/widgets"]}
    )
    assert config.username == "acme_support"
    assert config.subreddits == ("Acme", "widgets")
    assert config.subreddit_channel("acme") == "r/Acme"
    assert config.subreddit_channel("python") is None
    assert (
        reddit_name("/u/KC_Acme")
        == reddit_name("@kc_acme")
        == reddit_name("u/kc_acme")
        == "kc_acme"
    )


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"username": "a b"}, "'username'"),
        ({"username": "x"}, "'username'"),
        ({"client_id": ""}, "'client_id'"),
        ({"password": ""}, "exactly one of 'password'"),
        ({"refresh_token": REFRESH_TOKEN}, "exactly one of 'password'.*both"),
        ({"client_secret": ""}, "'client_secret' is required"),
        ({"subreddits": "acme"}, "'subreddits' must be a list"),
        ({"subreddits": ["acme", "no spaces"]}, r"'subreddits\[1\]'"),
        ({"bot_accounts": "AutoModerator"}, "'bot_accounts'"),
        ({"page_size": 101}, "'page_size'"),
        ({"page_size": True}, "'page_size'"),
        ({"own_threads": "yes"}, "'own_threads'"),
        ({"user_agent": "bot"}, "'user_agent' must describe the app"),
        ({"api_url": "http://oauth.reddit.com"}, "'api_url'.*plain http"),
        ({"auth_url": "https://www.reddit.com/api"}, "'auth_url' must be a root URL"),
    ],
)
def test_bad_values_name_the_key(changes: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        RedditConfig(**{**BASE, **changes})


def test_refresh_token_alone_is_enough_for_an_installed_app() -> None:
    config = RedditConfig(username="acme_support", client_id=CLIENT_ID, refresh_token=REFRESH_TOKEN)
    assert config.grant == "refresh_token"
    assert config.client_secret == ""


def test_loopback_http_is_allowed_for_tests() -> None:
    config = RedditConfig(
        **{**BASE, "api_url": "http://127.0.0.1:8080/", "auth_url": "http://localhost:9"}
    )
    assert config.api_url == "http://127.0.0.1:8080"
    assert config.auth_url == "http://localhost:9"


def test_secrets_are_not_in_repr_or_errors() -> None:
    config = RedditConfig(**BASE)
    for secret in (CLIENT_SECRET, PASSWORD):
        assert secret not in repr(config)
    with pytest.raises(ValueError) as info:
        RedditConfig(**{**BASE, "password": 12345678})
    assert "12345678" not in str(info.value)
    assert "'password'" in str(info.value)


TOML = """
[[source]]
name = "reddit-main"
platform = "reddit"
username = "acme_support"
client_id = "{client_id}"
client_secret = "${{REDDIT_CLIENT_SECRET}}"
password = "${{REDDIT_PASSWORD}}"
subreddits = ["acme"]
"""


@pytest.fixture
def plugins(monkeypatch: pytest.MonkeyPatch) -> PluginManager:
    monkeypatch.setenv("CONVOKIT_LOAD_PLUGINS", "reddit")
    return PluginManager()


ENV = {"REDDIT_CLIENT_SECRET": CLIENT_SECRET, "REDDIT_PASSWORD": PASSWORD}


def test_the_entry_point_registers_the_platform(plugins: PluginManager) -> None:
    registration = plugins.platforms["reddit"]
    assert registration.plugin == "reddit"
    assert registration.options["config"] is RedditConfig
    assert registration.options["create"] is create


def test_the_plugin_can_be_excluded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONVOKIT_LOAD_PLUGINS", "")
    assert "reddit" not in PluginManager().platforms.names()


def test_a_source_table_builds_the_config(plugins: PluginManager, tmp_path: Path) -> None:
    path = tmp_path / "convokit.toml"
    path.write_text(TOML.format(client_id=CLIENT_ID), encoding="utf-8")
    (spec,) = load_sources(load_config(path), plugins, env=ENV)
    assert spec.config == RedditConfig(**BASE, subreddits=["acme"])
    assert set(spec.secrets) == {CLIENT_SECRET, PASSWORD}


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (('subreddits = ["acme"]', 'subreddit = ["acme"]'), "subreddit"),
        (('password = "${REDDIT_PASSWORD}"\n', ""), "exactly one of 'password'"),
        (('username = "acme_support"\n', ""), "missing 'username'"),
        (('subreddits = ["acme"]', 'subreddits = ["a b"]'), r"subreddits\[0\]"),
    ],
)
def test_config_errors_name_the_file_and_key(
    plugins: PluginManager, tmp_path: Path, edit: tuple[str, str], match: str
) -> None:
    path = tmp_path / "convokit.toml"
    text = TOML.format(client_id=CLIENT_ID).replace(*edit)
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=match) as info:
        load_sources(load_config(path), plugins, env=ENV)
    assert "convokit.toml" in str(info.value)
    for secret in (CLIENT_SECRET, PASSWORD):
        assert secret not in str(info.value)
