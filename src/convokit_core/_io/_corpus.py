"""Import a ConvoKit corpus: the directory layout of Cornell's ConvoKit data sets.

::

    corpus_directory/
      utterances.jsonl     one utterance a line: id, speaker, conversation_id, reply_to,
                           timestamp (seconds since the epoch), text, meta
      speakers.json        {speaker id: {"meta": {...}, ...}}
      conversations.json   {conversation id: {"meta": {...}, ...}}   (not needed)
      corpus.json, index.json                                        (not needed)

Utterances become messages (``conversation_id`` is the conversation, ``reply_to`` the
message replied to). Research corpora have no notion of "us", so the organisation's
speakers are named by the ``ours`` option (speaker ids) or ``ours_meta`` (a speaker
meta key that is true for them); their utterances are outbound, everyone else's
inbound. Our speakers become team members, the others stakeholders.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .._errors import ConfigError, InvalidRecord
from .._timeutil import format_datetime

__all__ = ["CORPUS_OPTIONS", "read_convokit_corpus"]

#: Options the importer takes (``convokit import DIR --format convokit-corpus
#: --option KEY=VALUE``).
CORPUS_OPTIONS: Mapping[str, str] = {
    "platform": "the platform name of the messages [default: convokit]",
    "ours": "comma list of speaker ids that speak for the organisation (outbound)",
    "ours_meta": "a speaker meta key that is true for the organisation's speakers",
}


def _speakers(directory: Path) -> dict[str, Any]:
    for name in ("speakers.json", "users.json"):  # users.json: corpora of ConvoKit < 2.3
        path = directory / name
        if path.exists():
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (ValueError, RecursionError) as exc:
                raise ConfigError(f"{path}: not a JSON object of speakers ({exc})") from None
            except UnicodeDecodeError as exc:
                raise ConfigError(f"{path}: not UTF-8 text ({exc.reason})") from None
            if not isinstance(data, dict):
                raise ConfigError(f"{path}: expected a JSON object of speakers")
            return data
    return {}


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "y", "t")
    return bool(value)


def _sent_at(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        raise InvalidRecord("no timestamp; expected seconds since the epoch", field="timestamp")
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise InvalidRecord(
            f"expected seconds since the epoch, found {value!r}", field="timestamp"
        ) from None
    if not math.isfinite(seconds):
        raise InvalidRecord(f"expected a finite timestamp, found {value!r}", field="timestamp")
    try:
        when = datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise InvalidRecord(f"timestamp {value!r} is out of range", field="timestamp") from None
    return format_datetime(when)


def _ident(value: Any, field: str) -> str:
    if isinstance(value, bool) or value is None or value == "":
        raise InvalidRecord("is required", field=field)
    if isinstance(value, int | str):
        return str(value)
    raise InvalidRecord(f"expected a string id, found {type(value).__name__}", field=field)


def read_convokit_corpus(
    directory: Path, options: Mapping[str, str]
) -> Iterator[tuple[int, dict[str, Any] | InvalidRecord]]:
    """Interchange records from a ConvoKit corpus directory, as ``(line, record)``
    pairs; line numbers are those of ``utterances.jsonl``."""
    unknown = sorted(set(options) - set(CORPUS_OPTIONS))
    if unknown:
        raise ConfigError(
            f"unknown option {unknown[0]!r} for --format convokit-corpus "
            f"(known: {', '.join(CORPUS_OPTIONS)})"
        )
    if not directory.is_dir():
        raise ConfigError(f"{directory}: expected a ConvoKit corpus directory")
    utterances = directory / "utterances.jsonl"
    if not utterances.exists():
        raise ConfigError(f"{directory}: no utterances.jsonl; not a ConvoKit corpus")
    platform = options.get("platform", "convokit").strip() or "convokit"
    speakers = _speakers(directory)
    ours = {s.strip() for s in options.get("ours", "").split(",") if s.strip()}
    meta_key = options.get("ours_meta")
    if meta_key:
        for speaker, info in speakers.items():
            meta = info.get("meta") if isinstance(info, dict) else None
            if isinstance(meta, dict) and _truthy(meta.get(meta_key)):
                ours.add(str(speaker))
    seen: set[str] = set()
    last = 0
    with utterances.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            last = number
            if not raw.strip():
                continue
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield number, InvalidRecord(f"not UTF-8 text ({exc.reason})")
                continue
            try:
                utterance = json.loads(text)
            except (ValueError, RecursionError) as exc:
                yield number, InvalidRecord(f"not a JSON object: {exc}")
                continue
            if not isinstance(utterance, dict):
                yield number, InvalidRecord("expected a JSON object (an utterance)")
                continue
            try:
                speaker = _ident(utterance.get("speaker", utterance.get("user")), "speaker")
                reply_to = utterance.get("reply_to")
                record: dict[str, Any] = {
                    "id": _ident(utterance.get("id"), "id"),
                    "platform": platform,
                    "conversation": _ident(utterance.get("conversation_id"), "conversation_id"),
                    "author": speaker,
                    "direction": "outbound" if speaker in ours else "inbound",
                    "sent_at": _sent_at(utterance.get("timestamp")),
                }
                if reply_to not in (None, ""):
                    record["in_reply_to"] = _ident(reply_to, "reply_to")
                body = utterance.get("text")
                if isinstance(body, str) and body:
                    record["text"] = body
            except InvalidRecord as exc:
                yield number, exc
                continue
            seen.add(speaker)
            yield number, record
    # Who spoke: our speakers as team members, the others as stakeholders.
    for speaker in sorted(seen):
        if speaker in ours:
            yield (
                last,
                {
                    "type": "team_member",
                    "id": speaker,
                    "handles": {platform: speaker},
                },
            )
        else:
            yield (
                last,
                {
                    "type": "stakeholder",
                    "id": speaker,
                    "kind": "unknown",
                    "identities": {platform: speaker},
                },
            )
