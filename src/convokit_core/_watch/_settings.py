"""``[[notify]]`` tables: validated notifier settings, notifications, the notifier protocol."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import attrs

from .._config import Config, did_you_mean, key_error, unknown_keys_error
from .._errors import ConfigError
from .._http import RetryPolicy
from .._secrets import check_secret, register_secrets
from .._timeutil import format_datetime

if TYPE_CHECKING:
    import httpx

    from .._calendars import Calendar
    from .._plugins import PluginManager

__all__ = [
    "EVENTS",
    "NOTIFY_KEYS",
    "DeliveryContext",
    "Notification",
    "Notifier",
    "NotifierSettings",
    "NotifierSpec",
    "idempotency_key",
    "load_notifiers",
]

EVENTS = ("at_risk", "breached", "recovered")
DEFAULT_ON = ("at_risk", "breached")

#: Every key a ``[[notify]]`` table may have (``from`` is ``from_`` in Python).
NOTIFY_KEYS = (
    "name",
    "kind",
    "url",
    "secret",
    "on",
    "commitments",
    "calendar",
    "smtp",
    "from",
    "to",
    "fallback",
)

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def idempotency_key(commitment: str, subject: str, event: str, deadline_us: int | None) -> str:
    """The key of one notification: the same for the same (commitment, subject, event,
    deadline), whichever process or cycle computes it."""
    raw = "\x1f".join((commitment, subject, event, "" if deadline_us is None else str(deadline_us)))
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:32]


@attrs.frozen(kw_only=True)
class Notification:
    """What one notifier is asked to deliver: one transition of one finding.

    Fields a platform or the policy does not know are ``None``. ``owner_handles`` are
    the owning team member's handles from ``[[team]]`` (e.g. ``{"email": …}``).
    """

    event: str
    idempotency_key: str
    commitment: str
    promise: str | None
    status: str
    severity: str
    subject: str
    conversation: str | None
    platform: str | None
    channel: str | None
    owner: str | None
    deadline: datetime | None
    elapsed_seconds: float | None
    message: str | None
    url: str | None
    owner_handles: Mapping[str, str] = attrs.field(factory=dict, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """The webhook body: every field, ``null`` where unknown."""
        return {
            "event": self.event,
            "idempotency_key": self.idempotency_key,
            "commitment": self.commitment,
            "promise": self.promise,
            "status": self.status,
            "subject": self.subject,
            "conversation": self.conversation,
            "platform": self.platform,
            "channel": self.channel,
            "owner": self.owner,
            "deadline": None if self.deadline is None else format_datetime(self.deadline),
            "elapsed_seconds": self.elapsed_seconds,
            "message": self.message,
            "url": self.url,
        }


@attrs.frozen(kw_only=True)
class NotifierSettings:
    """One validated ``[[notify]]`` table (``${ENV}`` already substituted).

    ``secret`` never shows in ``repr``. Kinds use the keys they need and reject, in
    their ``create``, settings they cannot use.
    """

    name: str
    kind: str
    url: str | None = None
    secret: str | None = attrs.field(default=None, repr=False)
    on: tuple[str, ...] = DEFAULT_ON
    commitments: tuple[str, ...] | None = None
    """``None``: every commitment."""
    calendar: str | None = None
    smtp: str | None = None
    from_: str | None = None
    to: str | tuple[str, ...] | None = None
    fallback: tuple[str, ...] = ()


@attrs.frozen(kw_only=True)
class DeliveryContext:
    """What the host lends a notifier for its deliveries.

    ``client`` is the host's :class:`httpx.AsyncClient` (its transport decides where
    bytes go); wrap it in :class:`convokit_core.HttpClient` with ``policy`` and
    ``sleep`` for timeouts, retries with backoff and scrubbed errors.
    """

    client: httpx.AsyncClient = attrs.field(repr=False)
    policy: RetryPolicy
    sleep: Callable[[float], Awaitable[None]] | None = attrs.field(default=None, repr=False)


def reject_keys(settings: NotifierSettings, *keys: str) -> None:
    """Raise :class:`ValueError` naming the first of ``keys`` (TOML spelling: ``from``)
    that ``settings`` sets, for a kind that does not use it."""
    for key in keys:
        value = getattr(settings, "from_" if key == "from" else key)
        if value is not None and value != ():
            raise ValueError(f"{key!r} is not used by the {settings.kind!r} kind")


@runtime_checkable
class Notifier(Protocol):
    """What a notifier kind's ``create(settings)`` returns."""

    async def deliver(self, notification: Notification, context: DeliveryContext) -> None:
        """Deliver ``notification``; return only once the receiver accepted it (for HTTP,
        a 2xx), raise (any exception) otherwise."""
        ...


@attrs.frozen(kw_only=True)
class NotifierSpec:
    """A configured notifier: its settings, the built notifier, its quiet-hours calendar."""

    settings: NotifierSettings
    notifier: Notifier = attrs.field(repr=False)
    calendar: Calendar | None = None

    @property
    def name(self) -> str:
        return self.settings.name

    def wants(self, event: str, commitment: str) -> bool:
        """Whether this notifier is told about ``event`` on ``commitment``."""
        s = self.settings
        return event in s.on and (s.commitments is None or commitment in s.commitments)


def _interpolate(value: Any, env: Mapping[str, str], where: str) -> Any:
    if isinstance(value, str):

        def replace(match: re.Match[str]) -> str:
            found = env.get(match.group(1))
            if found is None:
                raise ConfigError(
                    f"{where}: needs the environment variable {match.group(1)}, which is not set"
                )
            return found

        return _VAR.sub(replace, value)
    if isinstance(value, list):
        return [_interpolate(v, env, where) for v in value]
    return value


