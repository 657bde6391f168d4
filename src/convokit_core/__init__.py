"""convokit_core: keep the conversations your organisation starts honest.

Everything public is importable from here; modules whose names start with ``_`` are
private. :mod:`convokit_core.protocols`, :mod:`convokit_core.hookspecs` and
:mod:`convokit_core.testing` are public modules for embedding apps and plugin authors.
"""

import logging as _logging
from importlib.metadata import PackageNotFoundError as _PackageNotFoundError
from importlib.metadata import version as _version
from typing import TYPE_CHECKING as _TYPE_CHECKING
from typing import Any as _Any

from ._async import AsyncStore, acheck, aexport, aimport, aopen_store
from ._cli import CliState, pass_state
from ._config import Config, load_config
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
from ._io._csv import ColumnMapping, import_csv, load_mapping, read_csv
from ._io._importer import ImportResult
from ._io._jsonl import export_jsonl, import_jsonl, read_jsonl
from ._io._source import ImportSource
from ._model import (
    Batch,
    Channel,
    Conversation,
    ConversationStatus,
    Direction,
    Message,
    NotificationRecord,
    Page,
    Stakeholder,
    StakeholderKind,
    StatusChange,
    SyncRun,
    TeamMember,
    Visibility,
)
from ._paging import WatermarkCursor, walk_newest_first
from ._plugins import (
    PluginFailure,
    PluginInfo,
    PluginManager,
    Registration,
    get_plugin_manager,
    open_store,
    set_plugin_manager,
)
from ._policy import (
    AllOf,
    AnyOf,
    Calendar,
    CheckReport,
    Commitment,
    CommitmentSummary,
    CountingPolicy,
    Engine,
    Finding,
    KeywordClassifier,
    Outcome,
    Policy,
    PolicyError,
    PythonEngine,
    Rule,
    RuleContext,
    Scope,
    Status,
    Thread,
    TimeSlot,
    all_of,
    any_of,
    channel_activity,
    check,
    evaluate,
    first_reply,
    follow_up,
    load_policy,
    max_silence,
    next_reply,
    owner_assigned,
    parse_policy,
    periodic_update,
    policy_from_config,
    resolution_within,
)
from ._report._html import ReportData, build_report, render_html
from ._report._simulate import Simulation, simulate
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
from ._text import html_to_text
from ._timeutil import format_datetime, parse_datetime, parse_duration
from ._watch._settings import (
    DeliveryContext,
    Notification,
    NotifierSettings,
)
from .hookspecs import hookimpl

# A library never configures logging; this only keeps Python's last-resort handler quiet.
_logging.getLogger("convokit").addHandler(_logging.NullHandler())

try:
    __version__ = _version("convokit-core")
except _PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0+unknown"

__all__ = [
    "DATASET_SCHEMAS",
    "DATASET_VERSION",
    "AllOf",
    "AnyOf",
    "AsyncStore",
    "Batch",
    "Calendar",
    "Channel",
    "CheckReport",
    "CliState",
    "ColumnMapping",
    "ColumnarBatch",
    "ColumnarOutcomes",
    "Commitment",
    "CommitmentSummary",
    "Config",
    "ConfigError",
    "Conversation",
    "ConversationStatus",
    "ConvokitError",
    "CountingPolicy",
    "DeliveryContext",
    "Direction",
    "Engine",
    "Finding",
    "HttpClient",
    "HttpError",
    "ImportResult",
    "ImportSource",
    "InputError",
    "InvalidRecord",
    "KeywordClassifier",
    "MalformedPayload",
    "Message",
    "Notification",
    "NotificationRecord",
    "NotifierSettings",
    "Outcome",
    "Page",
    "PluginError",
    "PluginFailure",
    "PluginInfo",
    "PluginManager",
    "Policy",
    "PolicyError",
    "PythonEngine",
    "Registration",
    "ReportData",
    "ResetStyle",
    "RetryPolicy",
    "Rule",
    "RuleContext",
    "Scope",
    "Simulation",
    "SourceLocked",
    "SourceResult",
    "SourceSpec",
    "Stakeholder",
    "StakeholderKind",
    "Status",
    "StatusChange",
    "StorageError",
    "SyncContext",
    "SyncError",
    "SyncObserver",
    "SyncReport",
    "SyncRun",
    "TeamMember",
    "Thread",
    "TimeSlot",
    "Visibility",
    "WatermarkCursor",
    "__version__",
    "acheck",
    "aexport",
    "aimport",
    "all_of",
    "any_of",
    "aopen_store",
    "build_report",
    "channel_activity",
    "check",
    "check_url_scheme",
    "evaluate",
    "export_jsonl",
    "export_parquet",
    "first_reply",
    "follow_up",
    "format_datetime",
    "get_plugin_manager",
    "hookimpl",
    "html_to_text",
    "import_csv",
    "import_jsonl",
    "import_parquet",
    "load_config",
    "load_mapping",
    "load_policy",
    "load_sources",
    "load_team",
    "max_silence",
    "next_reply",
    "open_store",
    "owner_assigned",
    "parse_datetime",
    "parse_duration",
    "parse_policy",
    "parse_reset",
    "parse_retry_after",
    "pass_state",
    "periodic_update",
    "policy_from_config",
    "read_csv",
    "read_jsonl",
    "read_parquet",
    "render_html",
    "resolution_within",
    "run_sync",
    "set_plugin_manager",
    "simulate",
    "sync_adapter",
    "walk_newest_first",
]

if _TYPE_CHECKING:
    from ._columnar._api import ColumnarBatch, ColumnarOutcomes
    from ._io._parquet import (
        DATASET_SCHEMAS,
        DATASET_VERSION,
        export_parquet,
        import_parquet,
        read_parquet,
    )

# The Parquet names import pyarrow (about 0.4 s), so they load on first use: a
# ``convokit`` command that never touches Parquet does not pay for it.
_LAZY = {
    "DATASET_SCHEMAS",
    "DATASET_VERSION",
    "export_parquet",
    "import_parquet",
    "read_parquet",
}
#: The columnar-form types (numpy) load on first use too.
_LAZY_COLUMNAR = {"ColumnarBatch", "ColumnarOutcomes"}


def __getattr__(name: str) -> _Any:
    if name in _LAZY_COLUMNAR:
        from ._columnar import _api

        value = getattr(_api, name)
        globals()[name] = value
        return value
    if name in _LAZY:
        from ._io import _parquet

        value = getattr(_parquet, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
