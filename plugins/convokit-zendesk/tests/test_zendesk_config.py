"""``[[source]]`` tables for Zendesk: the entry point, the keys and their errors."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from convokit_zendesk import ZendeskConfig, create

from convokit_core import ConfigError, PluginManager, load_config, load_sources

SECRET = "zd-api-token-7Q2mX9pL4vR8"


@pytest.fixture
def plugins(monkeypatch: pytest.MonkeyPatch) -> PluginManager:
    monkeypatch.setenv("CONVOKIT_LOAD_PLUGINS", "zendesk")
    return PluginManager()


def sources(plugins: PluginManager, tmp_path: Path, body: str) -> list[object]:
    path = tmp_path / "convokit.toml"
    path.write_text('[[source]]\nname = "helpdesk"\nplatform = "zendesk"\n' + body, "utf-8")
    return list(load_sources(load_config(path), plugins, env={"ZENDESK_API_TOKEN": SECRET}))


def test_the_entry_point_registers_the_platform(plugins: PluginManager) -> None:
    registration = plugins.platforms["zendesk"]
    assert registration.plugin == "zendesk"
    assert registration.options["config"] is ZendeskConfig
    assert registration.options["create"] is create


def test_excluded_by_convokit_load_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONVOKIT_LOAD_PLUGINS", "")
    assert "zendesk" not in PluginManager().platforms


def test_a_full_table(plugins: PluginManager, tmp_path: Path) -> None:
    (spec,) = sources(
        plugins,
        tmp_path,
        'subdomain = "Acme"\nemail = "sam@acme.example"\napi_token = "${ZENDESK_API_TOKEN}"\n'
        'start_time = "2026-01-01T00:00:00Z"\nhold_status = "pending"\npage_size = 500\n'
        "status_history = false\nexport_requests_per_minute = 30\n",
    )
    config = spec.config  # type: ignore[attr-defined]
    assert config == ZendeskConfig(
        subdomain="acme",
        email="sam@acme.example",
        api_token=SECRET,
        start_time=datetime(2026, 1, 1, tzinfo=UTC),
        hold_status="pending",
        page_size=500,
        status_history=False,
        export_requests_per_minute=30,
    )
    assert config.api_root == "https://acme.zendesk.com"
    assert config.instance == "acme"
    assert SECRET not in repr(config)


def test_base_url_overrides_where_the_api_is(plugins: PluginManager, tmp_path: Path) -> None:
    (spec,) = sources(
        plugins,
        tmp_path,
        'subdomain = "acme"\nbase_url = "http://127.0.0.1:8123/"\n'
        'oauth_token = "${ZENDESK_API_TOKEN}"\n',
    )
    config = spec.config  # type: ignore[attr-defined]
    assert config.api_root == "http://127.0.0.1:8123"
    assert config.instance == "acme"
    assert ZendeskConfig(base_url="https://support.acme.example", oauth_token=SECRET).instance == (
        "support.acme.example"
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('email = "a@b.example"\napi_token = "${ZENDESK_API_TOKEN}"\n', "'subdomain' is required"),
        ('subdomain = "acme.zendesk.com"\noauth_token = "${ZENDESK_API_TOKEN}"\n', "'subdomain'"),
        ('subdomain = "acme"\n', "'api_token' (with 'email') or 'oauth_token' is required"),
        ('subdomain = "acme"\napi_token = "${ZENDESK_API_TOKEN}"\n', "'email' is required"),
        (
            'subdomain = "acme"\nemail = "a@b.example"\napi_token = "${ZENDESK_API_TOKEN}"\n'
            'oauth_token = "${ZENDESK_API_TOKEN}"\n',
            "not both",
        ),
        ('subdomain = "acme"\nemail = "a@b.example"\napi_token = "abc12"\n', "api_token"),
        (
            'subdomain = "acme"\nemail = "a@b.example"\napi_token = "${ZENDESK_API_TOKEN}"\n'
            'hold_status = "paused"\n',
            "'hold_status'",
        ),
        (
            'subdomain = "acme"\nemail = "a@b.example"\napi_token = "${ZENDESK_API_TOKEN}"\n'
            "page_size = 5000\n",
            "'page_size'",
        ),
        (
            'subdomain = "acme"\nemail = "a@b.example"\napi_token = "${ZENDESK_API_TOKEN}"\n'
            'start_time = "2026-01-01T00:00:00"\n',
            "'start_time'",
        ),
        (
            'subdomain = "acme"\nbase_url = "http://zendesk.example.net"\n'
            'oauth_token = "${ZENDESK_API_TOKEN}"\n',
            "base_url",
        ),
        (
            'subdomain = "acme"\nemail = "a@b.example"\napi_token = "${ZENDESK_API_TOKEN}"\n'
            "tickets = true\n",
            "tickets",
        ),
    ],
)
def test_bad_tables_are_config_errors_naming_the_key(
    plugins: PluginManager, tmp_path: Path, body: str, message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        sources(plugins, tmp_path, body)
    text = str(caught.value)
    assert message in text
    assert "convokit.toml" in text
    assert SECRET not in text
    assert "abc12" not in text  # a rejected token is never echoed
