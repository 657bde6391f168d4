"""A fake YouTube Data API v3 for tests: :class:`FakeYouTube`.

It serves the four list methods the adapter uses, in the API's own shapes, from rows
held in plain lists you may change between requests:

- ``channels?id=`` — :attr:`FakeYouTube.channel`;
- ``playlistItems?playlistId=`` — :attr:`FakeYouTube.uploads` (playlistItem resources),
  newest ``videoPublishedAt`` first, at most 50 a page;
- ``commentThreads?allThreadsRelatedToChannelId=&order=time`` —
  :attr:`FakeYouTube.threads` (commentThread resources without their ``replies`` part),
  newest top-level comment first; each embeds at most five of its replies;
- ``comments?parentId=`` — :attr:`FakeYouTube.replies` (comment resources per thread).

Page tokens are opaque, stateless offsets; ``maxResults`` is clamped to 100 (50 for
playlist items) as the API does; a bad token answers 400 ``invalidPageToken``.
Credentials: an API key in ``X-Goog-Api-Key`` (or ``key=``), or an OAuth bearer token;
anything else answers Google's 403 / 401 error bodies. :meth:`FakeYouTube.fail_next`
answers the next requests with ``quotaExceeded`` or ``rateLimitExceeded`` 403s.
It is a request handler: use it with :class:`httpx.MockTransport`, respx, or on
loopback through :func:`convokit_core.testing.serve_loopback`.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

__all__ = ["FakeYouTube", "comment", "playlist_item", "thread"]

EMBEDDED_REPLIES = 5


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def comment(
    comment_id: str,
    *,
    text: str,
    author: str | None,
    name: str,
    at: datetime,
    updated: datetime | None = None,
    parent: str | None = None,
    video: str | None = None,
    channel_id: str | None = None,
    text_original: bool = True,
) -> dict[str, Any]:
    """A comment resource (``part=snippet``) as the API returns it."""
    snippet: dict[str, Any] = {
        "authorDisplayName": name,
        "authorProfileImageUrl": "https://yt3.ggpht.example/a/default.jpg",
        "authorChannelUrl": f"http://www.youtube.com/channel/{author}" if author else "",
        "textDisplay": text.replace("&", "&amp;").replace("\n", "<br>"),
        "canRate": True,
        "viewerRating": "none",
        "likeCount": 0,
        "publishedAt": _iso(at),
        "updatedAt": _iso(updated or at),
    }
    if text_original:
        snippet["textOriginal"] = text
    if author is not None:
        snippet["authorChannelId"] = {"value": author}
    if channel_id is not None:
        snippet["channelId"] = channel_id
    if video is not None:
        snippet["videoId"] = video
    if parent is not None:
        snippet["parentId"] = parent
    return {
        "kind": "youtube#comment",
        "etag": f"etag-{comment_id}",
        "id": comment_id,
        "snippet": snippet,
    }


def thread(top: dict[str, Any], *, video: str, channel_id: str, replies: int = 0) -> dict[str, Any]:
    """A commentThread resource (``part=snippet``) around a top-level comment."""
    return {
        "kind": "youtube#commentThread",
        "etag": f"etag-thread-{top['id']}",
        "id": top["id"],
        "snippet": {
            "channelId": channel_id,
            "videoId": video,
            "topLevelComment": top,
            "canReply": True,
            "totalReplyCount": replies,
            "isPublic": True,
        },
    }


def playlist_item(
    video: str, *, title: str, at: datetime, playlist: str, channel_id: str, privacy: str = "public"
) -> dict[str, Any]:
    """A playlistItem resource (``part=snippet,contentDetails,status``) of an upload."""
    return {
        "kind": "youtube#playlistItem",
        "etag": f"etag-item-{video}",
        "id": base64.b64encode(f"{playlist}.{video}".encode()).decode("ascii"),
        "snippet": {
            "publishedAt": _iso(at + timedelta(seconds=7)),
            "channelId": channel_id,
            "title": title,
            "description": f"About {title.lower()}.",
            "channelTitle": "Acme",
            "playlistId": playlist,
            "position": 0,
            "resourceId": {"kind": "youtube#video", "videoId": video},
            "videoOwnerChannelId": channel_id,
        },
        "contentDetails": {"videoId": video, "videoPublishedAt": _iso(at)},
        "status": {"privacyStatus": privacy},
    }


def _error(status: int, reason: str, message: str, domain: str = "youtube.api") -> httpx.Response:
    body = {
        "error": {
            "code": status,
            "message": message,
            "errors": [{"message": message, "domain": domain, "reason": reason}],
        }
    }
    return httpx.Response(status, json=body)


class FakeYouTube:
    """A stateless-paging fake of the YouTube Data API v3 (see the module docstring)."""

    def __init__(
        self,
        *,
        channel_id: str,
        api_key: str | None = None,
        oauth_token: str | None = None,
        handle: str = "@acme",
        created: datetime = datetime(2015, 3, 1, 12, 0, tzinfo=UTC),
    ) -> None:
        self.channel_id = channel_id
        self.uploads_playlist = "UU" + channel_id[2:]
        self.api_key = api_key
        self.oauth_token = oauth_token
        self.channel: dict[str, Any] = {
            "kind": "youtube#channel",
            "etag": "etag-channel",
            "id": channel_id,
            "snippet": {
                "title": "Acme",
                "description": "Things we make.",
                "customUrl": handle,
                "publishedAt": _iso(created),
            },
            "contentDetails": {"relatedPlaylists": {"likes": "", "uploads": self.uploads_playlist}},
        }
        self.uploads: list[dict[str, Any]] = []
        self.threads: list[dict[str, Any]] = []
        self.replies: dict[str, list[dict[str, Any]]] = {}
        self.requests: list[httpx.Request] = []
        self._faults: list[str] = []

    # -- data --------------------------------------------------------------------------

    def add_upload(self, video: str, title: str, at: datetime, privacy: str = "public") -> None:
        """Publish a video on our channel."""
        self.uploads.append(
            playlist_item(
                video,
                title=title,
                at=at,
                playlist=self.uploads_playlist,
                channel_id=self.channel_id,
                privacy=privacy,
            )
        )

    def add_thread(self, top: dict[str, Any], video: str) -> dict[str, Any]:
        """Start a thread with a top-level comment on ``video``."""
        row = thread(top, video=video, channel_id=self.channel_id)
        self.threads.append(row)
        self.replies[top["id"]] = []
        return row

    def add_reply(self, thread_id: str, reply: dict[str, Any]) -> None:
        """Reply in a thread (``totalReplyCount`` follows)."""
        self.replies[thread_id].append(reply)
        for row in self.threads:
            if row["id"] == thread_id:
                row["snippet"]["totalReplyCount"] = len(self.replies[thread_id])

    def message_ids(self) -> set[str]:
        """Every message id the adapter should emit for the data held."""
        ids = {
            f"video:{u['contentDetails']['videoId']}"
            for u in self.uploads
            if u["status"]["privacyStatus"] != "private"
        }
        for row in self.threads:
            ids.add(row["id"])
            ids |= {r["id"] for r in self.replies.get(row["id"], [])}
        return ids

    def fail_next(self, *reasons: str) -> None:
        """Answer the next requests with 403s of these reasons (``quotaExceeded``,
        ``rateLimitExceeded``)."""
        self._faults.extend(reasons)

    # -- serving -------------------------------------------------------------------------

    def __call__(self, request: httpx.Request) -> httpx.Response:
        return self.handler(request)

    def _authorised(self, request: httpx.Request) -> bool:
        if self.api_key is not None:
            given = request.headers.get("x-goog-api-key") or request.url.params.get("key")
            if given == self.api_key:
                return True
        if self.oauth_token is not None:
            return bool(request.headers.get("authorization") == f"Bearer {self.oauth_token}")
        return False

    def handler(self, request: httpx.Request) -> httpx.Response:
        """Answer one request."""
        self.requests.append(request)
        if self._faults:
            reason = self._faults.pop(0)
            if reason == "quotaExceeded":
                return _error(
                    403,
                    reason,
                    "The request cannot be completed because you have exceeded your "
                    '<a href="/youtube/v3/getting-started#quota">quota</a>.',
                    domain="youtube.quota",
                )
            return _error(403, reason, "Rate limit exceeded.", domain="usageLimits")
        if not self._authorised(request):
            if request.headers.get("authorization"):
                return _error(401, "authError", "Invalid Credentials", domain="global")
            return _error(403, "forbidden", "Method doesn't allow unregistered callers.")
        params = request.url.params
        route = request.url.path.rstrip("/").rsplit("/", 1)[-1]
        if route == "channels":
            items = [self.channel] if params.get("id") == self.channel_id else []
            body: dict[str, Any] = {
                "kind": "youtube#channelListResponse",
                "etag": "etag-channels",
                "pageInfo": {"totalResults": len(items), "resultsPerPage": 5},
            }
            if items:
                body["items"] = items
            return httpx.Response(200, json=body)
        if route == "playlistItems":
            if params.get("playlistId") != self.uploads_playlist:
                return _error(404, "playlistNotFound", "The playlist could not be found.")
            rows = sorted(
                self.uploads,
                key=lambda u: (
                    u["contentDetails"]["videoPublishedAt"],
                    u["contentDetails"]["videoId"],
                ),
                reverse=True,
            )
            return self._page(request, "youtube#playlistItemListResponse", rows, 50)
        if route == "commentThreads":
            if params.get("allThreadsRelatedToChannelId") != self.channel_id:
                return _error(400, "invalidChannelId", "The channel ID is not valid.")
            rows = sorted(
                self.threads,
                key=lambda t: (t["snippet"]["topLevelComment"]["snippet"]["publishedAt"], t["id"]),
                reverse=True,
            )
            parts = set((params.get("part") or "").split(","))
            if "replies" in parts:
                rows = [self._with_replies(t) for t in rows]
            return self._page(request, "youtube#commentThreadListResponse", rows, 100)
        if route == "comments":
            parent = params.get("parentId")
            if parent not in self.replies:
                return _error(404, "commentNotFound", "The comment could not be found.")
            return self._page(request, "youtube#commentListResponse", self.replies[parent], 100)
        return _error(404, "notFound", "Not Found", domain="global")

    def _with_replies(self, row: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = json.loads(json.dumps(row))
        replies = self.replies.get(row["id"], [])
        if replies:
            out["replies"] = {"comments": replies[:EMBEDDED_REPLIES]}
        return out

    def _page(
        self, request: httpx.Request, kind: str, rows: list[dict[str, Any]], limit: int
    ) -> httpx.Response:
        params = request.url.params
        try:
            size = max(1, min(limit, int(params.get("maxResults", "5"))))
        except ValueError:
            return _error(400, "invalidParameter", "Invalid value for maxResults.")
        offset = 0
        token = params.get("pageToken")
        if token:
            try:
                decoded = base64.urlsafe_b64decode(token.encode("ascii")).decode("ascii")
                if not decoded.startswith("o:"):
                    raise ValueError(decoded)
                offset = int(decoded[2:])
            except (ValueError, UnicodeError):
                return _error(400, "invalidPageToken", "The page token is not valid.")
        chunk = rows[offset : offset + size]
        body: dict[str, Any] = {
            "kind": kind,
            "etag": f"etag-{offset}",
            "pageInfo": {"totalResults": len(rows), "resultsPerPage": size},
            "items": chunk,
        }
        if offset + size < len(rows):
            body["nextPageToken"] = base64.urlsafe_b64encode(f"o:{offset + size}".encode()).decode(
                "ascii"
            )
        return httpx.Response(200, json=body)
