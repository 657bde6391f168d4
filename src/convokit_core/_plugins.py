"""The plugin manager: built-ins, entry points, allow-list, registries, listing."""

from __future__ import annotations

import importlib
import importlib.metadata as md
import logging
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from types import ModuleType
from typing import Any, Generic, TypeVar

import attrs
import pluggy

from . import hookspecs
from ._errors import PluginError
from .protocols import StorageBackend

__all__ = [
    "BUILTIN_PLUGINS",
    "PluginFailure",
    "PluginInfo",
    "PluginManager",
    "Registration",
    "get_plugin_manager",
]

log = logging.getLogger("convokit.plugins")

ENV_ALLOW = "CONVOKIT_LOAD_PLUGINS"
ENTRY_POINT_GROUP = "convokit"

#: Modules that provide the built-in features, registered through the same hooks.
BUILTIN_PLUGINS: tuple[str, ...] = (
    "convokit_core._storage._memory",
    "convokit_core._storage._sqlite",
    "convokit_core._storage._commands",
    "convokit_core._io._plugin",
    "convokit_core._policy._plugin",
    "convokit_core._columnar._plugin",
    "convokit_core._report._plugin",
    "convokit_core._sync._plugin",
    "convokit_core._watch._plugin",
    "convokit_core._plugins_cli",
    "convokit_core._demo",
    "convokit_core._scaffold._plugin",
)

T = TypeVar("T")


@attrs.frozen(kw_only=True)
class Registration(Generic[T]):
    """One named thing a plugin registered (a storage scheme, a rule, a platform …)."""

    name: str
    value: T
    plugin: str
    description: str = ""
    options: dict[str, Any] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class PluginFailure:
    """A plugin that could not be loaded, and why."""

    name: str
    error: str


@attrs.frozen(kw_only=True)
class PluginInfo:
    """What ``convokit plugins`` shows about one plugin."""

    name: str
    version: str | None
    builtin: bool
    hooks: tuple[str, ...]
    registered: dict[str, tuple[str, ...]]
    #: The rules of ``registered`` that the columnar engine can run: the built-in ones
    #: (it has their forms) and those registered with ``columnar=``.
    columnar_rules: tuple[str, ...] = ()


class Registry(Generic[T]):
    """Names registered through one ``register_*`` hook, each owned by a plugin."""

    def __init__(self, kind: str, hook_name: str) -> None:
        self.kind = kind
        self.hook_name = hook_name
        self._items: dict[str, Registration[T]] = {}

    def add(self, registration: Registration[T]) -> None:
        if not isinstance(registration.name, str) or not registration.name:
            raise PluginError(
                f"plugin {registration.plugin!r} registered a {self.kind} with an invalid "
                f"name {registration.name!r} (expected a non-empty string)"
            )
        existing = self._items.get(registration.name)
        if existing is not None:
            raise PluginError(
                f"{self.kind} {registration.name!r} is registered by both plugin "
                f"{existing.plugin!r} and plugin {registration.plugin!r}; uninstall one or "
                f"exclude it with {ENV_ALLOW}"
            )
        self._items[registration.name] = registration

    def get(self, name: str) -> Registration[T] | None:
        return self._items.get(name)

    def __getitem__(self, name: str) -> Registration[T]:
        try:
            return self._items[name]
        except KeyError:
            known = ", ".join(sorted(self._items)) or "none"
            raise PluginError(f"unknown {self.kind} {name!r} (known: {known})") from None

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[Registration[T]]:
        return iter(sorted(self._items.values(), key=lambda r: r.name))

    def __len__(self) -> int:
        return len(self._items)

    def names(self) -> list[str]:
        return sorted(self._items)


def _core_version() -> str | None:
    try:
        return md.version("convokit-core")
    except md.PackageNotFoundError:  # pragma: no cover - running from a source tree
        return None


def builtin_name(module_name: str) -> str:
    """``convokit_core._storage._sqlite`` → ``storage.sqlite``."""
    return ".".join(part.lstrip("_") for part in module_name.split(".")[1:])


def _allow_list() -> set[str] | None:
    raw = os.environ.get(ENV_ALLOW)
    if raw is None:
        return None
    return {part.strip() for part in raw.split(",") if part.strip()}


