"""A fake GitHub REST API for the tests: GitHub's shapes, paging and filters.

It serves ``GET /repos/{o}/{r}``, ``/repos/{o}/{r}/issues``, ``/repos/{o}/{r}/issues/comments``
and ``/repos/{o}/{r}/issues/{n}/events`` the way GitHub does:

- ``state`` defaults to ``open`` (so an adapter that forgets ``state=all`` misses
  closed issues); ``since`` is inclusive ("updated at or after");
- ``sort=updated&direction=asc`` orders by ``updated_at`` (ties in id order);
- ``page``/``per_page`` (default 30, at most 100) with a ``Link`` header whose URLs,
  like GitHub's, use ``/repositories/{id}/…`` rather than the path that was asked;
- rate-limit headers on every answer; 401 ``Bad credentials`` without the token.

``respond`` is the transport-independent core; ``handler`` wraps it for
``httpx.MockTransport`` and ``serve`` for a loopback HTTP server.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx

FIXTURES = Path(__file__).parent / "fixtures"
TOKEN = "ghp_FakeTokenForTests0123456789abcdef"
API = "https://api.github.com"
WEB = "https://github.com"


def load(name: str) -> Any:
    """A JSON fixture from ``tests/fixtures``."""
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


# -- builders in GitHub's shapes (for generated data sets) ---------------------------------


def user(login: str, uid: int, *, bot: bool = False) -> dict[str, Any]:
    return {
        "login": login,
        "id": uid,
        "node_id": f"U_kgDO{uid:06d}",
        "avatar_url": f"https://avatars.githubusercontent.com/u/{uid}?v=4",
        "gravatar_id": "",
        "url": f"{API}/users/{login}",
        "html_url": f"{WEB}/{login.removesuffix('[bot]')}",
        "type": "Bot" if bot else "User",
        "site_admin": False,
    }


def issue(
    repo: str,
    number: int,
    who: dict[str, Any],
    title: str,
    *,
    created: str,
    updated: str,
    association: str = "NONE",
    body: str | None = "",
    state: str = "open",
    state_reason: str | None = None,
    closed: str | None = None,
    labels: tuple[str, ...] = (),
    pull: bool = False,
    merged: str | None = None,
) -> dict[str, Any]:
    base = f"{API}/repos/{repo}/issues/{number}"
    kind = "pull" if pull else "issues"
    data: dict[str, Any] = {
        "url": base,
        "repository_url": f"{API}/repos/{repo}",
        "labels_url": base + "/labels{/name}",
        "comments_url": base + "/comments",
        "events_url": base + "/events",
        "html_url": f"{WEB}/{repo}/{kind}/{number}",
        "id": 2_000_000_000 + number,
        "node_id": f"I_kwDOAbc{number:05d}",
        "number": number,
        "title": title,
        "user": who,
        "labels": [
            {
                "id": 7_000 + i,
                "node_id": f"LA_kwDO{i:04d}",
                "url": f"{API}/repos/{repo}/labels/{name}",
                "name": name,
                "color": "d73a4a",
                "default": False,
                "description": "",
            }
            for i, name in enumerate(labels)
        ],
        "state": state,
        "locked": False,
        "assignee": None,
        "assignees": [],
        "milestone": None,
        "comments": 0,
        "created_at": created,
        "updated_at": updated,
        "closed_at": closed,
        "author_association": association,
        "active_lock_reason": None,
        "body": body,
        "closed_by": None,
        "reactions": {"url": base + "/reactions", "total_count": 0, "+1": 0, "-1": 0},
        "timeline_url": base + "/timeline",
        "performed_via_github_app": None,
        "state_reason": state_reason,
    }
    if pull:
        data["draft"] = False
        data["pull_request"] = {
            "url": f"{API}/repos/{repo}/pulls/{number}",
            "html_url": f"{WEB}/{repo}/pull/{number}",
            "diff_url": f"{WEB}/{repo}/pull/{number}.diff",
            "patch_url": f"{WEB}/{repo}/pull/{number}.patch",
            "merged_at": merged,
        }
    return data


def comment(
    repo: str,
    cid: int,
    number: int,
    who: dict[str, Any],
    body: str,
    *,
    created: str,
    updated: str | None = None,
    association: str = "NONE",
    pull: bool = False,
) -> dict[str, Any]:
    kind = "pull" if pull else "issues"
    return {
        "url": f"{API}/repos/{repo}/issues/comments/{cid}",
        "html_url": f"{WEB}/{repo}/{kind}/{number}#issuecomment-{cid}",
        "issue_url": f"{API}/repos/{repo}/issues/{number}",
        "id": cid,
        "node_id": f"IC_kwDO{cid:08d}",
        "user": who,
        "created_at": created,
        "updated_at": updated or created,
        "author_association": association,
        "body": body,
        "reactions": {"url": "", "total_count": 0, "+1": 0, "-1": 0},
        "performed_via_github_app": None,
    }


def repository(full_name: str, rid: int, *, created: str) -> dict[str, Any]:
    owner, _, name = full_name.partition("/")
    return {
        "id": rid,
        "node_id": f"R_kgDO{rid:06d}",
        "name": name,
        "full_name": full_name,
        "private": False,
        "owner": user(owner, 90_000 + rid % 1000) | {"type": "Organization"},
        "html_url": f"{WEB}/{full_name}",
        "description": "Widgets for everyone",
        "fork": False,
        "url": f"{API}/repos/{full_name}",
        "created_at": created,
        "updated_at": created,
        "pushed_at": created,
        "has_issues": True,
        "has_discussions": False,
        "open_issues_count": 0,
        "visibility": "public",
        "default_branch": "main",
    }


def stamp(minutes: int) -> str:
    """2026-03-01T00:00:00Z plus ``minutes``, in GitHub's format."""
    moment = datetime(2026, 3, 1, tzinfo=UTC).timestamp() + 60 * minutes
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- the server --------------------------------------------------------------------------


