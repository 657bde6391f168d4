"""Slack ``mrkdwn`` message text to plain text."""

from __future__ import annotations

import re
from typing import Final

__all__ = ["mrkdwn_to_text"]

_ANGLE: Final = re.compile(r"<([^<>]*)>")


def _replace(match: re.Match[str]) -> str:
    inner = match.group(1)
    target, _, label = inner.partition("|")
    if target.startswith("@"):  # a user mention: <@U0123> or <@U0123|kc>
        return "@" + (label or target[1:])
    if target.startswith("#"):  # a channel: <#C0123|support>
        return "#" + (label or target[1:])
    if target.startswith("!"):  # <!here>, <!subteam^S01|@oncall>, <!date^…|fallback>
        if label:
            return label if target.startswith(("!date", "!subteam")) else "@" + label
        return "@" + target[1:].split("^")[0]
    if target.startswith("mailto:"):
        return label or target.removeprefix("mailto:")
    if label and label != target:
        return f"{label} ({target})"
    return target


def mrkdwn_to_text(text: str) -> str:
    """``text`` with Slack's ``<…>`` entities spelled out and ``&lt; &gt; &amp;`` decoded.

    ``<@U0123>`` becomes ``@U0123``, ``<#C0123|support>`` ``#support``, ``<!here>``
    ``@here``, ``<https://acme.example|our docs>`` ``our docs (https://acme.example)``.
    Formatting marks (``*bold*``, ``_italic_``) are left as written.
    """
    out = _ANGLE.sub(_replace, text)
    return out.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
