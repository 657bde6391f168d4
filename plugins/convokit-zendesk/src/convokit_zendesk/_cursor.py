"""The adapter's resume state and its opaque string form.

The incremental ticket export hands out an ``after_cursor`` with every page, also with
the last one (``end_of_stream: true``): passing it back as ``cursor=`` returns the
tickets updated since. The state is that export cursor, plus the ``start_time`` the
first request used (kept so a cursor names the export it belongs to), plus the instance
(a cursor of another account is refused).
"""

from __future__ import annotations

import json
import re
from typing import Final

import attrs

from convokit_core import MalformedPayload

__all__ = ["CURSOR_VERSION", "State", "valid_export_cursor"]

CURSOR_VERSION: Final = 1
_EXPORT_CURSOR: Final = re.compile(r"^[A-Za-z0-9+/=_.%~-]{1,4096}$")


def valid_export_cursor(value: object) -> bool:
    """Whether ``value`` looks like a Zendesk export cursor (an opaque base64 token)."""
    return isinstance(value, str) and bool(_EXPORT_CURSOR.match(value))


@attrs.frozen(kw_only=True)
class State:
    """How far the export has been read.

    Attributes:
        instance: the account the cursor belongs to.
        start_time: epoch seconds of the first export request.
        after: the export's ``after_cursor`` to resume from (``None``: not started).
    """

    instance: str
    start_time: int = 0
    after: str | None = None

    def encode(self) -> str:
        """The opaque string the host stores (compact, sorted JSON)."""
        payload = {"v": CURSOR_VERSION, "i": self.instance, "t": self.start_time, "a": self.after}
        return json.dumps(payload, separators=(",", ":"), sort_keys=True)

    @classmethod
    def decode(cls, text: str | None, *, instance: str, start_time: int) -> State:
        """Parse :meth:`encode`'s output; ``None`` is a source never synced.

        Anything else raises :class:`~convokit_core.MalformedPayload`, so a corrupted or
        foreign cursor fails the source instead of silently starting over.
        """
        if text is None:
            return cls(instance=instance, start_time=start_time)
        try:
            data = json.loads(text)
            if not isinstance(data, dict) or data.get("v") != CURSOR_VERSION:
                version = data.get("v") if isinstance(data, dict) else None
                raise ValueError(f"unsupported cursor version {version!r}")
            if set(data) != {"v", "i", "t", "a"}:
                raise ValueError("unexpected keys")
            if data["i"] != instance:
                raise ValueError("it belongs to another Zendesk account")
            start = data["t"]
            if not isinstance(start, int) or isinstance(start, bool) or start < 0:
                raise ValueError("'t' must be epoch seconds")
            after = data["a"]
            if after is not None and not valid_export_cursor(after):
                raise ValueError("'a' is not an export cursor")
        except (ValueError, TypeError) as exc:
            raise MalformedPayload(
                f"stored cursor {text[:40]!r} is not a Zendesk cursor ({exc}); reset the "
                "source's cursor to sync it from the beginning"
            ) from None
        return cls(instance=instance, start_time=start, after=after)
