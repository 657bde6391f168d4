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


# -- hostile values: one key-path error at load, never a traceback ------------------------


@pytest.mark.parametrize(
    ("value", "phrase"),
    [
        ("1180591620717411303424", "at most 520w"),
        ('"99999999999w"', "at most 520w"),
        ('"P99999999999W"', "at most 520w"),
        ('"521w"', "at most 520w"),
        ("-1180591620717411303424", "cannot be negative"),
        ("nan", "finite"),
        ("inf", "finite"),
    ],
)
def test_huge_durations_are_a_key_path_error_at_load(value: str, phrase: str) -> None:
    path = write(f'[[commitment]]\nname = "a"\nrule = "first_reply"\nwithin = {value}\n')
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    assert str(caught.value).startswith(f"{path}:4 (commitment[0].within): ")
    assert phrase in str(caught.value)


def test_a_huge_warn_before_is_a_key_path_error() -> None:
    path = write('[[commitment]]\nname = "a"\nrule = "first_reply"\nwithin = "1h"\n'
                 'warn_before = "99999999999w"\n')  # fmt: skip
    with pytest.raises(PolicyError, match=r"policy.toml:5 \(commitment\[0\].warn_before\)"):
        load_policy(path)


def test_a_duration_the_calendar_cannot_cover_is_an_error_at_load() -> None:
    path = write(
        """\
        [calendars.tiny]
        hours = { mon = ["09:00-09:30"] }

        [[commitment]]
        name = "a"
        calendar = "tiny"
        all_of = [{ rule = "first_reply", within = "1h" },
                  { rule = "resolution_within", duration = "100w" }]
        """
    )
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    assert "(commitment[0].all_of[1].duration)" in str(caught.value)
    assert "calendar 'tiny' cannot cover 16,800 hours of business time" in str(caught.value)


def test_a_long_duration_a_business_calendar_covers_loads() -> None:
    path = write(
        """\
        [calendars.office]
        hours = { mon-fri = ["09:00-17:00"] }
        holidays = "US"

        [[commitment]]
        name = "a"
        rule = "first_reply"
        within = "150w"
        calendar = "office"
        """
    )
    assert load_policy(path).commitments[0].name == "a"


def _nested(levels: int) -> str:
    inner = '{ rule = "first_reply", within = "1h" }'
    for _ in range(levels):
        inner = "{ all_of = [" + inner + "] }"
    return f'[[commitment]]\nname = "deep"\nall_of = [{inner}]\n'


@pytest.mark.parametrize("levels", [40, 200, 1000])
def test_deep_nesting_is_a_clear_error_with_the_limit(levels: int) -> None:
    with pytest.raises(PolicyError) as caught:
        load_policy(write(_nested(levels)))
    assert "rules nest at most 32 levels deep" in str(caught.value)


def test_nesting_within_the_limit_loads_and_the_api_has_the_same_limit() -> None:
    from convokit_core._policy._rules import all_of, first_reply

    rule = load_policy(write(_nested(29))).commitments[0].rule
    assert rule.nesting() == 31
    deep = first_reply("1h")
    for _ in range(31):
        deep = all_of(deep)
    assert deep.nesting() == 32
    with pytest.raises(ValueError, match="nest at most 32"):
        all_of(deep)
    with pytest.raises(ValueError, match="nest at most 32"):
        deep.where(platform="x")


def test_a_huge_integer_in_a_policy_file_is_a_toml_error() -> None:
    path = write('[[commitment]]\nname = "a"\nrule = "first_reply"\nwithin = 1' + "0" * 5000)
    with pytest.raises(PolicyError, match="invalid TOML: Exceeds the limit"):
        load_policy(path)


@pytest.mark.parametrize(
    "moment",
    ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "1850-06-01T00:00:00Z",
     '"0001-01-01T00:00:00+01:00"', '"3000-01-01T00:00:00Z"'],
)  # fmt: skip
def test_an_extreme_team_active_from_is_a_config_error(moment: str) -> None:
    from convokit_core import ConfigError
    from convokit_core._sync._config import load_team

    path = write(f'[[team]]\nid = "kc"\nactive_from = {moment}\n', "convokit.toml")
    with pytest.raises(ConfigError) as caught:
        load_team(load_config(path))
    assert str(caught.value).startswith(f"{path}:3 (team[0].active_from): ")
    assert "range" in str(caught.value)


@pytest.mark.parametrize(
    "line",
    [
        'rule = "' + "x" * 5000 + '"',
        'rule = "first_reply"\nwithin = "' + "9" * 5000 + 'w"',
        'rule = "first_reply"\nwithin = "1h"\ncalendar = "' + "c" * 5000 + '"',
        'rule = "first_reply"\nwithin = [' + ", ".join(['"x"'] * 2000) + "]",
    ],
)
def test_errors_about_huge_values_stay_short(line: str) -> None:
    with pytest.raises(PolicyError) as caught:
        load_policy(write(f'[[commitment]]\nname = "a"\n{line}\n'))
    assert len(str(caught.value)) < 600
