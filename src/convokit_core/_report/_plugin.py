"""Built-in plugin: the reporters of ``convokit check``, registered like any plugin's."""

from __future__ import annotations

from collections.abc import Callable

from ..hookspecs import hookimpl
from ._reporters import render_json, render_junit, render_markdown, render_table


@hookimpl
def register_reporters(register: Callable[..., None]) -> None:
    register("table", render_table, description="rich tables for a terminal (default)")
    register("json", render_json, description="one JSON document: as_of, commitments, findings")
    register("junit", render_junit, description="JUnit XML, one test case per finding")
    register("markdown", render_markdown, description="Markdown tables for a PR or chat")
