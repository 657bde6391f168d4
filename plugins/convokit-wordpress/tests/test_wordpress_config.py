"""``[[source]]`` tables for WordPress: the entry point, the keys and their errors."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from convokit_wordpress import WordPressConfig, create

from convokit_core import ConfigError, PluginManager, load_config, load_sources

SECRET = "wxyz 9876 QRST 5432 uvwx 1098"


@pytest.fixture
def plugins(monkeypatch: pytest.MonkeyPatch) -> PluginManager:
    monkeypatch.setenv("CONVOKIT_LOAD_PLUGINS", "wordpress")
    return PluginManager()


def sources(plugins: PluginManager, tmp_path: Path, body: str) -> list[object]:
    path = tmp_path / "convokit.toml"
    path.write_text('[[source]]\nname = "blog"\nplatform = "wordpress"\n' + body, encoding="utf-8")
    return list(load_sources(load_config(path), plugins, env={"WP_PASSWORD": SECRET}))


def test_the_entry_point_registers_the_platform(plugins: PluginManager) -> None:
    registration = plugins.platforms["wordpress"]
    assert registration.plugin == "wordpress"
    assert registration.options["config"] is WordPressConfig
    assert registration.options["create"] is create


def test_excluded_by_convokit_load_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONVOKIT_LOAD_PLUGINS", "")
    assert "wordpress" not in PluginManager().platforms


def test_a_full_table(plugins: PluginManager, tmp_path: Path) -> None:
    (spec,) = sources(
        plugins,
        tmp_path,
        'site = "example.org/blog/"\nusername = "editor"\napp_password = "${WP_PASSWORD}"\n'
        'authors = [3, "sam"]\npage_size = 50\nlookback = "36h"\n',
    )
    config = spec.config  # type: ignore[attr-defined]
    assert config == WordPressConfig(
        site="https://example.org/blog",
        username="editor",
        app_password=SECRET,
        authors=("3", "sam"),
        page_size=50,
        lookback=timedelta(hours=36),
    )
    assert config.api_root == "https://example.org/blog/wp-json/wp/v2/"
    assert config.site_key == "example.org/blog"
    assert SECRET not in repr(config)


def test_site_keys() -> None:
    assert WordPressConfig(site="https://Example.org:8443").site_key == "example.org:8443"
    assert WordPressConfig(site="https://example.org:443/").api_root == (
        "https://example.org/wp-json/wp/v2/"
    )
    assert WordPressConfig(site="http://127.0.0.1:8080/a/b").site_key == "127.0.0.1:8080/a/b"


@pytest.mark.parametrize(
    ("body", "key"),
    [
        ("", "site"),
        ('site = "http://example.org"\n', "site"),
        ('site = "https://example.org/wp-json/wp/v2"\n', "site"),
        ('site = "https://example.org?p=1"\n', "site"),
        ('site = "https://example.org"\npage_size = 101\n', "page_size"),
        ('site = "https://example.org"\nusername = "editor"\n', "app_password"),
        ('site = "https://example.org"\napp_password = "${WP_PASSWORD}"\n', "username"),
        ('site = "https://example.org"\nauthors = ["jane doe"]\n', "authors"),
        ('site = "https://example.org"\nauthors = [true]\n', "authors"),
        ('site = "https://example.org"\nlookback = "soon"\n', "lookback"),
        ('site = "https://example.org"\nsit = "typo"\n', "sit"),
    ],
)
def test_bad_tables_name_the_key(
    plugins: PluginManager, tmp_path: Path, body: str, key: str
) -> None:
    with pytest.raises(ConfigError, match=key) as caught:
        sources(plugins, tmp_path, body)
    assert SECRET not in str(caught.value)
    assert "convokit.toml" in str(caught.value)
