"""Built-in plugin: the reporters of ``convokit check``, registered like any plugin's."""

from __future__ import annotations

from collections.abc import Callable

from ..hookspecs import hookimpl
from ._reporters import FAILING, render_json, render_junit, render_markdown, render_table


@hookimpl
def register_reporters(register: Callable[..., None]) -> None:
    """The built-in formats. ``default_only`` (an option any reporter may register)
    names the statuses ``convokit check`` keeps when ``--only`` is not given."""
    register(
        "table",
        render_table,
        description="rich tables for a terminal (default): summaries and failing findings",
        default_only=FAILING,
    )
    register("json", render_json, description="one JSON document: as_of, commitments, findings")
    register(
        "junit",
        render_junit,
        description="JUnit XML: a test case per failing finding; failures match --fail-on",
        default_only=FAILING,
    )
    register(
        "markdown",
        render_markdown,
        description="Markdown tables for a PR or chat: summaries and failing findings",
        default_only=FAILING,
    )
