"""The built-in reply rules on the real Twitter customer-support sample (skipped when absent).

The counts were checked by hand on conversations 1000, 1005, 1072 and 1621 and by an
independent recount over the raw rows (see docs/check.md, "Real data").
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from convokit_core._io._csv import import_csv, load_mapping
from convokit_core._plugins import open_store
from convokit_core._policy._evaluate import Commitment, check_commitments
from convokit_core._policy._rules import first_reply, max_silence, next_reply

MAPPING = Path(__file__).resolve().parents[2] / "examples" / "twcs-mapping.toml"
AS_OF = datetime(2017, 12, 3, 18, 52, 36, tzinfo=UTC)  # the last message of the sample


def test_reply_rules_on_the_twcs_sample(twcs_csv: Path, tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'twcs.db'}")
    with twcs_csv.open(encoding="utf-8", newline="") as f:
        import_csv(store, f, load_mapping(MAPPING), source=str(twcs_csv), skip_invalid=True)  # type: ignore[arg-type]
    report = check_commitments(
        store,
        [
            Commitment(name="first", rule=first_reply("1h")),
            Commitment(name="next", rule=next_reply("1h")),
            Commitment(name="silence", rule=max_silence("1h")),
        ],
        as_of=AS_OF,
        classifiers=[],
    )
    first, later, silence = (dict(c.counts) for c in report.commitments)
    assert first == {
        "breached": 366,
        "at_risk": 0,
        "pending": 0,
        "paused": 0,
        "met": 944,
        "not_applicable": 2,
    }
    assert later["met"] == 600
    assert later["breached"] == 364
    assert later["not_applicable"] == 739
    # max_silence is every turn: the first ones plus the later ones
    assert silence["met"] == first["met"] + later["met"]
    assert silence["breached"] == first["breached"] + later["breached"]
    by_subject = {(f.commitment, f.subject): f for f in report.findings}
    # conversation 1000: asked 21:46:51, answered 22:12:14; again 22:24:57 → 22:27:30
    assert by_subject["first", "1000"].elapsed_seconds == 25 * 60 + 23
    assert by_subject["next", "1000#2"].elapsed_seconds == 2 * 60 + 33
    # conversation 1072: the first "inbound" tweet waited five days for the brand
    assert by_subject["first", "1072"].elapsed_seconds == 5 * 86400 + 3600 + 15 * 60 + 6
    # conversation 1621: only brand tweets in the sample, nothing to answer
    assert by_subject["first", "1621"].status == "not_applicable"
    store.close()
