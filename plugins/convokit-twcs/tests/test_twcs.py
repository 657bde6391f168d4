"""convokit-twcs on rows written here in the corpus's shape, and on the real sample when
it is present (../shared/data/twcs-sample.csv)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from convokit_core import open_store
from convokit_core._cli import cli

HEADER = [
    "",
    "tweet_id",
    "author_id",
    "inbound",
    "created_at",
    "text",
    "response_tweet_id",
    "in_response_to_tweet_id",
]
ROWS = [
    [
        "0",
        "10",
        "cust_a",
        "True",
        "Mon Oct 30 09:00:00 +0000 2017",
        "@AcmeHelp my router is down",
        "11",
        "",
    ],
    [
        "1",
        "11",
        "AcmeHelp",
        "False",
        "Mon Oct 30 09:20:00 +0000 2017",
        "@cust_a sorry! Can you DM us?",
        "12",
        "10.0",
    ],
    ["2", "12", "cust_a", "True", "Mon Oct 30 09:25:00 +0000 2017", "@AcmeHelp sent", "", "11.0"],
    [
        "3",
        "20",
        "cust_b",
        "True",
        "Mon Oct 30 10:00:00 +0100 2017",
        "@OtherCo @acmehelp anyone there?",
        "",
        "",
    ],
    [
        "4",
        "30",
        "OtherCo",
        "False",
        "Mon Oct 30 11:00:00 +0000 2017",
        "Our new plan is live",
        "",
        "",
    ],
]
SAMPLE = Path(__file__).resolve().parents[4] / "shared" / "data" / "twcs-sample.csv"


def _write(path: Path, rows: list[list[str]], broken: bool = False) -> Path:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(HEADER)
    writer.writerows(rows)
    text = buffer.getvalue()
    if broken:
        text += "5,40,cust_c,True,Mon Oct 30 12:00:00 +0000 2017\n"
    path.write_text(text, encoding="utf-8")
    return path


def _import(tmp_path: Path, source: Path) -> tuple[int, str, str, str]:
    store = f"sqlite:///{tmp_path / 's.db'}"
    result = CliRunner().invoke(cli, ["--store", store, "import", str(source), "--format", "twcs"])
    return result.exit_code, result.stdout, result.stderr, store


def test_brands_are_channels_and_customers_are_stakeholders(tmp_path: Path) -> None:
    code, out, err, store = _import(tmp_path, _write(tmp_path / "twcs.csv", ROWS))
    assert code == 0, err
    assert "Imported 5 messages" in out
    with open_store(store) as s:
        messages = {m.id: m for m in s.iter_messages()}
        assert messages["11"].direction.value == "outbound"
        assert messages["11"].channel_id == "AcmeHelp"
        assert messages["10"].channel_id == "AcmeHelp"  # the brand it @-mentions
        assert messages["20"].channel_id == "OtherCo"  # the first brand mentioned
        assert messages["11"].in_reply_to == "10"
        assert messages["20"].sent_at.isoformat() == "2017-10-30T09:00:00+00:00"
        assert {c.id for c in s.iter_channels()} == {"AcmeHelp", "OtherCo"}
        kinds = {st.id: str(st.kind) for st in s.iter_stakeholders()}
        assert kinds == {"cust_a": "customer", "cust_b": "customer"}
        conversations = {c.id: c for c in s.iter_conversations()}
        assert conversations["10"].stakeholder_id == "cust_a"
        assert [m.id for m in conversations["10"].messages] == ["10", "11", "12"]


def test_malformed_rows_are_reported_and_the_good_ones_kept(tmp_path: Path) -> None:
    code, out, err, _ = _import(tmp_path, _write(tmp_path / "twcs.csv", ROWS, broken=True))
    assert code == 0, err
    assert "skipped:" in err
    assert "line 7" in err
    assert "Imported 5 messages" in out


def test_standard_input_is_refused(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli,
        ["--store", f"sqlite:///{tmp_path / 's.db'}", "import", "-", "--format", "twcs"],
        input="x",
    )
    assert result.exit_code == 2
    assert "not standard input" in result.stderr


@pytest.mark.skipif(not SAMPLE.exists(), reason=f"real data not found at {SAMPLE}")
def test_the_real_sample(tmp_path: Path) -> None:
    code, out, err, store = _import(tmp_path, SAMPLE)
    assert code == 0, err
    assert err.count("skipped:") == 2  # the malformed record and its shifted continuation
    assert "Imported 4999 messages" in out
    with open_store(store) as s:
        counts = s.counts()
        channels = {c.id for c in s.iter_channels()}
        outbound = {m.author_id for m in s.iter_messages() if m.direction.value == "outbound"}
    assert channels == outbound
    assert counts["conversations"] == 1312
    policy = tmp_path / "policy.toml"
    policy.write_text(
        '[[commitment]]\nname = "answer"\nrule = "first_reply"\nwithin = "1h"\n'
        '[[commitment]]\nname = "alive"\nrule = "channel_activity"\nmax_gap = "1d"\n',
        encoding="utf-8",
    )
    args = ["--store", store, "check", "--as-of", "latest", "--format", "json"]
    result = CliRunner().invoke(cli, [*args, "--policy", str(policy), "--fail-on", "never"])
    assert result.exit_code == 0, result.stderr
    findings = json.loads(result.stdout)["findings"]
    assert {f["subject"] for f in findings if f["rule"].startswith("channel_activity")} == channels
