"""convokit_core: keep the conversations your organisation starts honest.

Everything public is importable from here; modules whose names start with ``_`` are
private. :mod:`convokit_core.protocols`, :mod:`convokit_core.hookspecs` and
:mod:`convokit_core.testing` are public modules for embedding apps and plugin authors.
"""

from importlib.metadata import PackageNotFoundError as _PackageNotFoundError
from importlib.metadata import version as _version

from ._cli import CliState, pass_state
from ._errors import (
    ConfigError,
    ConvokitError,
    HttpError,
    InputError,
    InvalidRecord,
    MalformedPayload,
    PluginError,
    SourceLocked,
    StorageError,
    SyncError,
)
from ._io._csv import ColumnMapping, import_csv, load_mapping
from ._io._importer import ImportResult
from ._io._jsonl import export_jsonl, import_jsonl
from ._model import (
    Batch,
    Channel,
    Conversation,
    ConversationStatus,
    Direction,
    Message,
    Page,
    Stakeholder,
    StakeholderKind,
    StatusChange,
    SyncRun,
    TeamMember,
    Visibility,
)
from ._plugins import (
    PluginFailure,
    PluginInfo,
    PluginManager,
    Registration,
    get_plugin_manager,
    open_store,
    set_plugin_manager,
)
from ._timeutil import format_datetime, parse_datetime, parse_duration
from .hookspecs import hookimpl

try:
    __version__ = _version("convokit-core")
except _PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0+unknown"

__all__ = [
    "Batch",
    "Channel",
    "CliState",
    "ColumnMapping",
    "ConfigError",
    "Conversation",
    "ConversationStatus",
    "ConvokitError",
    "Direction",
    "HttpError",
    "ImportResult",
    "InputError",
    "InvalidRecord",
    "MalformedPayload",
    "Message",
    "Page",
    "PluginError",
    "PluginFailure",
    "PluginInfo",
    "PluginManager",
    "Registration",
    "SourceLocked",
    "Stakeholder",
    "StakeholderKind",
    "StatusChange",
    "StorageError",
    "SyncError",
    "SyncRun",
    "TeamMember",
    "Visibility",
    "__version__",
    "export_jsonl",
    "format_datetime",
    "get_plugin_manager",
    "hookimpl",
    "import_csv",
    "import_jsonl",
    "load_mapping",
    "open_store",
    "parse_datetime",
    "parse_duration",
    "pass_state",
    "set_plugin_manager",
]
