"""Policy files: ``[calendars.*]`` and ``[[commitment]]`` tables in TOML (DESIGN §5).

Every error names the file, the line (when it can be found) and the key path, what was
found and what was expected, and is a :class:`PolicyError` (a ``ConfigError``: the CLI
exits 2).
"""

from __future__ import annotations

import inspect
import re
import tomllib
from collections.abc import Callable, Mapping, Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import attrs

from .._calendars import ALWAYS_OPEN, Calendar, parse_hours
from .._config import Config, did_you_mean, find_line
from .._errors import ConfigError
from .._limits import show
from .._timeutil import parse_duration
from ._evaluate import SEVERITIES, Commitment
from ._facts import DEFAULT_COUNTING, CountingPolicy
from ._rules import MAX_RULE_DEPTH, AllOf, AnyOf, Rule, Scope, Scoped

__all__ = ["Policy", "PolicyError", "load_policy", "parse_policy", "policy_from_config"]

_COMMITMENT_KEYS = (
    "name",
    "promise",
    "calendar",
    "severity",
    "warn_before",
    "replies",
)
_RULE_KEYS = ("rule", "all_of", "any_of", "where", "unless")
_CALENDAR_KEYS = ("timezone", "hours", "holidays", "closed")
_HOLIDAY_KEYS = ("country", "subdivision")
_REPLY_KEYS = ("public_only", "count_automated")
_SCOPE_KEYS = ("platform", "channel", "stakeholder_kind", "tags", "owner")
#: Parameters that take a duration, checked one by one so errors name the key.
_DURATION_PARAMS = frozenset(
    {
        "within",
        "window",
        "every",
        "max_gap",
        "acknowledge_within",
        "resolve_within",
        "duration",
    }
)


class PolicyError(ConfigError):
    """A policy file (or the policy tables of ``convokit.toml``) is wrong."""


@attrs.frozen(kw_only=True)
class Policy:
    """Commitments and calendars loaded from a policy file."""

    commitments: tuple[Commitment, ...]
    calendars: Mapping[str, Calendar] = attrs.field(factory=dict)
    classifiers: tuple[str, ...] | None = None
    """Names of the classifiers to run (``None``: every registered one)."""
    source: str = "<policy>"


class _Locator:
    """Turns key paths into ``file:line (key.path)``."""

    def __init__(self, name: str, text: str) -> None:
        self.name = name
        self.text = text
        lines = text.splitlines()
        self._commitment_lines = [
            n for n, line in enumerate(lines, 1) if re.match(r"\s*\[\[\s*commitment\s*\]\]", line)
        ]

    def line_of(self, path: str) -> int | None:
        """Best-effort line of ``path`` (``commitment[1].all_of[0].within``): each
        segment is searched from the line of the previous one; an index into an inline
        array skips that many occurrences of the next key."""
        line: int | None = None
        skip = 0
        for segment in re.findall(r"[^.\[\]]+(?:\[\d+\])?", path):
            match = re.fullmatch(r"(.+?)(?:\[(\d+)\])?", segment)
            assert match is not None
            name, index = match.group(1), match.group(2)
            if name == "commitment" and line is None and index is not None:
                i = int(index)
                if i < len(self._commitment_lines):
                    line = self._commitment_lines[i]
                continue
            found = find_line(self.text, name, line or 1)
            for _ in range(skip):
                if found is None:
                    break
                found = find_line(self.text, name, found + 1)
            skip = 0
            if found is not None:
                line = found
            if index is not None:
                skip = int(index)
        return line

    def where(self, path: str) -> str:
        line = self.line_of(path) if path else None
        return f"{self.name}:{line} ({path})" if line else f"{self.name} ({path})"

    def error(self, path: str, message: str) -> PolicyError:
        return PolicyError(f"{self.where(path)}: {message}")

    def expected(self, path: str, expected: str, found: object) -> PolicyError:
        return self.error(path, f"expected {expected}, found {show(found)}")

    def unknown_key(self, path: str, key: str, allowed: Sequence[str]) -> PolicyError:
        allowed = sorted(set(allowed))
        return self.error(
            f"{path}.{key}" if path else key,
            f"unknown key {show(key)}{did_you_mean(key, allowed)} (expected one of: "
            f"{', '.join(allowed)})",
        )


def _rule_factories() -> dict[str, Callable[..., Any]]:
    from .._plugins import get_plugin_manager

    return {reg.name: reg.value for reg in get_plugin_manager().rules}


