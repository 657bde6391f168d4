"""The adapter's resume state and its opaque string form.

``conversations.history`` lists a channel's parent messages newest first. Each channel
is read in *scans*: a scan walks from the newest parent down to the *watermark* (the
newest parent of the last completed scan), following ``next_cursor`` within one run.
After every page the state records the scan's newest and oldest ``ts`` delivered, so a
killed sync resumes the scan with ``oldest=<watermark>&latest=<oldest delivered>`` — a
range of Slack's own timestamps, which stays valid however long the pause, unlike a
stored paging token. When a scan completes, its newest ``ts`` becomes the watermark.

``threads`` remembers, for threads whose parent lies inside the look-back window, the
newest reply fetched, so a later sync re-reads a thread only when its parent's
``latest_reply`` moved.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

import attrs

from convokit_core import MalformedPayload

from ._ts import is_ts

__all__ = ["CURSOR_VERSION", "ChannelState", "State"]

CURSOR_VERSION: Final = 1


@attrs.frozen(kw_only=True)
class ChannelState:
    """How far one channel has been read.

    Attributes:
        watermark: ``ts`` of the newest parent of the last completed scan, or the
            configured ``since`` before the first one (``None``: from the beginning).
        scan_top: newest parent ``ts`` delivered by the running scan (``None``: no scan).
        scan_low: oldest parent ``ts`` delivered by the running scan; the scan resumes
            below it (``None``: no scan running).
        threads: parent ``ts`` -> newest reply ``ts`` fetched, for threads inside the
            look-back window.
    """

    watermark: str | None = None
    scan_top: str | None = None
    scan_low: str | None = None
    threads: Mapping[str, str] = attrs.field(factory=dict)

    @property
    def scanning(self) -> bool:
        """Whether a scan was under way when this state was recorded."""
        return self.scan_low is not None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.watermark is not None:
            out["w"] = self.watermark
        if self.scan_low is not None:
            out["top"] = self.scan_top
            out["low"] = self.scan_low
        if self.threads:
            out["th"] = dict(sorted(self.threads.items()))
        return out

    @classmethod
    def from_json(cls, data: object, where: str) -> ChannelState:
        if not isinstance(data, dict):
            raise ValueError(f"{where} must be an object")
        unknown = set(data) - {"w", "top", "low", "th"}
        if unknown:
            raise ValueError(f"{where} has unknown keys {sorted(unknown)}")
        for key in ("w", "top", "low"):
            if data.get(key) is not None and not is_ts(data[key]):
                raise ValueError(f"{where}.{key} is not a Slack ts: {data[key]!r}")
        if (data.get("top") is None) != (data.get("low") is None):
            raise ValueError(f"{where}: 'top' and 'low' come together")
        threads = data.get("th", {})
        if not isinstance(threads, dict) or not all(
            is_ts(k) and is_ts(v) for k, v in threads.items()
        ):
            raise ValueError(f"{where}.th must map parent ts to reply ts")
        return cls(
            watermark=data.get("w"),
            scan_top=data.get("top"),
            scan_low=data.get("low"),
            threads=dict(threads),
        )


@attrs.frozen(kw_only=True)
class State:
    """The whole resume state of a source.

    Attributes:
        team: the workspace (``team_id``) the cursor belongs to (``None``: fresh).
        channels: per channel id, how far it has been read. A channel without an entry
            has never been synced (its Channel record is still to be written).
    """

    team: str | None = None
    channels: Mapping[str, ChannelState] = attrs.field(factory=dict)

    def with_channel(self, channel: str, state: ChannelState) -> State:
        """A copy with ``channel``'s state replaced."""
        return attrs.evolve(self, channels={**self.channels, channel: state})

    def encode(self) -> str:
        """The opaque string the host stores (compact, sorted JSON)."""
        payload = {
            "v": CURSOR_VERSION,
            "team": self.team,
            "channels": {k: v.to_json() for k, v in sorted(self.channels.items())},
        }
        return json.dumps(payload, separators=(",", ":"), sort_keys=True)

    @classmethod
    def decode(cls, text: str | None) -> State:
        """Parse :meth:`encode`'s output; ``None`` is a source never synced.

        Anything else raises :class:`~convokit_core.MalformedPayload`, so a corrupted or
        foreign cursor fails the source instead of silently starting over.
        """
        if text is None:
            return cls()
        try:
            data = json.loads(text)
            if not isinstance(data, dict) or data.get("v") != CURSOR_VERSION:
                version = data.get("v") if isinstance(data, dict) else None
                raise ValueError(f"unsupported cursor version {version!r}")
            team = data.get("team")
            if team is not None and (not isinstance(team, str) or not team):
                raise ValueError("'team' must be a workspace id")
            channels = data.get("channels")
            if not isinstance(channels, dict):
                raise ValueError("'channels' must be an object")
            states = {
                str(k): ChannelState.from_json(v, f"channels.{k}") for k, v in channels.items()
            }
        except (ValueError, TypeError) as exc:
            raise MalformedPayload(
                f"stored cursor {text[:60]!r} is not a Slack cursor ({exc}); reset the "
                "source's cursor to sync it from the beginning"
            ) from None
        return cls(team=team, channels=states)
