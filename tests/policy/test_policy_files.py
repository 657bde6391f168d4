"""Policy files: the DESIGN §5 example, and errors that name file, line, key, found, expected."""

from __future__ import annotations

import textwrap
from datetime import timedelta
from pathlib import Path

import pytest

from convokit_core._config import load_config
from convokit_core._policy._policyfile import PolicyError, load_policy, policy_from_config
from convokit_core._policy._rules import AllOf, FirstReply, FollowUp, MaxSilence, Scoped

DESIGN_EXAMPLE = """\
[calendars.support]
timezone = "America/New_York"
hours = { mon-fri = ["09:00-12:30", "13:30-17:00"] }
holidays = { country = "US", subdivision = "NY" }

[[commitment]]
name = "customers-hear-back"
promise = "Every customer hears back from us within 4 business hours."
rule = "max_silence"
window = "4h"
calendar = "support"
where = { stakeholder_kind = ["customer"] }

[[commitment]]
name = "complaints-are-closed"
promise = "Every complaint is acknowledged within an hour and closed within three days."
all_of = [
  { rule = "follow_up", tags = ["complaint"], acknowledge_within = "1h", resolve_within = "3d" },
  { rule = "owner_assigned" },
]
"""


def write(text: str, name: str = "policy.toml") -> Path:
    path = Path(name)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_design_example_loads() -> None:
    policy = load_policy(write(DESIGN_EXAMPLE))
    first, second = policy.commitments
    assert first.name == "customers-hear-back"
    assert first.promise.startswith("Every customer")
    assert isinstance(first.rule, Scoped)
    assert isinstance(first.rule.rule, MaxSilence)
    assert first.rule.rule.within == 4 * 3600 * 1_000_000
    assert first.calendar is policy.calendars["support"]
    assert first.calendar.business_time  # a business calendar, not the default
    assert not first.calendar.always_open
    assert isinstance(second.rule, AllOf)
    follow = second.rule.parts[0]
    assert isinstance(follow, FollowUp)
    assert follow.resolve_within == 3 * 86400 * 1_000_000
    assert second.calendar.always_open


def test_options_severity_warn_before_replies_unless_and_iso_durations() -> None:
    policy = load_policy(
        write(
            """\
            classifiers = []

            [[commitment]]
            name = "fast"
            rule = "first_reply"
            within = "PT30M"
            pause_when = "pending"
            severity = "warning"
            warn_before = "10m"
            replies = { public_only = true, count_automated = true }
            unless = { tags = "spam", platform = ["reddit"] }
            """
        )
    )
    (c,) = policy.commitments
    assert c.severity == "warning"
    assert c.warn_before == 600 * 1_000_000
    assert (c.counting.public_only, c.counting.count_automated) == (True, True)
    assert isinstance(c.rule, Scoped)
    assert isinstance(c.rule.rule, FirstReply)
    assert c.rule.rule.pause_when == frozenset({"pending"})
    assert c.rule.rule.within == int(timedelta(minutes=30).total_seconds()) * 1_000_000
    assert policy.classifiers == ()


