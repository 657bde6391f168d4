"""A fake WordPress REST API for tests and demos (never a real server).

:class:`FakeWordPress` holds a deterministic blog in the shapes of the ``wp/v2`` REST
API (Post, Comment, User) and answers the routes the adapter reads the way WordPress
does: ``page``/``per_page`` (default 10, at most 100) with ``X-WP-Total``,
``X-WP-TotalPages`` and ``Link`` headers; 400 ``rest_post_invalid_page_number`` (or
``rest_comment_invalid_page_number``) past the last page; ``orderby``/``order``
(default newest first); ``after``/``before`` read in the site's timezone when they
carry no offset, as WordPress does; ``post``/``parent``/``author`` filters; only
published posts and approved comments of type ``comment`` by default; application
passwords over HTTP basic auth (wrong credentials answer 401 even on public routes).

The default blog went quiet: its last post is long ago, comments still arrive.

Serve it through an :class:`httpx.MockTransport` (:meth:`FakeWordPress.handler`) or over
real HTTP on loopback (:func:`serve`).
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx

__all__ = ["FakeWordPress", "serve"]

_SITE_TZ = timezone(timedelta(hours=2))  # the blog's timezone: local dates differ from GMT


def _local(moment: datetime) -> str:
    return moment.astimezone(_SITE_TZ).strftime("%Y-%m-%dT%H:%M:%S")


def _gmt(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def _error(status: int, code: str, message: str) -> tuple[int, dict[str, str], bytes]:
    body = {"code": code, "message": message, "data": {"status": status}}
    return status, {"Content-Type": "application/json; charset=UTF-8"}, json.dumps(body).encode()


class FakeWordPress:
    """A deterministic blog and the REST routes the adapter reads.

    Args:
        posts: how many posts (one every 20 days, starting 2021-01-04).
        site: the blog's base URL as links show it (with its sub-path).
        username, app_password: the application password accepted (``None``: no user).
        last_comment: when the newest comment arrives; comments on old posts keep
            coming until then (the blog's posts stopped long before).
    """

    def __init__(
        self,
        posts: int = 6,
        *,
        site: str = "https://blog.example.org/news",
        username: str | None = "editor",
        app_password: str | None = "abcd EFGH 1234 ijkl MNOP 5678",
        last_comment: datetime = datetime(2026, 11, 20, 16, 45, tzinfo=UTC),
    ) -> None:
        self.site = site.rstrip("/")
        self.username = username
        self.app_password = app_password
        self.requests: list[str] = []
        self._lock = threading.Lock()
        self.users: dict[int, dict[str, Any]] = {}
        self.posts: list[dict[str, Any]] = []
        self.comments: list[dict[str, Any]] = []
        self._next_comment = 500
        for uid, slug, name in [
            (2, "marta", "Marta Lindqvist"),
            (5, "olu", "Olu Adeyemi"),
            (9, "reader-kim", "Kim Park"),
        ]:
            self.users[uid] = {
                "id": uid,
                "name": name,
                "url": "",
                "description": "",
                "link": f"{self.site}/author/{slug}/",
                "slug": slug,
                "avatar_urls": {"24": f"https://secure.gravatar.com/avatar/{uid}?s=24"},
                "meta": [],
                "_links": {"self": [{"href": f"{self.site}/wp-json/wp/v2/users/{uid}"}]},
            }
        start = datetime(2021, 1, 4, 8, 30, tzinfo=UTC)
        for index in range(posts):
            author = 2 if index % 3 != 2 else 5
            self._post(100 + index * 7, start + timedelta(days=20 * index), author, index)
        # A draft never shows publicly.
        self._post(999, start + timedelta(days=400), 2, 99, status="draft")
        self._comments(last_comment)

    # -- data ------------------------------------------------------------------------------

    def _post(
        self, pid: int, when: datetime, author: int, index: int, *, status: str = "publish"
    ) -> None:
        modified = when + timedelta(hours=3) if index % 2 else when
        slug = f"release-notes-{index + 1}"
        self.posts.append(
            {
                "id": pid,
                "date": _local(when),
                "date_gmt": _gmt(when),
                "guid": {"rendered": f"{self.site}/?p={pid}"},
                "modified": _local(modified),
                "modified_gmt": _gmt(modified),
                "slug": slug,
                "status": status,
                "type": "post",
                "link": f"{self.site}/{when:%Y/%m/%d}/{slug}/",
                "title": {"rendered": f"Release notes #{index + 1} &#8211; what&#8217;s new"},
                "content": {
                    "rendered": (
                        f"<p>Version {index + 1}.0 is out &amp; ready.</p>\n"
                        "<ul>\n<li>Faster sync</li>\n<li>Fewer bugs</li>\n</ul>\n"
                    ),
                    "protected": False,
                },
                "excerpt": {
                    "rendered": f"<p>Version {index + 1}.0 is out</p>\n",
                    "protected": False,
                },
                "author": author,
                "featured_media": 0,
                "comment_status": "open",
                "ping_status": "open",
                "sticky": False,
                "template": "",
                "format": "standard",
                "meta": {"footnotes": ""},
                "categories": [1],
                "tags": [],
                "_links": {"self": [{"href": f"{self.site}/wp-json/wp/v2/posts/{pid}"}]},
            }
        )

    def _comment(
        self,
        post: dict[str, Any],
        when: datetime,
        text: str,
        *,
        user: int = 0,
        guest: str = "",
        parent: dict[str, Any] | None = None,
        status: str = "approved",
        kind: str = "comment",
    ) -> dict[str, Any]:
        self._next_comment += 3
        cid = self._next_comment
        name = self.users[user]["name"] if user else guest
        comment = {
            "id": cid,
            "post": post["id"],
            "parent": parent["id"] if parent else 0,
            "author": user,
            "author_name": name,
            "author_url": "",
            "date": _local(when),
            "date_gmt": _gmt(when),
            "content": {"rendered": f"<p>{text}</p>\n"},
            "link": f"{post['link']}#comment-{cid}",
            "status": status,
            "type": kind,
            "author_avatar_urls": {"24": "https://secure.gravatar.com/avatar/x?s=24"},
            "meta": [],
            "_links": {"self": [{"href": f"{self.site}/wp-json/wp/v2/comments/{cid}"}]},
        }
        self.comments.append(comment)
        return comment

    def _comments(self, last: datetime) -> None:
        for index, post in enumerate(p for p in self.posts if p["status"] == "publish"):
            base = datetime.fromisoformat(post["date_gmt"]).replace(tzinfo=UTC)
            author = post["author"]
            question = self._comment(
                post, base + timedelta(hours=5), "Does this fix the login loop?", guest="Ana"
            )
            answer = self._comment(
                post,
                base + timedelta(hours=9),
                "Yes &#8211; update and log in again.",
                user=author,
                parent=question,
            )
            self._comment(
                post, base + timedelta(days=1), "Worked, thanks!", guest="Ana", parent=answer
            )
            self._comment(
                post, base + timedelta(days=2), "Great release <strong>team</strong>", user=9
            )
            if index % 2 == 0:
                # the other author answers on a colleague's post
                other = 5 if author == 2 else 2
                self._comment(post, base + timedelta(days=2, hours=1), "Thank you Kim!", user=other)
            self._comment(
                post, base + timedelta(days=3), "Buy cheap watches", guest="spam", status="spam"
            )
            self._comment(
                post, base + timedelta(days=3, hours=1), "Me too?", guest="Bo", status="hold"
            )
            self._comment(
                post,
                base + timedelta(days=4),
                "[&#8230;] linked from our site [&#8230;]",
                guest="Other Blog",
                kind="pingback",
            )
        # The blog went quiet, but readers keep asking on the last post, unanswered.
        posts = [p for p in self.posts if p["status"] == "publish"]
        if posts:
            for step in range(3):
                self._comment(
                    posts[-1],
                    last - timedelta(days=30 * (2 - step)),
                    f"Is this blog still maintained? ({step + 1})",
                    guest="Ravi" if step % 2 == 0 else "Jo",
                )

    # -- what the adapter must end up with -------------------------------------------------

    @property
    def site_key(self) -> str:
        """``host/path`` as the adapter qualifies ids."""
        parts = urlsplit(self.site)
        return parts.netloc.lower() + parts.path.rstrip("/")

    def public_posts(self) -> list[dict[str, Any]]:
        """The posts WordPress shows without special permissions."""
        return [p for p in self.posts if p["status"] == "publish"]

    def public_comments(self) -> list[dict[str, Any]]:
        """The comments WordPress lists by default (approved, type ``comment``)."""
        return [c for c in self.comments if c["status"] == "approved" and c["type"] == "comment"]

    def expected_ids(self) -> set[str]:
        """Every message id the adapter must yield."""
        return {f"{self.site_key}/posts/{p['id']}" for p in self.public_posts()} | {
            f"{self.site_key}/comments/{c['id']}" for c in self.public_comments()
        }

    def add_comment(
        self, post_id: int, when: datetime, text: str, *, guest: str = "", user: int = 0
    ) -> dict[str, Any]:
        """A new approved comment (as if a reader just wrote it)."""
        post = next(p for p in self.posts if p["id"] == post_id)
        with self._lock:
            return self._comment(post, when, text, guest=guest, user=user)

    # -- HTTP ------------------------------------------------------------------------------

    def respond(
        self, method: str, url: str, headers: dict[str, str]
    ) -> tuple[int, dict[str, str], bytes]:
        """Answer one request: ``(status, headers, body)``."""
        with self._lock:
            self.requests.append(url)
        auth = {k.lower(): v for k, v in headers.items()}.get("authorization")
        if auth is not None:
            expected = None
            if self.username and self.app_password:
                pair = f"{self.username}:{self.app_password}".encode()
                expected = "Basic " + base64.b64encode(pair).decode()
            if auth != expected:
                return _error(
                    401,
                    "incorrect_password",
                    "The provided password is an invalid application password.",
                )
        if method != "GET":
            return _error(
                405, "rest_no_route", "No route was found matching the URL and request method."
            )
        parts = urlsplit(url)
        prefix = urlsplit(self.site).path.rstrip("/") + "/wp-json/wp/v2/"
        if not parts.path.startswith(prefix):
            return 404, {"Content-Type": "text/html"}, b"<html><body>Not Found</body></html>"
        route = parts.path[len(prefix) :].rstrip("/")
        query: dict[str, str] = dict(parse_qsl(parts.query, keep_blank_values=True))
        origin = f"{parts.scheme}://{parts.netloc}"
        if route == "posts":
            return self._collection("post", self._posts(query), query, origin + parts.path)
        if route == "comments":
            return self._collection(
                "comment", self._comment_list(query), query, origin + parts.path
            )
        if route == "users":
            slugs = {s for s in query.get("slug", "").split(",") if s}
            users = [u for u in self.users.values() if not slugs or u["slug"] in slugs]
            return self._collection("user", users, query, origin + parts.path, default_order="asc")
        return _error(
            404, "rest_no_route", "No route was found matching the URL and request method."
        )

    def _bound(self, value: str) -> datetime:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        if moment.tzinfo is None:  # WordPress: no offset means the site's timezone
            moment = moment.replace(tzinfo=_SITE_TZ)
        return moment

    def _dated(self, items: list[dict[str, Any]], query: dict[str, str]) -> list[dict[str, Any]]:
        def when(item: dict[str, Any]) -> datetime:
            return datetime.fromisoformat(item["date_gmt"]).replace(tzinfo=UTC)

        if query.get("after"):
            after = self._bound(query["after"])
            items = [i for i in items if when(i) > after]
        if query.get("before"):
            before = self._bound(query["before"])
            items = [i for i in items if when(i) < before]
        return items

    def _posts(self, query: dict[str, str]) -> list[dict[str, Any]]:
        status = query.get("status", "publish")
        items = [p for p in self.posts if p["status"] == status]
        return self._dated(items, query)

    def _comment_list(self, query: dict[str, str]) -> list[dict[str, Any]]:
        status = {"approve": "approved"}.get(query.get("status", "approve"), query.get("status"))
        kind = query.get("type", "comment")
        items = [c for c in self.comments if c["status"] == status and c["type"] == kind]
        if query.get("post"):
            wanted = {int(p) for p in query["post"].split(",")}
            items = [c for c in items if c["post"] in wanted]
        if query.get("parent"):
            parents = {int(p) for p in query["parent"].split(",")}
            items = [c for c in items if c["parent"] in parents]
        return self._dated(items, query)

    def _collection(
        self,
        kind: str,
        items: list[dict[str, Any]],
        query: dict[str, str],
        url: str,
        *,
        default_order: str = "desc",
    ) -> tuple[int, dict[str, str], bytes]:
        try:
            page = int(query.get("page", "1"))
            per_page = int(query.get("per_page", "10"))
        except ValueError:
            return _error(400, "rest_invalid_param", "Invalid parameter(s): page, per_page")
        if page < 1:
            return _error(400, "rest_invalid_param", "Invalid parameter(s): page")
        if not 1 <= per_page <= 100:
            return _error(400, "rest_invalid_param", "Invalid parameter(s): per_page")
        orderby = query.get("orderby", "date_gmt" if kind == "comment" else "date")
        if orderby in ("date", "date_gmt"):
            items = sorted(items, key=lambda i: (i.get("date_gmt", ""), i["id"]))
        elif orderby == "id":
            items = sorted(items, key=lambda i: i["id"])
        else:
            return _error(400, "rest_invalid_param", "Invalid parameter(s): orderby")
        if query.get("order", default_order) == "desc":
            items.reverse()
        total = len(items)
        pages = (total + per_page - 1) // per_page
        if page > pages and total > 0:
            return _error(
                400,
                f"rest_{kind}_invalid_page_number",
                "The page number requested is larger than the number of pages available.",
            )
        chosen = items[(page - 1) * per_page : page * per_page]
        headers = {
            "Content-Type": "application/json; charset=UTF-8",
            "X-WP-Total": str(total),
            "X-WP-TotalPages": str(pages),
        }
        links = []
        if page > 1:
            links.append(f'<{url}?{urlencode({**query, "page": page - 1})}>; rel="prev"')
        if page < pages:
            links.append(f'<{url}?{urlencode({**query, "page": page + 1})}>; rel="next"')
        if links:
            headers["Link"] = ", ".join(links)
        return 200, headers, json.dumps(chosen).encode()

    def handler(self, request: httpx.Request) -> httpx.Response:
        """An :class:`httpx.MockTransport` handler serving this fake."""
        status, headers, body = self.respond(
            request.method, str(request.url), dict(request.headers)
        )
        return httpx.Response(status, headers=headers, content=body)


@contextmanager
def serve(fake: FakeWordPress, host: str = "127.0.0.1") -> Iterator[str]:
    """Serve ``fake`` over real HTTP on a loopback port; yields ``http://host:port``.

    The fake's ``site`` path is kept: the blog lives at ``http://host:port/<path>``.
    """

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            origin = f"http://{self.headers.get('Host') or host}"
            status, headers, body = fake.respond(
                "GET", origin + self.path, dict(self.headers.items())
            )
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer((host, 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="fake-wordpress", daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
