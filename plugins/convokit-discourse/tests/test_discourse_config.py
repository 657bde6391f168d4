"""``[[source]]`` tables for Discourse: the entry point, the keys and their errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from convokit_discourse import DiscourseConfig, create

from convokit_core import ConfigError, PluginManager, load_config, load_sources

SECRET = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0"


@pytest.fixture
def plugins(monkeypatch: pytest.MonkeyPatch) -> PluginManager:
    monkeypatch.setenv("CONVOKIT_LOAD_PLUGINS", "discourse")
    return PluginManager()


def sources(plugins: PluginManager, tmp_path: Path, body: str) -> list[object]:
    path = tmp_path / "convokit.toml"
    path.write_text('[[source]]\nname = "forum"\nplatform = "discourse"\n' + body, encoding="utf-8")
    return list(load_sources(load_config(path), plugins, env={"DISCOURSE_KEY": SECRET}))


def test_the_entry_point_registers_the_platform(plugins: PluginManager) -> None:
    registration = plugins.platforms["discourse"]
    assert registration.plugin == "discourse"
    assert registration.options["config"] is DiscourseConfig
    assert registration.options["create"] is create


def test_excluded_by_convokit_load_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONVOKIT_LOAD_PLUGINS", "wordpress")
    assert "discourse" not in PluginManager().platforms


def test_a_full_table(plugins: PluginManager, tmp_path: Path) -> None:
    (spec,) = sources(
        plugins,
        tmp_path,
        'forum = "example.com/community/"\napi_key = "${DISCOURSE_KEY}"\n'
        'api_username = "system"\nusername = "@acme_support"\nusernames = ["kc"]\n'
        'categories = ["Support", 12, "support/billing"]\nstaff_are_ours = false\n',
    )
    config = spec.config  # type: ignore[attr-defined]
    assert config == DiscourseConfig(
        forum="https://example.com/community",
        api_key=SECRET,
        api_username="system",
        username="acme_support",
        usernames=("kc",),
        categories=("support", "12", "support/billing"),
        staff_are_ours=False,
    )
    assert config.site_key == "example.com/community"
    assert config.our_username == "acme_support"
    assert SECRET not in repr(config)


def test_our_username_defaults_to_the_key_user_except_system() -> None:
    assert (
        DiscourseConfig(
            forum="https://f.example", api_key="k" * 8, api_username="acme", categories=["a"]
        ).our_username
        == "acme"
    )
    assert (
        DiscourseConfig(
            forum="https://f.example", api_key="k" * 8, api_username="system", categories=["a"]
        ).our_username
        is None
    )


@pytest.mark.parametrize(
    ("body", "key"),
    [
        ("", "forum"),
        ('forum = "http://forum.example.com"\ncategories = ["a"]\n', "forum"),
        ('forum = "https://forum.example.com?x=1"\ncategories = ["a"]\n', "forum"),
        ('forum = "https://forum.example.com"\n', "categories"),
        ('forum = "https://forum.example.com"\ncategories = "support"\n', "categories"),
        ('forum = "https://forum.example.com"\ncategories = ["with space"]\n', "categories"),
        (
            'forum = "https://forum.example.com"\ncategories = ["a"]\napi_key = "${DISCOURSE_KEY}"\n',
            "api_username",
        ),
        (
            'forum = "https://forum.example.com"\ncategories = ["a"]\napi_username = "system"\n',
            "api_key",
        ),
        ('forum = "https://forum.example.com"\nusername = "two words"\n', "username"),
        ('forum = "https://forum.example.com"\ncategories = ["a"]\nmentions = "yes"\n', "mentions"),
        (
            'forum = "https://forum.example.com"\ncategories = ["a"]\ncategorie = ["b"]\n',
            "categorie",
        ),
    ],
)
def test_bad_tables_name_the_key(
    plugins: PluginManager, tmp_path: Path, body: str, key: str
) -> None:
    with pytest.raises(ConfigError, match=key) as caught:
        sources(plugins, tmp_path, body)
    assert SECRET not in str(caught.value)
    assert "convokit.toml" in str(caught.value)