def parse_policy(
    data: Mapping[str, Any],
    *,
    name: str = "<policy>",
    text: str = "",
    rules: Mapping[str, Callable[..., Any]] | None = None,
    allow_other_keys: bool = False,
) -> Policy:
    """Build a :class:`Policy` from a parsed TOML document.

    ``rules`` maps rule names to factories (default: every rule registered through
    ``register_rules``). With ``allow_other_keys`` (``convokit.toml``), keys other than
    ``calendars``, ``commitment`` and ``classifiers`` are left to their owners.
    """
    loc = _Locator(name, text)
    factories = dict(rules) if rules is not None else _rule_factories()
    if not allow_other_keys:
        for key in data:
            if key not in ("calendars", "commitment", "classifiers"):
                raise loc.unknown_key("", key, ("calendars", "commitment", "classifiers"))
    calendars = _calendars(data.get("calendars", {}), loc)
    raw = data.get("commitment", [])
    if not isinstance(raw, list) or not all(isinstance(t, dict) for t in raw):
        raise loc.expected("commitment", "an array of [[commitment]] tables", raw)
    commitments = tuple(
        _commitment(table, f"commitment[{i}]", loc, calendars, factories)
        for i, table in enumerate(raw)
    )
    seen: dict[str, int] = {}
    for i, c in enumerate(commitments):
        if c.name in seen:
            raise loc.error(
                f"commitment[{i}].name",
                f"commitment name {show(c.name)} is already used by commitment[{seen[c.name]}]; "
                "expected unique names",
            )
        seen[c.name] = i
    classifiers = data.get("classifiers")
    if classifiers is not None:
        if not isinstance(classifiers, list) or not all(isinstance(c, str) for c in classifiers):
            raise loc.expected("classifiers", "a list of classifier names", classifiers)
        classifiers = tuple(classifiers)
    return Policy(
        commitments=commitments, calendars=calendars, classifiers=classifiers, source=name
    )


