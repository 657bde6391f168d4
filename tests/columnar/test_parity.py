"""The columnar engine's ``--format json`` output equals the python engine's, byte for
byte: generated histories (every status, calendars, pauses, scopes, composites), the
demo data, the TWCS sample; and what it refuses still runs through ``auto``."""

from __future__ import annotations

import io
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from convokit_core import check, load_policy
from convokit_core._calendars import ALWAYS_OPEN, Calendar
from convokit_core._cli import cli
from convokit_core._errors import ConfigError
from convokit_core._model import (
    Batch,
    Channel,
    Conversation,
    Message,
    Stakeholder,
    StatusChange,
    TeamMember,
)
from convokit_core._plugins import open_store
from convokit_core._policy._engines import choose_engine
from convokit_core._policy._evaluate import Commitment
from convokit_core._policy._facts import CountingPolicy
from convokit_core._policy._rules import (
    FirstReply,
    Rule,
    all_of,
    any_of,
    channel_activity,
    first_reply,
    follow_up,
    max_silence,
    next_reply,
    owner_assigned,
    periodic_update,
    resolution_within,
)
from convokit_core._report._reporters import render_json
from convokit_core.testing._generate import DEMO_POLICY

T0 = datetime(2024, 3, 8, 13, 0, tzinfo=UTC)  # a Friday, two days before a DST change in NY
TWCS = Path("/work/shared/data/twcs-sample.csv")
CALENDARS = [
    ALWAYS_OPEN,
    Calendar(
        name="ny",
        timezone="America/New_York",
        hours={"mon-fri": ["09:00-12:30", "13:30-17:00"], "sun": ["01:00-03:00"]},
        holidays_country="US",
        holidays_subdivision="NY",
        closed_dates=["2024-03-12"],
    ),
    Calendar(name="london", timezone="Europe/London", hours={"mon-sat": "08:00-20:00"}),
]


def as_json(report: Any) -> str:
    buffer = io.StringIO()
    render_json(report, buffer)
    return buffer.getvalue()


def both(url: str, commitments: Sequence[Commitment], as_of: datetime, **kw: Any) -> str:
    python = as_json(check(url, commitments, as_of=as_of, engine="python", **kw))
    columnar = as_json(check(url, commitments, as_of=as_of, engine="columnar", **kw))
    assert columnar == python
    return python


# -- generated histories -------------------------------------------------------------

minutes = st.integers(0, 6 * 1440)


