"""A rule plugin offers a columnar form through ``register_rules(..., columnar=...)``:
``auto`` then runs the columnar engine, with the findings of the rule's own
``evaluate``; a form that breaks its contract is one clear error."""

from __future__ import annotations

import io
import json
import types
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, ClassVar

import attrs
import numpy as np
import pytest

from convokit_core import (
    ColumnarBatch,
    ColumnarOutcomes,
    PluginManager,
    check,
    hookimpl,
    open_store,
    set_plugin_manager,
)
from convokit_core._errors import ConfigError
from convokit_core._policy._context import RuleContext
from convokit_core._policy._engines import choose_engine
from convokit_core._policy._evaluate import Commitment
from convokit_core._policy._facts import Thread
from convokit_core._policy._rules import Rule, all_of, first_reply
from convokit_core._report._reporters import render_json


@attrs.frozen(kw_only=True)
class LastWord(Rule):
    """Ours is the last word: a conversation whose last counted message is the
    stakeholder's is breached (still waiting), else met; none counted: not applicable."""

    name: ClassVar[str] = "last_word"

    def evaluate(self, thread: Thread, ctx: RuleContext) -> list[Any]:
        events = thread.events(ctx.counting)
        if not events:
            return [
                ("not_applicable", "conversation", thread.id, None, None, None, 0, None, (),
                 "reply", "", self.label())
            ]  # fmt: skip
        at, kind, index = events[-1]
        status = "met" if kind == 1 else "breached"
        mid = thread.messages[index][0]
        return [
            (status, "conversation", thread.id, at, None, None, 0, None, (mid,), "reply",
             "" if kind else f"{thread.id} waits for us", self.label())
        ]  # fmt: skip


def last_word_columns(rule: LastWord, batch: ColumnarBatch, ctx: RuleContext) -> ColumnarOutcomes:
    message, kind, at, conv = batch.events(ctx.counting)
    n = batch.n_conversations
    last = np.full(n, -1, dtype=np.int64)
    np.maximum.at(last, conv, np.arange(len(conv)))
    has = last >= 0
    pick = np.where(has, last, 0)
    ours = has & (kind[pick] == 1) if len(conv) else has
    status = np.where(~has, "not_applicable", np.where(ours, "met", "breached"))
    notes = [
        "" if (ours[k] or not has[k]) else f"{batch.conversation_ids[k]} waits for us"
        for k in range(n)
    ]
    zeros = np.zeros(n, dtype=np.int64)
    return ColumnarOutcomes(
        conversation=np.arange(n),
        status=status,
        subject_kind=["conversation"] * n,
        subject=zeros,
        started=np.where(has, at[pick] if len(conv) else zeros, 0),
        has_started=has,
        deadline=zeros,
        has_deadline=np.zeros(n, dtype=bool),
        stopped=zeros,
        has_stopped=np.zeros(n, dtype=bool),
        elapsed=zeros,
        limit=zeros,
        has_limit=np.zeros(n, dtype=bool),
        evidence=(np.where(has, message[pick] if len(conv) else zeros, -1), np.full(n, -1)),
        what="reply",
        label=rule.label(),
        notes=notes,
    )


def plugin(form: Any) -> types.ModuleType:
    module = types.ModuleType("convokit_lastword")

    @hookimpl
    def register_rules(register: Any) -> None:
        register("last_word", lambda: LastWord(), description="ours is the last word",
                 columnar=form)  # fmt: skip

    module.register_rules = register_rules  # type: ignore[attr-defined]
    return module


@pytest.fixture
def with_form() -> Iterator[None]:
    set_plugin_manager(PluginManager(plugins=[plugin(last_word_columns)], load_entry_points=False))
    yield
    set_plugin_manager(None)


@pytest.fixture(scope="module")
def traffic(tmp_path_factory: pytest.TempPathFactory) -> str:
    from convokit_core.testing._generate import generate_history

    url = f"sqlite:///{tmp_path_factory.mktemp('lastword')}/store.db"
    with open_store(url) as store:
        for batch in generate_history(400, seed=3, days=20):
            store.write(batch)
    return url


def as_json(report: Any) -> str:
    buffer = io.StringIO()
    render_json(report, buffer)
    return buffer.getvalue()


AS_OF = datetime(2024, 1, 15, tzinfo=UTC)


