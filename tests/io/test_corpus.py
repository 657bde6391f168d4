"""The ConvoKit-corpus importer on a corpus directory written here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from convokit_core import ConfigError, open_store
from convokit_core._cli import cli
from convokit_core._io._corpus import read_convokit_corpus
from convokit_core._io._importer import import_records


def _corpus(directory: Path, utterances: list[object], speakers: dict[str, object]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    lines = [u if isinstance(u, str) else json.dumps(u) for u in utterances]
    (directory / "utterances.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (directory / "speakers.json").write_text(json.dumps(speakers), encoding="utf-8")
    (directory / "conversations.json").write_text("{}", encoding="utf-8")
    (directory / "corpus.json").write_text("{}", encoding="utf-8")
    return directory


def _utterance(
    uid: str, speaker: str, conv: str, reply_to: str | None, ts: object, text: str = "hi"
) -> dict[str, object]:
    return {
        "id": uid,
        "speaker": speaker,
        "conversation_id": conv,
        "reply_to": reply_to,
        "timestamp": ts,
        "text": text,
        "meta": {},
        "vectors": [],
    }


SPEAKERS = {
    "ann": {"meta": {"agent": False}, "vectors": []},
    "helpdesk": {"meta": {"agent": True}, "vectors": []},
}


def test_utterances_become_messages_with_our_speakers_outbound(tmp_path: Path) -> None:
    corpus = _corpus(
        tmp_path / "corpus",
        [
            _utterance("u1", "ann", "u1", None, 1700000000, "my order is late"),
            _utterance("u2", "helpdesk", "u1", "u1", 1700000600.5, "sorry, checking"),
            _utterance("u3", "ann", "u1", "u2", "1700003600", "thanks"),
        ],
        SPEAKERS,
    )
    with open_store("memory:") as store:
        result = import_records(
            store,
            read_convokit_corpus(corpus, {"ours_meta": "agent", "platform": "forum"}),
            source=str(corpus),
        )
        assert result.counts["message"] == 3
        messages = {m.id: m for m in store.iter_messages()}
        assert messages["u2"].direction.value == "outbound"
        assert messages["u1"].direction.value == "inbound"
        assert messages["u2"].in_reply_to == "u1"
        assert messages["u2"].sent_at.isoformat() == "2023-11-14T22:23:20.500000+00:00"
        assert messages["u1"].platform == "forum"
        assert {m.id for m in store.iter_team_members()} == {"helpdesk"}
        assert {s.id for s in store.iter_stakeholders()} == {"ann"}
        (conversation,) = store.iter_conversations()
        assert conversation.stakeholder_id == "ann"


def test_bad_utterances_are_reported_by_line(tmp_path: Path) -> None:
    corpus = _corpus(
        tmp_path / "c",
        [
            _utterance("u1", "ann", "u1", None, 1700000000),
            _utterance("u2", "ann", "u1", "u1", None),
            "{not json",
            _utterance("u4", "ann", "u1", "u1", "soon"),
        ],
        SPEAKERS,
    )
    runner = CliRunner()
    store = f"sqlite:///{tmp_path / 's.db'}"
    result = runner.invoke(
        cli, ["--store", store, "import", str(corpus), "--format", "convokit-corpus"]
    )
    assert result.exit_code == 2
    assert "line 2, field 'timestamp'" in result.stderr
    assert "line 3" in result.stderr
    assert "line 4, field 'timestamp'" in result.stderr
    assert "Traceback" not in result.stderr
    result = runner.invoke(
        cli,
        [
            "--store",
            store,
            "import",
            str(corpus),
            "--format",
            "convokit-corpus",
            "--skip-invalid",
            "--option",
            "ours=helpdesk",
        ],
    )
    assert result.exit_code == 0, result.stderr
    assert "Imported 1 message" in result.stdout


def test_options_and_layout_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown option 'colour'"):
        list(read_convokit_corpus(tmp_path, {"colour": "red"}))
    with pytest.raises(ConfigError, match=r"no utterances\.jsonl"):
        list(read_convokit_corpus(tmp_path, {}))
    runner = CliRunner()
    result = runner.invoke(
        cli,
        [
            "--store",
            f"sqlite:///{tmp_path / 'x.db'}",
            "import",
            str(tmp_path),
            "--format",
            "convokit-corpus",
            "--option",
            "nokey",
        ],
    )
    assert result.exit_code == 2
    assert "KEY=VALUE" in result.stderr


SAMPLE = Path(__file__).resolve().parents[3] / "shared" / "data" / "twcs-sample.csv"


@pytest.mark.skipif(not SAMPLE.exists(), reason=f"real data set not found at {SAMPLE}")
def test_the_twcs_sample_as_a_convokit_corpus_threads_like_the_twcs_importer(
    tmp_path: Path,
) -> None:
    """The real sample, turned into a ConvoKit corpus here (nothing copied into the
    project), imports to the same messages, directions and reply chains as the CSV."""
    import csv
    from datetime import datetime

    utterances: list[object] = []
    speakers: dict[str, object] = {}
    with SAMPLE.open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    header = rows[0]
    for row in rows[1:]:
        if len(row) != len(header):
            continue  # the malformed record (both importers leave it out)
        r = dict(zip(header, row, strict=True))
        parent = r["in_response_to_tweet_id"]
        when = datetime.strptime(r["created_at"], "%a %b %d %H:%M:%S %z %Y").timestamp()
        utterances.append(
            _utterance(
                r["tweet_id"],
                r["author_id"],
                "",  # filled below: ConvoKit names a conversation by its first utterance
                parent.split(".")[0] if parent else None,
                when,
                r["text"],
            )
        )
        speakers[r["author_id"]] = {"meta": {"brand": r["inbound"] == "False"}}
    parent_of = {u["id"]: u["reply_to"] for u in utterances}  # type: ignore[index]
    for u in utterances:
        root = u["id"]  # type: ignore[index]
        while parent_of.get(root) in parent_of:
            root = parent_of[root]
        u["conversation_id"] = root  # type: ignore[index]
    corpus = _corpus(tmp_path / "twcs-corpus", utterances, speakers)
    runner = CliRunner()
    as_corpus = f"sqlite:///{tmp_path / 'corpus.db'}"
    as_csv = f"sqlite:///{tmp_path / 'csv.db'}"
    args = ["import", str(corpus), "--option", "ours_meta=brand", "--option", "platform=twitter"]
    assert runner.invoke(cli, ["--store", as_corpus, *args]).exit_code == 0
    mapping = Path(__file__).resolve().parents[2] / "examples" / "twcs-mapping.toml"
    result = runner.invoke(
        cli, ["--store", as_csv, "import", str(SAMPLE), "--mapping", str(mapping), "--skip-invalid"]
    )
    assert result.exit_code == 0, result.stderr

    def shape(url: str) -> set[tuple[str, str, str | None, str]]:
        with open_store(url) as store:
            return {
                (m.id, m.direction.value, m.in_reply_to, m.conversation_id)
                for m in store.iter_messages()
            }

    corpus_messages, csv_messages = shape(as_corpus), shape(as_csv)
    assert len(corpus_messages) == 4999
    assert corpus_messages == csv_messages
