"""The e-mail adapter: INBOX and the sent folder over IMAP, threaded by headers."""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any, TypeVar

import attrs
import httpx

from convokit_core import (
    Channel,
    Direction,
    MalformedPayload,
    Message,
    Page,
    Stakeholder,
    SyncContext,
    SyncError,
    Visibility,
)

from ._config import EmailConfig
from ._cursor import FolderState, MailCursor
from ._imap import ImapSession, LostConnection, decode_mutf7, encode_mutf7
from ._mime import Headers, parse_headers, parse_mail

__all__ = ["EmailAdapter", "Threads", "create_adapter"]

PLATFORM = "email"
RETRIES = 3
"""Reconnects after a lost connection before the source fails."""
BACKOFF = 1.0
"""Seconds before the first reconnect; doubled for each further one."""

logger = logging.getLogger("convokit.email")
T = TypeVar("T")


def create_adapter(
    config: EmailConfig, client: httpx.AsyncClient, context: SyncContext
) -> EmailAdapter:
    """The factory registered for ``platform = "email"``. ``client`` is not used: the
    adapter speaks IMAP, not HTTP."""
    return EmailAdapter(config, context)


class Threads:
    """Conversations and reply parents from the headers of every mail present.

    Threads are built from ``References`` / ``In-Reply-To`` the way JWZ threading does
    (RFC 5256's REFERENCES algorithm without its subject merging): each mail's own
    headers name its parent, and every ``References`` list links its ids in order, so
    a mail whose headers were trimmed still learns its ancestors from its replies. A
    mail's conversation is the root of its tree: the Message-ID of the thread's first
    mail, present or not, so a reply whose parent is missing still joins its thread.
    ``in_reply_to`` is the nearest ancestor named by the mail's own headers that is
    present. Subjects play no part: two threads called "Help" stay two threads.
    """

    def __init__(self, headers: Mapping[str, Headers]) -> None:
        self._headers = headers
        parent: dict[str, str] = {}
        order = sorted(headers)
        for mid in order:  # a mail's own headers first: they name its parent
            chain = headers[mid].chain()
            if chain:
                parent[mid] = chain[-1]
        for mid in order:  # then the links every References list implies
            chain = headers[mid].chain()
            for older, newer in itertools.pairwise(chain):
                if newer not in parent and not _reaches(parent, older, newer):
                    parent[newer] = older
        self._parent = parent
        self._conversations: dict[str, str] = {}

    def _root(self, message_id: str) -> str:
        path = [message_id]
        seen = {message_id}
        current = message_id
        while current in self._parent:
            current = self._parent[current]
            if current in seen:  # a loop in hostile headers: one answer for all of it
                return min(path[path.index(current) :])
            seen.add(current)
            path.append(current)
        return current

    def parent(self, message_id: str) -> str | None:
        """The nearest present ancestor named by the mail's own headers, or ``None``."""
        found = self._headers.get(message_id)
        if found is None:
            return None
        for ancestor in found.ancestors_nearest_first():
            if ancestor in self._headers:
                return ancestor
        return None

    def conversation(self, message_id: str) -> str:
        """The conversation id (a root Message-ID) of ``message_id``: its present
        parent's, so a reply and its parent always share one, else its tree's root."""
        path: list[str] = []
        current: str | None = message_id
        while current is not None and current not in self._conversations:
            if current in path:
                break
            path.append(current)
            current = self.parent(current)
        if current is not None and current in self._conversations:
            answer = self._conversations[current]
        else:
            answer = self._root(path[-1])
        for mid in path:
            self._conversations[mid] = answer
        return answer

    def place(self, message_id: str) -> tuple[str, str | None]:
        """``(conversation, in_reply_to)`` of ``message_id``."""
        return self.conversation(message_id), self.parent(message_id)


_SENT_NAMES = frozenset({"sent", "sent items", "sent messages", "sent mail"})


def _usual_sent_name(name: str) -> bool:
    """Whether a folder is called like a sent folder (``Sent``, ``INBOX.Sent Items``)."""
    leaf = decode_mutf7(name).replace(".", "/").rsplit("/", 1)[-1]
    return leaf.strip().casefold() in _SENT_NAMES


def _reaches(parent: Mapping[str, str], start: str, target: str) -> bool:
    """Whether following parents from ``start`` meets ``target`` (a link would loop)."""
    seen: set[str] = set()
    current: str | None = start
    while current is not None and current not in seen:
        if current == target:
            return True
        seen.add(current)
        current = parent.get(current)
    return False


@attrs.frozen(kw_only=True)
class _Scanned:
    folder: str
    uidvalidity: int
    entries: tuple[tuple[int, Headers], ...]
    boundary: int
    """UIDs up to this one were delivered by earlier syncs (0: read the whole folder)."""


@attrs.frozen(kw_only=True)
class _Step:
    folder: str
    uid: int
    message_id: str | None
    """``None``: nothing to deliver (the same mail is already stored from elsewhere)."""
    cursor: MailCursor
    """The cursor once this step is delivered."""


