"""Secrets: the rules a secret value must follow, and scrubbing it from text.

A *secret* is the value of a config field marked ``metadata={"secret": True}`` or of a
secret header given to :class:`~convokit_core.HttpClient`. Rules (checked when the
config is loaded, so a bad secret is a :class:`~convokit_core.ConfigError`, exit 2):

- at least :data:`MIN_SECRET_LENGTH` (8) characters: a shorter value cannot be removed
  from output without mangling ordinary text (a token ``t`` would turn ``http`` into
  ``h***p``);
- no control characters (C0 ``U+0000`` to ``U+001F``, DEL ``U+007F``, C1
  ``U+0080`` to ``U+009F``): a CR or LF in a token would split header and log lines and
  reach output escaped, where a plain search for the value no longer finds it.

Scrubbing (:func:`scrub`, :meth:`Scrubber.scrub`) replaces every whole occurrence of a
secret's *forms* by ``***``: the raw value, its percent-encodings (``quote`` with and
without ``/`` kept, ``quote_plus``, upper- and lower-case hex), its JSON and ``repr``
escapes, and its base64 encodings (standard and URL-safe alphabets, at each of the
three byte alignments, so the secret is also found inside a longer base64 text such as
the basic-auth ``user:secret``). Longer forms are replaced first; one regular expression
does it in a single pass, so a replacement never produces text that is then matched
again.

Secrets are also *registered* process-wide (:func:`register_secrets`, done by
``load_sources`` and :class:`~convokit_core.HttpClient`). Registered secrets are removed
from the message of every :class:`~convokit_core.ConvokitError` (its ``str``, hence
also from printed tracebacks) and, through :class:`ScrubbingFilter`, from every record
of the ``convokit`` loggers: message, arguments, exception traceback and stack.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
import traceback
import urllib.parse
from collections.abc import Iterable
from typing import Final

__all__ = [
    "MIN_SECRET_LENGTH",
    "REDACTED",
    "Scrubber",
    "ScrubbingFilter",
    "check_secret",
    "install_log_scrubbing",
    "register_secrets",
    "registered_scrubber",
    "scrub",
    "scrubbed_traceback",
    "secret_forms",
]

MIN_SECRET_LENGTH: Final = 8
"""The shortest secret accepted."""

REDACTED: Final = "***"

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def check_secret(value: str, what: str) -> None:
    """Raise :class:`ValueError` when ``value`` breaks a secret rule.

    The message names ``what`` (e.g. ``"'token'"``) and never contains the value.
    Callers turn it into a :class:`~convokit_core.ConfigError` with the file and line.
    """
    if len(value) < MIN_SECRET_LENGTH:
        raise ValueError(
            f"{what} is too short: a secret must have at least {MIN_SECRET_LENGTH} "
            f"characters (found {len(value)}), or it could not be removed from output "
            "safely"
        )
    found = _CONTROL.search(value)
    if found is not None:
        raise ValueError(
            f"{what} contains the control character U+{ord(found.group()):04X} at "
            f"position {found.start() + 1}; secrets must not contain control characters "
            "(CR, LF, NUL, any C0/C1 control or DEL)"
        )


def _b64_cores(data: bytes) -> set[str]:
    """The base64 text that ``data`` produces wherever it sits in a longer input.

    For each of the three byte alignments, the characters whose 6 bits all come from
    ``data`` (the edges depend on the neighbouring bytes and are left out).
    """
    cores: set[str] = set()
    for offset in range(3):
        encoded = base64.b64encode(bytes(offset) + data).decode("ascii").rstrip("=")
        first = -(-offset * 8 // 6)  # ceil(offset*8/6): first char fully inside data
        last = ((offset + len(data)) * 8) // 6  # chars entirely before the end of data
        core = encoded[first:last]
        if len(core) >= MIN_SECRET_LENGTH:
            cores.add(core)
    # The whole value encoded on its own (with and without padding).
    cores.add(base64.b64encode(data).decode("ascii"))
    cores |= {c.translate(_URLSAFE) for c in cores}
    return cores


_URLSAFE: Final = str.maketrans("+/", "-_")


def secret_forms(value: str) -> frozenset[str]:
    """Every form of ``value`` that scrubbing removes (see the module docstring)."""
    if not value:
        return frozenset()
    forms = {value}
    for quoted in (
        urllib.parse.quote(value, safe=""),
        urllib.parse.quote(value),
        urllib.parse.quote_plus(value),
        urllib.parse.quote_plus(value, safe=""),
    ):
        forms.add(quoted)
        forms.add(re.sub(r"%[0-9A-F]{2}", lambda m: m.group().lower(), quoted))
    forms.add(json.dumps(value)[1:-1])
    forms.add(json.dumps(value, ensure_ascii=False)[1:-1])
    forms.add(repr(value)[1:-1])
    forms |= _b64_cores(value.encode("utf-8"))
    return frozenset(f for f in forms if f)


class Scrubber:
    """Removes the forms of a set of secrets from text (immutable once built)."""

    __slots__ = ("_pattern",)

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        forms: set[str] = set()
        for secret in secrets:
            if secret:
                forms |= secret_forms(secret)
        self._pattern: re.Pattern[str] | None = (
            re.compile("|".join(re.escape(f) for f in sorted(forms, key=lambda f: (-len(f), f))))
            if forms
            else None
        )

    def __bool__(self) -> bool:
        return self._pattern is not None

    def scrub(self, text: str) -> str:
        """``text`` with every whole occurrence of a secret form replaced by ``***``."""
        if self._pattern is None or not text:
            return text
        return self._pattern.sub(REDACTED, text)

    def __repr__(self) -> str:
        return "<Scrubber>"


_lock = threading.Lock()
_registered: set[str] = set()
_scrubber = Scrubber()


def register_secrets(secrets: Iterable[str]) -> None:
    """Add ``secrets`` to the process-wide set scrubbed from errors and log records.

    Also (re)installs :class:`ScrubbingFilter` on the ``convokit`` loggers, so loggers
    created since the last call are covered.
    """
    global _scrubber
    new = {s for s in secrets if s} - _registered
    if new:
        with _lock:
            _registered.update(new)
            _scrubber = Scrubber(_registered)
    install_log_scrubbing()


def registered_scrubber() -> Scrubber:
    """The scrubber of every registered secret."""
    return _scrubber


def scrub(text: str, extra: Iterable[str] = ()) -> str:
    """``text`` without any registered secret nor any of ``extra``."""
    extra = [s for s in extra if s and s not in _registered]
    text = _scrubber.scrub(text)
    return Scrubber(extra).scrub(text) if extra else text


def scrubbed_traceback(exc: BaseException) -> str:
    """The formatted traceback of ``exc`` (with its chained causes), scrubbed."""
    return scrub("".join(traceback.format_exception(exc)))


class ScrubbingFilter(logging.Filter):
    """Scrubs registered secrets from a log record before any handler sees it.

    The message is rendered (``msg % args``) and scrubbed, and ``args`` cleared; an
    exception is formatted into ``exc_text`` and scrubbed, and ``exc_info`` cleared, so
    a handler cannot format the raw exception again. Never drops a record.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if not _scrubber:
            return True
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: keep what there is, scrubbed
            message = f"{record.msg!s} {record.args!r}"
        record.msg = _scrubber.scrub(message)
        record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = _scrubber.scrub(
                "".join(traceback.format_exception(record.exc_info[1])).rstrip("\n")
            )
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = _scrubber.scrub(record.exc_text)
        if record.stack_info:
            record.stack_info = _scrubber.scrub(record.stack_info)
        return True


_FILTER: Final = ScrubbingFilter()


_FAMILIES: Final = ("convokit", "httpx", "httpcore")


def install_log_scrubbing() -> None:
    """Put :class:`ScrubbingFilter` on the ``convokit`` logger and every ``convokit.*``
    logger that exists now, and on their handlers; also on ``httpx`` and ``httpcore``
    (which log request URLs at INFO/DEBUG when an application turns them on).

    Logger filters do not apply to records propagated from child loggers, hence one on
    each logger of the family; the handlers get it too so records reaching them from a
    logger created later are still scrubbed.
    """
    manager = logging.Logger.manager
    with _lock:
        names = [
            n
            for n in list(manager.loggerDict)
            if any(n == family or n.startswith(family + ".") for family in _FAMILIES)
        ]
        for name in dict.fromkeys([*_FAMILIES, *names]):
            logger = logging.getLogger(name)
            if _FILTER not in logger.filters:
                logger.addFilter(_FILTER)
            for handler in logger.handlers:
                if _FILTER not in handler.filters:
                    handler.addFilter(_FILTER)