def test_auto_picks_columnar_and_the_findings_are_the_rules_own(
    with_form: None, traffic: str
) -> None:
    commitments = [
        Commitment(name="last", rule=LastWord()),
        Commitment(
            name="both", rule=all_of(LastWord(), first_reply("1h")).where(platform="twitter")
        ),
    ]
    assert choose_engine("auto", commitments).name == "columnar"
    python = as_json(check(traffic, commitments, as_of=AS_OF, engine="python", classifiers=[]))
    columnar = as_json(check(traffic, commitments, as_of=AS_OF, engine="columnar", classifiers=[]))
    assert columnar == python
    for status in ('"met"', '"breached"', "waits for us"):
        assert status in python


def test_without_the_plugin_form_auto_runs_python(traffic: str) -> None:
    set_plugin_manager(PluginManager(plugins=[plugin(None)], load_entry_points=False))
    try:
        choice = choose_engine("auto", [Commitment(name="last", rule=LastWord())])
        assert choice.name == "python"
        assert "rule 'last_word' has no columnar form" in choice.reason
    finally:
        set_plugin_manager(None)


def test_a_form_breaking_its_contract_is_one_clear_error(traffic: str) -> None:
    def short(rule: LastWord, batch: ColumnarBatch, ctx: RuleContext) -> ColumnarOutcomes:
        out = last_word_columns(rule, batch, ctx)
        out.columns["ev1"] = out.columns["ev1"] + batch.n_messages  # outside the batch
        return out

    set_plugin_manager(PluginManager(plugins=[plugin(short)], load_entry_points=False))
    try:
        with pytest.raises(ConfigError, match="columnar form of rule 'last_word': evidence"):
            check(traffic, [Commitment(name="last", rule=LastWord())], as_of=AS_OF,
                  engine="columnar", classifiers=[])  # fmt: skip
    finally:
        set_plugin_manager(None)
    with pytest.raises(ValueError, match="column 'elapsed' has 2 rows, expected 3"):
        ColumnarOutcomes(
            conversation=[0, 1, 2], status=["met"] * 3, subject_kind=["conversation"] * 3,
            subject=[0] * 3, started=[0] * 3, has_started=[True] * 3, deadline=[0] * 3,
            has_deadline=[False] * 3, stopped=[0] * 3, has_stopped=[False] * 3,
            elapsed=[0, 0], limit=[0] * 3, has_limit=[False] * 3,
            evidence=([-1] * 3, [-1] * 3), what="reply", label="x",
        )  # fmt: skip


def test_a_form_that_is_not_callable_is_a_plugin_error(traffic: str) -> None:
    from convokit_core import PluginError

    set_plugin_manager(PluginManager(plugins=[plugin("not a function")], load_entry_points=False))
    try:
        with pytest.raises(PluginError, match="columnar form that is not callable"):
            choose_engine("auto", [Commitment(name="last", rule=LastWord())])
    finally:
        set_plugin_manager(None)


def test_convokit_plugins_says_which_rules_run_columnar() -> None:
    """A rule registered with a columnar form is listed as such, one without is not, and
    every built-in rule is (the engine has their forms: ``LEAVES``)."""
    from click.testing import CliRunner

    from convokit_core._cli import cli
    from convokit_core._columnar._rules import LEAVES
    from convokit_core._plugins_cli import _columnar_note

    module = types.ModuleType("convokit_tworules")

    @hookimpl
    def register_rules(register: Any) -> None:
        register("last_word", lambda: LastWord(), columnar=last_word_columns)
        register("python_only", lambda: LastWord())

    module.register_rules = register_rules  # type: ignore[attr-defined]
    set_plugin_manager(PluginManager(plugins=[module], load_entry_points=False))
    try:
        runner = CliRunner()
        result = runner.invoke(cli, ["plugins", "--all", "--format", "json"])
        assert result.exit_code == 0, result.output
        infos = {p["name"]: p for p in json.loads(result.stdout)["plugins"]}
        ours = next(p for p in infos.values() if "python_only" in p["registered"].get("rules", []))
        assert ours["columnar_rules"] == ["last_word"]
        builtin = infos["policy.plugin"]
        assert builtin["columnar_rules"] == builtin["registered"]["rules"]
        assert set(builtin["columnar_rules"]) == {leaf.name for leaf in LEAVES}
        # the table (rich may wrap a cell, so its note is checked on its own)
        assert "python_only" in runner.invoke(cli, ["plugins"]).stdout
        assert _columnar_note(("last_word", "python_only"), ("last_word",)) == (
            " (columnar: last_word)"
        )
        assert _columnar_note(("a", "b"), ("a", "b")) == " (all columnar)"
        assert _columnar_note(("a",), ()) == " (none columnar)"
    finally:
        set_plugin_manager(None)