def test_commitments_from_convokit_toml_ignore_other_tables() -> None:
    path = write(
        'store = "memory:"\n\n[[source]]\nname = "x"\n\n' + DESIGN_EXAMPLE, "convokit.toml"
    )
    policy = policy_from_config(load_config(path))
    assert [c.name for c in policy.commitments] == ["customers-hear-back", "complaints-are-closed"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '[[commitment]]\nname = "a"\nrule = "first_replay"\nwithin = "1h"\n',
            "policy.toml:3 (commitment[0].rule): unknown rule 'first_replay'; "
            "did you mean 'first_reply'?",
        ),
        (
            '[[commitment]]\nname = "a"\nrule = "first_reply"\nwithn = "1h"\n',
            "policy.toml:4 (commitment[0].withn): unknown key 'withn'; did you mean 'within'?",
        ),
        (
            '[[commitment]]\nname = "a"\nrule = "first_reply"\nwithin = "4 hours"\n',
            "policy.toml:4 (commitment[0].within): expected a duration like '90s', '45m', "
            "'4h', '3d', '2w' or 'PT4H', found '4 hours'",
        ),
        (
            '[calendars.support]\ntimezone = "UTC"\nhours = { mon-fri = ["9-17"] }\n',
            "policy.toml:3 (calendars.support.hours.mon-fri): expected a time slot like "
            "'09:00-17:00', found '9-17'",
        ),
        (
            '[calendars.support]\ntimezone = "Mars/Base"\n',
            "policy.toml:2 (calendars.support.timezone): expected an IANA timezone like "
            "'America/New_York' or 'UTC', found 'Mars/Base'",
        ),
        (
            '[calendars.support]\ntimezone = "UTC"\n\n[[commitment]]\nname = "a"\n'
            'rule = "first_reply"\nwithin = "1h"\ncalendar = "suport"\n',
            "policy.toml:8 (commitment[0].calendar): unknown calendar 'suport'; did you mean "
            "'support'? (defined: support)",
        ),
        (
            '[[commitment]]\nname = 3\nrule = "first_reply"\nwithin = "1h"\n',
            "policy.toml:2 (commitment[0].name): expected a non-empty string, found 3",
        ),
        (
            '[[commitment]]\nname = "a"\nrule = "first_reply"\nwithin = "1h"\nwhere = "vip"\n',
            '(commitment[0].where): expected a table like { stakeholder_kind = ["customer"] }, '
            "found 'vip'",
        ),
        (
            '[[commitment]]\nname = "a"\nrule = "first_reply"\nwithin = "1h"\n'
            'replies = { public_only = "yes" }\n',
            "(commitment[0].replies.public_only): expected true or false, found 'yes'",
        ),
        (
            '[[commitment]]\nname = "a"\nrule = "first_reply"\nwithin = "1h"\nseverity = "fatal"\n',
            "policy.toml:5 (commitment[0].severity): expected one of error, warning, info, "
            "found 'fatal'",
        ),
        (
            '[[commitment]]\nname = "a"\nrule = "first_reply"\nwithin = "1h"\n\n'
            '[[commitment]]\nname = "b"\nall_of = [\n  { rule = "first_reply", within = "1h" },\n'
            '  { rule = "ownr_assigned" },\n]\n',
            "policy.toml:10 (commitment[1].all_of[1].rule): unknown rule 'ownr_assigned'; "
            "did you mean 'owner_assigned'?",
        ),
        (
            '[[commitment]]\nname = "a"\nrule = "first_reply"\n',
            "(commitment[0]): bad parameters for rule 'first_reply'",
        ),
        (
            '[[commitment]]\nname = "a"\nrule = "follow_up"\n',
            "(commitment[0]): rule 'follow_up': follow_up needs acknowledge_within",
        ),
        (
            '[[commitment]]\nname = "a"\n',
            "policy.toml:1 (commitment[0]): expected a 'rule' key naming a rule",
        ),
        (
            '[[commitment]]\nname = "a"\nrule = "first_reply"\nwithin = "1h"\n\n'
            '[[commitment]]\nname = "a"\nrule = "first_reply"\nwithin = "2h"\n',
            "(commitment[1].name): commitment name 'a' is already used by commitment[0]",
        ),
        (
            '[[commitment]]\nname = "a"\nany_of = []\n',
            "(commitment[0].any_of): expected a non-empty list of rule tables",
        ),
        (
            '[[commitment]]\nname = "a"\nrule = "first_reply"\nwithin = "1h"\n'
            'where = { kind = "customer" }\n',
            "(commitment[0].where.kind): unknown key 'kind'",
        ),
        (
            "comitment = []\n",
            "policy.toml:1 (comitment): unknown key 'comitment'; did you mean 'commitment'?",
        ),
        (
            '[calendars.support]\ntimezone = "UTC"\nholidays = { country = "XX" }\n',
            "(calendars.support.holidays): the holidays package has no country 'XX'",
        ),
    ],
)
def test_errors_name_file_line_key_found_and_expected(text: str, expected: str) -> None:
    with pytest.raises(PolicyError) as info:
        load_policy(write(text))
    assert expected in str(info.value)
    assert info.value.exit_code == 2


def test_missing_file_and_invalid_toml() -> None:
    with pytest.raises(PolicyError, match="policy file not found"):
        load_policy("nope.toml")
    with pytest.raises(PolicyError, match="invalid TOML"):
        load_policy(write("[[commitment]\n"))
