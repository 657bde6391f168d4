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

Every error names ``file:line (key path)`` — the line of the offending *key*, e.g.
``convokit.toml:14 (source[1].page_size)`` — with what was found and what was expected
(see :func:`build_config`). Values of secret fields are never shown, must be at least
8 characters long and free of control characters (``convokit_core._secrets``), and are
registered for scrubbing. A string value that is a remote ``http://`` URL is refused
(only ``https://``, or ``http://`` on a loopback host).
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime
from typing import Any

import attrs
import httpx

from convokit_core._config import Config, did_you_mean, key_error, unknown_keys_error
from convokit_core._errors import ConfigError
from convokit_core._http import check_url_scheme
from convokit_core._model import TeamMember
from convokit_core._plugins import PluginManager
from convokit_core._secrets import check_secret, register_secrets
from convokit_core._timeutil import check_timestamp, parse_timestamp

__all__ = [
    "SourceSpec",
    "build_config",
    "load_sources",
    "load_team",
    "secret_field_names",
    "select_sources",
]

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_HTTP_URL = re.compile(r"^\s*http://", re.IGNORECASE)
_ATTRS_NUMBER = re.compile(r"^'[^']*' must be ([<>]=?|==|!=) (.+): (.*)$", re.DOTALL)
_ATTRS_PREFIX = re.compile(r"^'[^']*' ")
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
        secret_names = {(f.alias or f.name) for f in fields.values() if f.metadata.get("secret")}
        secrets: list[str] = []
        for key in [k for k in values if k in secret_names]:
            value = values[key]
            if not isinstance(value, str):
                raise ConfigError(
                    f"{where(key)}: {where_name}: expected a string for the secret "
                    f"{key!r}, found {_a(value)}"
                )
            try:
                check_secret(value, f"the secret {key!r}")
            except ValueError as exc:
                raise ConfigError(f"{where(key)}: {where_name}: {exc}") from None
            secrets.append(value)
        register_secrets(secrets)
        for key, value in values.items():
            if isinstance(value, str) and _HTTP_URL.match(value):
                try:
                    check_url_scheme(value.strip())
                except ConfigError as exc:
                    raise ConfigError(f"{where(key)}: {where_name}: {exc}") from None
                except httpx.InvalidURL:
                    pass  # not a URL after all: the platform's converter judges it

        def where_key(
            key: str, _where: Callable[[str], str] = where, _name: str = where_name
        ) -> str:
            return f"{_where(key)}: {_name}"

        built = build_config(
            config_class,
            values,
            where_key=where_key,
            where_table=f"{config.where(path, line_of='source')}: {where_name}",
            secret=secret_names,
        )
        specs.append(
            SourceSpec(
                name=name, platform=platform, config=built, create=create, secrets=tuple(secrets)
            )
        )
    return specs


def _type_name(value: object) -> str:
    return {
        str: "string",
        int: "integer",
        float: "float",
        bool: "boolean",
        list: "array",
        dict: "table",
        datetime: "date-time",
        date: "date",
    }.get(type(value), type(value).__name__)


def _a(value: object) -> str:
    name = _type_name(value)
    return f"{'an' if name[:1] in 'aeiou' else 'a'} {name}"


def _shown(value: object, secret: bool) -> str:
    if secret:
        return f"{_a(value)} (value hidden: it is a secret)"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


_SIMPLE_TYPES: dict[object, tuple[type, ...]] = {
    str: (str,),
    "str": (str,),
    int: (int,),
    "int": (int,),
    float: (int, float),
    "float": (int, float),
    bool: (bool,),
    "bool": (bool,),
}
_EXPECTED_NAME = {str: "a string", int: "an integer", float: "a number", bool: "true or false"}


def _type_mismatch(field: attrs.Attribute[Any], value: object) -> str | None:
    """``expected …`` when ``field`` is annotated with a plain str/int/float/bool (and has
    no converter to turn other input into one) and ``value`` is not of that type."""
    allowed = _SIMPLE_TYPES.get(field.type)
    if allowed is None or field.converter is not None:
        return None
    if isinstance(value, allowed) and not (isinstance(value, bool) and bool not in allowed):
        return None
    return _EXPECTED_NAME[allowed[-1]]


def _expected_types(types: object) -> str:
    items = types if isinstance(types, tuple) else (types,)
    names = [_EXPECTED_NAME.get(t, t.__name__) if isinstance(t, type) else repr(t) for t in items]
    return " or ".join(names)


def _expected_options(options: object) -> str:
    if isinstance(options, range) and options.step == 1 and len(options):
        return f"an integer from {options.start} to {options.stop - 1}"
    try:
        items = list(options)  # type: ignore[call-overload]
    except TypeError:
        return f"one of {options!r}"
    return "one of " + ", ".join(repr(o) for o in items[:20]) + (" …" if len(items) > 20 else "")


def _explain(exc: BaseException, value: object, secret: bool) -> str:
    """What was found and what was expected, from an attrs validator's, a converter's
    or a type error, without attrs' internals (the ``Attribute`` in the arguments)."""
    shown = _shown(value, secret)
    if isinstance(exc, ConfigError):
        return str(exc)
    args = exc.args
    has_attribute = len(args) >= 2 and isinstance(args[1], attrs.Attribute)
    if isinstance(exc, TypeError) and has_attribute and len(args) == 4:  # instance_of
        return f"expected {_expected_types(args[2])}, found {shown}"
    if isinstance(exc, ValueError) and has_attribute and len(args) == 4:  # in_
        return f"expected {_expected_options(args[2])}, found {shown}"
    message = args[0] if args and isinstance(args[0], str) else type(exc).__name__
    number = _ATTRS_NUMBER.match(message)
    if number is not None:  # attrs.validators.gt/ge/lt/le
        return f"expected a value {number.group(1)} {number.group(2)}, found {shown}"
    message = _ATTRS_PREFIX.sub("", message, count=1) if has_attribute else message
    if not secret and repr(value) in message:
        return message  # it already says what it found
    return f"{message} (found {shown})"


def _default_of(field: attrs.Attribute[Any], stub: object) -> Any:
    default = field.default
    if isinstance(default, attrs.Factory):  # type: ignore[arg-type]
        factory: Any = default
        return factory.factory(stub) if factory.takes_self else factory.factory()
    return default


def build_config(
    config_class: type,
    values: Mapping[str, Any],
    *,
    where_key: Callable[[str], str],
    where_table: str,
    secret: Iterable[str] = (),
) -> Any:
    """``config_class(**values)``, with every failure a ConfigError naming the key.

    For an attrs class, each key is checked on its own first, in this order, so the
    error can name the key and its line (``where_key(key)``):

    1. a plain ``str``/``int``/``float``/``bool`` annotation without a converter: the
       value's type;
    2. the field's converter (a ``ConfigError``, ``ValueError`` or ``TypeError`` it
       raises names the key);
    3. the field's validators, run on an unvalidated instance holding the converted
       values (attrs' ``instance_of``, ``in_``, ``gt``/``ge``/``lt``/``le`` messages are
       rewritten as "expected …, found …").

    Whatever fails only when the whole class is built (``__attrs_post_init__``, a
    validator that compares fields) is reported at ``where_table``. Values of the
    ``secret`` fields are never shown.
    """
    secret = set(secret)
    if not attrs.has(config_class):
        try:
            return config_class(**values)
        except (TypeError, ValueError, ConfigError) as exc:
            raise ConfigError(f"{where_table}: {_explain(exc, None, True)}") from None
    fields = attrs.fields(config_class)
    by_key = {(f.alias or f.name): f for f in fields if f.init}
    converted: dict[str, Any] = {}
    for key, value in values.items():
        field = by_key.get(key)
        if field is None:
            continue
        is_secret = field.name in secret or key in secret
        expected = _type_mismatch(field, value)
        if expected is not None:
            raise ConfigError(
                f"{where_key(key)}: expected {expected}, found {_shown(value, is_secret)}"
            )
        converter = field.converter
        if converter is None or isinstance(converter, attrs.Converter):
            converted[key] = value
            continue
        try:
            converted[key] = converter(value)
        except (TypeError, ValueError, ConfigError) as exc:
            raise ConfigError(f"{where_key(key)}: {_explain(exc, value, is_secret)}") from None
    stub: Any = None
    try:
        stub = object.__new__(config_class)
        for field in fields:
            key = field.alias or field.name
            if key in converted:
                object.__setattr__(stub, field.name, converted[key])
            elif field.default is not attrs.NOTHING:
                object.__setattr__(stub, field.name, _default_of(field, stub))
    except Exception:  # an unusual class: leave the checks to the constructor
        stub = None
    if stub is not None:
        for field in fields:
            key = field.alias or field.name
            if field.validator is None or key not in converted:
                continue
            try:
                field.validator(stub, field, converted[key])
            except (TypeError, ValueError, ConfigError) as exc:
                is_secret = field.name in secret or key in secret
                raise ConfigError(
                    f"{where_key(key)}: {_explain(exc, values[key], is_secret)}"
                ) from None
    try:
        return config_class(**values)
    except (TypeError, ValueError, ConfigError) as exc:
        attribute = next((a for a in exc.args if isinstance(a, attrs.Attribute)), None)
        if attribute is not None:
            key = attribute.alias or attribute.name
            is_secret = attribute.name in secret
            raise ConfigError(
                f"{where_key(key)}: {_explain(exc, values.get(key), is_secret)}"
            ) from None
        raise ConfigError(f"{where_table}: {_explain(exc, None, True)}") from None


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
        if not isinstance(handles, dict):
            raise key_error(
                config.where(f"{path}.handles"), handles, 'a table of platform = "handle" strings'
            )
        for platform, handle in handles.items():
            if not isinstance(handle, str) or not handle:
                raise key_error(
                    config.where(f"{path}.handles.{platform}"),
                    handle,
                    'a non-empty handle string (platform = "handle")',
                )
        active_from = _moment(table.get("active_from"), config.where(f"{path}.active_from"))
        active_until = _moment(table.get("active_until"), config.where(f"{path}.active_until"))
        try:
            member = TeamMember(
                id=member_id,
                name=name,
                handles=handles,
                active_from=active_from,
                active_until=active_until,
            )
        except (TypeError, ValueError, OverflowError) as exc:
            raise ConfigError(
                f"{config.where(path, line_of='team')}: [[team]] member {member_id!r}: "
                f"{_explain(exc, None, False)}"
            ) from None
        members.append(member)
    return members
