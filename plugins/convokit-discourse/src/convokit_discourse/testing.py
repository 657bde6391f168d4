"""A fake Discourse forum for tests and demos (never a real server).

:class:`FakeDiscourse` holds a deterministic forum in the shapes of Discourse's JSON API
and answers the routes the adapter reads: ``/site.json``; category topic lists
``/c/{slug}/{id}.json?page=N`` (pinned topics first, then by ``bumped_at``, a
``more_topics_url`` while more pages follow; subcategory topics are listed in their
parent too); topics ``/t/{id}.json`` (the first 20 posts of ``post_stream.posts`` and
every id in ``post_stream.stream``) and ``/t/{id}/posts.json?post_ids[]=…``; and mentions
``/user_actions.json?username=…&filter=7&offset=N``. With the right ``Api-Key`` and
``Api-Username`` (an admin) deleted posts and whispers are visible, as on Discourse;
anonymous requests see the public forum; a wrong key answers 403 ``invalid_access``.

Serve it through an :class:`httpx.MockTransport` (:meth:`FakeDiscourse.handler`) or over
real HTTP on loopback (:func:`serve`).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx

__all__ = ["FakeDiscourse", "serve"]

T0 = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
_JSON = {"Content-Type": "application/json; charset=utf-8"}


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _forbidden() -> tuple[int, dict[str, str], bytes]:
    body = {
        "errors": [
            "You are not permitted to view the requested resource. "
            "The API username or key is invalid."
        ],
        "error_type": "invalid_access",
    }
    return 403, dict(_JSON), json.dumps(body).encode()


def _not_found() -> tuple[int, dict[str, str], bytes]:
    body = {
        "errors": ["The requested URL or resource could not be found."],
        "error_type": "not_found",
    }
    return 404, dict(_JSON), json.dumps(body).encode()


class FakeDiscourse:
    """A deterministic forum and the routes the adapter reads.

    Args:
        topics: support topics to generate (five kinds in rotation); topic 0 is long
            (45 posts: three chunks).
        forum: the forum's base URL as links show it (with its sub-folder).
        api_key, api_username: the admin key accepted (``None``: anonymous only).
        topics_per_page: topics per category list page (Discourse: 30).
        actions_per_page: mentions per ``user_actions`` page (Discourse: 30).
    """

    def __init__(
        self,
        topics: int = 8,
        *,
        forum: str = "https://forum.example.com",
        api_key: str | None = "d1sc0urse-admin-key-0123456789abcdef",
        api_username: str = "system",
        topics_per_page: int = 30,
        actions_per_page: int = 30,
    ) -> None:
        self.forum = forum.rstrip("/")
        self.api_key = api_key
        self.api_username = api_username
        self.topics_per_page = topics_per_page
        self.actions_per_page = actions_per_page
        self.requests: list[str] = []
        self._lock = threading.Lock()
        self.categories: dict[int, dict[str, Any]] = {}
        self.users: dict[int, dict[str, Any]] = {}
        self.topics: dict[int, dict[str, Any]] = {}
        self.posts: dict[int, dict[str, Any]] = {}
        self.mentions: list[dict[str, Any]] = []
        self._next_topic = 300
        self._next_post = 9000
        self._clock = T0
        for cid, slug, name, parent in [
            (1, "uncategorized", "Uncategorized", None),
            (3, "general", "General", None),
            (5, "support", "Support", None),
            (8, "feature-requests", "Feature requests", None),
            (12, "billing", "Billing", 5),
        ]:
            self.categories[cid] = {
                "id": cid,
                "name": name,
                "color": "0088CC",
                "text_color": "FFFFFF",
                "slug": slug,
                "topic_count": 0,
                "post_count": 0,
                "position": cid,
                "description": f"<p>{name}</p>",
                "description_text": name,
                "topic_url": f"/t/about-the-{slug}-category/{cid}",
                "read_restricted": False,
                "permission": 1,
                "notification_level": 1,
                "has_children": cid == 5,
                "sort_order": "",
                "sort_ascending": None,
                "show_subcategory_list": False,
                "num_featured_topics": 3,
                "default_view": "latest",
                "subcategory_list_style": "rows_with_featured_topics",
                "default_top_period": "all",
                "minimum_required_tags": 0,
                "navigate_to_first_post_after_read": False,
                "uploaded_logo": None,
                "uploaded_background": None,
                **({"parent_category_id": parent} if parent else {}),
            }
        for uid, username, name, role in [
            (-1, "system", "system", "admin"),
            (-2, "discobot", "discobot", ""),
            (10, "acme_support", "ACME Support", ""),
            (11, "kc", "KC (ACME)", ""),
            (14, "jo_admin", "Jo", "admin"),
            (15, "mo_mod", "Mo", "moderator"),
            (21, "ana", "Ana", ""),
            (22, "bob", "Bob B.", ""),
            (23, "carol", "Carol", ""),
        ]:
            self.users[uid] = {"id": uid, "username": username, "name": name, "role": role}
        self.us, self.kc = self.users[10], self.users[11]
        self.admin, self.mod = self.users[14], self.users[15]
        customers = [self.users[21], self.users[22], self.users[23]]
        # An old pinned "about" topic stays on top of the support list.
        about = self._topic(
            5, self.users[-1], "About the Support category", T0 - timedelta(days=900)
        )
        about["pinned"] = True
        self._clock = T0
        for index in range(topics):
            self._make(index, customers[index % len(customers)])

    # -- data ------------------------------------------------------------------------------

    def _tick(self, minutes: int = 17) -> datetime:
        self._clock += timedelta(minutes=minutes, seconds=11)
        return self._clock

    def _topic(
        self,
        category: int,
        user: dict[str, Any],
        title: str,
        when: datetime | None = None,
        *,
        archetype: str = "regular",
    ) -> dict[str, Any]:
        self._next_topic += 1
        tid = self._next_topic
        slug = title.lower().replace(" ", "-").replace("?", "").replace("!", "")
        topic = {
            "id": tid,
            "title": title,
            "fancy_title": title,
            "slug": slug,
            "category_id": category,
            "archetype": archetype,
            "pinned": False,
            "closed": False,
            "posts": [],
        }
        self.topics[tid] = topic
        self._post(topic, user, f"<p>{title}</p>", when=when)
        return topic

    def _post(
        self,
        topic: dict[str, Any],
        user: dict[str, Any],
        html: str,
        *,
        reply_to: dict[str, Any] | None = None,
        when: datetime | None = None,
        post_type: int = 1,
        deleted: bool = False,
        user_deleted: bool = False,
        edited: bool = False,
        mentions: tuple[dict[str, Any], ...] = (),
    ) -> dict[str, Any]:
        self._next_post += 7
        pid = self._next_post
        moment = when or self._tick()
        number = len(topic["posts"]) + 1
        post = {
            "id": pid,
            "name": user["name"],
            "username": user["username"],
            "avatar_template": f"/user_avatar/forum/{user['username']}/{{size}}/1_2.png",
            "created_at": _iso(moment),
            "cooked": html,
            "post_number": number,
            "post_type": post_type,
            "updated_at": _iso(moment + timedelta(minutes=9) if edited else moment),
            "reply_count": 0,
            "reply_to_post_number": reply_to["post_number"] if reply_to else None,
            "quote_count": 0,
            "incoming_link_count": 0,
            "reads": 3,
            "readers_count": 2,
            "score": 0.4,
            "yours": False,
            "topic_id": topic["id"],
            "topic_slug": topic["slug"],
            "display_username": user["name"],
            "primary_group_name": None,
            "flair_name": None,
            "version": 2 if edited else 1,
            "can_edit": False,
            "can_delete": False,
            "can_recover": False,
            "can_wiki": False,
            "read": True,
            "user_title": None,
            "bookmarked": False,
            "actions_summary": [],
            "moderator": user["role"] == "moderator",
            "admin": user["role"] == "admin",
            "staff": user["role"] in ("admin", "moderator"),
            "user_id": user["id"],
            "hidden": False,
            "trust_level": 1,
            "deleted_at": _iso(moment + timedelta(hours=1)) if deleted else None,
            "user_deleted": user_deleted,
            "edit_reason": None,
            "can_view_edit_history": True,
            "wiki": False,
            "post_url": f"/t/{topic['slug']}/{topic['id']}/{number}",
        }
        if reply_to is not None:
            post["reply_to_user"] = {
                "username": reply_to["username"],
                "name": reply_to["name"],
                "avatar_template": reply_to["avatar_template"],
            }
        topic["posts"].append(post)
        self.posts[pid] = post
        for person in mentions:
            self.mentions.append(
                {
                    "excerpt": html[:60],
                    "action_type": 7,
                    "created_at": post["created_at"],
                    "avatar_template": post["avatar_template"],
                    "acting_avatar_template": post["avatar_template"],
                    "slug": topic["slug"],
                    "topic_id": topic["id"],
                    "target_user_id": person["id"],
                    "target_name": person["name"],
                    "target_username": person["username"],
                    "post_number": number,
                    "post_id": pid,
                    "reply_to_post_number": post["reply_to_post_number"],
                    "username": user["username"],
                    "name": user["name"],
                    "user_id": user["id"],
                    "acting_username": user["username"],
                    "acting_name": user["name"],
                    "acting_user_id": user["id"],
                    "title": topic["title"],
                    "deleted": False,
                    "hidden": False,
                    "post_type": post_type,
                    "action_code": None,
                    "category_id": topic["category_id"],
                    "closed": False,
                    "archived": False,
                }
            )
        return post

    def _mention(self, user: dict[str, Any]) -> str:
        return f'<a class="mention" href="/u/{user["username"]}">@{user["username"]}</a>'

    def _make(self, index: int, person: dict[str, Any]) -> None:
        kind = index % 5
        if kind == 0:  # a long support thread: three chunks of posts
            topic = self._topic(5, person, f"Sync fails after upgrade {index}")
            first = topic["posts"][0]
            answer = self._post(topic, self.us, "<p>Which version are you on?</p>", reply_to=first)
            for step in range(43):
                who = person if step % 2 == 0 else self.kc
                target = topic["posts"][-1] if step % 3 else answer
                self._post(topic, who, f"<p>Step {step}: tried again.</p>", reply_to=target)
        elif kind == 1:  # a question in billing (listed under support too), staff answers
            topic = self._topic(12, person, f"Invoice missing VAT number {index}")
            first = topic["posts"][0]
            self._post(topic, self.admin, "<p>Fixed, please re-download.</p>", reply_to=first)
            self._post(topic, self.mod, "<p>Checked the others too.</p>", post_type=4)  # whisper
            self._post(topic, person, "<p>Thanks &amp; sorry, wrong one :wink:</p>", edited=True)
            self._post(topic, self.users[-1], "", post_type=3)  # small action: closed
        elif kind == 2:  # feature request with a deleted and a user-deleted post
            topic = self._topic(8, person, f"Dark mode please {index}")
            self._post(topic, self.users[22], "<p>spam link</p>", deleted=True)
            self._post(topic, self.users[23], "<p>(post deleted by author)</p>", user_deleted=True)
            self._post(topic, self.kc, "<p>On the roadmap.</p>", reply_to=topic["posts"][0])
        elif kind == 3:  # general (not watched), but it mentions us
            topic = self._topic(3, person, f"Who makes this app {index}")
            self._post(
                topic,
                self.users[22],
                f"<p>Ask {self._mention(self.us)} they are quick</p>",
                mentions=(self.us,),
            )
            self._post(topic, self.users[-2], "<p>Hi! I am discobot.</p>")
        else:  # a private message to us
            topic = self._topic(1, person, f"Private question {index}", archetype="private_message")
            topic["category_id"] = None
            self._post(
                topic,
                person,
                f"<p>{self._mention(self.us)} can you check my account?</p>",
                mentions=(self.us,),
            )
            self._post(topic, self.us, "<p>Done.</p>", reply_to=topic["posts"][-1])

    # -- what the adapter must end up with -------------------------------------------------

    @property
    def site_key(self) -> str:
        parts = urlsplit(self.forum)
        return parts.netloc.lower() + parts.path.rstrip("/")

    def topics_in(self, categories: set[int]) -> set[int]:
        """Ids of topics listed in ``categories`` (subcategories included)."""
        wanted = set(categories) | {
            cid for cid, c in self.categories.items() if c.get("parent_category_id") in categories
        }
        return {t["id"] for t in self.topics.values() if t["category_id"] in wanted}

    def mentioned_topics(self) -> set[int]:
        return {m["topic_id"] for m in self.mentions}

    def visible_posts(self, topic: dict[str, Any], *, staff: bool) -> list[dict[str, Any]]:
        """The posts of ``topic`` that Discourse shows (deleted and whispers: staff only)."""
        return [
            p for p in topic["posts"] if staff or (p["deleted_at"] is None and p["post_type"] != 4)
        ]

    def expected_ids(
        self, categories: set[int], *, mentions: bool = True, staff: bool = True
    ) -> set[str]:
        """Every message id the adapter must yield (small actions are not messages)."""
        topics = self.topics_in(categories) | (self.mentioned_topics() if mentions else set())
        return {
            f"{self.site_key}/p/{p['id']}"
            for tid in topics
            for p in self.visible_posts(self.topics[tid], staff=staff)
            if p["post_type"] != 3
        }

    def add_reply(
        self, topic_id: int, username: str, html: str, *, when: datetime
    ) -> dict[str, Any]:
        """A new post in a topic (bumps it), as if someone just replied."""
        user = next(u for u in self.users.values() if u["username"] == username)
        with self._lock:
            return self._post(self.topics[topic_id], user, html, when=when)

    # -- HTTP ------------------------------------------------------------------------------

    def respond(
        self, method: str, url: str, headers: dict[str, str]
    ) -> tuple[int, dict[str, str], bytes]:
        """Answer one request: ``(status, headers, body)``."""
        with self._lock:
            self.requests.append(url)
        lower = {k.lower(): v for k, v in headers.items()}
        staff = False
        if "api-key" in lower:
            if self.api_key is None or lower["api-key"] != self.api_key:
                return _forbidden()
            if lower.get("api-username", "").lower() != self.api_username.lower():
                return _forbidden()
            staff = True
        if method != "GET":
            return _not_found()
        parts = urlsplit(url)
        prefix = urlsplit(self.forum).path.rstrip("/")
        if not parts.path.startswith(prefix + "/"):
            return _not_found()
        path = parts.path[len(prefix) :]
        query = parse_qsl(parts.query, keep_blank_values=True)
        params: dict[str, list[str]] = {}
        for key, value in query:
            params.setdefault(key, []).append(value)
        segments = [s for s in path.split("/") if s]
        if path == "/site.json":
            return 200, dict(_JSON), json.dumps(self._site()).encode()
        if segments and segments[0] == "c" and path.endswith(".json") and len(segments) >= 3:
            cid = segments[-1].removesuffix(".json")
            if not cid.isdigit() or int(cid) not in self.categories:
                return _not_found()
            return self._category(int(cid), params, staff)
        if len(segments) == 2 and segments[0] == "t" and segments[1].endswith(".json"):
            tid = segments[1].removesuffix(".json")
            if not tid.isdigit() or int(tid) not in self.topics:
                return _not_found()
            return self._topic_json(self.topics[int(tid)], staff)
        if len(segments) == 3 and segments[0] == "t" and segments[2] == "posts.json":
            if not segments[1].isdigit() or int(segments[1]) not in self.topics:
                return _not_found()
            topic = self.topics[int(segments[1])]
            wanted = {int(i) for i in params.get("post_ids[]", []) if i.isdigit()}
            posts = [p for p in self.visible_posts(topic, staff=staff) if p["id"] in wanted]
            body = {"post_stream": {"posts": posts}, "id": topic["id"]}
            return 200, dict(_JSON), json.dumps(body).encode()
        if path == "/user_actions.json":
            return self._actions(params, staff)
        return _not_found()

    def _site(self) -> dict[str, Any]:
        return {
            "default_archetype": "regular",
            "post_types": {"regular": 1, "moderator_action": 2, "small_action": 3, "whisper": 4},
            "trust_levels": {"newuser": 0, "basic": 1, "member": 2, "regular": 3, "leader": 4},
            "uncategorized_category_id": 1,
            "can_create_tag": False,
            "top_tags": [],
            "categories": list(self.categories.values()),
            "archetypes": [{"id": "regular", "name": "Regular Topic", "options": []}],
        }

    def _summary(self, topic: dict[str, Any], staff: bool) -> dict[str, Any]:
        posts = self.visible_posts(topic, staff=staff)
        bumping = [p for p in posts if p["post_type"] in (1, 2)] or posts
        first, last = posts[0], bumping[-1]
        return {
            "id": topic["id"],
            "title": topic["title"],
            "fancy_title": topic["fancy_title"],
            "slug": topic["slug"],
            "posts_count": len(posts),
            "reply_count": len(posts) - 1,
            "highest_post_number": posts[-1]["post_number"],
            "image_url": None,
            "created_at": first["created_at"],
            "last_posted_at": last["created_at"],
            "bumped": True,
            "bumped_at": last["created_at"],
            "archetype": topic["archetype"],
            "unseen": False,
            "pinned": topic["pinned"],
            "unpinned": None,
            "visible": True,
            "closed": topic["closed"],
            "archived": False,
            "bookmarked": None,
            "liked": None,
            "tags": [],
            "views": 12,
            "like_count": 0,
            "has_summary": False,
            "last_poster_username": last["username"],
            "category_id": topic["category_id"],
            "pinned_globally": False,
            "featured_link": None,
            "posters": [
                {
                    "extras": "latest",
                    "description": "Original Poster",
                    "user_id": first["user_id"],
                    "primary_group_id": None,
                }
            ],
        }

    def _category(
        self, cid: int, params: dict[str, list[str]], staff: bool
    ) -> tuple[int, dict[str, str], bytes]:
        try:
            page = int((params.get("page") or ["0"])[0])
        except ValueError:
            page = 0
        listed = [self._summary(self.topics[t], staff) for t in self.topics_in({cid})]
        listed = [t for t in listed if t["archetype"] == "regular"]
        pinned = sorted(
            (t for t in listed if t["pinned"]), key=lambda t: t["bumped_at"], reverse=True
        )
        rest = sorted(
            (t for t in listed if not t["pinned"]),
            key=lambda t: (t["bumped_at"], t["id"]),
            reverse=True,
        )
        ordered = pinned + rest
        size = self.topics_per_page
        chosen = ordered[page * size : (page + 1) * size]
        slug = self.categories[cid]["slug"]
        topic_list: dict[str, Any] = {
            "can_create_topic": True,
            "per_page": size,
            "top_tags": [],
            "topics": chosen,
        }
        if (page + 1) * size < len(ordered):
            topic_list["more_topics_url"] = f"/c/{slug}/{cid}/l/latest?page={page + 1}"
        users = [
            {
                "id": u["id"],
                "username": u["username"],
                "name": u["name"],
                "avatar_template": "",
                "trust_level": 1,
            }
            for u in self.users.values()
        ]
        body = {"users": users, "primary_groups": [], "flair_groups": [], "topic_list": topic_list}
        return 200, dict(_JSON), json.dumps(body).encode()

    def _topic_json(self, topic: dict[str, Any], staff: bool) -> tuple[int, dict[str, str], bytes]:
        if topic["archetype"] == "private_message" and not staff:
            return _forbidden()
        posts = self.visible_posts(topic, staff=staff)
        body = {
            "post_stream": {"posts": posts[:20], "stream": [p["id"] for p in posts]},
            "timeline_lookup": [[1, 0]],
            "suggested_topics": [],
            "tags": [],
            **{k: v for k, v in self._summary(topic, staff).items() if k not in ("posters",)},
            "word_count": 40 * len(posts),
            "deleted_at": None,
            "user_id": posts[0]["user_id"],
            "draft": None,
            "draft_key": f"topic_{topic['id']}",
            "current_post_number": 1,
            "chunk_size": 20,
            "participant_count": len({p["user_id"] for p in posts}),
            "details": {"can_edit": False, "notification_level": 1, "participants": []},
        }
        return 200, dict(_JSON), json.dumps(body).encode()

    def _actions(
        self, params: dict[str, list[str]], staff: bool
    ) -> tuple[int, dict[str, str], bytes]:
        username = (params.get("username") or [""])[0].lower()
        filters = {f for v in params.get("filter", []) for f in v.split(",")}
        try:
            offset = int((params.get("offset") or ["0"])[0])
        except ValueError:
            offset = 0
        items = [
            m
            for m in self.mentions
            if m["target_username"].lower() == username and (not filters or "7" in filters)
        ]
        if not staff:  # anonymous users do not see private messages
            items = [m for m in items if self.topics[m["topic_id"]]["archetype"] == "regular"]
        items.sort(key=lambda m: (m["created_at"], m["post_id"]), reverse=True)
        chosen = items[offset : offset + self.actions_per_page]
        return 200, dict(_JSON), json.dumps({"user_actions": chosen}).encode()

    def handler(self, request: httpx.Request) -> httpx.Response:
        """An :class:`httpx.MockTransport` handler serving this fake."""
        status, headers, body = self.respond(
            request.method, str(request.url), dict(request.headers)
        )
        return httpx.Response(status, headers=headers, content=body)


@contextmanager
def serve(fake: FakeDiscourse, host: str = "127.0.0.1") -> Iterator[str]:
    """Serve ``fake`` over real HTTP on a loopback port; yields ``http://host:port``."""

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
    thread = threading.Thread(target=server.serve_forever, name="fake-discourse", daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
