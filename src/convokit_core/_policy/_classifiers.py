"""The built-in message classifier: keyword rules for ``complaint`` and ``question``.

Honest limits: English only; looks at words, not meaning, so sarcasm ("great, another
outage"), negation ("not disappointed at all") and domain slang fool it; it tags a
message, never a conversation; it is tuned to put a complaint in front of a human
rather than to be precise. It never touches a message whose source gave tags. Replace
it with a better classifier through ``register_classifiers`` and ``classifiers = [...]``
in the policy.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = ["KeywordClassifier"]

_MENTION = re.compile(r"(^|\s)[@#]\w+")
_URL = re.compile(r"https?://\S+")

_COMPLAINT_PATTERNS = (
    # things that do not work
    r"(?:does\s*n[o']?t|did\s*n[o']?t|is\s*n[o']?t|are\s*n[o']?t|wo\s*n[o']?t|can\s*n?[o']?t|"
    r"not)\s+(?:work|working|load|loading|connect|connecting|respond|responding|arrive|"
    r"arrived|fixed|resolved|received|help|helping|helpful)",
    r"\b(?:broken|outage|crash(?:ed|es|ing)?|keeps?\s+crashing|down\s+again|not\s+available)\b",
    r"\b(?:error|fail(?:ed|s|ing|ure)?|glitch|bug(?:gy)?)\b",
    # waiting and being ignored
    r"\bstill\s+(?:waiting|no|not|nothing|haven'?t|have\s+not|broken|down)\b",
    r"\b(?:no\s*one|nobody)\s+(?:is\s+)?(?:help|respond|answer|repl|get|cares|call)",
    r"\b(?:been|was)\s+waiting\b",
    r"\bwaiting\s+(?:for\s+)?(?:\d+|hours|days|weeks|forever|ages)\b",
    r"\b(?:ignored|ignoring|on\s+hold\s+for)\b",
    # money
    r"\b(?:over\s*charged|double\s*charged|charged\s+(?:me\s+)?twice|refund|scam(?:med)?|"
    r"rip\s*-?\s*off|ripped\s+off)\b",
    # strong negative sentiment
    r"\b(?:terrible|horrible|awful|worst|pathetic|ridiculous|unacceptable|disgusting|useless|"
    r"incompetent|rude|appalling|shocking|joke|nightmare|disgrace(?:ful)?|furious|angry|"
    r"livid|fed\s+up|sick\s+of|tired\s+of|frustrat\w*|disappoint\w*|annoy\w*|"
    r"sucks?|wtf|smh|hate)\b",
    r"\b(?:cancel+(?:ing|ed)?\s+(?:my|the)\s+(?:account|service|order|subscription|contract))\b",
    r"\b(?:lost|missing|damaged|delayed|late)\s+(?:my\s+)?(?:package|parcel|order|bag|"
    r"luggage|delivery|flight|item)s?\b",
    r"\bcomplain\w*\b",
)
_QUESTION_START = re.compile(
    r"^\s*(?:how|what|why|when|where|who|which|whom|whose|can|could|would|will|is|are|"
    r"am|do|does|did|should|shall|may|might|have|has|any\s+(?:idea|update|news|way))\b",
    re.IGNORECASE,
)
_QUESTION_PHRASES = re.compile(
    r"\b(?:any\s+(?:update|news|idea)s?|please\s+(?:advise|help|let\s+me\s+know)|"
    r"i\s+(?:was\s+)?wonder(?:ing)?|can\s+(?:you|i|someone)|how\s+(?:do|can|long|much|to))\b",
    re.IGNORECASE,
)
_COMPLAINT = re.compile("|".join(f"(?:{p})" for p in _COMPLAINT_PATTERNS), re.IGNORECASE)


class KeywordClassifier:
    """Tags texts ``complaint`` and/or ``question`` from keywords and punctuation."""

    __name__ = "keywords"

    def classify_one(self, text: str) -> tuple[str, ...]:
        """Tags of one text (use the batch call in hot paths)."""
        return self([text])[0]

    def __call__(self, texts: Sequence[str]) -> list[tuple[str, ...]]:
        out: list[tuple[str, ...]] = []
        for raw in texts:
            if not raw:
                out.append(())
                continue
            text = _URL.sub(" ", raw)
            body = _MENTION.sub(" ", text).strip()
            tags: list[str] = []
            if _COMPLAINT.search(body):
                tags.append("complaint")
            if "?" in body or _QUESTION_START.match(body) or _QUESTION_PHRASES.search(body):
                tags.append("question")
            out.append(tuple(tags))
        return out
