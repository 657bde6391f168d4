"""Where a Reddit source resumes: one watermark per listing, plus a walk in progress.

Reddit lists newest first and pages backwards in time with ``after`` (the fullname of
the last item of the previous page). Each listing (stream) therefore keeps:

- ``mark``: the newest item of the last *complete* pass, as ``[created_utc, fullname]``;
  the next pass stops when it reaches an item at or before it;
- while a pass is running, ``after`` (where the next page starts) and ``top`` (the newest
  item of this pass, which becomes ``mark`` when the pass ends).

``channels`` lists the channel records already written, so a subreddit added to the
configuration later still gets its record. The cursor is a versioned JSON document;
anything else is rejected with :class:`~convokit_core.MalformedPayload`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import attrs

from convokit_core import MalformedPayload

__all__ = ["STREAMS", "Mark", "RedditCursor", "StreamState"]

VERSION = 1

STREAMS: tuple[str, ...] = ("mentions", "comment_replies", "post_replies", "comments", "posts")
"""The listings a source walks, in order."""

Mark = tuple[float, str]
"""An item's place in a newest-first listing: ``(created_utc, fullname)``."""


@attrs.frozen(kw_only=True)
class StreamState:
    """One listing's progress (see the module docstring)."""

    mark: Mark | None = None
    after: str | None = None
    top: Mark | None = None

    def reached(self, item: Mark) -> bool:
        """Whether ``item`` is at or before the watermark (already synced)."""
        return self.mark is not None and item <= self.mark

    def to_json(self) -> dict[str, Any]:
        return {
            "mark": list(self.mark) if self.mark else None,
            "after": self.after,
            "top": list(self.top) if self.top else None,
        }


def _bad(text: str, why: str) -> MalformedPayload:
    return MalformedPayload(
        f"stored cursor {text[:80]!r} is not a Reddit cursor ({why}); reset the source's "
        "cursor to sync it from the beginning"
    )


def _mark(value: Any, text: str, where: str) -> Mark | None:
    if value is None:
        return None
    if (
        isinstance(value, list)
        and len(value) == 2
        and isinstance(value[0], int | float)
        and not isinstance(value[0], bool)
        and math.isfinite(value[0])
        and isinstance(value[1], str)
        and value[1]
    ):
        return (float(value[0]), value[1])
    raise _bad(text, f"{where} must be [created_utc, fullname]")


@attrs.frozen(kw_only=True)
class RedditCursor:
    """Every stream's :class:`StreamState` and the channels already recorded."""

    streams: Mapping[str, StreamState] = attrs.field(factory=dict)
    channels: frozenset[str] = frozenset()

    def stream(self, name: str) -> StreamState:
        """The state of stream ``name`` (empty when never synced)."""
        return self.streams.get(name) or StreamState()

    def with_stream(self, name: str, state: StreamState) -> RedditCursor:
        """A copy with stream ``name`` set to ``state``."""
        return attrs.evolve(self, streams={**self.streams, name: state})

    def with_channels(self, ids: frozenset[str]) -> RedditCursor:
        """A copy that also lists ``ids`` as recorded."""
        return attrs.evolve(self, channels=self.channels | ids)

    def encode(self) -> str:
        """The opaque string the host stores."""
        return json.dumps(
            {
                "v": VERSION,
                "streams": {k: self.streams[k].to_json() for k in sorted(self.streams)},
                "channels": sorted(self.channels),
            },
            separators=(",", ":"),
        )

    @classmethod
    def decode(cls, text: str | None) -> RedditCursor:
        """Parse :meth:`encode`'s output (``None``: start from the beginning)."""
        if text is None:
            return cls()
        try:
            data = json.loads(text)
        except ValueError:
            raise _bad(text, "not JSON") from None
        if not isinstance(data, dict) or data.get("v") != VERSION:
            raise _bad(text, f"expected a JSON object with v={VERSION}")
        if set(data) - {"v", "streams", "channels"}:
            raise _bad(text, "unknown keys")
        streams = data.get("streams", {})
        channels = data.get("channels", [])
        if not isinstance(streams, dict) or not isinstance(channels, list):
            raise _bad(text, "'streams' must be an object and 'channels' a list")
        if not all(isinstance(c, str) and c for c in channels):
            raise _bad(text, "'channels' must hold channel ids")
        states: dict[str, StreamState] = {}
        for name, raw in streams.items():
            if name not in STREAMS:
                raise _bad(text, f"unknown stream {name!r}")
            if not isinstance(raw, dict) or set(raw) != {"mark", "after", "top"}:
                raise _bad(text, f"stream {name!r} must have mark, after and top")
            after = raw["after"]
            if after is not None and (not isinstance(after, str) or not after):
                raise _bad(text, f"stream {name!r}: 'after' must be a fullname or null")
            top = _mark(raw["top"], text, f"{name}.top")
            if (after is None) != (top is None):
                raise _bad(text, f"stream {name!r}: 'after' and 'top' go together")
            states[name] = StreamState(
                mark=_mark(raw["mark"], text, f"{name}.mark"), after=after, top=top
            )
        return cls(streams=states, channels=frozenset(channels))
