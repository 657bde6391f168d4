"""The keyword classifier, batch tagging, the public check API and the SQLite fast path."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from convokit_core._model import Batch
from convokit_core._plugins import get_plugin_manager, open_store
from convokit_core._policy._classifiers import KeywordClassifier
from convokit_core._policy._evaluate import Commitment, check_commitments, evaluate
from convokit_core._policy._findings import FindingList, FindingMeta, Status
from convokit_core._policy._policyfile import PolicyError
from convokit_core._policy._rules import (
    channel_activity,
    first_reply,
    follow_up,
    max_silence,
    next_reply,
    owner_assigned,
    periodic_update,
    resolution_within,
)
from convokit_core._policy._run import check
from convokit_core.testing._generate import HistorySpec, generate_history, generate_rows

from .helpers import at, conv, msg

CLASSIFY = KeywordClassifier()


@pytest.mark.parametrize(
    ("text", "tags"),
    [
        ("@acme my order still hasn't arrived, terrible service", ("complaint",)),
        ("I was charged twice!! I want a refund", ("complaint",)),
        ("the app keeps crashing since the update", ("complaint",)),
        ("@acme how do I change my address", ("question",)),
        ("can you send me the invoice please", ("question",)),
        ("why is the internet down again?", ("complaint", "question")),
        ("thanks so much, that fixed it", ()),
        ("https://t.co/xyz @acme_help #love", ()),
        ("", ()),
    ],
)
def test_keyword_classifier(text: str, tags: tuple[str, ...]) -> None:
    assert CLASSIFY([text]) == [tags]


def test_keyword_classifier_known_limits() -> None:
    # sarcasm and negation fool a keyword classifier: documented, not hidden
    assert CLASSIFY(["not disappointed at all, great job"]) == [("complaint",)]
    assert CLASSIFY(["great, just great. three hours on hold."]) == [()]


class CountingClassifier:
    def __init__(self) -> None:
        self.batches: list[int] = []

    def __call__(self, texts: Sequence[str]) -> list[tuple[str, ...]]:
        self.batches.append(len(texts))
        return [("complaint",) if "broken" in t else () for t in texts]


def test_classifiers_tag_untagged_messages_per_batch_never_overwriting_the_source() -> None:
    conversations = [
        conv(msg("1", 0, text="it is broken"), msg("2", 10, "outbound", text="broken? sorry")),
        conv(msg("3", 0, text="broken again", tags=["praise"]), cid="c2"),
        conv(msg("4", 0, text="fine"), cid="c3"),
    ]
    classifier = CountingClassifier()
    found = list(
        evaluate(
            conversations,
            [Commitment(name="f", rule=follow_up(acknowledge_within="1h"))],
            as_of=at(100),
            classifiers=[classifier],
        )
    )
    assert classifier.batches == [2]  # one call: untagged stakeholder messages only
    assert [(f.conversation, f.status) for f in found] == [
        ("c1", Status.MET),
        ("c2", Status.NOT_APPLICABLE),  # the source said praise: no complaint added
        ("c3", Status.NOT_APPLICABLE),
    ]


def test_classifiers_do_not_run_when_no_commitment_reads_tags() -> None:
    classifier = CountingClassifier()
    list(
        evaluate(
            [conv(msg("1", 0, text="broken"))],
            [Commitment(name="f", rule=first_reply("1h"))],
            as_of=at(100),
            classifiers=[classifier],
        )
    )
    assert classifier.batches == []


def test_builtin_classifier_is_registered() -> None:
    assert "keywords" in get_plugin_manager().classifiers
    assert "first_reply" in get_plugin_manager().rules
    assert {"table", "json", "junit", "markdown"} <= set(get_plugin_manager().reporters.names())


# -- the public API and the fast path -------------------------------------------------

ALL = [
    Commitment(name="first", rule=first_reply("1h")),
    Commitment(name="next", rule=next_reply("2h", pause_when="pending")),
    Commitment(name="silence", rule=max_silence("3h"), warn_before="1h"),
    Commitment(name="updates", rule=periodic_update("1d")),
    Commitment(name="channels", rule=channel_activity("6h")),
    Commitment(name="complaints", rule=follow_up(acknowledge_within="1h", resolve_within="2d")),
    Commitment(name="owners", rule=owner_assigned("4h")),
    Commitment(name="resolved", rule=resolution_within("3d", pause_when="pending")),
    Commitment(name="combo", rule=(first_reply("30m") | next_reply("1h")) & owner_assigned()),
]


def _load(url: str, conversations: int) -> None:
    store = open_store(url)
    for batch in generate_history(conversations, seed=3, days=10):
        store.write(batch)
    store.close()


def test_sqlite_fast_path_equals_the_generic_path(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 's.db'}"
    _load(url, 150)
    store = open_store(url)
    as_of = HistorySpec().start.replace(day=6)  # mid-history: some clocks still running
    fast = check_commitments(store, ALL, as_of=as_of, classifiers=[], fast=True)
    slow = check_commitments(store, ALL, as_of=as_of, classifiers=[], fast=False)
    memory = open_store("memory:")
    for batch in generate_history(150, seed=3, days=10):
        memory.write(batch)
    mem = check_commitments(memory, ALL, as_of=as_of, classifiers=[])
    store.close()
    assert [c.counts for c in fast.commitments] == [c.counts for c in slow.commitments]
    assert [c.counts for c in fast.commitments] == [c.counts for c in mem.commitments]
    assert [f.to_dict() for f in fast.findings] == [f.to_dict() for f in slow.findings]
    statuses = {s for c in fast.commitments for s, n in c.counts.items() if n}
    assert {"met", "breached", "pending", "not_applicable"} <= statuses


def test_check_api_with_policy_path_only_and_notify(tmp_path: Path) -> None:
    store = open_store("memory:")
    store.write(
        Batch(
            conversations=[conv(msg("1", 0)), conv(msg("2", 0), msg("3", 5, "outbound"), cid="c2")]
        )
    )
    policy = tmp_path / "p.toml"
    policy.write_text('[[commitment]]\nname = "a"\nrule = "first_reply"\nwithin = "1h"\n')
    report = check(store, policy, as_of=at(120), only={"breached"})
    assert [(f.conversation, f.status) for f in report.findings] == [("c1", Status.BREACHED)]
    assert report.count("met") == 1
    assert report.failed()
    assert not report.failed("never")
    assert report.commitments[0].compliance == 0.5
    policy.write_text('classifiers = ["nope"]\n')
    with pytest.raises(PolicyError, match="unknown classifier 'nope'"):
        check(store, policy, as_of=at(120))


def test_finding_list_spills_to_disk_and_reads_back() -> None:
    metas = [FindingMeta(commitment="c", rule="first_reply", severity="error", composite=False)]
    findings = FindingList(metas, spill_after=10)
    for i in range(25):
        outcome = (
            "met",
            "conversation",
            f"c{i}",
            i,
            i + 5,
            i + 1,
            1,
            5,
            (f"m{i}",),
            "reply",
            "",
            "r",
        )
        findings.append_raw(0, outcome, "twitter", f"c{i}", None)
    assert len(findings) == 25
    assert [f.subject for f in findings] == [f"c{i}" for i in range(25)]
    assert findings[3].evidence == ("m3",)
    assert findings[-1].subject == "c24"
    assert [f.subject for f in findings[8:12]] == ["c8", "c9", "c10", "c11"]
    with pytest.raises(IndexError):
        findings[25]
    findings.close()


def test_generator_is_deterministic_and_shaped_like_support_traffic() -> None:
    a = list(generate_rows(conversations=300, seed=5))
    b = list(generate_rows(conversations=300, seed=5))
    assert a == b
    messages = [m for g in a for m in g.messages]
    assert 2000 < len(messages) < 4000
    directions = {m[5] for m in messages}
    assert directions == {"inbound", "outbound", "internal"}
    assert any(m[10] for m in messages)  # bot replies
    assert any(m[11] == '["complaint"]' for m in messages)
    unanswered = [g for g in a if g.messages[-1][5] == "inbound"]
    assert 0 < len(unanswered) < 60
    statuses = {g.conversation[5] for g in a}
    assert statuses == {"open", "pending", "resolved"}
    batches = list(generate_history(20, seed=1, batch_size=8))
    assert [len(b.conversations) for b in batches] == [8, 8, 4]
    assert batches[0].team_members
    assert batches[0].channels
    assert not batches[1].channels


def test_rules_and_commitments_satisfy_the_public_protocols() -> None:
    from convokit_core.protocols import CommitmentLike, RuleLike

    for commitment in ALL:
        assert isinstance(commitment, CommitmentLike)
        assert isinstance(commitment.rule, RuleLike)


def test_fast_path_derives_conversations_without_records(tmp_path: Path) -> None:
    from convokit_core._model import Stakeholder

    url = f"sqlite:///{tmp_path / 'd.db'}"
    store = open_store(url)
    store.write(
        Batch(
            messages=[
                msg("1", 0, conversation_id="x", author_id="ann", channel_id="blog"),
                msg("2", 30, "outbound", conversation_id="x", channel_id="blog"),
                msg("3", 0, conversation_id="y", author_id="bob", channel_id=None),
            ],
            stakeholders=[
                Stakeholder(id="ann", kind="customer"),
                Stakeholder(id="bob", kind="media"),
            ],
        )
    )
    commitments = [
        Commitment(name="customers", rule=first_reply("1h").where(stakeholder_kind="customer")),
        Commitment(name="blog", rule=first_reply("1h").where(channel="blog")),
    ]
    fast = check_commitments(store, commitments, as_of=at(100), classifiers=[], fast=True)
    slow = check_commitments(store, commitments, as_of=at(100), classifiers=[], fast=False)
    store.close()
    assert [f.to_dict() for f in fast.findings] == [f.to_dict() for f in slow.findings]
    assert [(f.commitment, f.conversation, f.channel) for f in fast.findings] == [
        ("customers", "x", "blog"),
        ("blog", "x", "blog"),
    ]


def test_demo_policy_checks_the_generated_history() -> None:
    import tomllib

    from convokit_core._policy._policyfile import parse_policy
    from convokit_core.testing._generate import DEMO_POLICY

    policy = parse_policy(tomllib.loads(DEMO_POLICY), name="demo", text=DEMO_POLICY)
    store = open_store("memory:")
    for batch in generate_history(120, seed=2, days=14):
        store.write(batch)
    report = check(store, policy, as_of=HistorySpec().start.replace(day=10))
    seen = {s for c in report.commitments for s, n in c.counts.items() if n}
    assert {"met", "breached", "pending", "not_applicable"} <= seen
    assert len(report.commitments) == 5
    assert report.commitments[0].name == "customers-hear-back"
