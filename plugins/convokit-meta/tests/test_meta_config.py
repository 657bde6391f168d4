"""Config validation of the facebook and instagram platforms."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from convokit_meta import FacebookConfig, InstagramConfig

from convokit_core import ConfigError, PluginManager, load_config, load_sources

TOKEN = "EAAGconfigTestPageToken555666777"


def test_defaults_and_the_graph_url() -> None:
    config = FacebookConfig(page_id="104857600123456", access_token=TOKEN)
    assert config.graph_url == "https://graph.facebook.com/v24.0/"
    assert config.surfaces == ("posts", "messenger")
    assert config.post_edge == "feed"
    assert config.lookback == timedelta(days=14)
    assert TOKEN not in repr(config)
    other = InstagramConfig(
        ig_user_id="17841400008460056",
        access_token=TOKEN,
        api_version="v22.0",
        api_url="http://127.0.0.1:8080/",
        surfaces=["direct"],
        since="2026-01-01T01:00:00+01:00",
    )
    assert other.graph_url == "http://127.0.0.1:8080/v22.0/"
    assert other.surfaces == ("direct",)
    assert other.since == datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("page_id", 104857600123456, "quote it"),
        ("page_id", "acme-outdoor", "numeric Graph id"),
        ("access_token", "", "found nothing"),
        ("access_token", "sEcr3", "too short"),
        ("access_token", "EAAG wXq9 inside", "whitespace"),
        ("api_version", "24", "Graph API version"),
        ("api_url", "http://graph.example.com", "only https"),
        ("surfaces", ["posts", "stories"], r"surfaces\[1\]"),
        ("surfaces", "posts", "non-empty list"),
        ("surfaces", ["posts", "posts"], "listed twice"),
        ("post_edge", "timeline", "post_edge"),
        ("page_size", 101, "1 to 100"),
        ("lookback", "soon", "lookback"),
        ("since", "2026-01-01T00:00:00", "since"),
        ("slow_down_at", 100, "slow_down_at"),
        ("retry_budget", -1, "retry_budget"),
        ("max_retries", True, "max_retries"),
    ],
)
def test_bad_values_are_rejected_naming_the_key(key: str, value: Any, message: str) -> None:
    values: dict[str, Any] = {"page_id": "104857600123456", "access_token": TOKEN, key: value}
    with pytest.raises((ValueError, TypeError, ConfigError), match=message) as info:
        FacebookConfig(**values)
    if key == "access_token" and value:
        assert str(value) not in str(info.value)


def test_a_bad_source_table_is_a_config_error_naming_file_and_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONVOKIT_LOAD_PLUGINS", "meta")
    path = tmp_path / "convokit.toml"
    path.write_text(
        '[[source]]\nname = "ig"\nplatform = "instagram"\n'
        'access_token = "${META_TOKEN}"\nig_user_id = 17841400008460056\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as info:
        load_sources(load_config(path), PluginManager(), env={"META_TOKEN": TOKEN})
    text = str(info.value)
    assert "convokit.toml" in text
    assert "ig_user_id" in text
    assert TOKEN not in text
