"""The GitHub adapter: the issues (and pull requests) of some repositories, with comments.

For each configured repository, in order:

1. on its first sync, ``GET /repos/{owner}/{repo}``: the repository as a channel;
2. ``GET /repos/{owner}/{repo}/issues?state=all&sort=updated&direction=asc&since=``:
   every issue (and pull request, unless excluded) as a conversation whose first
   message is the issue's body; a reopened issue's ``closed``/``reopened`` events
   (``GET …/issues/{n}/events``) give its exact status history;
3. ``GET /repos/{owner}/{repo}/issues/comments?sort=updated&direction=asc&since=``:
   every comment as a message of its issue's conversation.

Both lists are read with a **keyset walk** on ``since`` (see :mod:`._cursor`): each page
is requested again from the newest ``updated_at`` stored, so an item updated while a sync
runs (which moves it to the end of an ``updated`` ordering) never shifts another item
out of an offset page. ``Link: rel="next"`` says whether more follows, and is followed
to get past a run of already-stored items that share one ``updated_at`` second.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import attrs
import httpx

from convokit_core import (
    Channel,
    Conversation,
    HttpClient,
    HttpError,
    MalformedPayload,
    Message,
    Page,
    RetryPolicy,
    Stakeholder,
    SyncContext,
    SyncError,
    format_datetime,
)

from ._config import GitHubConfig
from ._cursor import STREAMS, GitHubCursor, StreamPosition
from ._mapping import (
    PLATFORM,
    Mapper,
    as_dict,
    as_list,
    events_history,
    item_id,
    time_of,
)
from ._ratelimit import RateLimitTransport

__all__ = ["API_VERSION", "GitHubAdapter", "create"]

log = logging.getLogger("convokit.github")

API_VERSION = "2022-11-28"
_USER_AGENT = "convokit-github/0.1.0"
_MAX_LINKS = 10_000


@attrs.define
class _Records:
    """What one page of a list gives."""

    messages: dict[str, Message] = attrs.Factory(dict)
    conversations: dict[str, Conversation] = attrs.Factory(dict)
    stakeholders: dict[str, Stakeholder] = attrs.Factory(dict)

    def add_person(self, person: Stakeholder | None) -> None:
        if person is not None:
            self.stakeholders[person.id] = person

    def __bool__(self) -> bool:
        return bool(self.messages or self.conversations)


def _next_link(response: httpx.Response) -> str | None:
    link = response.links.get("next")
    url = link.get("url") if link else None
    return url or None


class GitHubAdapter:
    """Fetches the conversations of the configured repositories.

    Built by :func:`create`; the host calls :meth:`fetch`. ``sleep`` and ``clock``
    (tests) replace the wait between retries and the current time.
    """

    def __init__(
        self,
        config: GitHubConfig,
        client: httpx.AsyncClient,
        context: SyncContext,
        *,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.config = config
        self.context = context.with_own_handles(config.account) if config.account else context
        now = clock or (lambda: datetime.now(UTC))
        # Rate-limit 403s become 429s the shared helper retries (see _ratelimit); every
        # request still goes out through the host's client.
        self._limits = httpx.AsyncClient(transport=RateLimitTransport(client, now), trust_env=False)
        self.http = HttpClient(
            self._limits,
            base_url=config.api_url + "/",
            headers={
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": API_VERSION,
                "User-Agent": _USER_AGENT,
            },
            secret_headers={"Authorization": f"Bearer {config.token}"},
            policy=RetryPolicy(budget=config.retry_budget),
            sleep=sleep,
            clock=now,
        )

    def __repr__(self) -> str:
        return f"<GitHubAdapter {', '.join(self.config.repositories)} on {self.config.api_url}>"

    # -- requests ------------------------------------------------------------------------

    @staticmethod
    def _path(repository: str) -> str:
        owner, _, name = repository.partition("/")
        return f"repos/{quote(owner, safe='')}/{quote(name, safe='')}"

    async def channel(self, repository: str, key: str) -> Channel:
        """The repository as a channel (``GET /repos/{owner}/{repo}``)."""
        try:
            data = await self.http.get_json(self._path(repository))
        except HttpError as exc:
            if exc.status == 404:
                raise SyncError(
                    f"repository {repository} was not found on {self.config.api_url}, or the "
                    "token cannot read it (a fine-grained token needs access to it, with "
                    "Issues and Pull requests read permission)"
                ) from None
            raise
        repo = as_dict(data, f"repository {repository}")
        full_name = repo.get("full_name")
        if not isinstance(full_name, str) or not full_name:
            raise MalformedPayload(f"repository {repository}: expected a string 'full_name'")
        return Channel(
            id=key,
            platform=PLATFORM,
            handle=full_name,
            created_at=time_of(repo, "created_at", f"repository {repository}"),
        )

    async def _pages(self, url: str, params: dict[str, Any] | None) -> AsyncIterator[list[Any]]:
        """Every page of a plain listing, following ``Link: rel="next"`` to the end."""
        seen: set[str] = set()
        while True:
            response = await self.http.request("GET", url, params=params)
            yield as_list(self.http.json_of(response), url)
            next_url = _next_link(response)
            if next_url is None:
                return
            if next_url in seen or len(seen) > _MAX_LINKS:
                raise MalformedPayload(f'{url}: Link rel="next" repeats {next_url}')
            seen.add(next_url)
            url, params = next_url, None

    async def history(self, repository: str, number: str) -> list[tuple[str, datetime]]:
        """A reopened issue's ``closed``/``reopened`` events, in time order."""
        url = f"{self._path(repository)}/issues/{quote(number, safe='')}/events"
        events: list[Any] = []
        async for items in self._pages(url, {"per_page": 100}):
            events.extend(items)
        return events_history(events, f"events of {repository}#{number}")

    async def _walk(
        self, repository: str, stream: str, position: StreamPosition
    ) -> AsyncIterator[tuple[list[dict[str, Any]], StreamPosition]]:
        """Yield each batch of not yet stored items of one list, with the position after."""
        path = self._path(repository) + ("/issues" if stream == "issues" else "/issues/comments")
        key = "number" if stream == "issues" else "id"
        base: dict[str, Any] = {
            "sort": "updated",
            "direction": "asc",
            "per_page": self.config.page_size,
        }
        if stream == "issues":
            base["state"] = "all"
        what = f"{repository} {stream}"
        while True:
            params = dict(base)
            if position.since is not None:
                # ``since`` is inclusive; second precision (stored items are skipped).
                params["since"] = format_datetime(position.since.replace(microsecond=0))
            url: str = path
            query: dict[str, Any] | None = params
            links: set[str] = set()
            while True:
                response = await self.http.request("GET", url, params=query)
                items = [as_dict(i, what) for i in as_list(self.http.json_of(response), what)]
                keyed = [
                    (item, item_id(item, key, what), time_of(item, "updated_at", what))
                    for item in items
                ]
                fresh = [k for k in keyed if not position.is_stored(k[1], k[2])]
                next_url = _next_link(response)
                if fresh or next_url is None:
                    break
                # A whole page of stored items sharing ``since``: page past them.
                if next_url in links or len(links) > _MAX_LINKS:
                    raise MalformedPayload(f'{what}: Link rel="next" repeats {next_url}')
                links.add(next_url)
                url, query = next_url, None
            if not fresh:
                return
            position = position.after((k[1], k[2]) for k in fresh)
            yield [k[0] for k in fresh], position
            if next_url is None:
                return

    # -- the sync ------------------------------------------------------------------------

    async def _issue_records(
        self, repository: str, mapper: Mapper, items: list[dict[str, Any]]
    ) -> _Records:
        records = _Records()
        for issue in items:
            if mapper.is_pull_request(issue) and not self.config.include_pull_requests:
                continue
            history = None
            if issue.get("state") == "open" and issue.get("state_reason") == "reopened":
                history = await self.history(repository, item_id(issue, "number", "issue"))
            found = mapper.issue(issue, history)
            records.messages[found.message.id] = found.message
            records.conversations[found.conversation.id] = found.conversation
            records.add_person(found.stakeholder)
        return records

    def _comment_records(self, mapper: Mapper, items: list[dict[str, Any]]) -> _Records:
        records = _Records()
        for comment in items:
            if mapper.comment_on_pull_request(comment) and not self.config.include_pull_requests:
                continue
            message, person = mapper.comment(comment)
            records.messages[message.id] = message
            records.add_person(person)
        return records

    async def fetch(self, cursor: str | None) -> AsyncIterator[Page]:
        """Yield pages of issues, then of comments, repository by repository.

        A payload of the wrong shape raises :class:`~convokit_core.MalformedPayload`
        before its page is yielded; its message never carries the token, even when a
        server echoes it back.
        """
        try:
            async for page in self._fetch(cursor):
                yield page
        except MalformedPayload as exc:
            raise MalformedPayload(self.http.scrub(str(exc))) from None

    async def _fetch(self, cursor: str | None) -> AsyncIterator[Page]:
        state = GitHubCursor.decode(cursor)
        written = state  # what the host has stored
        channels: list[Channel] = []
        for repository in self.config.repositories:
            key = self.config.repo_key(repository)
            mapper = Mapper(key, self.context, self.config.maintainer_associations)
            if key not in state.repos:
                channels.append(await self.channel(repository, key))
                state = state.with_repo(key)
                if self.config.since is not None:
                    for stream in STREAMS:
                        state = state.with_stream(
                            key, stream, StreamPosition(since=self.config.since)
                        )
            for stream in STREAMS:
                start = getattr(state.repos[key], stream)
                async for items, position in self._walk(repository, stream, start):
                    if stream == "issues":
                        records = await self._issue_records(repository, mapper, items)
                    else:
                        records = self._comment_records(mapper, items)
                    state = state.with_stream(key, stream, position)
                    if not records:
                        continue  # only excluded pull requests: nothing to write yet
                    yield Page(
                        messages=tuple(records.messages.values()),
                        conversations=tuple(records.conversations.values()),
                        stakeholders=tuple(records.stakeholders.values()),
                        channels=tuple(channels),
                        cursor=state.encode(),
                    )
                    written, channels = state, []
        if state != written:
            # New channels or skipped items after the last page: store where we are.
            yield Page(channels=tuple(channels), cursor=state.encode())


def create(config: GitHubConfig, client: httpx.AsyncClient, context: SyncContext) -> GitHubAdapter:
    """The factory registered for ``platform = "github"``."""
    return GitHubAdapter(config, client, context)