class RepoData:
    """One repository's payloads."""

    def __init__(
        self,
        repo: dict[str, Any],
        issues: list[dict[str, Any]],
        comments: list[dict[str, Any]],
        events: dict[str, list[dict[str, Any]]] | None = None,
    ) -> None:
        self.repo = repo
        self.issues = issues
        self.comments = comments
        self.events = events or {}


def _parse(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class FakeGitHub:
    """Serves fixed repositories; counts requests. Stateless across runs."""

    def __init__(self, repos: list[RepoData], *, token: str = TOKEN, api: str = API) -> None:
        self.repos = {r.repo["full_name"].lower(): r for r in repos}
        self.by_id = {str(r.repo["id"]): r for r in repos}
        self.token = token
        self.api = api.rstrip("/")
        self.requests: list[tuple[str, dict[str, str]]] = []
        self._lock = threading.Lock()

    @classmethod
    def scenario(cls, **kw: Any) -> FakeGitHub:
        """``acme/widgets`` from the hand-written fixtures."""
        events = load("events_widgets_6.json")
        return cls(
            [
                RepoData(
                    load("repo_widgets.json"),
                    load("issues_widgets.json"),
                    load("comments_widgets.json"),
                    {"6": events},
                )
            ],
            **kw,
        )

    @classmethod
    def generated(cls, repos: int = 2, issues: int = 7, **kw: Any) -> FakeGitHub:
        """Generated repositories: issues, a few pull requests, comments, ties."""
        ana, kc = user("ana", 101), user("kc", 102)
        bot = user("dependabot[bot]", 49_699_333, bot=True)
        data = []
        for r in range(repos):
            name = f"acme/repo{r}"
            items, notes = [], []
            for n in range(1, issues + 1):
                pull = n % 3 == 0
                # Every second pair shares one updated_at second: ties across pages.
                updated = stamp(100 * r + (n // 2) * 2)
                items.append(
                    issue(
                        name,
                        n,
                        bot if pull else ana,
                        f"Issue {n} of {name}",
                        created=stamp(100 * r + n - 50),
                        updated=updated,
                        body=f"Body of {n}",
                        pull=pull,
                    )
                )
                for k in range(n % 3):
                    cid = 10_000 * (r + 1) + 10 * n + k
                    notes.append(
                        comment(
                            name,
                            cid,
                            n,
                            kc if k == 0 else ana,
                            f"Comment {k} on {n}",
                            created=stamp(100 * r + n + k),
                            association="MEMBER" if k == 0 else "NONE",
                            pull=pull,
                        )
                    )
            data.append(
                RepoData(repository(name, 500 + r, created="2020-01-01T00:00:00Z"), items, notes)
            )
        return cls(data, **kw)

    # -- what the adapter should see -------------------------------------------------------

    def expected_ids(self, *, pulls: bool = True, host: str | None = None) -> set[str]:
        ids: set[str] = set()
        for key, data in self.repos.items():
            prefix = key if host is None else f"{host}/{key}"
            pr = {str(i["number"]) for i in data.issues if i.get("pull_request")}
            for item in data.issues:
                if pulls or str(item["number"]) not in pr:
                    ids.add(f"{prefix}#{item['number']}")
            for note in data.comments:
                number = note["issue_url"].rsplit("/", 1)[1]
                if pulls or number not in pr:
                    ids.add(f"{prefix}#{number}/comments/{note['id']}")
        return ids

    # -- HTTP ------------------------------------------------------------------------------

    def _headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = {
            "content-type": "application/json; charset=utf-8",
            "x-github-api-version-selected": "2022-11-28",
            "x-ratelimit-limit": "5000",
            "x-ratelimit-remaining": "4999",
            "x-ratelimit-reset": "1772330400",
            "x-ratelimit-used": "1",
            "x-ratelimit-resource": "core",
        }
        headers.update(extra or {})
        return headers

    def _error(self, status: int, message: str) -> tuple[int, dict[str, str], bytes]:
        body = {"message": message, "documentation_url": "https://docs.github.com/rest"}
        return status, self._headers(), json.dumps(body).encode()

    def respond(
        self, method: str, url: str, headers: dict[str, str]
    ) -> tuple[int, dict[str, str], bytes]:
        """Answer one request: ``(status, headers, body)``."""
        lower = {k.lower(): v for k, v in headers.items()}
        with self._lock:
            self.requests.append((url, lower))
        if lower.get("authorization") != f"Bearer {self.token}":
            return self._error(401, "Bad credentials")
        if method != "GET":
            return self._error(404, "Not Found")
        parts = urlsplit(url)
        query = dict(parse_qsl(parts.query))
        path = parts.path
        prefix = urlsplit(self.api).path.rstrip("/")
        if not path.startswith(prefix + "/"):
            return self._error(404, "Not Found")
        path = path[len(prefix) :]
        match = re.fullmatch(r"/repos/([^/]+)/([^/]+)(/.*)?", path)
        if match:
            data = self.repos.get(f"{match[1]}/{match[2]}".lower())
            rest = match[3] or ""
        else:
            match = re.fullmatch(r"/repositories/(\d+)(/.*)", path)
            data = self.by_id.get(match[1]) if match else None
            rest = match[2] if match else ""
        if data is None:
            return self._error(404, "Not Found")
        if rest == "":
            return 200, self._headers(), json.dumps(data.repo).encode()
        if rest == "/issues":
            items = list(data.issues)
            state = query.get("state", "open")
            if state != "all":
                items = [i for i in items if i["state"] == state]
        elif rest == "/issues/comments":
            items = list(data.comments)
        elif (m := re.fullmatch(r"/issues/(\d+)/events", rest)) is not None:
            items = list(data.events.get(m[1], []))
            return self._page(items, query, data, rest)
        else:
            return self._error(404, "Not Found")
        if "since" in query:
            try:
                since = _parse(query["since"])
            except ValueError:
                return self._error(422, "Validation Failed")
            items = [i for i in items if _parse(i["updated_at"]) >= since]
        field = "updated_at" if query.get("sort") == "updated" else "created_at"
        items.sort(key=lambda i: (_parse(i[field]), i["id"]))
        if query.get("direction", "desc") == "desc":
            items.reverse()
        return self._page(items, query, data, rest)

    def _page(
        self, items: list[Any], query: dict[str, str], data: RepoData, rest: str
    ) -> tuple[int, dict[str, str], bytes]:
        try:
            per_page = min(int(query.get("per_page", "30")), 100)
            page = int(query.get("page", "1"))
        except ValueError:
            return self._error(422, "Validation Failed")
        last = max(1, -(-len(items) // per_page))
        chunk = items[(page - 1) * per_page : page * per_page]
        links = []
        base = f"{self.api}/repositories/{data.repo['id']}{rest}"

        def link(n: int, rel: str) -> str:
            return f'<{base}?{urlencode({**query, "page": n})}>; rel="{rel}"'

        if page > 1:
            links += [link(page - 1, "prev"), link(1, "first")]
        if page < last:
            links += [link(page + 1, "next"), link(last, "last")]
        extra = {"link": ", ".join(links)} if links else {}
        return 200, self._headers(extra), json.dumps(chunk).encode()

    def handler(self, request: httpx.Request) -> httpx.Response:
        """For ``httpx.MockTransport``."""
        status, headers, body = self.respond(
            request.method, str(request.url), dict(request.headers.items())
        )
        return httpx.Response(status, headers=headers, content=body)


@contextmanager
def serve(fake: FakeGitHub, host: str = "127.0.0.1") -> Iterator[str]:
    """Serve ``fake`` over real HTTP on a loopback port; yields the server's root URL.

    Set ``fake.api`` to the yielded URL before the first request (Link URLs use it).
    """

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            status, headers, body = fake.respond(
                "GET", fake.api + self.path, dict(self.headers.items())
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
    thread = threading.Thread(target=server.serve_forever, name="fake-github", daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
