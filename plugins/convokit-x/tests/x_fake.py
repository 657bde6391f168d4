"""A fake X API v2 for the tests: the endpoints the adapter reads, in X's shapes.

It serves the fixture posts the way X does: fields and expansions opt-in (a post
carries only ``id``, ``text`` and ``edit_history_tweet_ids`` unless more are asked
for), timelines newest first with ``since_id`` and ``pagination_token``, recent search
limited to the last 7 days before ``now``, partial errors (HTTP 200 with ``errors``
beside ``data``) for referenced posts that are gone, ``x-rate-limit-*`` headers, and
X's error bodies for 400 and 401.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

FIXTURES = Path(__file__).parent / "fixtures"
TOKEN = "AAAAAAAAAAAAAAAAAAAAAFakeBearerTokenForTests0123"
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
SEARCH_WINDOW = timedelta(days=7)
DEFAULT_FIELDS = ("id", "text", "edit_history_tweet_ids")


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def _time(post: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(post["created_at"])


def _problem(status: int, title: str, detail: str) -> httpx.Response:
    body = {"title": title, "detail": detail, "type": "about:blank", "status": status}
    return httpx.Response(status, json=body)


class FakeX:
    """Callable as an httpx handler (``httpx.MockTransport(fake)``, the conformance kit,
    or ``serve_loopback(fake)``)."""

    def __init__(
        self,
        tweets: Iterable[dict[str, Any]] | None = None,
        users: Iterable[dict[str, Any]] | None = None,
        *,
        now: datetime = NOW,
        token: str = TOKEN,
    ) -> None:
        self.tweets: list[dict[str, Any]] = list(load("tweets.json") if tweets is None else tweets)
        self.users = {u["id"]: u for u in (load("users.json") if users is None else users)}
        self.now = now
        self.token = token
        self.requests: list[httpx.Request] = []
        self.spend: set[str] = set()
        """Buckets whose next answer says ``x-rate-limit-remaining: 0``."""
        self.limit = 450

    # -- routing ---------------------------------------------------------------------

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return _problem(401, "Unauthorized", "Unauthorized")
        path = request.url.path
        params = request.url.params
        if match := re.fullmatch(r"/2/users/by/username/(\w+)", path):
            return self._with_limits("users", self._user(match.group(1), params))
        if match := re.fullmatch(r"/2/users/(\d+)/(mentions|tweets)", path):
            user_id, timeline = match.groups()
            if timeline == "tweets":
                posts = [t for t in self.tweets if t["author_id"] == user_id]
            else:
                posts = [
                    t
                    for t in self.tweets
                    if t["author_id"] != user_id and self._mentions(t, user_id)
                ]
            answer = self._listing(posts, params, 5, "pagination_token")
            return self._with_limits(timeline, answer)
        if path == "/2/tweets/search/recent":
            query = params.get("query", "")
            match = re.fullmatch(r"conversation_id:(\d+)", query)
            if match is None:
                return self._invalid("query", query, "the fake only knows conversation_id:ID")
            since = self.now - SEARCH_WINDOW
            posts = [
                t
                for t in self.tweets
                if t["conversation_id"] == match.group(1) and _time(t) >= since
            ]
            return self._with_limits("search", self._listing(posts, params, 10, "next_token"))
        return _problem(404, "Not Found", f"no route for {path}")

    def _mentions(self, post: dict[str, Any], user_id: str) -> bool:
        username = self.users[user_id]["username"].lower()
        return re.search(rf"@{username}\b", post["text"].lower()) is not None

    def _with_limits(self, bucket: str, response: httpx.Response) -> httpx.Response:
        remaining = 0 if bucket in self.spend else self.limit - len(self.requests)
        self.spend.discard(bucket)
        response.headers["x-rate-limit-limit"] = str(self.limit)
        response.headers["x-rate-limit-remaining"] = str(max(remaining, 0))
        reset = self.now + timedelta(minutes=15)
        response.headers["x-rate-limit-reset"] = str(int(reset.timestamp()))
        return response

    def _invalid(self, name: str, value: str, message: str) -> httpx.Response:
        body = {
            "errors": [{"parameters": {name: [value]}, "message": message}],
            "title": "Invalid Request",
            "detail": "One or more parameters to your request was invalid.",
            "type": "https://api.twitter.com/2/problems/invalid-request",
        }
        return httpx.Response(400, json=body)

    # -- answers -----------------------------------------------------------------------

    def _user(self, username: str, params: httpx.QueryParams) -> httpx.Response:
        for user in self.users.values():
            if user["username"].lower() == username.lower():
                return httpx.Response(200, json={"data": self._user_fields(user, params)})
        error = {
            "value": username,
            "detail": f"Could not find user with username: [{username}].",
            "title": "Not Found Error",
            "resource_type": "user",
            "parameter": "username",
            "resource_id": username,
            "type": "https://api.twitter.com/2/problems/resource-not-found",
        }
        return httpx.Response(200, json={"errors": [error]})

    @staticmethod
    def _user_fields(user: dict[str, Any], params: httpx.QueryParams) -> dict[str, Any]:
        wanted = {"id", "name", "username", *params.get("user.fields", "").split(",")}
        return {k: v for k, v in user.items() if k in wanted}

    @staticmethod
    def _tweet_fields(post: dict[str, Any], params: httpx.QueryParams) -> dict[str, Any]:
        wanted = {*DEFAULT_FIELDS, *params.get("tweet.fields", "").split(",")}
        return {k: v for k, v in post.items() if k in wanted}

    def _listing(
        self,
        posts: list[dict[str, Any]],
        params: httpx.QueryParams,
        min_results: int,
        token_param: str,
    ) -> httpx.Response:
        try:
            size = int(params.get("max_results", "10"))
        except ValueError:
            size = -1
        if not min_results <= size <= 100:
            return self._invalid(
                "max_results",
                params.get("max_results", ""),
                f"The `max_results` query parameter value [{params.get('max_results')}] "
                f"is not between {min_results} and 100",
            )
        posts = sorted(posts, key=lambda t: int(t["id"]), reverse=True)
        if "since_id" in params:
            posts = [t for t in posts if int(t["id"]) > int(params["since_id"])]
        token = params.get(token_param)
        if token is not None:
            try:
                before = int(base64.urlsafe_b64decode(token.encode()).decode().removeprefix("b:"))
            except ValueError:
                return self._invalid(token_param, token, "The pagination token is invalid")
            posts = [t for t in posts if int(t["id"]) < before]
        chunk, rest = posts[:size], posts[size:]
        if not chunk:
            return httpx.Response(200, json={"meta": {"result_count": 0}})
        meta: dict[str, Any] = {
            "newest_id": chunk[0]["id"],
            "oldest_id": chunk[-1]["id"],
            "result_count": len(chunk),
        }
        if rest:
            meta["next_token"] = base64.urlsafe_b64encode(f"b:{chunk[-1]['id']}".encode()).decode()
        body: dict[str, Any] = {"data": [self._tweet_fields(t, params) for t in chunk]}
        includes, errors = self._includes(chunk, params)
        if includes:
            body["includes"] = includes
        if errors:
            body["errors"] = errors
        body["meta"] = meta
        return httpx.Response(200, json=body)

    def _includes(
        self, chunk: list[dict[str, Any]], params: httpx.QueryParams
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        expansions = set(params.get("expansions", "").split(","))
        by_id = {t["id"]: t for t in self.tweets}
        referenced: dict[str, dict[str, Any]] = {}
        errors: list[dict[str, Any]] = []
        if "referenced_tweets.id" in expansions:
            for post in chunk:
                for ref in post.get("referenced_tweets", []):
                    found = by_id.get(ref["id"])
                    if found is not None:
                        referenced[found["id"]] = found
                    else:
                        errors.append(
                            {
                                "value": ref["id"],
                                "detail": f"Could not find tweet with referenced_tweets.id: "
                                f"[{ref['id']}].",
                                "title": "Not Found Error",
                                "resource_type": "tweet",
                                "parameter": "referenced_tweets.id",
                                "resource_id": ref["id"],
                                "type": "https://api.twitter.com/2/problems/resource-not-found",
                            }
                        )
        authors: list[str] = []
        if "author_id" in expansions:
            authors += [t["author_id"] for t in chunk]
        if "referenced_tweets.id.author_id" in expansions:
            authors += [t["author_id"] for t in referenced.values()]
        includes: dict[str, Any] = {}
        users = [self._user_fields(self.users[a], params) for a in dict.fromkeys(authors)]
        if users:
            includes["users"] = users
        if referenced:
            includes["tweets"] = [self._tweet_fields(t, params) for t in referenced.values()]
        return includes, errors
