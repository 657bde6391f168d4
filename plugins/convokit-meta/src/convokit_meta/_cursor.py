"""The resume state of a Facebook or Instagram source, and its opaque string form.

Each *surface* (posts, Messenger, media, direct) has roots (a post, a medium, a
conversation) listed newest first, and children under each root (comments, messages).
A sync is a *pass* over a surface's roots from the newest down to a horizon:

- ``w`` (watermark) is the newest root time of the last completed pass; the horizon is
  ``w - lookback`` (the configured ``since`` before the first pass, else the beginning);
- ``seen`` maps each root read inside the window to ``[root time, newest child key]``,
  where a child key is ``"<ISO time>|<id>"``: only children after it are new.

After each root the state is saved, so a sync killed mid-pass resumes by listing from
the top again and skipping what ``seen`` already covers. When a pass completes, ``w``
rises to its newest root and ``seen`` forgets roots that fell out of the window.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

import attrs

from convokit_core import MalformedPayload, format_datetime, parse_datetime

__all__ = ["CURSOR_VERSION", "State", "SurfaceState", "child_key"]

CURSOR_VERSION: Final = 1


def child_key(at: datetime, item_id: str) -> str:
    """``"<ISO time>|<id>"``; compared as ``(time, id)`` by :func:`key_order`."""
    return f"{format_datetime(at)}|{item_id}"


def key_order(key: str) -> tuple[datetime, str]:
    """The ``(time, id)`` a child key stands for (``ValueError`` if it is not one)."""
    at, sep, item_id = key.partition("|")
    if not sep or not item_id:
        raise ValueError(f"{key[:60]!r} is not a '<time>|<id>' key")
    return parse_datetime(at), item_id


@attrs.frozen(kw_only=True)
class SurfaceState:
    """How far one surface has been read (see the module docstring)."""

    watermark: datetime | None = None
    seen: Mapping[str, tuple[datetime, str | None]] = attrs.field(factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "w": format_datetime(self.watermark) if self.watermark else None,
            "seen": {k: [format_datetime(t), c] for k, (t, c) in sorted(self.seen.items())},
        }

    @classmethod
    def from_json(cls, data: object, where: str) -> SurfaceState:
        if not isinstance(data, dict) or set(data) != {"w", "seen"}:
            raise ValueError(f"{where} must be an object with 'w' and 'seen'")
        w = data["w"]
        if w is not None and not isinstance(w, str):
            raise ValueError(f"{where}.w must be a time")
        watermark = parse_datetime(w) if w is not None else None
        raw = data["seen"]
        if not isinstance(raw, dict):
            raise ValueError(f"{where}.seen must be an object")
        seen: dict[str, tuple[datetime, str | None]] = {}
        for root, entry in raw.items():
            if (
                not root
                or not isinstance(entry, list)
                or len(entry) != 2
                or not isinstance(entry[0], str)
                or not (entry[1] is None or isinstance(entry[1], str))
            ):
                raise ValueError(f"{where}.seen[{root[:40]!r}] must be [time, key or null]")
            if entry[1] is not None:
                key_order(entry[1])
            seen[root] = (parse_datetime(entry[0]), entry[1])
        return cls(watermark=watermark, seen=seen)


@attrs.frozen(kw_only=True)
class State:
    """The whole resume state of one source.

    Attributes:
        account: the Page or Instagram account id the cursor belongs to (``None``:
            never synced; its Channel record is still to be written).
        surfaces: per surface name, how far it has been read.
    """

    account: str | None = None
    surfaces: Mapping[str, SurfaceState] = attrs.field(factory=dict)

    def with_surface(self, name: str, state: SurfaceState) -> State:
        return attrs.evolve(self, surfaces={**self.surfaces, name: state})

    def encode(self) -> str:
        """Compact, sorted JSON: the string the host stores."""
        payload = {
            "v": CURSOR_VERSION,
            "account": self.account,
            "surfaces": {k: v.to_json() for k, v in sorted(self.surfaces.items())},
        }
        return json.dumps(payload, separators=(",", ":"), sort_keys=True)

    @classmethod
    def decode(cls, text: str | None, *, platform: str) -> State:
        """Parse :meth:`encode`'s output; ``None`` is a source never synced.

        Anything else raises :class:`~convokit_core.MalformedPayload`: a corrupted or
        foreign cursor fails the source instead of silently starting over.
        """
        if text is None:
            return cls()
        try:
            data = json.loads(text)
            if not isinstance(data, dict) or data.get("v") != CURSOR_VERSION:
                version = data.get("v") if isinstance(data, dict) else None
                raise ValueError(f"unsupported cursor version {version!r}")
            if set(data) != {"v", "account", "surfaces"}:
                raise ValueError("unexpected keys")
            account = data["account"]
            if account is not None and (not isinstance(account, str) or not account):
                raise ValueError("'account' must be an id")
            surfaces = data["surfaces"]
            if not isinstance(surfaces, dict):
                raise ValueError("'surfaces' must be an object")
            states = {
                str(k): SurfaceState.from_json(v, f"surfaces.{k}") for k, v in surfaces.items()
            }
        except (ValueError, TypeError, AttributeError) as exc:
            raise MalformedPayload(
                f"stored cursor {text[:40]!r} is not a {platform} cursor ({exc}); reset the "
                "source's cursor to sync it from the beginning"
            ) from None
        return cls(account=account, surfaces=states)