@st.composite
def conversations(
    draw: st.DrawFn, cid: str
) -> tuple[list[Message], Conversation | None, list[Any]]:
    n = draw(st.integers(1, 8))
    stamps = draw(st.lists(st.integers(0, 60 * 24 * 6), min_size=n, max_size=n))
    if draw(st.booleans()):
        stamps = [s // 120 * 120 for s in stamps]  # many messages at one instant
    shapes = st.tuples(
        st.sampled_from(["inbound", "inbound", "outbound", "outbound", "internal"]),
        st.sampled_from(["public", "public", "private", "note"]),
        st.sampled_from(["acme", "help", None]),
        st.sampled_from([(), (), ("complaint",), ("question", "vip")]),
        st.integers(0, 3),
    )
    messages = []
    for i, (m, (direction, visibility, channel, tags, bits)) in enumerate(
        zip(stamps, draw(st.lists(shapes, min_size=n, max_size=n)), strict=True)
    ):
        messages.append(
            Message(
                id=f"{cid}-{(bits * 37 + m) % 100:02d}-{i}",
                platform="mastodon" if bits == 3 and i == 0 else "twitter",
                conversation_id=cid,
                author_id="u-" + cid if direction == "inbound" else "acme",
                direction=direction,
                sent_at=T0 + timedelta(minutes=m),
                channel_id=channel,
                visibility=visibility,
                automated=bits == 1,
                tags=tags,
            )
        )
    platform = messages[0].platform
    messages = [m if m.platform == platform else _with(m, platform=platform) for m in messages]
    changes = []
    for k in range(draw(st.integers(0, 4))):
        changes.append(
            StatusChange(
                platform=platform,
                conversation_id=cid,
                status=draw(st.sampled_from(["pending", "open", "resolved", "closed"])),
                at=T0 + timedelta(minutes=draw(minutes) + k),
            )
        )
    if draw(st.integers(0, 5)) == 0:
        return messages, None, changes  # no conversation record: derived
    record = Conversation(
        id=cid,
        platform=platform,
        channel_id=draw(st.sampled_from(["acme", "help", None])),
        stakeholder_id="u-" + cid,
        owner_id=draw(st.sampled_from([None, "kc", "jo", "gone", "later", "stranger"])),
        status=draw(st.sampled_from(["open", "pending", "resolved"])),
        tags=draw(st.sampled_from([(), ("vip",)])),
    )
    return messages, record, changes


#: Owners: active, departed (during the histories), not started yet; "stranger" is not
#: on the roster.
TEAM = [
    TeamMember(id="kc"),
    TeamMember(id="jo", active_from=T0 - timedelta(days=30)),
    TeamMember(id="gone", active_until=T0 + timedelta(days=2)),
    TeamMember(id="later", active_from=T0 + timedelta(days=3)),
]
#: Known channels: one with posts in most histories, one only known (measured from
#: its creation), one created after some as_of values.
KNOWN_CHANNELS = [
    Channel(id="acme", platform="twitter", created_at=T0 - timedelta(days=1)),
    Channel(id="quiet", platform="twitter", created_at=T0 + timedelta(hours=5)),
    Channel(id="empty", platform="mastodon"),
]


def _with(m: Message, **changes: Any) -> Message:
    import attrs

    return attrs.evolve(m, **changes)


@st.composite
def rules(draw: st.DrawFn, depth: int = 0) -> Rule:
    choice = draw(st.integers(0, 9 if depth < 2 else 6))
    limit = draw(st.sampled_from(["0s", "20m", "1h", "3h", "2d", "900d"]))
    pause = draw(st.sampled_from([None, None, "pending", ["pending", "resolved"], "open"]))
    if choice == 0:
        rule: Rule = first_reply(limit, pause_when=pause)
    elif choice == 1:
        rule = next_reply(limit, pause_when=pause)
    elif choice == 2:
        rule = max_silence(limit, pause_when=pause)
    elif choice == 3:
        rule = periodic_update(limit, pause_when=pause)
    elif choice == 4:
        rule = resolution_within(limit, pause_when=pause)
    elif choice == 5:
        ack, res = draw(
            st.sampled_from([(limit, None), (None, limit), ("20m", limit), (limit, "1h")])
        )
        rule = follow_up(
            draw(st.sampled_from(["complaint", ["question", "vip"]])),
            acknowledge_within=ack,
            resolve_within=res,
            pause_when=pause,
        )
    elif choice == 6:
        rule = owner_assigned(draw(st.sampled_from(["0s", "1h", "2d"])))
    elif choice == 7:
        rule = all_of(*draw(st.lists(rules(depth + 1), min_size=1, max_size=3)))
    elif choice == 8:
        rule = any_of(*draw(st.lists(rules(depth + 1), min_size=1, max_size=3)))
    else:
        rule = draw(rules(depth + 1))
    scope = draw(st.integers(0, 6))
    if scope == 1:
        rule = rule.where(platform="twitter")
    elif scope == 2:
        rule = rule.where(stakeholder_kind=["customer", "unknown"], channel=["acme"])
    elif scope == 3:
        rule = rule.unless(tags="complaint")
    elif scope == 4:
        rule = rule.where(owner="kc").unless(stakeholder_kind="media")
    return rule


@st.composite
def channel_rules(draw: st.DrawFn, depth: int = 0) -> Rule:
    choice = draw(st.integers(0, 2 if depth < 1 else 0))
    if choice == 0:
        rule: Rule = channel_activity(draw(st.sampled_from(["20m", "3h", "2d"])))
    elif choice == 1:
        rule = all_of(*draw(st.lists(channel_rules(depth + 1), min_size=1, max_size=2)))
    else:
        rule = any_of(*draw(st.lists(channel_rules(depth + 1), min_size=1, max_size=2)))
    scope = draw(st.integers(0, 3))
    if scope == 1:
        rule = rule.where(platform="twitter")
    elif scope == 2:
        rule = rule.unless(channel="help")
    return rule


@st.composite
def commitment_lists(draw: st.DrawFn) -> list[Commitment]:
    out = []
    for i in range(draw(st.integers(1, 3))):
        out.append(
            Commitment(
                name=f"c{i}",
                rule=draw(channel_rules() if draw(st.integers(0, 5)) == 0 else rules()),
                calendar=draw(st.sampled_from(CALENDARS)),
                warn_before=draw(st.sampled_from([None, "10m", "1h"])),
                severity=draw(st.sampled_from(["error", "warning"])),
                counting=CountingPolicy(
                    public_only=draw(st.booleans()), count_automated=draw(st.booleans())
                ),
            )
        )
    return out


@settings(
    max_examples=120,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    histories=st.lists(st.integers(0, 10**6), min_size=1, max_size=6, unique=True).flatmap(
        lambda ids: st.tuples(*[conversations(f"k{i}") for i in sorted(ids)])
    ),
    commitments=commitment_lists(),
    as_of_minutes=st.integers(-30, 9 * 1440),
    only=st.sampled_from([None, None, ("breached", "at_risk"), ("paused", "met")]),
    roster=st.booleans(),
)
def test_generated_histories_give_identical_json(
    histories: tuple[tuple[list[Message], Conversation | None, list[Any]], ...],
    commitments: list[Commitment],
    as_of_minutes: int,
    only: tuple[str, ...] | None,
    roster: bool,
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/store.db"
        with open_store(url) as store:
            if roster:
                store.write(Batch(team_members=TEAM, channels=KNOWN_CHANNELS))
            for messages, record, changes in histories:
                convs = []
                if record is not None:
                    convs = [_with(record, messages=messages, status_history=changes)]
                store.write(
                    Batch(
                        conversations=convs,
                        messages=messages if record is None else (),
                        status_changes=changes if record is None else (),
                        stakeholders=[
                            Stakeholder(id=f"u-{messages[0].conversation_id}", kind="customer")
                        ]
                        if len(messages) % 2
                        else [],
                    )
                )
        both(url, commitments, T0 + timedelta(minutes=as_of_minutes), only=only, classifiers=[])


def test_every_status_shows_up_in_one_history(tmp_path: Path) -> None:
    """A fixed history that reaches every status through the columnar engine."""
    cid = "c1"

    def m(mid: str, minute: int, direction: str) -> Message:
        return Message(
            id=mid,
            platform="twitter",
            conversation_id=cid,
            author_id="u1" if direction == "inbound" else "acme",
            direction=direction,
            sent_at=T0 + timedelta(minutes=minute),
        )

    url = f"sqlite:///{tmp_path}/s.db"
    conv = Conversation(
        id=cid,
        platform="twitter",
        stakeholder_id="u1",
        status="pending",
        messages=[m("1", 0, "inbound"), m("2", 30, "outbound"), m("3", 40, "inbound")],
        status_history=[
            StatusChange(
                platform="twitter",
                conversation_id=cid,
                status="pending",
                at=T0 + timedelta(minutes=50),
            )
        ],
    )
    other = Conversation(
        id="c2", platform="twitter", messages=[_with(m("9", 0, "outbound"), conversation_id="c2")]
    )
    with open_store(url) as store:
        store.write(Batch(conversations=[conv, other]))
    as_of = T0 + timedelta(minutes=55)
    commitments = [
        Commitment(name="met", rule=first_reply("1h")),
        Commitment(name="breached", rule=first_reply("10m")),
        Commitment(name="pending", rule=next_reply("1h")),
        Commitment(name="at_risk", rule=next_reply("20m"), warn_before="10m"),
        Commitment(name="paused", rule=next_reply("1h", pause_when="pending")),
    ]
    text = both(url, commitments, as_of, classifiers=[])
    for status in ("met", "breached", "pending", "at_risk", "paused", "not_applicable"):
        assert f'"status": "{status}"' in text


# -- the demo data, the TWCS sample ---------------------------------------------------


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from convokit_core._demo import run_demo

    return run_demo(tmp_path_factory.mktemp("demo"))


def test_demo_data_through_the_cli_is_byte_identical(demo: Any, tmp_path: Path) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text(DEMO_POLICY)
    as_of = demo.as_of.isoformat()
    outputs = []
    for engine in ("python", "columnar", "auto"):
        code, out, _ = run(
            "--store", demo.store_url, "check", "--policy", str(policy), "--as-of", as_of,
            "--format", "json", "--engine", engine,
        )  # fmt: skip
        assert code in (0, 1)
        outputs.append(out)
    assert outputs[0] == outputs[1] == outputs[2]
    assert '"status": "breached"' in outputs[0]
    assert '"status": "met"' in outputs[0]


def test_demo_policy_with_tag_scopes_and_the_keyword_classifier(demo: Any) -> None:
    policy = load_policy(demo.policy_path)
    support = next(c for c in policy.commitments if c.name == "customers-hear-back").calendar
    commitments = [
        Commitment(name="complaints-fast", rule=first_reply("15m").where(tags="complaint")),
        Commitment(
            name="others",
            rule=any_of(max_silence("2h", pause_when="pending"), next_reply("1d")).unless(
                tags=["complaint", "question"]
            ),
            calendar=support,
            warn_before="30m",
        ),
    ]
    both(demo.store_url, commitments, demo.as_of, classifiers=None)


def test_the_full_demo_policy_runs_columnar_and_a_foreign_rule_is_named(demo: Any) -> None:
    policy = load_policy(demo.policy_path)
    choice = choose_engine("auto", policy.commitments)
    assert choice.name == "columnar"
    foreign = [*policy.commitments, Commitment(name="mine", rule=EveryConversationMet(within="1h"))]
    choice = choose_engine("auto", foreign)
    assert choice.name == "python"
    assert "'mine': rule 'first_reply' has no columnar form" in choice.reason
    with pytest.raises(ConfigError, match="commitment 'mine': rule 'first_reply' has no columnar"):
        check(demo.store_url, foreign, as_of=demo.as_of, engine="columnar", classifiers=[])


@pytest.mark.skipif(not TWCS.exists(), reason="the TWCS sample is not on this machine")
def test_twcs_sample_is_byte_identical(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/twcs.db"
    # the core's CSV mapping (the convokit-twcs plugin is not installed with the core)
    mapping = Path(__file__).resolve().parents[2] / "examples" / "twcs-mapping.toml"
    code, _, err = run(
        "--store", url, "import", str(TWCS), "--mapping", str(mapping), "--skip-invalid"
    )
    assert code == 0, err
    policy = tmp_path / "policy.toml"
    policy.write_text(
        '[calendars.office]\ntimezone = "America/New_York"\n'
        'hours = { mon-fri = ["09:00-17:00"] }\nholidays = { country = "US" }\n'
        '[[commitment]]\nname = "first"\nrule = "first_reply"\nwithin = "1h"\n'
        '[[commitment]]\nname = "next"\nrule = "next_reply"\nwithin = "2h"\n'
        'calendar = "office"\nwarn_before = "30m"\n'
        '[[commitment]]\nname = "silence"\nrule = "max_silence"\nwindow = "4h"\n'
        'calendar = "office"\n'
        '[[commitment]]\nname = "updates"\nrule = "periodic_update"\nevery = "1d"\n'
        '[[commitment]]\nname = "resolved"\nrule = "resolution_within"\nduration = "2d"\n'
        'calendar = "office"\n'
        '[[commitment]]\nname = "owned"\nrule = "owner_assigned"\nwithin = "4h"\n'
        '[[commitment]]\nname = "profiles"\nrule = "channel_activity"\nmax_gap = "1d"\n'
        '[[commitment]]\nname = "complaints"\nrule = "follow_up"\ntags = ["complaint"]\n'
        'acknowledge_within = "1h"\n'
    )
    outputs = [
        run(
            "--store",
            url,
            "check",
            "--policy",
            str(policy),
            "--as-of",
            "latest",
            "--format",
            "json",
            "--engine",
            engine,
        )[1]
        for engine in ("python", "columnar")
    ]
    assert outputs[0] == outputs[1]
    assert outputs[0].count('"commitment"') > 1000


# -- what the engine refuses ------------------------------------------------------------


class EveryConversationMet(FirstReply):
    """A third-party rule (a subclass: it may change any semantics)."""


def test_a_third_party_rule_runs_through_auto(demo: Any) -> None:
    commitments = [
        Commitment(name="plain", rule=first_reply("1h")),
        Commitment(name="custom", rule=any_of(EveryConversationMet(within="1h"))),
    ]
    choice = choose_engine("auto", commitments)
    assert choice.name == "python"
    assert "commitment 'custom': rule 'first_reply' has no columnar form" in choice.reason
    report = check(demo.store_url, commitments, as_of=demo.as_of, classifiers=[])
    assert report.commitments[1].total == report.commitments[0].total
    assert choose_engine("auto", commitments[:1]).name == "columnar"


def test_a_memory_store_is_evaluated_by_the_python_engine() -> None:
    store = open_store("memory:")
    store.write(
        Batch(
            messages=[
                Message(
                    id="1",
                    platform="x",
                    conversation_id="c",
                    author_id="u",
                    direction="inbound",
                    sent_at=T0,
                )
            ]
        )
    )
    commitments = [Commitment(name="c", rule=first_reply("1h"))]
    a = as_json(check(store, commitments, as_of=T0 + timedelta(hours=2), engine="columnar"))
    b = as_json(check(store, commitments, as_of=T0 + timedelta(hours=2), engine="python"))
    assert a == b


# -- generated support traffic: every rule, realistic volumes ----------------------------

EVERY_RULE = [
    ("first", first_reply("1h")),
    ("next", next_reply("4h", pause_when="pending")),
    ("silence", max_silence("2h")),
    ("updates", periodic_update("1d", pause_when="pending")),
    ("complaints", follow_up("complaint", acknowledge_within="1h", resolve_within="3d")),
    ("questions-ack", follow_up("question", acknowledge_within="30m", pause_when="pending")),
    ("resolution", resolution_within("1w", pause_when="pending")),
    ("owners", owner_assigned("4h")),
    ("owners-now", owner_assigned()),
    ("profiles", channel_activity("6h")),
    ("profiles-help", channel_activity("1d").unless(channel="acme_billing")),
    (
        "composite",
        all_of(follow_up("complaint", acknowledge_within="2h"), owner_assigned("1d")).where(
            tags="complaint"
        ),
    ),
    ("either", any_of(periodic_update("12h"), resolution_within("2d"))),
]


@pytest.fixture(scope="module")
def traffic(tmp_path_factory: pytest.TempPathFactory) -> str:
    from convokit_core.testing._generate import generate_history

    url = f"sqlite:///{tmp_path_factory.mktemp('traffic')}/store.db"
    with open_store(url) as store:
        for batch in generate_history(
            1500,
            seed=7,
            days=40,
            abandoned=("acme_billing",),
            abandoned_after_days=25,
            channel_platforms=(("acme_help", "mastodon"),),
        ):
            store.write(batch)
    return url


@pytest.mark.parametrize("reader", ["adbc", "sqlite3"])
@pytest.mark.parametrize("calendar", [0, 1], ids=["always-open", "new-york"])
@pytest.mark.parametrize(
    "as_of", [datetime(2024, 1, 20, tzinfo=UTC), datetime(2024, 2, 5, 17, 30, tzinfo=UTC)]
)
def test_generated_traffic_every_rule_is_byte_identical(
    traffic: str, calendar: int, as_of: datetime, reader: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both SQLite readers (ADBC into Arrow, and the ``sqlite3`` streams), and findings
    spilled to disk in chunks of a few hundred."""
    from functools import partial

    from convokit_core._columnar import _engine

    monkeypatch.setattr(_engine, "USE_ADBC", reader == "adbc")
    monkeypatch.setattr(_engine, "FindingList", partial(_engine.FindingList, spill_after=300))
    commitments = [
        Commitment(
            name=name,
            rule=rule,
            calendar=CALENDARS[calendar],
            warn_before="12h" if i % 2 else None,
            counting=CountingPolicy(public_only=i % 3 == 1, count_automated=i % 4 == 2),
        )
        for i, (name, rule) in enumerate(EVERY_RULE)
    ]
    text = both(traffic, commitments, as_of, classifiers=[])
    for name, _ in EVERY_RULE:
        assert f'"commitment": "{name}"' in text
    for status in ("met", "breached", "pending", "at_risk", "paused", "not_applicable"):
        assert f'"status": "{status}"' in text
    both(traffic, commitments, as_of, classifiers=[], only=("breached", "at_risk"))
    report = check(traffic, commitments, as_of=as_of, classifiers=[], engine="columnar")
    every = list(report.findings)
    assert len(every) == len(report.findings) > 3000
    for i in (0, 1, 299, 300, 301, 2500, len(every) - 1, -1):
        assert report.findings[i] == every[i]
    assert report.findings[295:305] == every[295:305]


@pytest.mark.parametrize("reader", ["adbc", "sqlite3"])
def test_reply_rules_without_pauses_skip_the_status_changes(
    traffic: str, reader: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A policy whose rules never read a status timeline is read without the status
    changes (they are in the store: generate_history writes them), with the same
    findings; a pause, or any other rule, reads them again."""
    from convokit_core._columnar import _engine, _reader
    from convokit_core._columnar._rules import uses_statuses

    monkeypatch.setattr(_engine, "USE_ADBC", reader == "adbc")
    seen: list[bool] = []
    original = _reader.batches

    def spy(*args: Any, **kwargs: Any) -> Any:
        seen.append(kwargs.get("with_statuses", True))
        return original(*args, **kwargs)

    monkeypatch.setattr(_engine, "batches", spy)
    as_of = datetime(2024, 2, 5, 17, 30, tzinfo=UTC)
    plain = [
        Commitment(name="first", rule=first_reply("2h")),
        Commitment(name="next", rule=next_reply("4h").where(channel=["acme_help"])),
        Commitment(name="silence", rule=any_of(max_silence("3h"), first_reply("1h"))),
    ]
    assert not any(uses_statuses(c.rule) for c in plain)
    text = both(traffic, plain, as_of, classifiers=[])
    assert seen == [False]
    assert '"status": "breached"' in text
    paused = [Commitment(name="first", rule=first_reply("2h", pause_when=["pending"]))]
    resolving = [*plain, Commitment(name="resolve", rule=resolution_within("2d"))]
    for commitments in (paused, resolving):
        seen.clear()
        both(traffic, commitments, as_of, classifiers=[])
        assert seen == [True]