class EmailAdapter:
    """Yields the mail of the configured folders, page by page.

    ``sleep`` (default :func:`asyncio.sleep`) is awaited before every reconnect after a
    lost connection, so tests record the waits instead of sleeping them.
    """

    def __init__(
        self,
        config: EmailConfig,
        context: SyncContext,
        *,
        sleep: Callable[[float], Awaitable[None]] | None = None,
    ) -> None:
        self._config = config
        self._context = context.with_own_handles(*config.own_addresses)
        self._sleep = sleep or asyncio.sleep
        self._session = ImapSession(config)
        self._connected = False
        self._threads = Threads({})
        self._channel = Channel(
            id=f"{PLATFORM}:{config.username.lower()}", platform=PLATFORM, handle=config.username
        )

    def __repr__(self) -> str:
        return f"<EmailAdapter {self._config.username!r} on {self._config.host!r}>"

    # -- IMAP calls, in a worker thread, reconnecting when the connection drops ----------

    async def _imap(self, call: Callable[[ImapSession], T], what: str) -> T:
        for attempt in range(RETRIES + 1):
            try:
                if not self._connected:
                    await asyncio.to_thread(self._session.connect)
                    self._connected = True
                return await asyncio.to_thread(call, self._session)
            except LostConnection as exc:
                self._connected = False
                await asyncio.to_thread(self._session.close)
                if attempt == RETRIES:
                    raise SyncError(
                        f"email: {what}: the connection kept failing ({exc}); "
                        f"gave up after {RETRIES} reconnects"
                    ) from None
                wait = BACKOFF * 2**attempt
                logger.warning("email: %s: %s; reconnecting in %.0f s", what, exc, wait)
                await self._sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _in_folder(
        self, folder: str, uidvalidity: int, call: Callable[[ImapSession], T], what: str
    ) -> T:
        """Run ``call`` with ``folder`` open, checking it is still the same folder."""

        def run(session: ImapSession) -> T:
            if session.selected != folder:
                now, _ = session.examine(folder)
                if now != uidvalidity:
                    raise SyncError(
                        f"email: the UIDVALIDITY of folder {decode_mutf7(folder)!r} changed "
                        "during the sync; the next sync reads it again"
                    )
            return call(session)

        return await self._imap(run, what)

    # -- the sync ----------------------------------------------------------------------

    async def fetch(self, cursor: str | None) -> AsyncIterator[Page]:
        """Yield new mail after ``cursor``; each page's cursor resumes right after it."""
        start = MailCursor.decode(cursor)
        try:
            async for page in self._fetch(start):
                yield page
        finally:
            self._connected = False
            await asyncio.to_thread(self._session.close)

    async def _folders(self) -> list[str]:
        listed = await self._imap(lambda s: s.list_folders(), "LIST")
        names = {f.name: f for f in listed}
        if self._config.folders is None:
            sent = [f.name for f in listed if "\\sent" in f.flags]
            if not sent:  # a server without SPECIAL-USE: the usual names, with a warning
                sent = [f.name for f in listed if _usual_sent_name(f.name)]
                if sent:
                    logger.warning(
                        "email: no folder is flagged \\Sent (RFC 6154); reading %r by its "
                        "name (name the folders to read to silence this)",
                        decode_mutf7(sent[0]),
                    )
            if not sent:
                raise SyncError(
                    "email: the server flags no folder \\Sent (RFC 6154 SPECIAL-USE); "
                    'name the folders to read, e.g. folders = ["INBOX", "Sent Items"]'
                )
            return list(dict.fromkeys(["INBOX", sent[0]]))
        out: list[str] = []
        for wanted in self._config.folders:
            name = "INBOX" if wanted.upper() == "INBOX" else encode_mutf7(wanted)
            if name != "INBOX" and name not in names:
                known = ", ".join(sorted(decode_mutf7(n) for n in names))[:300]
                raise SyncError(
                    f"email: folder {wanted!r} (key 'folders') does not exist on the "
                    f"server; it has: {known}"
                )
            out.append(name)
        return list(dict.fromkeys(out))

    async def _scan(self, folder: str, start: MailCursor) -> _Scanned:
        uidvalidity, exists = await self._imap(lambda s: s.examine(folder), f"EXAMINE {folder}")
        raw = (
            await self._in_folder(folder, uidvalidity, lambda s: s.scan(folder), "header scan")
            if exists
            else []
        )
        entries = tuple(sorted((uid, parse_headers(block)) for uid, block in raw))
        previous = start.state(folder)
        same = previous is not None and previous.uidvalidity == uidvalidity
        if previous is not None and not same:
            logger.info(
                "email: folder %r has a new UIDVALIDITY; reading it again",
                decode_mutf7(folder),
            )
        return _Scanned(
            folder=folder,
            uidvalidity=uidvalidity,
            entries=entries,
            boundary=previous.last_uid if same and previous is not None else 0,
        )

    def _plan(self, start: MailCursor, scans: list[_Scanned]) -> tuple[list[_Step], MailCursor]:
        every: dict[str, Headers] = {}
        old: dict[str, Headers] = {}
        for scan in scans:
            for uid, headers in scan.entries:
                every.setdefault(headers.id, headers)
                if uid <= scan.boundary:
                    old.setdefault(headers.id, headers)
        steps: list[_Step] = []
        planned: set[str] = set()
        # Mail delivered before whose thread changed now that more mail is here (its
        # missing parent arrived): delivered again, first, with its new place.
        now, before = Threads(every), Threads(old)
        for scan in scans:
            for uid, headers in scan.entries:
                mid = headers.id
                moved = uid <= scan.boundary and mid not in planned
                if moved and now.place(mid) != before.place(mid):
                    planned.add(mid)
                    steps.append(_Step(folder=scan.folder, uid=uid, message_id=mid, cursor=start))
        cursor = start
        for scan in scans:
            for uid, headers in scan.entries:
                if uid <= scan.boundary:
                    continue
                mid = headers.id
                deliver = mid not in old and mid not in planned
                planned.add(mid)
                cursor = cursor.with_folder(
                    scan.folder, FolderState(uidvalidity=scan.uidvalidity, last_uid=uid)
                )
                steps.append(
                    _Step(
                        folder=scan.folder,
                        uid=uid,
                        message_id=mid if deliver else None,
                        cursor=cursor,
                    )
                )
            highest = max((uid for uid, _ in scan.entries), default=0)
            cursor = cursor.with_folder(
                scan.folder,
                FolderState(uidvalidity=scan.uidvalidity, last_uid=max(scan.boundary, highest)),
            )
        self._threads = now
        return steps, cursor

    async def _fetch(self, start: MailCursor) -> AsyncIterator[Page]:
        folders = await self._folders()
        scans = [await self._scan(folder, start) for folder in folders]
        validity = {scan.folder: scan.uidvalidity for scan in scans}
        steps, final = self._plan(start, scans)
        last = start.encode()
        channel_sent = False
        people: set[str] = set()
        batch: list[_Step] = []
        index = 0
        while index < len(steps):
            batch = []
            count = 0
            while index < len(steps):
                step = steps[index]
                if step.message_id is not None:
                    if count == self._config.page_size:
                        break
                    count += 1
                batch.append(step)
                index += 1
            wanted = [s for s in batch if s.message_id is not None]
            if not wanted:
                continue
            messages, stakeholders = await self._messages(wanted, validity, people)
            if not messages:
                continue  # all deleted meanwhile: the next page (or the last) moves on
            records: dict[str, Any] = {
                "messages": tuple(messages),
                "stakeholders": tuple(stakeholders),
                "channels": () if channel_sent else (self._channel,),
                "cursor": batch[-1].cursor.encode(),
            }
            channel_sent = True
            last = records["cursor"]
            yield Page(**records)
        if final.encode() != last:
            yield Page(cursor=final.encode())

    async def _messages(
        self, steps: list[_Step], validity: Mapping[str, int], people: set[str]
    ) -> tuple[list[Message], list[Stakeholder]]:
        by_folder: dict[str, list[_Step]] = {}
        for step in steps:
            by_folder.setdefault(step.folder, []).append(step)
        fetched: dict[tuple[str, int], tuple[datetime | None, bytes]] = {}
        for folder, group in by_folder.items():
            uids = [s.uid for s in group]
            rows = await self._in_folder(
                folder,
                validity[folder],
                lambda s, f=folder, u=uids: s.bodies(f, u),  # type: ignore[misc]
                f"FETCH bodies in {folder}",
            )
            for uid, arrived, raw in rows:
                fetched[(folder, uid)] = (arrived, raw)
        messages: list[Message] = []
        stakeholders: list[Stakeholder] = []
        for step in steps:
            where = f"folder {decode_mutf7(step.folder)!r} UID {step.uid}"
            got = fetched.get((step.folder, step.uid))
            if got is None:  # expunged between the header scan and this FETCH
                logger.info("email: %s was deleted during the sync; skipped", where)
                continue
            message, person = self._message(step, got[0], got[1], where)
            messages.append(message)
            if person is not None and person.id not in people:
                people.add(person.id)
                stakeholders.append(person)
        return messages, stakeholders

    def _message(
        self, step: _Step, arrived: datetime | None, raw: bytes, where: str
    ) -> tuple[Message, Stakeholder | None]:
        mail = parse_mail(raw)
        mid = step.message_id or mail.headers.id
        sent_at = mail.sent_at or arrived
        if sent_at is None:
            raise MalformedPayload(f"email: {where} has neither a valid Date nor an INTERNALDATE")
        conversation, parent = self._threads.place(mid)
        ours = self._context.is_ours(mail.sender)
        author = f"{PLATFORM}:{mail.sender}" if mail.sender else f"{PLATFORM}:unknown-sender"
        message = Message(
            id=mid,
            platform=PLATFORM,
            conversation_id=conversation,
            author_id=author,
            direction=Direction.OUTBOUND if ours else Direction.INBOUND,
            sent_at=sent_at,
            channel_id=self._channel.id,
            in_reply_to=parent,
            text=mail.text,
            visibility=Visibility.PRIVATE,
            automated=mail.automated,
        )
        person = None
        if mail.sender and not ours:
            person = Stakeholder(
                id=author, display_name=mail.sender_name, identities={PLATFORM: mail.sender}
            )
        return message, person
