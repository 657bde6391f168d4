"""Commitments: rules, composition, calendars, evaluation, findings, policy files.

Everything public here is re-exported from :mod:`convokit_core`.
"""

from .._calendars import ALWAYS_OPEN, Calendar, TimeSlot
from ._classifiers import KeywordClassifier
from ._context import RuleContext
from ._engines import Engine, PythonEngine
from ._evaluate import Commitment, Evaluation, classify_threads, evaluate
from ._facts import CountingPolicy, Thread
from ._findings import (
    CheckReport,
    CommitmentSummary,
    Finding,
    FindingList,
    Outcome,
    Status,
)
from ._policyfile import Policy, PolicyError, load_policy, parse_policy, policy_from_config
from ._rules import (
    AllOf,
    AnyOf,
    Rule,
    Scope,
    Scoped,
    all_of,
    any_of,
    channel_activity,
    first_reply,
    follow_up,
    max_silence,
    next_reply,
    owner_assigned,
    periodic_update,
    resolution_within,
)
from ._run import check

__all__ = [
    "ALWAYS_OPEN",
    "AllOf",
    "AnyOf",
    "Calendar",
    "CheckReport",
    "Commitment",
    "CommitmentSummary",
    "CountingPolicy",
    "Engine",
    "Evaluation",
    "Finding",
    "FindingList",
    "KeywordClassifier",
    "Outcome",
    "Policy",
    "PolicyError",
    "PythonEngine",
    "Rule",
    "RuleContext",
    "Scope",
    "Scoped",
    "Status",
    "Thread",
    "TimeSlot",
    "all_of",
    "any_of",
    "channel_activity",
    "check",
    "classify_threads",
    "evaluate",
    "first_reply",
    "follow_up",
    "load_policy",
    "max_silence",
    "next_reply",
    "owner_assigned",
    "parse_policy",
    "periodic_update",
    "policy_from_config",
    "resolution_within",
]
