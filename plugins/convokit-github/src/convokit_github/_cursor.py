"""Where a GitHub source resumes: a watermark per repository and stream.

GitHub lists issues and issue comments oldest-update first with ``since``, which is
**inclusive** ("updated at or after"). Timestamps have second precision, so many items
can share one ``updated_at`` (a bulk label change touches hundreds of issues in the same
second). A position is therefore a pair:

``since``
    the newest ``updated_at`` stored (``None``: nothing read yet);
``seen``
    the ids of the items stored whose ``updated_at`` is exactly ``since``.

The next request asks for ``since`` again and drops every item whose ``updated_at`` is
``since`` and whose id is in ``seen``: nothing stored is yielded twice, nothing updated
later is missed (an item updated again has a newer ``updated_at``, so it is not dropped),
and resuming from the final cursor yields nothing. ``seen`` stays small: it only holds
the items of the newest second.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import attrs

from convokit_core import MalformedPayload, format_datetime, parse_datetime

__all__ = ["STREAMS", "GitHubCursor", "RepoPosition", "StreamPosition"]

VERSION = 1
STREAMS = ("issues", "comments")


@attrs.frozen(kw_only=True)
class StreamPosition:
    """How far one list (issues, or issue comments) of one repository was stored.

    Attributes:
        since: the newest ``updated_at`` stored, or ``None`` before the first item.
        seen: ids stored whose ``updated_at`` equals ``since`` (empty when ``since`` is
            ``None``).
    """

    since: datetime | None = None
    seen: frozenset[str] = frozenset()

    def is_stored(self, item_id: str, updated_at: datetime) -> bool:
        """Whether an item with this id and ``updated_at`` is already stored."""
        if self.since is None:
            return False
        return updated_at < self.since or (updated_at == self.since and item_id in self.seen)

    def after(self, items: Iterable[tuple[str, datetime]]) -> StreamPosition:
        """The position once ``items`` (``(id, updated_at)`` pairs) are stored too."""
        since, seen = self.since, set(self.seen)
        for item_id, updated in items:
            if since is None or updated > since:
                since, seen = updated, {item_id}
            elif updated == since:
                seen.add(item_id)
        return StreamPosition(since=since, seen=frozenset(seen))

    def to_json(self) -> dict[str, Any]:
        return {
            "since": format_datetime(self.since) if self.since is not None else None,
            "seen": sorted(self.seen),
        }


@attrs.frozen(kw_only=True)
class RepoPosition:
    """Both streams of one repository (present once its channel was recorded)."""

    issues: StreamPosition = StreamPosition()
    comments: StreamPosition = StreamPosition()


@attrs.frozen(kw_only=True)
class GitHubCursor:
    """The whole source's position: one :class:`RepoPosition` per repository key."""

    repos: Mapping[str, RepoPosition] = attrs.field(factory=dict)

    def with_stream(self, repo: str, stream: str, position: StreamPosition) -> GitHubCursor:
        """A copy with ``repo``'s ``stream`` at ``position``."""
        current = self.repos.get(repo, RepoPosition())
        return GitHubCursor(repos={**self.repos, repo: attrs.evolve(current, **{stream: position})})

    def with_repo(self, repo: str) -> GitHubCursor:
        """A copy in which ``repo`` is started (its channel is stored)."""
        if repo in self.repos:
            return self
        return GitHubCursor(repos={**self.repos, repo: RepoPosition()})

    def encode(self) -> str:
        """The opaque string the host stores."""
        return json.dumps(
            {
                "v": VERSION,
                "repos": {
                    key: {s: getattr(pos, s).to_json() for s in STREAMS}
                    for key, pos in sorted(self.repos.items())
                },
            },
            separators=(",", ":"),
        )

    @classmethod
    def decode(cls, text: str | None) -> GitHubCursor:
        """Parse :meth:`encode`'s output; ``None`` means from the beginning.

        Raises :class:`~convokit_core.MalformedPayload` for anything else, naming what
        is wrong: a garbage cursor never silently restarts the sync.
        """
        if text is None:
            return cls()

        def bad(why: str) -> MalformedPayload:
            return MalformedPayload(
                f"stored cursor {text[:80]!r} is not a GitHub cursor ({why}); reset the "
                "source's cursor to sync it from the beginning"
            )

        try:
            data = json.loads(text)
        except ValueError:
            raise bad("not JSON") from None
        if not isinstance(data, dict) or data.get("v") != VERSION:
            raise bad(f'expected a JSON object with "v": {VERSION}')
        repos = data.get("repos")
        if not isinstance(repos, dict) or set(data) != {"v", "repos"}:
            raise bad("expected exactly the keys 'v' and 'repos'")
        out: dict[str, RepoPosition] = {}
        for key, streams in repos.items():
            if not key or not isinstance(streams, dict) or set(streams) != set(STREAMS):
                raise bad(f"repository {key!r} must have exactly {' and '.join(STREAMS)}")
            positions: dict[str, StreamPosition] = {}
            for stream in STREAMS:
                entry = streams[stream]
                where = f"{key}.{stream}"
                if not isinstance(entry, dict) or set(entry) != {"since", "seen"}:
                    raise bad(f"{where} must have exactly 'since' and 'seen'")
                since, seen = entry["since"], entry["seen"]
                if not isinstance(seen, list) or not all(isinstance(s, str) and s for s in seen):
                    raise bad(f"{where}.seen must be a list of ids")
                if since is None:
                    if seen:
                        raise bad(f"{where}.seen must be empty when since is null")
                    positions[stream] = StreamPosition()
                    continue
                try:
                    moment = parse_datetime(since)
                except ValueError as exc:
                    raise bad(f"{where}.since: {exc}") from None
                positions[stream] = StreamPosition(since=moment, seen=frozenset(seen))
            out[key] = RepoPosition(**positions)
        return cls(repos=out)