def load_policy(path: str | Path, **kwargs: Any) -> Policy:
    """Read and parse a policy file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PolicyError(f"{path}: policy file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError(f"{path}: cannot read policy file: {exc}") from exc
    try:
        data = tomllib.loads(text)
    except RecursionError:
        raise PolicyError(
            f"{path}: nested too deeply to read (the TOML parser's limit); rules nest at "
            f"most {MAX_RULE_DEPTH} levels deep"
        ) from None
    except ValueError as exc:  # TOMLDecodeError, or an integer over 4,300 digits
        reason = str(exc).split("; use sys.set_int_max_str_digits")[0]
        raise PolicyError(f"{path}: invalid TOML: {reason}") from None
    return parse_policy(data, name=str(path), text=text, **kwargs)


def policy_from_config(config: Config, **kwargs: Any) -> Policy:
    """The ``[[commitment]]`` and ``[calendars.*]`` tables of a ``convokit.toml``."""
    name = str(config.path) if config.path else "<config>"
    return parse_policy(config.data, name=name, text=config.text, allow_other_keys=True, **kwargs)


# -- calendars -------------------------------------------------------------------------


def _calendars(raw: Any, loc: _Locator) -> dict[str, Calendar]:
    if not isinstance(raw, dict):
        raise loc.expected("calendars", "a table of [calendars.NAME] tables", raw)
    out: dict[str, Calendar] = {}
    for cname, table in raw.items():
        path = f"calendars.{cname}"
        if not isinstance(table, dict):
            raise loc.expected(path, "a table", table)
        for key in table:
            if key not in _CALENDAR_KEYS:
                raise loc.unknown_key(path, key, _CALENDAR_KEYS)
        kwargs: dict[str, Any] = {"name": cname}
        tz = table.get("timezone", "UTC")
        if not isinstance(tz, str):
            raise loc.expected(f"{path}.timezone", "an IANA timezone name", tz)
        kwargs["timezone"] = tz
        if "hours" in table:
            hours = table["hours"]
            if not isinstance(hours, dict):
                raise loc.expected(
                    f"{path}.hours", 'a table like { mon-fri = ["09:00-17:00"] }', hours
                )
            for day, slots in hours.items():
                if isinstance(slots, str):
                    slots = [slots]
                if not isinstance(slots, list):
                    raise loc.expected(
                        f"{path}.hours.{day}", 'a list of slots like ["09:00-17:00"]', slots
                    )
                try:
                    parse_hours({day: slots})
                except ValueError as exc:
                    raise loc.error(f"{path}.hours.{day}", _strip_prefix(str(exc), day)) from None
            try:
                kwargs["hours"] = parse_hours(hours)
            except ValueError as exc:
                raise loc.error(f"{path}.hours", str(exc)) from None
        if "holidays" in table:
            hol = table["holidays"]
            if isinstance(hol, str):
                hol = {"country": hol}
            if not isinstance(hol, dict):
                raise loc.expected(
                    f"{path}.holidays", '{ country = "US", subdivision = "NY" }', hol
                )
            for key in hol:
                if key not in _HOLIDAY_KEYS:
                    raise loc.unknown_key(f"{path}.holidays", key, _HOLIDAY_KEYS)
            for key in _HOLIDAY_KEYS:
                if key in hol and not isinstance(hol[key], str):
                    raise loc.expected(f"{path}.holidays.{key}", "a string code", hol[key])
            if "country" not in hol:
                raise loc.error(f"{path}.holidays", "expected a 'country' key (e.g. 'US')")
            kwargs["holidays_country"] = hol["country"]
            kwargs["holidays_subdivision"] = hol.get("subdivision")
        if "closed" in table:
            closed = table["closed"]
            if not isinstance(closed, list) or not all(isinstance(d, date | str) for d in closed):
                raise loc.expected(f"{path}.closed", "a list of dates like 2024-12-24", closed)
            kwargs["closed_dates"] = closed
        try:
            out[cname] = Calendar(**kwargs)
        except ValueError as exc:
            message = str(exc)
            key = (
                "timezone"
                if "timezone" in message
                else (
                    "holidays" if "holiday" in message else ("closed" if "date" in message else "")
                )
            )
            raise loc.error(f"{path}.{key}" if key else path, message) from None
    return out


def _strip_prefix(message: str, key: str) -> str:
    prefix = f"{key}: "
    return message[len(prefix) :] if message.startswith(prefix) else message


# -- commitments and rules ------------------------------------------------------------


def _commitment(
    table: dict[str, Any],
    path: str,
    loc: _Locator,
    calendars: Mapping[str, Calendar],
    factories: Mapping[str, Callable[..., Any]],
) -> Commitment:
    name = table.get("name")
    if name is None:
        raise loc.error(path, "expected a 'name' key (a unique commitment name)")
    if not isinstance(name, str) or not name:
        raise loc.expected(f"{path}.name", "a non-empty string", name)
    promise = table.get("promise", "")
    if not isinstance(promise, str):
        raise loc.expected(f"{path}.promise", "a string (the sentence said in public)", promise)
    calendar = ALWAYS_OPEN
    if "calendar" in table:
        cal = table["calendar"]
        if not isinstance(cal, str):
            raise loc.expected(f"{path}.calendar", "the name of a [calendars.NAME] table", cal)
        if cal not in calendars:
            defined = ", ".join(sorted(calendars)) or "none"
            raise loc.error(
                f"{path}.calendar",
                f"unknown calendar {show(cal)}{did_you_mean(cal, calendars)} (defined: {defined})",
            )
        calendar = calendars[cal]
    severity = table.get("severity", "error")
    if severity not in SEVERITIES:
        raise loc.expected(f"{path}.severity", f"one of {', '.join(SEVERITIES)}", severity)
    warn_before = table.get("warn_before", 0)
    try:
        parse_duration(warn_before)
    except ValueError as exc:
        raise loc.error(f"{path}.warn_before", str(exc)) from None
    counting = DEFAULT_COUNTING
    if "replies" in table:
        replies = table["replies"]
        if not isinstance(replies, dict):
            raise loc.expected(
                f"{path}.replies",
                "a table like { public_only = true, count_automated = false }",
                replies,
            )
        for key, value in replies.items():
            if key not in _REPLY_KEYS:
                raise loc.unknown_key(f"{path}.replies", key, _REPLY_KEYS)
            if not isinstance(value, bool):
                raise loc.expected(f"{path}.replies.{key}", "true or false", value)
        counting = CountingPolicy(**replies)
    rule_table = {k: v for k, v in table.items() if k not in _COMMITMENT_KEYS}
    rule = _rule(rule_table, path, loc, factories, extra_keys=_COMMITMENT_KEYS, calendar=calendar)
    return Commitment(
        name=name,
        rule=rule,
        promise=promise,
        calendar=calendar,
        severity=severity,
        warn_before=warn_before,
        counting=counting,
    )


def _check_coverable(duration: timedelta, calendar: Calendar, path: str, loc: _Locator) -> None:
    """A business duration the calendar cannot open for within its deadline search window
    (about 20 years) is an error here, at load, rather than at check time."""
    guaranteed = calendar.guaranteed_open_us()
    if guaranteed is None:
        return
    us = (duration.days * 86_400 + duration.seconds) * 1_000_000 + duration.microseconds
    if us > guaranteed:
        raise loc.error(
            path,
            f"calendar {calendar.name!r} cannot cover {_hours(us)} of business time: it is "
            f"surely open only {_hours(guaranteed)} within the 20 years a deadline is "
            f"searched for (docs/limits.md)",
        )


def _hours(us: int) -> str:
    return f"{us / 3_600_000_000:,.0f} hours"


def _params_of(factory: Callable[..., Any]) -> tuple[list[str], bool]:
    try:
        sig = inspect.signature(factory)
    except (TypeError, ValueError):
        return [], True
    names = []
    var_kw = False
    for p in sig.parameters.values():
        if p.kind is inspect.Parameter.VAR_KEYWORD:
            var_kw = True
        elif p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY):
            names.append(p.name)
    return names, var_kw


def _rule(
    table: dict[str, Any],
    path: str,
    loc: _Locator,
    factories: Mapping[str, Callable[..., Any]],
    extra_keys: Sequence[str] = (),
    *,
    calendar: Calendar = ALWAYS_OPEN,
    depth: int = 1,
) -> Rule:
    if depth > MAX_RULE_DEPTH:
        raise loc.error(
            path,
            f"rules nest at most {MAX_RULE_DEPTH} levels deep (all_of, any_of, where and "
            f"unless each add one); this one is deeper",
        )
    kinds = [k for k in ("rule", "all_of", "any_of") if k in table]
    if not kinds:
        raise loc.error(
            path,
            "expected a 'rule' key naming a rule (e.g. rule = \"first_reply\"), or "
            "'all_of' / 'any_of' with a list of rule tables",
        )
    if len(kinds) > 1:
        raise loc.error(
            f"{path}.{kinds[1]}",
            f"expected only one of 'rule', 'all_of', 'any_of', found {' and '.join(kinds)}",
        )
    kind = kinds[0]
    rule: Rule
    if kind == "rule":
        rname = table["rule"]
        if not isinstance(rname, str):
            raise loc.expected(f"{path}.rule", "a rule name", rname)
        factory = factories.get(rname)
        if factory is None:
            known = ", ".join(sorted(factories))
            raise loc.error(
                f"{path}.rule",
                f"unknown rule {show(rname)}{did_you_mean(rname, factories)} "
                f"(known rules: {known})",
            )
        params = {k: v for k, v in table.items() if k not in _RULE_KEYS}
        names, var_kw = _params_of(factory)
        if not var_kw:
            for key in params:
                if key not in names:
                    raise loc.unknown_key(path, key, [*names, *_RULE_KEYS, *extra_keys])
        for key, value in params.items():
            if key in _DURATION_PARAMS and key in names:
                try:
                    duration = parse_duration(value)
                except ValueError as exc:
                    raise loc.error(f"{path}.{key}", str(exc)) from None
                _check_coverable(duration, calendar, f"{path}.{key}", loc)
        try:
            built = factory(**params)
        except TypeError as exc:
            raise loc.error(path, f"bad parameters for rule {rname!r}: {exc}") from None
        except (ValueError, OverflowError, RecursionError) as exc:
            raise loc.error(path, f"rule {rname!r}: {exc}") from None
        if not isinstance(built, Rule):
            raise loc.error(
                f"{path}.rule",
                f"rule factory {rname!r} returned {built!r}; expected a convokit Rule",
            )
        rule = built
    else:
        parts = table[kind]
        for key in table:
            if key not in (kind, "where", "unless"):
                raise loc.unknown_key(path, key, [kind, "where", "unless", *extra_keys])
        if not isinstance(parts, list) or not parts or not all(isinstance(p, dict) for p in parts):
            raise loc.expected(
                f"{path}.{kind}", 'a non-empty list of rule tables like [{ rule = "..." }]', parts
            )
        built_parts = [
            _rule(p, f"{path}.{kind}[{i}]", loc, factories, calendar=calendar, depth=depth + 1)
            for i, p in enumerate(parts)
        ]
        try:
            rule = AllOf(parts=built_parts) if kind == "all_of" else AnyOf(parts=built_parts)
        except (TypeError, ValueError) as exc:
            raise loc.error(f"{path}.{kind}", str(exc)) from None
    for key in ("where", "unless"):
        if key not in table:
            continue
        scope = table[key]
        if not isinstance(scope, dict) or not scope:
            raise loc.expected(
                f"{path}.{key}", 'a table like { stakeholder_kind = ["customer"] }', scope
            )
        for skey, value in scope.items():
            if skey not in _SCOPE_KEYS:
                raise loc.unknown_key(f"{path}.{key}", skey, _SCOPE_KEYS)
            if isinstance(value, str):
                continue
            if (
                not isinstance(value, list)
                or not value
                or not all(isinstance(v, str) for v in value)
            ):
                raise loc.expected(f"{path}.{key}.{skey}", "a string or a list of strings", value)
        try:
            built_scope = Scope.of(scope)
            rule = (
                Scoped(rule=rule, where=built_scope)
                if key == "where"
                else Scoped(rule=rule, unless=built_scope)
            )
        except (TypeError, ValueError) as exc:
            raise loc.error(f"{path}.{key}", str(exc)) from None
    return rule
