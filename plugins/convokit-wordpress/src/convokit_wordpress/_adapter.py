"""The WordPress adapter: a blog's posts (channel activity) and their comments.

Two listings of the REST API (``{site}/wp-json/wp/v2/``) are read oldest first:

1. ``GET posts?orderby=date&order=asc``: every published post is an outbound message
   on the blog's :class:`~convokit_core.Channel` and the root of its own conversation;
2. ``GET comments?orderby=date_gmt&order=asc``: every approved comment, site-wide, is a
   message in the conversation of the post it was left on; ``parent`` threads replies
   (``0`` answers the post itself).

Paging is WordPress's ``page``/``per_page`` with the ``X-WP-TotalPages`` header (a page
past the last answers 400 ``rest_*_invalid_page_number``, read as the end). Later syncs
ask only for items ``after`` the newest one already stored minus a lookback window and
drop what they already delivered (see :mod:`._cursor`), so nothing arrives twice and a
comment approved late is still picked up.

Times: ``date_gmt`` is UTC written without an offset; it is read as UTC explicitly
(``date`` is the site's local time and is never used). Ids are unique per site only, so
every id is qualified with the site's host and path.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import httpx

from convokit_core import (
    Channel,
    ConvokitError,
    Direction,
    HttpClient,
    HttpError,
    MalformedPayload,
    Message,
    Page,
    RetryPolicy,
    Stakeholder,
    SyncContext,
    SyncError,
    Visibility,
)

from ._config import WordPressConfig
from ._cursor import Listing, State, Walk, decode, encode
from ._html import html_to_text

__all__ = ["PLATFORM", "WordPressAdapter", "create", "parse_gmt"]

PLATFORM = "wordpress"
log = logging.getLogger("convokit.wordpress")

_AUTOMATED_TYPES = frozenset({"pingback", "trackback"})


def parse_gmt(value: Any, what: str) -> datetime:
    """A WordPress ``*_gmt`` field as an aware UTC datetime.

    WordPress writes them without an offset (``2024-05-01T09:30:00``) although they are
    UTC; an explicit ``Z`` or offset is accepted too and converted to UTC.
    """
    if not isinstance(value, str) or not value:
        raise MalformedPayload(f"{what}: expected a date string, found {_short(value)}")
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        moment: datetime | None = datetime.fromisoformat(text)
    except ValueError:
        moment = None  # raised below, outside the handler: no chained error quoting it
    if moment is None:
        raise MalformedPayload(
            f"{what}: expected a date like 2024-05-01T09:30:00, found {_short(value)}"
        )
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _short(value: Any) -> str:
    """What a payload held, for an error message: short scalars as they are, else their
    shape (a long string could be a credential echoed back; it is never quoted)."""
    if value is None:
        return "null"
    if isinstance(value, bool | int | float):
        return repr(value)
    if isinstance(value, str):
        return repr(value) if len(value) <= 32 else f"a string of {len(value)} characters"
    if isinstance(value, dict):
        keys = ", ".join(repr(str(k)[:20]) for k in list(value)[:5])
        return f"an object with keys {keys}" if keys else "an empty object"
    if isinstance(value, list):
        return f"an array of {len(value)} items"
    return type(value).__name__


def _dict(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise MalformedPayload(f"{what}: expected a JSON object, found {_short(value)}")
    return value


def _list(value: Any, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise MalformedPayload(f"{what}: expected a JSON array, found {_short(value)}")
    return value


def _id(data: Mapping[str, Any], key: str, what: str, *, zero: bool = False) -> str:
    """An integer id field as an opaque string (``0`` allowed only when ``zero``)."""
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise MalformedPayload(f"{what}: expected an integer {key!r}, found {_short(value)}")
    text = str(value).strip()
    if not text.isdigit() or (text.strip("0") == "" and not zero):
        raise MalformedPayload(f"{what}: expected an integer {key!r}, found {_short(value)}")
    return text.lstrip("0") or "0"


def _rendered(data: Mapping[str, Any], key: str, what: str, *, required: bool) -> str:
    field = data.get(key)
    if field is None and not required:
        return ""
    if isinstance(field, dict) and isinstance(field.get("rendered"), str):
        return html_to_text(field["rendered"])
    raise MalformedPayload(f"{what}: expected {key!r} with a 'rendered' string")


def _opt_str(data: Mapping[str, Any], key: str, what: str) -> str | None:
    value = data.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise MalformedPayload(f"{what}: expected {key!r} to be a string, found {_short(value)}")
    return value


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def _naive_utc(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S")


class _HttpClient(HttpClient):
    """The shared helper, also scrubbing the raw application password from messages.

    The helper knows the ``Authorization`` header's value; a server that echoes the
    password itself (with or without its spaces) must not leak it into logs or errors.
    """

    def __init__(self, client: httpx.AsyncClient, *, extra_secrets: tuple[str, ...], **kw: Any):
        super().__init__(client, **kw)
        self._extra_secrets = extra_secrets

    def scrub(self, text: str) -> str:
        """``text`` without any credential."""
        text = super().scrub(text)
        for secret in self._extra_secrets:
            text = text.replace(secret, "***")
        return text


class WordPressAdapter:
    """Fetches one blog's posts and comments. Built by :func:`create`."""

    def __init__(
        self,
        config: WordPressConfig,
        client: httpx.AsyncClient,
        context: SyncContext,
        *,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
    ) -> None:
        self.config = config
        self.context = context
        secret_headers: dict[str, str] = {}
        self._secrets: tuple[str, ...] = ()
        if config.username is not None and config.app_password is not None:
            pair = f"{config.username}:{config.app_password}".encode()
            token = base64.b64encode(pair).decode("ascii")
            secret_headers["Authorization"] = f"Basic {token}"
            bare = config.app_password.replace(" ", "")
            self._secrets = tuple(
                s for s in sorted({config.app_password, bare, token}, key=len, reverse=True) if s
            )
        self.http = _HttpClient(
            client,
            extra_secrets=self._secrets,
            base_url=config.api_root,
            headers={"Accept": "application/json"},
            secret_headers=secret_headers,
            policy=policy or RetryPolicy(),
            sleep=sleep,
        )
        self._lookback = int(config.lookback / timedelta(seconds=1))
        self._our_ids: frozenset[str] = frozenset()

    def __repr__(self) -> str:
        auth = f" as {self.config.username}" if self.config.username else ""
        return f"<WordPressAdapter {self.config.site}{auth}>"

    # -- ids -------------------------------------------------------------------------------

    @property
    def channel_id(self) -> str:
        """The blog as a channel: ``host/path`` (``example.org/blog``)."""
        return self.config.site_key

    @property
    def comments_channel_id(self) -> str:
        """Where comments are said: ``example.org/blog/comments``. Apart from the blog's
        channel, so only posts are the blog's activity: a blog whose authors still
        answer comments but no longer post is an abandoned blog."""
        return f"{self.config.site_key}/comments"

    def post_id(self, raw: str) -> str:
        """A post's message id: ``example.org/blog/posts/42``."""
        return f"{self.config.site_key}/posts/{raw}"

    def comment_id(self, raw: str) -> str:
        """A comment's message id: ``example.org/blog/comments/7``."""
        return f"{self.config.site_key}/comments/{raw}"

    def user_id(self, raw: str) -> str:
        """A registered user's author id: ``wordpress:example.org/blog/users/3``."""
        return f"{PLATFORM}:{self.config.site_key}/users/{raw}"

    def guest_id(self, name: str) -> str:
        """A guest commenter's author id, by the name they gave (case-folded)."""
        return f"{PLATFORM}:{self.config.site_key}/guests/{name.casefold()}"

    # -- errors ----------------------------------------------------------------------------

    def _scrub(self, text: str) -> str:
        return self.http.scrub(text)

    def _clean(self, exc: ConvokitError) -> ConvokitError:
        """``exc`` again, without any credential in its message."""
        message = str(exc)
        cleaned = self._scrub(message)
        if cleaned == message:
            return exc
        if isinstance(exc, HttpError):
            return HttpError(cleaned, status=exc.status, url=exc.url)
        return type(exc)(cleaned)

    # -- requests --------------------------------------------------------------------------

    async def _listing_page(
        self, route: str, params: dict[str, Any]
    ) -> tuple[list[Any], int | None]:
        """One page of a collection and its ``X-WP-TotalPages`` (``None``: not sent).

        A page past the last (400 ``rest_…_invalid_page_number``) is an empty page.
        """
        try:
            response = await self.http.request("GET", route, params=params)
        except HttpError as exc:
            # WordPress answers 400 rest_post_invalid_page_number (or the comments
            # equivalent) for a page past the last one of a non-empty listing.
            if exc.status == 400 and (params["page"] > 1 or "page number" in str(exc).lower()):
                return [], 0
            raise
        items = _list(self.http.json_of(response), route)
        header = response.headers.get("X-WP-TotalPages")
        total: int | None = None
        if header is not None:
            try:
                total = int(header.strip())
            except ValueError:
                raise MalformedPayload(
                    f"{route}: X-WP-TotalPages is not a number: {_short(header)}"
                ) from None
        return items, total

    async def _resolve_ours(self) -> frozenset[str]:
        """User ids of our authors: ``authors`` and ``[[team]]`` handles (slugs looked up)."""
        ids: set[str] = set()
        slugs: dict[str, bool] = {}  # slug -> whether the source's own config names it
        for name in self.config.authors:
            if name.isdigit():
                ids.add(name.lstrip("0") or "0")
            else:
                slugs[name] = True
        suffix = "@" + self.config.site_key.casefold()
        for handle in sorted(self.context.team_handles | self.context.own_handles):
            name = handle
            if "@" in handle:
                if not handle.endswith(suffix):
                    continue
                name = handle[: -len(suffix)]
            if not name or "/" in name or "@" in name:
                continue
            if name.isdigit():
                ids.add(name.lstrip("0") or "0")
            else:
                slugs.setdefault(name, False)
        if slugs:
            ids |= await self._lookup_slugs(slugs)
        return frozenset(ids)

    async def _lookup_slugs(self, slugs: Mapping[str, bool]) -> set[str]:
        """User ids for ``slugs`` (slug -> named in ``authors``) via ``GET users?slug=``.

        Slugs from ``authors`` must resolve. Slugs that are only ``[[team]]`` handles
        (shared by every source) may not: a site that hides its users, or answers
        something else, only costs those handles their match (logged as a warning).
        """
        names = sorted(slugs)
        configured = [n for n in names if slugs[n]]
        try:
            data = await self.http.get_json(
                "users", params={"slug": ",".join(names), "per_page": 100}
            )
            found: dict[str, str] = {}
            for item in _list(data, "users"):
                user = _dict(item, "user")
                slug = user.get("slug")
                if not isinstance(slug, str):
                    raise MalformedPayload("user: expected a string 'slug'")
                found[slug.casefold()] = _id(user, "id", f"user {slug!r}")
        except (HttpError, MalformedPayload) as exc:
            status = getattr(exc, "status", None)
            if configured and isinstance(exc, HttpError) and status in (401, 403, 404):
                raise SyncError(
                    f"{self.config.site} does not list its users (HTTP {status}), so the "
                    f"author slug {configured[0]!r} cannot be resolved; give its numeric "
                    "user id in 'authors' instead"
                ) from None
            if configured:
                raise
            log.warning(
                "%s: could not look up users (%s); team handles %s are not matched",
                self.config.site,
                self._scrub(str(exc))[:200],
                ", ".join(names),
            )
            return set()
        missing = [n for n in names if n not in found]
        for name in missing:
            if slugs[name]:
                raise SyncError(f"'authors': no user with the slug {name!r} on {self.config.site}")
            log.info("team handle %r is not a user of %s", name, self.config.site)
        return set(found.values())

    # -- mapping ---------------------------------------------------------------------------

    def post_message(self, post: Mapping[str, Any]) -> tuple[Message, str, int] | None:
        """A published post as our outbound message; ``None`` for one not published.

        Returns the message, the post author's user id and ``date_gmt`` in epoch seconds.
        """
        raw = _id(post, "id", "post")
        what = f"post {raw}"
        status = post.get("status", "publish")
        if status not in ("publish", "private"):
            log.debug("%s is %r, not published; skipped", what, status)
            return None
        sent = parse_gmt(post.get("date_gmt"), f"{what}: date_gmt")
        modified = post.get("modified_gmt")
        edited = parse_gmt(modified, f"{what}: modified_gmt") if modified else None
        author = _id(post, "author", what, zero=True) if "author" in post else "0"
        title = _rendered(post, "title", what, required=False)
        body = _rendered(post, "content", what, required=False)
        if not body and "content" not in post:
            body = _rendered(post, "excerpt", what, required=False)
        text = f"{title}\n\n{body}".strip() if title else body
        message = Message(
            id=self.post_id(raw),
            platform=PLATFORM,
            conversation_id=self.post_id(raw),
            channel_id=self.channel_id,
            author_id=self.user_id(author),
            direction=Direction.OUTBOUND,
            sent_at=sent,
            text=text,
            visibility=Visibility.PRIVATE if status == "private" else Visibility.PUBLIC,
            url=_opt_str(post, "link", what),
            edited_at=edited if edited is not None and edited > sent else None,
        )
        return message, author, _epoch(sent)

    def comment_message(
        self, comment: Mapping[str, Any], ours: frozenset[str]
    ) -> tuple[Message, Stakeholder | None, int] | None:
        """An approved comment as a message; ``None`` for one held, spam or trashed."""
        raw = _id(comment, "id", "comment")
        what = f"comment {raw}"
        status = comment.get("status", "approved")
        if status not in ("approved", "approve"):
            log.debug("%s is %r, not approved; skipped", what, status)
            return None
        post = _id(comment, "post", what)
        parent = _id(comment, "parent", what, zero=True) if "parent" in comment else "0"
        author = _id(comment, "author", what, zero=True) if "author" in comment else "0"
        name = comment.get("author_name")
        if name is not None and not isinstance(name, str):
            raise MalformedPayload(f"{what}: expected a string 'author_name'")
        name = (name or "").strip()
        sent = parse_gmt(comment.get("date_gmt"), f"{what}: date_gmt")
        kind = comment.get("type", "comment")
        if kind is not None and not isinstance(kind, str):
            raise MalformedPayload(f"{what}: expected a string 'type'")
        if author != "0":
            author_id = self.user_id(author)
            # A registered user is ours by id (configured, a [[team]] handle, an author
            # of a post here) or by a [[team]] handle equal to their display name.
            is_ours = (
                author in ours
                or self.context.is_ours(f"{self.config.site_key}/users/{author}")
                or (bool(name) and self.context.is_ours(name))
            )
        else:
            author_id = self.guest_id(name or "anonymous")
            is_ours = False
        message = Message(
            id=self.comment_id(raw),
            platform=PLATFORM,
            conversation_id=self.post_id(post),
            channel_id=self.comments_channel_id,
            author_id=author_id,
            direction=Direction.OUTBOUND if is_ours else Direction.INBOUND,
            sent_at=sent,
            in_reply_to=self.post_id(post) if parent == "0" else self.comment_id(parent),
            text=_rendered(comment, "content", what, required=False),
            automated=kind in _AUTOMATED_TYPES,
            url=_opt_str(comment, "link", what),
        )
        person = None
        if not is_ours:
            # A guest is known only by the name they typed, which anyone can type: no
            # identity on the platform (and never ours), only a display name.
            identities = (
                {PLATFORM: f"{self.config.site_key}/users/{author}"} if author != "0" else {}
            )
            person = Stakeholder(id=author_id, display_name=name or None, identities=identities)
        return message, person, _epoch(sent)

    # -- the listings ----------------------------------------------------------------------

    async def fetch(self, cursor: str | None) -> AsyncIterator[Page]:
        """Yield pages of new posts, then of new comments (see the module docstring)."""
        error: ConvokitError | None = None
        try:
            async for page in self._fetch(cursor):
                yield page
        except ConvokitError as exc:
            cleaned = self._clean(exc)
            if cleaned is exc:
                raise
            error = cleaned
        if error is not None:
            # Raised outside the handler so the original (with the secret) is not chained.
            raise error

    async def _fetch(self, cursor: str | None) -> AsyncIterator[Page]:
        state = decode(cursor)
        self._our_ids = await self._resolve_ours()
        channel = Channel(id=self.channel_id, platform=PLATFORM, handle=self.channel_id)
        channels: tuple[Channel, ...] = (channel,) if cursor is None else ()
        pending: tuple[dict[str, Message], dict[str, Stakeholder]] | None = None
        async for messages, people, new_state in self._pages(state):
            if messages:
                if pending is not None:
                    yield self._page(pending, channels, state)
                    channels = ()
                pending = (messages, people)
            state = new_state
        if pending is not None:
            yield self._page(pending, channels, state)
        elif channels:
            yield Page(channels=channels, cursor=encode(state))

    @staticmethod
    def _page(
        records: tuple[dict[str, Message], dict[str, Stakeholder]],
        channels: tuple[Channel, ...],
        state: State,
    ) -> Page:
        messages, people = records
        return Page(
            messages=tuple(messages.values()),
            stakeholders=tuple(people.values()),
            channels=channels,
            cursor=encode(state),
        )

    async def _pages(
        self, state: State
    ) -> AsyncIterator[tuple[dict[str, Message], dict[str, Stakeholder], State]]:
        """Every page of both listings (also those with nothing new) and the state after it."""
        for kind in ("posts", "comments"):
            listing: Listing = getattr(state, kind)
            if listing.walk is None:
                after = (
                    _naive_utc(listing.watermark - self._lookback)
                    if listing.watermark is not None
                    else None
                )
                listing = Listing(
                    watermark=listing.watermark, recent=listing.recent, walk=Walk(after=after)
                )
            while True:
                walk = listing.walk
                assert walk is not None
                # Oldest first. Comments are ordered by date_gmt by default; posts by
                # their (local) date, which only orders them and filters nothing.
                params: dict[str, Any] = {
                    "page": walk.page,
                    "per_page": self.config.page_size,
                    "order": "asc",
                }
                if kind == "posts":
                    params["orderby"] = "date"
                if walk.after is not None:
                    params["after"] = walk.after
                items, total = await self._listing_page(kind, params)
                messages: dict[str, Message] = {}
                people: dict[str, Stakeholder] = {}
                delivered: dict[str, int] = {}
                authors = set(state.authors)
                for item in items:
                    if kind == "posts":
                        post = self.post_message(_dict(item, "post"))
                        if post is None:
                            continue
                        message, author, when = post
                        authors.add(author)
                        person = None
                    else:
                        comment = self.comment_message(
                            _dict(item, "comment"), self._our_ids | state.authors
                        )
                        if comment is None:
                            continue
                        message, person, when = comment
                    raw = message.id.rsplit("/", 1)[1]
                    if not listing.is_new(raw, when, self._lookback):
                        continue
                    messages[message.id] = message
                    delivered[raw] = when
                    if person is not None:
                        people[person.id] = person
                listing = listing.delivered(delivered, self._lookback)
                last = (
                    not items
                    or (total is not None and walk.page >= total)
                    or (total is None and len(items) < self.config.page_size)
                )
                listing = listing.completed(self._lookback) if last else listing.next_page()
                changes: dict[str, Any] = {kind: listing, "authors": frozenset(authors)}
                state = attrs.evolve(state, **changes)
                yield messages, people, state
                if last:
                    break


def create(
    config: WordPressConfig, client: httpx.AsyncClient, context: SyncContext
) -> WordPressAdapter:
    """The factory registered for ``platform = "wordpress"``."""
    return WordPressAdapter(config, client, context)
