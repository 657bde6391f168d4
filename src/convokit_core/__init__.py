"""convokit_core: keep the conversations your organisation starts honest.

Everything public is importable from here; modules whose names start with ``_`` are
private. :mod:`convokit_core.protocols`, :mod:`convokit_core.hookspecs` and
:mod:`convokit_core.testing` are public modules for embedding apps and plugin authors.
"""

import logging as _logging
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
from ._http import (
    HttpClient,
    ResetStyle,
    RetryPolicy,
    check_url_scheme,
    parse_reset,
    parse_retry_after,
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
from ._sync import (
    SourceResult,
    SourceSpec,
    SyncContext,
    SyncObserver,
    SyncReport,
    load_sources,
    load_team,
    run_sync,
    sync_adapter,
)
from ._timeutil import format_datetime, parse_datetime, parse_duration
from .hookspecs import hookimpl

# A library never configures logging; this only keeps Python's last-resort handler quiet.
_logging.getLogger("convokit").addHandler(_logging.NullHandler())

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
    "HttpClient",
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
    "ResetStyle",
    "RetryPolicy",
    "SourceLocked",
    "SourceResult",
    "SourceSpec",
    "Stakeholder",
    "StakeholderKind",
    "StatusChange",
    "StorageError",
    "SyncContext",
    "SyncError",
    "SyncObserver",
    "SyncReport",
    "SyncRun",
    "TeamMember",
    "Visibility",
    "__version__",
    "check_url_scheme",
    "export_jsonl",
    "format_datetime",
    "get_plugin_manager",
    "hookimpl",
    "import_csv",
    "import_jsonl",
    "load_mapping",
    "load_sources",
    "load_team",
    "open_store",
    "parse_datetime",
    "parse_duration",
    "parse_reset",
    "parse_retry_after",
    "pass_state",
    "run_sync",
    "set_plugin_manager",
    "sync_adapter",
]