def _strings(value: Any, where: str, *, allowed: Sequence[str] | None = None) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise key_error(where, value, "a list of non-empty strings")
    if allowed is not None:
        for v in value:
            if v not in allowed:
                raise ConfigError(
                    f"{where}: unknown value {v!r}{did_you_mean(v, allowed)} "
                    f"(expected some of: {', '.join(allowed)})"
                )
    return tuple(value)


def load_notifiers(
    config: Config,
    plugins: PluginManager,
    *,
    calendars: Mapping[str, Calendar] | None = None,
    commitments: Sequence[str] | None = None,
    env: Mapping[str, str] | None = None,
) -> list[NotifierSpec]:
    """Validate every ``[[notify]]`` table and build its notifier.

    Raises :class:`~convokit_core.ConfigError` naming the file, line and key path for an
    unknown or missing key, a wrong type, an unset environment variable, a short secret,
    an unknown kind, commitment or calendar, or settings the kind rejects. Secrets are
    registered for scrubbing and never appear in a message.
    """
    env = os.environ if env is None else env
    raw = config.data.get("notify", [])
    if isinstance(raw, dict):
        raw = [raw]
    if not isinstance(raw, list):
        raise key_error(config.where("notify"), raw, "[[notify]] tables")
    specs: list[NotifierSpec] = []
    seen: set[str] = set()
    for index, table in enumerate(raw):
        path = f"notify[{index}]"
        if not isinstance(table, dict):
            raise key_error(config.where(path, line_of="notify"), table, "a [[notify]] table")

        def where(key: str, _path: str = path) -> str:
            return config.where(f"{_path}.{key}")

        for key in table:
            if key not in NOTIFY_KEYS:
                raise unknown_keys_error(where(key), key, NOTIFY_KEYS)
        name = table.get("name")
        if not isinstance(name, str) or not name.strip():
            raise ConfigError(
                f"{config.where(f'{path}.name', line_of='notify')}: every [[notify]] needs a "
                f"non-empty string 'name', found {name!r}"
            )
        if name in seen:
            raise ConfigError(f"{where('name')}: two [[notify]] tables are named {name!r}")
        seen.add(name)
        kind = table.get("kind")
        if not isinstance(kind, str) or not kind:
            raise ConfigError(f"{where('kind')}: notifier {name!r} needs a 'kind' string")
        registration = plugins.notifiers.get(kind)
        if registration is None:
            known = plugins.notifiers.names()
            raise ConfigError(
                f"{where('kind')}: notifier {name!r}: unknown kind {kind!r}"
                f"{did_you_mean(kind, known)} (installed: {', '.join(known) or 'none'})"
            )
        values = {k: _interpolate(v, env, where(k)) for k, v in table.items()}
        for key in ("url", "secret", "calendar", "smtp", "from"):
            if key in values and not (isinstance(values[key], str) and values[key].strip()):
                shown = "a value" if key == "secret" else repr(values[key])
                raise ConfigError(f"{where(key)}: expected a non-empty string, found {shown}")
        secret = values.get("secret")
        if secret is not None:
            try:
                check_secret(secret, "the secret 'secret'")
            except ValueError as exc:
                raise ConfigError(f"{where('secret')}: notifier {name!r}: {exc}") from None
            register_secrets([secret])
        on = _strings(values["on"], where("on"), allowed=EVENTS) if "on" in values else DEFAULT_ON
        wanted: tuple[str, ...] | None = None
        if "commitments" in values:
            wanted = _strings(values["commitments"], where("commitments"))
            if commitments is not None:
                for c in wanted:
                    if c not in commitments:
                        raise ConfigError(
                            f"{where('commitments')}: notifier {name!r}: unknown commitment "
                            f"{c!r}{did_you_mean(c, commitments)} (known: "
                            f"{', '.join(commitments) or 'none'})"
                        )
        calendar = None
        if "calendar" in values:
            known_cals = dict(calendars or {})
            calendar = known_cals.get(values["calendar"])
            if calendar is None:
                raise ConfigError(
                    f"{where('calendar')}: notifier {name!r}: unknown calendar "
                    f"{values['calendar']!r} (defined: {', '.join(sorted(known_cals)) or 'none'}; "
                    "add a [calendars.NAME] table)"
                )
        to: str | tuple[str, ...] | None = None
        if "to" in values:
            to = values["to"] if values["to"] == "owner" else _strings(values["to"], where("to"))
        fallback = _strings(values["fallback"], where("fallback")) if "fallback" in values else ()
        settings = NotifierSettings(
            name=name,
            kind=kind,
            url=values.get("url"),
            secret=secret,
            on=on,
            commitments=wanted,
            calendar=values.get("calendar"),
            smtp=values.get("smtp"),
            from_=values.get("from"),
            to=to,
            fallback=fallback,
        )
        try:
            notifier = registration.value(settings)
        except ConfigError as exc:
            raise ConfigError(f"{config.where(path, line_of='notify')}: {exc}") from None
        except (ValueError, TypeError) as exc:
            raise ConfigError(
                f"{config.where(path, line_of='notify')}: notifier {name!r} (kind {kind!r}): {exc}"
            ) from None
        specs.append(NotifierSpec(settings=settings, notifier=notifier, calendar=calendar))
    return specs
