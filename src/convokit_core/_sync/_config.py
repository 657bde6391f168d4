"""``[[source]]`` and ``[[team]]`` tables of ``convokit.toml``.

::

    [[source]]
    name = "mastodon-main"
    platform = "mastodon"
    instance = "https://mastodon.example"
    account = "@acme@mastodon.example"
    token = "${MASTODON_TOKEN}"

    [[team]]
    id = "kc"
    name = "KC"
    handles = { mastodon = "@kc@mastodon.example" }
    active_from = 2024-01-01T00:00:00Z

``${NAME}`` in a string value is replaced by the environment variable ``NAME``; a missing
variable is a :class:`~convokit_core.ConfigError` naming the source and the variable.
The keys of a source table other than ``name`` and ``platform`` are the fields of the
platform's config class; unknown keys are errors with a "did you mean" hint.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime
from typing import Any

import attrs

from convokit_core._config import Config, did_you_mean, key_error, unknown_keys_error
from convokit_core._errors import ConfigError
from convokit_core._model import TeamMember
from convokit_core._plugins import PluginManager
from convokit_core._timeutil import check_timestamp, parse_timestamp

__all__ = [
    "SourceSpec",
    "load_sources",
    "load_team",
    "secret_field_names",
    "select_sources",
]

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_TEAM_KEYS = ("id", "name", "handles", "active_from", "active_until")


@attrs.frozen(kw_only=True)
class SourceSpec:
    """One validated ``[[source]]`` table, ready to build its adapter.

    Attributes:
        name: the source's unique name (its cursor and lock key).
        platform: the registered platform name.
        config: the platform's config object built from the table's other keys.
        create: the platform's factory ``create(config, client, context)``.
        secrets: values of the config's secret fields, removed from every error message.
    """

    name: str
    platform: str
    config: Any
    create: Callable[..., Any] = attrs.field(repr=False)
    secrets: tuple[str, ...] = attrs.field(default=(), repr=False)


def secret_field_names(config_class: type) -> tuple[str, ...]:
    """Names of the fields of an attrs config class marked ``metadata={"secret": True}``."""
    if not attrs.has(config_class):
        return ()
    return tuple(f.name for f in attrs.fields(config_class) if f.metadata.get("secret"))


def _interpolate(
    value: Any, *, env: Mapping[str, str], where: Callable[[], str], source: str, key: str
) -> Any:
    if isinstance(value, str):

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            found = env.get(name)
            if found is None:
                raise ConfigError(
                    f"{where()}: source {source!r} needs the environment variable {name} "
                    f"(for key {key!r}), which is not set"
                )
            return found

        return _VAR.sub(replace, value)
    if isinstance(value, list):
        return [_interpolate(v, env=env, where=where, source=source, key=key) for v in value]
    if isinstance(value, dict):
        return {
            k: _interpolate(v, env=env, where=where, source=source, key=f"{key}.{k}")
            for k, v in value.items()
        }
    return value


def load_sources(
    config: Config, plugins: PluginManager, *, env: Mapping[str, str] | None = None
) -> list[SourceSpec]:
    """Validate every ``[[source]]`` table and build its platform config.

    Raises :class:`~convokit_core.ConfigError` naming the file, line and key for a
    missing or duplicate name, an unknown platform, an unknown or missing key, a missing
    environment variable, or a value the platform's config rejects.
    """
    env = os.environ if env is None else env
    raw = config.data.get("source", [])
    if isinstance(raw, dict):
        raw = [raw]
    if not isinstance(raw, list):
        raise key_error(config.where("source"), raw, "[[source]] tables")
    specs: list[SourceSpec] = []
    seen: set[str] = set()
    for index, table in enumerate(raw):
        path = f"source[{index}]"
        if not isinstance(table, dict):
            raise key_error(config.where(path, line_of="source"), table, "a [[source]] table")
        name = table.get("name")
        if not isinstance(name, str) or not name.strip():
            raise ConfigError(
                f"{config.where(f'{path}.name', line_of='source')}: every [[source]] needs "
                f"a non-empty string 'name', found {name!r}"
            )
        where_name = f"source {name!r}"

        def where(key: str, _path: str = path) -> str:
            return config.where(f"{_path}.{key}")

        if name in seen:
            raise ConfigError(f"{where('name')}: two [[source]] tables are named {name!r}")
        seen.add(name)
        platform = table.get("platform")
        if not isinstance(platform, str) or not platform:
            raise ConfigError(
                f"{where('platform')}: {where_name} needs a 'platform' string, found {platform!r}"
            )
        registration = plugins.platforms.get(platform)
        if registration is None:
            known = plugins.platforms.names()
            raise ConfigError(
                f"{where('platform')}: {where_name}: unknown platform {platform!r}"
                f"{did_you_mean(platform, known)} (installed: {', '.join(known) or 'none'}; "
                f"pip install convokit-{platform} if a plugin exists)"
            )
        config_class = registration.options.get("config")
        create = registration.options.get("create")
        if config_class is None or not callable(create):
            raise ConfigError(
                f"{where('platform')}: platform {platform!r} (plugin "
                f"{registration.plugin!r}) registered no config class or create function"
            )
        fields = {f.name: f for f in attrs.fields(config_class)} if attrs.has(config_class) else {}
        options = {k: v for k, v in table.items() if k not in ("name", "platform")}
        for key in options:
            if fields and key not in fields:
                raise unknown_keys_error(
                    f"{where(key)}: {where_name}", key, [*fields, "name", "platform"]
                )
        missing = [
            f.name
            for f in fields.values()
            if f.default is attrs.NOTHING and f.init and f.name not in options
        ]
        if missing:
            raise ConfigError(
                f"{config.where(path, line_of='source')}: {where_name} (platform "
                f"{platform!r}) is missing {', '.join(repr(m) for m in missing)}"
            )
        values = {
            key: _interpolate(
                value, env=env, where=functools.partial(where, key), source=name, key=key
            )
            for key, value in options.items()
        }
        secret_names = secret_field_names(config_class)
        secrets = tuple(str(values[k]) for k in secret_names if values.get(k))
        try:
            built = config_class(**values)
        except (TypeError, ValueError) as exc:
            message = str(exc)
            for secret in secrets:
                message = message.replace(secret, "***")
            raise ConfigError(
                f"{config.where(path, line_of='source')}: {where_name}: {message}"
            ) from None
        specs.append(
            SourceSpec(name=name, platform=platform, config=built, create=create, secrets=secrets)
        )
    return specs


def select_sources(specs: Iterable[SourceSpec], names: Iterable[str]) -> list[SourceSpec]:
    """The sources named in ``names`` (all when empty); an unknown name is a ConfigError."""
    specs = list(specs)
    wanted = list(names)
    if not wanted:
        return specs
    by_name = {s.name: s for s in specs}
    chosen = []
    for name in wanted:
        if name not in by_name:
            known = sorted(by_name)
            raise ConfigError(
                f"no [[source]] named {name!r}{did_you_mean(name, known)} "
                f"(configured: {', '.join(known) or 'none'})"
            )
        chosen.append(by_name[name])
    return chosen


def _moment(value: Any, where: str) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ConfigError(
                f"{where}: expected a timestamp with a timezone (add Z or an offset), "
                f"found {value.isoformat()}"
            )
        try:
            return check_timestamp(value)
        except ValueError as exc:
            raise ConfigError(f"{where}: {exc}") from None
    if isinstance(value, date):
        raise ConfigError(
            f"{where}: expected a timestamp with a timezone like 2024-01-01T00:00:00Z, "
            f"found the date {value.isoformat()}"
        )
    if isinstance(value, str):
        try:
            return parse_timestamp(value)
        except ValueError as exc:
            raise ConfigError(f"{where}: {exc}") from None
    raise key_error(where, value, "a timestamp like 2024-01-01T00:00:00Z")


def load_team(config: Config) -> list[TeamMember]:
    """Validate every ``[[team]]`` table into a :class:`~convokit_core.TeamMember`."""
    raw = config.data.get("team", [])
    if isinstance(raw, dict):
        raw = [raw]
    if not isinstance(raw, list):
        raise key_error(config.where("team"), raw, "[[team]] tables")
    members: list[TeamMember] = []
    seen: set[str] = set()
    for index, table in enumerate(raw):
        path = f"team[{index}]"
        if not isinstance(table, dict):
            raise key_error(config.where(path, line_of="team"), table, "a [[team]] table")
        for key in table:
            if key not in _TEAM_KEYS:
                raise unknown_keys_error(config.where(f"{path}.{key}"), key, _TEAM_KEYS)
        member_id = table.get("id")
        if not isinstance(member_id, str) or not member_id:
            raise ConfigError(
                f"{config.where(f'{path}.id', line_of='team')}: every [[team]] member needs "
                f"a non-empty string 'id', found {member_id!r}"
            )
        if member_id in seen:
            raise ConfigError(
                f"{config.where(f'{path}.id')}: two [[team]] members have id {member_id!r}"
            )
        seen.add(member_id)
        name = table.get("name")
        if name is not None and not isinstance(name, str):
            raise key_error(config.where(f"{path}.name"), name, "a string")
        handles = table.get("handles", {})
        if not isinstance(handles, dict) or not all(
            isinstance(k, str) and isinstance(v, str) and v for k, v in handles.items()
        ):
            raise key_error(
                config.where(f"{path}.handles"),
                handles,
                'a table of platform = "handle" strings',
            )
        members.append(
            TeamMember(
                id=member_id,
                name=name,
                handles=handles,
                active_from=_moment(table.get("active_from"), config.where(f"{path}.active_from")),
                active_until=_moment(
                    table.get("active_until"), config.where(f"{path}.active_until")
                ),
            )
        )
    return members
