"""Config validation, ts handling and mrkdwn text."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from convokit_slack import SlackConfig, mrkdwn_to_text, ts_key, ts_to_datetime
from convokit_slack._ts import format_ts, ts_from_datetime
from slack_helpers import TOKEN, slack_config

from convokit_core import ConfigError, PluginManager, load_config, load_sources


def test_config_normalises_and_hides_the_token() -> None:
    config = slack_config(
        channels=["C07HELPDSK", "#Help-Desk", "general"],
        api_url="http://127.0.0.1:8123/api",
        thread_lookback="3d",
        since="2026-01-01T01:00:00+01:00",
    )
    assert config.channels == ("C07HELPDSK", "#help-desk", "#general")
    assert config.api_url == "http://127.0.0.1:8123/api/"
    assert config.thread_lookback == timedelta(days=3)
    assert config.since == datetime(2026, 1, 1, tzinfo=UTC)
    assert config.token_kind == "bot"
    assert slack_config(token="xoxp-1-2-3").token_kind == "user"
    assert TOKEN not in repr(config)
    assert SlackConfig(token=TOKEN, channels=["C07HELPDSK"]).api_url == "https://slack.com/api/"


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("token", "", "bot \\(xoxb-\\) or user \\(xoxp-\\) token"),
        ("token", "xapp-1-A0-123-abcdef", "app-level token"),
        ("token", "ghp_notaslacktoken", "starts with neither"),
        ("channels", [], "non-empty list"),
        ("channels", "C07HELPDSK", "non-empty list"),
        ("channels", ["C07HELPDSK", "C07HELPDSK"], "listed twice"),
        ("channels", ["#no spaces"], "channels\\[0\\]"),
        ("channels", [7], "channels\\[0\\]"),
        ("api_url", "http://slack.example/api", "only https"),
        ("api_url", "https://slack.com/api?x=1", "query"),
        ("page_size", 0, "1 to 999"),
        ("page_size", 1000, "1 to 999"),
        ("thread_lookback", "soon", "thread_lookback"),
        ("thread_lookback", -5, "thread_lookback.*negative"),
        ("since", "2026-01-01T00:00:00", "no timezone"),
        ("since", datetime(2026, 1, 1), "no timezone"),
        ("retry_budget", -1, "retry_budget"),
        ("max_retries", 101, "max_retries"),
        ("workspace_is_ours", "yes", "true or false"),
    ],
)
def test_config_rejects_bad_values(key: str, value: Any, message: str) -> None:
    with pytest.raises(ValueError, match=message) as info:
        slack_config(**{key: value})
    assert "ghp_notaslacktoken" not in str(info.value)


def test_a_bad_source_table_is_a_config_error_naming_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONVOKIT_LOAD_PLUGINS", "slack")
    path = tmp_path / "convokit.toml"
    path.write_text(
        '[[source]]\nname = "slack"\nplatform = "slack"\ntoken = "${SLACK_TOKEN}"\n'
        'channels = "C07HELPDSK"\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as info:
        load_sources(load_config(path), PluginManager(), env={"SLACK_TOKEN": TOKEN})
    text = str(info.value)
    assert "convokit.toml" in text
    assert "channels" in text
    assert TOKEN not in text


@pytest.mark.parametrize(
    ("ts", "moment"),
    [
        ("1700000000.000100", datetime(2023, 11, 14, 22, 13, 20, 100, tzinfo=UTC)),
        ("1700000000.100000", datetime(2023, 11, 14, 22, 13, 20, 100000, tzinfo=UTC)),
        ("1700000000.999999", datetime(2023, 11, 14, 22, 13, 20, 999999, tzinfo=UTC)),
        ("1700000000", datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)),
    ],
)
def test_ts_is_exact_to_the_microsecond(ts: str, moment: datetime) -> None:
    assert ts_to_datetime(ts) == moment
    assert ts_from_datetime(moment) == format_ts(ts_key(ts))


def test_ts_orders_by_its_integer_parts_not_as_floats_or_text() -> None:
    values = ["1700000000.000100", "1700000000.0001", "999999999.900000", "1700000000.000099"]
    ordered = sorted(values, key=ts_key)
    assert ordered == [
        "999999999.900000",
        "1700000000.000099",
        "1700000000.000100",
        "1700000000.0001",
    ]
    assert ts_key("1700000000.0001") == ts_key("1700000000.000100")  # the same moment
    assert str(float("1700000000.000100")) == "1700000000.0001"  # a float loses the id
    with pytest.raises(ValueError, match="Slack ts"):
        ts_key("1700000000.1234567")


@pytest.mark.parametrize(
    ("text", "plain"),
    [
        ("hi <@U07DANA001>", "hi @U07DANA001"),
        ("hi <@U07DANA001|dana>", "hi @dana"),
        ("see <#C07BILLING|billing>", "see #billing"),
        ("<!here> <!channel> <!everyone>", "@here @channel @everyone"),
        ("<!subteam^S07ONCALL|@oncall> please", "@oncall please"),
        ("<!date^1700000000^{date_short}|Nov 14, 2023>", "Nov 14, 2023"),
        ("<https://acme.example/docs|our docs>", "our docs (https://acme.example/docs)"),
        ("<https://acme.example/docs>", "https://acme.example/docs"),
        ("<mailto:help@acme.example|help@acme.example>", "help@acme.example"),
        ("a &lt;b&gt; &amp;amp; c", "a <b> &amp; c"),
        ("*bold* _it_", "*bold* _it_"),
        ("", ""),
    ],
)
def test_mrkdwn_to_text(text: str, plain: str) -> None:
    assert mrkdwn_to_text(text) == plain