class PluginManager:
    """Loads plugins and holds what they registered.

    Args:
        plugins: extra plugin objects or modules to register (tests, embedding apps).
        load_entry_points: load third-party plugins from the ``convokit`` entry-point
            group, limited by ``CONVOKIT_LOAD_PLUGINS`` (a comma list of entry-point
            names; an empty string loads none).
        builtins: register the built-in plugins.
    """

    def __init__(
        self,
        *,
        plugins: Iterable[object] = (),
        load_entry_points: bool = True,
        builtins: bool = True,
    ) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.failures: list[PluginFailure] = []
        self._builtin_names: set[str] = set()
        self._versions: dict[str, str | None] = {}
        self._lock = threading.Lock()
        self._registries: dict[str, Registry[Any]] = {}
        if builtins:
            for module_name in BUILTIN_PLUGINS:
                module = importlib.import_module(module_name)
                self._register(
                    module, builtin_name(module_name), version=_core_version(), builtin=True
                )
        if load_entry_points:
            self._load_entry_points()
        for index, plugin in enumerate(plugins):
            name = getattr(plugin, "__name__", None) or f"{type(plugin).__name__}-{index}"
            self._register(plugin, str(name), version=None, builtin=False)
        try:
            self.pm.check_pending()
        except pluggy.PluginValidationError as exc:
            raise PluginError(f"plugin {exc.plugin!r} implements an unknown hook: {exc}") from exc

    # -- loading ---------------------------------------------------------------------

    def _register(self, plugin: object, name: str, *, version: str | None, builtin: bool) -> None:
        if self.pm.get_plugin(name) is not None:
            raise PluginError(f"two plugins are named {name!r}; rename one of them")
        try:
            self.pm.register(plugin, name=name)
        except (pluggy.PluginValidationError, ValueError) as exc:
            raise PluginError(f"plugin {name!r} could not be registered: {exc}") from exc
        self._versions[name] = version
        if builtin:
            self._builtin_names.add(name)

    def _load_entry_points(self) -> None:
        allow = _allow_list()
        for ep in sorted(md.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            if allow is not None and ep.name not in allow:
                log.debug("plugin %s not loaded: not in %s", ep.name, ENV_ALLOW)
                continue
            try:
                plugin: ModuleType | object = ep.load()
            except Exception as exc:
                message = f"{type(exc).__name__}: {exc}"
                log.warning("plugin %s failed to load: %s", ep.name, message)
                self.failures.append(PluginFailure(name=ep.name, error=message))
                continue
            version = ep.dist.version if ep.dist is not None else None
            self._register(plugin, ep.name, version=version, builtin=False)

    # -- registries ------------------------------------------------------------------

    def registry(self, hook_name: str, kind: str) -> Registry[Any]:
        """The registry filled by ``hook_name`` (called once, on first use)."""
        with self._lock:
            found = self._registries.get(hook_name)
            if found is not None:
                return found
            registry: Registry[Any] = Registry(kind, hook_name)
            hook = getattr(self.pm.hook, hook_name)
            for impl in reversed(hook.get_hookimpls()):
                impl.function(register=self._make_register(registry, impl.plugin_name))
            self._registries[hook_name] = registry
            return registry

    @staticmethod
    def _make_register(registry: Registry[Any], plugin_name: str) -> Callable[..., None]:
        def register(
            name: str, value: Any = None, /, *, description: str = "", **options: Any
        ) -> None:
            registry.add(
                Registration(
                    name=name,
                    value=value,
                    plugin=plugin_name,
                    description=description,
                    options=options,
                )
            )

        return register

    @property
    def storage(self) -> Registry[Any]:
        """Storage backends by URL scheme."""
        return self.registry("register_storage", "storage scheme")

    @property
    def platforms(self) -> Registry[Any]:
        """Platform adapters by name."""
        return self.registry("register_platforms", "platform")

    @property
    def rules(self) -> Registry[Any]:
        """Rule factories by name."""
        return self.registry("register_rules", "rule")

    @property
    def classifiers(self) -> Registry[Any]:
        """Message classifiers by name."""
        return self.registry("register_classifiers", "classifier")

    @property
    def importers(self) -> Registry[Any]:
        """Input formats for ``convokit import --format NAME``."""
        return self.registry("register_importers", "import format")

    @property
    def reporters(self) -> Registry[Any]:
        """Output formats by name."""
        return self.registry("register_reporters", "reporter")

    @property
    def engines(self) -> Registry[Any]:
        """Evaluation engines for ``convokit check --engine NAME``."""
        return self.registry("register_engines", "engine")

    @property
    def notifiers(self) -> Registry[Any]:
        """Notifier kinds for ``[[notify]]`` tables by name."""
        return self.registry("register_notifiers", "notifier kind")

    # -- listing ---------------------------------------------------------------------

    _LISTED = (
        ("register_storage", "storage scheme", "storage"),
        ("register_platforms", "platform", "platforms"),
        ("register_rules", "rule", "rules"),
        ("register_classifiers", "classifier", "classifiers"),
        ("register_reporters", "reporter", "reporters"),
        ("register_importers", "import format", "importers"),
        ("register_notifiers", "notifier kind", "notifiers"),
        ("register_engines", "engine", "engines"),
    )

    def plugin_infos(self, *, include_builtins: bool = False) -> list[PluginInfo]:
        """Every loaded plugin with its version, hooks and registrations."""
        registered: dict[str, dict[str, list[str]]] = {}
        columnar: dict[str, list[str]] = {}
        for hook_name, kind, label in self._LISTED:
            for reg in self.registry(hook_name, kind):
                registered.setdefault(reg.plugin, {}).setdefault(label, []).append(reg.name)
                if label == "rules" and (
                    reg.plugin in self._builtin_names or reg.options.get("columnar") is not None
                ):
                    columnar.setdefault(reg.plugin, []).append(reg.name)
        infos = []
        for name, plugin in self.pm.list_name_plugin():
            builtin = name in self._builtin_names
            if builtin and not include_builtins:
                continue
            hooks = tuple(sorted(h.name for h in self.pm.get_hookcallers(plugin) or ()))
            infos.append(
                PluginInfo(
                    name=name,
                    version=self._versions.get(name),
                    builtin=builtin,
                    hooks=hooks,
                    registered={k: tuple(v) for k, v in registered.get(name, {}).items()},
                    columnar_rules=tuple(columnar.get(name, ())),
                )
            )
        return sorted(infos, key=lambda i: (not i.builtin, i.name))

    @property
    def hook(self) -> Any:
        """The pluggy hook relay, for hooks that are not registries."""
        return self.pm.hook


_default: PluginManager | None = None
_default_lock = threading.Lock()


def get_plugin_manager() -> PluginManager:
    """The process-wide plugin manager (built-ins plus allowed entry points)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = PluginManager()
        return _default


def set_plugin_manager(manager: PluginManager | None) -> None:
    """Replace the process-wide plugin manager (``None`` reloads on next use)."""
    global _default
    with _default_lock:
        _default = manager


def open_store(
    url: str, *, create: bool = True, plugins: PluginManager | None = None
) -> StorageBackend:
    """Open the store at ``url`` through the backend registered for its scheme.

    ``memory:``, ``sqlite:///path/to.db`` (``sqlite:///:memory:`` too) are built in;
    plugins add more (``postgresql://…`` with ``convokit-postgres``).

    With ``create=False`` (what read commands use) a store that does not exist yet is a
    :class:`~convokit_core.StorageError` naming the URL instead of a new empty store;
    an in-memory store is exempt. A backend takes part when its ``open`` callable
    accepts a ``create`` keyword (see ``register_storage``); one that does not is opened
    as before.
    """
    from ._errors import ConfigError, ConvokitError, StorageError
    from ._storage._common import redact_url

    manager = plugins or get_plugin_manager()
    scheme, sep, _ = url.partition(":")
    if not sep or not scheme:
        raise ConfigError(
            f"store URL {url!r} has no scheme; expected e.g. 'sqlite:///convokit.db' or 'memory:'"
        )
    reg = manager.storage.get(scheme.lower())
    if reg is None:
        known = ", ".join(f"{n}:" for n in manager.storage.names())
        hint = ""
        if scheme.lower() in ("postgresql", "postgres"):
            hint = " (pip install convokit-postgres)"
        raise ConfigError(f"no storage backend for {scheme}: URLs{hint}; known schemes: {known}")
    opener: Callable[..., StorageBackend] = reg.value
    try:
        if not create and _accepts_create(opener):
            store = opener(url, create=False)
        else:
            store = opener(url)
    except ConvokitError:
        raise
    except Exception as exc:
        raise StorageError(f"cannot open store {redact_url(url)!r}: {exc}") from exc
    return store


def _accepts_create(opener: Callable[..., Any]) -> bool:
    """Whether a backend's ``open`` callable takes a ``create`` keyword."""
    import inspect

    try:
        params = inspect.signature(opener).parameters
    except (TypeError, ValueError):
        return False
    return "create" in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


def describe_failures(failures: Sequence[PluginFailure]) -> list[str]:
    return [f"plugin {f.name!r} failed to load: {f.error}" for f in failures]
