"""The conformance kit fails adapters that break the contract."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import attrs
import httpx
import pytest

import convokit_core._http as _http
from convokit_core import HttpError, MalformedPayload, Page, SyncContext
from convokit_core.testing import AdapterConformance

from .toy import ToyAdapter, ToyConfig, ToyServer

TOKEN = "toy-secret-token"
EXPECTED = {f"{i:04d}" for i in range(1, 11)}


@pytest.fixture
def kit(monkeypatch: pytest.MonkeyPatch) -> AdapterConformance:
    instance = AdapterConformance()
    instance.sleeps = []

    async def no_sleep(seconds: float) -> None:
        instance.sleeps.append(seconds)

    monkeypatch.setattr(_http, "_sleep", no_sleep)
    return instance


def args(create: Callable[..., Any], **extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "platform": "toy",
        "adapter_config": ToyConfig(url="https://toy.example", token=TOKEN),
        "create_adapter": create,
        "fake_server": ToyServer(10, token=TOKEN),
        "expected_ids": EXPECTED,
        "team_handles": frozenset(),
    }
    base.update(extra)
    return base


class SkipsAfterResume(ToyAdapter):
    """Resumes one item too far: loses a message on every resume."""

    async def fetch(self, cursor: str | None) -> AsyncIterator[Page]:
        skip = f"{int(cursor) + 1:04d}" if cursor is not None else None
        async for page in super().fetch(skip):
            yield page


class SwallowsMalformed(ToyAdapter):
    async def fetch(self, cursor: str | None) -> AsyncIterator[Page]:
        try:
            async for page in super().fetch(cursor):
                yield page
        except MalformedPayload:
            return


class CrashesOnShape(ToyAdapter):
    """Lets a KeyError escape instead of MalformedPayload."""

    async def fetch(self, cursor: str | None) -> AsyncIterator[Page]:
        data = await self.http.get_json("/api/items", params={"limit": 3})
        data["items"]
        async for page in super().fetch(cursor):
            yield page


class LeaksInRepr(ToyAdapter):
    def __repr__(self) -> str:
        return f"<LeaksInRepr token={self.config.token}>"


class NoRetries(ToyAdapter):
    def __init__(self, config: ToyConfig, client: httpx.AsyncClient, context: SyncContext):
        super().__init__(config, client, context)
        self.http = _http.HttpClient(
            client,
            base_url=config.url,
            secret_headers={"Authorization": f"Bearer {config.token}"},
            policy=_http.RetryPolicy(max_retries=0),
        )


def test_resume_that_loses_messages_is_caught(kit: AdapterConformance) -> None:
    with pytest.raises(AssertionError, match="lost messages"):
        kit.test_resume_from_every_cursor_gives_the_same_set(**args(SkipsAfterResume))


def test_swallowed_malformed_page_is_caught(kit: AdapterConformance) -> None:
    with pytest.raises(AssertionError, match="did not fail"):
        kit.test_malformed_response_fails_without_advancing_the_cursor(
            **args(SwallowsMalformed, malformed_bodies=[b"{"])
        )


def test_crash_instead_of_malformed_payload_is_caught(kit: AdapterConformance) -> None:
    with pytest.raises(AssertionError, match="expected MalformedPayload, got KeyError"):
        kit.test_malformed_response_fails_without_advancing_the_cursor(
            **args(CrashesOnShape, malformed_bodies=[b'{"unexpected": "shape"}'])
        )


def test_secret_in_adapter_repr_is_caught(
    kit: AdapterConformance, caplog: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(AssertionError, match="leaked"):
        kit.test_secrets_never_leak(
            **{k: v for k, v in args(LeaksInRepr).items() if k != "expected_ids"},
            secrets={TOKEN},
            caplog=caplog,
        )


def test_adapter_without_retries_is_caught(kit: AdapterConformance) -> None:
    with pytest.raises(HttpError, match="HTTP 429"):
        kit.test_transient_faults_give_the_same_set(**args(NoRetries))


def test_single_page_server_is_refused(kit: AdapterConformance) -> None:
    with pytest.raises(AssertionError, match="at least two pages"):
        kit.test_paginates_to_the_end(
            **args(ToyAdapter, fake_server=ToyServer(2, token=TOKEN), expected_ids={"0001", "0002"})
        )


def test_future_cursor_that_yields_is_caught(kit: AdapterConformance) -> None:
    with pytest.raises(AssertionError):
        kit.test_future_cursor_yields_nothing(
            **{k: v for k, v in args(ToyAdapter).items() if k != "expected_ids"},
            future_cursor="0000",
        )


# -- the checks added for the plugin-author kit: each catches the mistake it names ------


class FinalCursorStays(ToyAdapter):
    """Every page carries the cursor the sync started from: the next sync re-reads all."""

    async def fetch(self, cursor: str | None) -> AsyncIterator[Page]:
        async for page in super().fetch(cursor):
            yield attrs.evolve(page, cursor=cursor or "0000")


class YieldsTwice(ToyAdapter):
    async def fetch(self, cursor: str | None) -> AsyncIterator[Page]:
        previous: Page | None = None
        async for page in super().fetch(cursor):
            extra = previous.messages[-1:] if previous else ()
            yield attrs.evolve(page, messages=(*extra, *page.messages))
            previous = page


class EmptyPagesMidStream(ToyAdapter):
    async def fetch(self, cursor: str | None) -> AsyncIterator[Page]:
        async for page in super().fetch(cursor):
            yield page
            yield Page(cursor=page.cursor)
        yield Page(cursor="0010")


class GarbageCursorRestarts(ToyAdapter):
    async def fetch(self, cursor: str | None) -> AsyncIterator[Page]:
        valid = cursor is not None and len(cursor) == 4 and cursor.isdigit()
        async for page in super().fetch(cursor if valid else None):
            yield page


class IgnoresTeamHandles(ToyAdapter):
    def __init__(self, config: ToyConfig, client: httpx.AsyncClient, context: SyncContext):
        super().__init__(config, client, context)
        self.context = SyncContext(source=context.source, platform=context.platform)
        self.context = self.context.with_own_handles(config.account)


class OwnAccountInbound(ToyAdapter):
    def __init__(self, config: ToyConfig, client: httpx.AsyncClient, context: SyncContext):
        super().__init__(config, client, context)
        self.context = context


class TokenInMalformedPayload(ToyAdapter):
    async def fetch(self, cursor: str | None) -> AsyncIterator[Page]:
        try:
            async for page in super().fetch(cursor):
                yield page
        except MalformedPayload as exc:
            raise MalformedPayload(f"{exc} (token {self.config.token})") from None


class LocalTime(ToyAdapter):
    async def fetch(self, cursor: str | None) -> AsyncIterator[Page]:
        async for page in super().fetch(cursor):
            shifted = [
                attrs.evolve(m, sent_at=m.sent_at + timedelta(hours=5)) for m in page.messages
            ]
            yield attrs.evolve(page, messages=shifted)


class DropsParents(ToyAdapter):
    async def fetch(self, cursor: str | None) -> AsyncIterator[Page]:
        async for page in super().fetch(cursor):
            yield attrs.evolve(
                page, messages=[attrs.evolve(m, in_reply_to=None) for m in page.messages]
            )


class StopsOnRateLimit(ToyAdapter):
    async def fetch(self, cursor: str | None) -> AsyncIterator[Page]:
        try:
            async for page in super().fetch(cursor):
                yield page
        except HttpError as exc:
            if exc.status == 429:
                return
            raise


def cursorless(create: Callable[..., Any], **extra: Any) -> dict[str, Any]:
    return {k: v for k, v in args(create, **extra).items() if k != "expected_ids"}


def test_final_cursor_that_never_advances_is_caught(kit: AdapterConformance) -> None:
    with pytest.raises(AssertionError, match="does not advance"):
        kit.test_resume_from_the_final_cursor_yields_nothing(**cursorless(FinalCursorStays))


def test_message_yielded_twice_is_caught(kit: AdapterConformance) -> None:
    with pytest.raises(AssertionError, match="more than once"):
        kit.test_no_message_is_yielded_twice(**cursorless(YieldsTwice))


def test_empty_page_mid_stream_is_caught(kit: AdapterConformance) -> None:
    with pytest.raises(AssertionError, match="holds no record"):
        kit.test_no_empty_page_mid_stream(**cursorless(EmptyPagesMidStream))


def test_garbage_cursor_that_restarts_is_caught(kit: AdapterConformance) -> None:
    with pytest.raises(AssertionError, match="restarted silently"):
        kit.test_garbage_cursor_is_an_error(
            **cursorless(GarbageCursorRestarts), garbage_cursors=None
        )


def test_garbage_cursor_that_crashes_is_caught(kit: AdapterConformance) -> None:
    class Crashes(ToyAdapter):
        async def fetch(self, cursor: str | None) -> AsyncIterator[Page]:
            int(cursor or "0")
            async for page in super().fetch(cursor):
                yield page

    with pytest.raises(pytest.fail.Exception, match="raised ValueError"):
        kit.test_garbage_cursor_is_an_error(**cursorless(Crashes), garbage_cursors=["garbage!"])


PEOPLE = ToyConfig(url="https://toy.example", token=TOKEN, people=True)


def test_ignored_team_handles_are_caught(kit: AdapterConformance) -> None:
    with pytest.raises(AssertionError, match="is a team handle"):
        kit.test_team_handles_and_own_accounts_are_outbound(
            **cursorless(IgnoresTeamHandles, adapter_config=PEOPLE), outbound_ids=None
        )
    kit.test_team_handles_and_own_accounts_are_outbound(
        **cursorless(ToyAdapter, adapter_config=PEOPLE), outbound_ids=None
    )


def test_team_check_skips_without_stakeholder_handles(kit: AdapterConformance) -> None:
    with pytest.raises(pytest.skip.Exception, match="no inbound message's author"):
        kit.test_team_handles_and_own_accounts_are_outbound(
            **cursorless(ToyAdapter), outbound_ids=None
        )


def test_own_account_stored_inbound_is_caught(kit: AdapterConformance) -> None:
    with pytest.raises(AssertionError, match="source's own account"):
        kit.test_team_handles_and_own_accounts_are_outbound(
            **cursorless(OwnAccountInbound), outbound_ids=None
        )


def test_outbound_ids_fixture_is_exact(kit: AdapterConformance) -> None:
    with pytest.raises(AssertionError, match="outbound messages: expected"):
        kit.test_team_handles_and_own_accounts_are_outbound(
            **cursorless(ToyAdapter), outbound_ids={"0003"}
        )
    kit.test_team_handles_and_own_accounts_are_outbound(
        **cursorless(ToyAdapter), outbound_ids={"0003", "0006", "0009"}
    )


def test_token_in_an_adapter_raised_malformed_payload_is_caught(
    kit: AdapterConformance, caplog: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(AssertionError, match="with a malformed payload injected, a secret leaked"):
        kit.test_secrets_never_leak_from_malformed_payloads(
            **cursorless(TokenInMalformedPayload),
            secrets={TOKEN},
            malformed_bodies=[b"{"],
            caplog=caplog,
        )


def test_times_shifted_from_the_payload_are_caught(kit: AdapterConformance) -> None:
    with pytest.raises(AssertionError, match="no moment the server sent"):
        kit.test_times_are_the_payload_times_in_utc(**cursorless(LocalTime))


def test_dropped_reply_parents_are_caught(kit: AdapterConformance) -> None:
    with pytest.raises(AssertionError, match="no message has in_reply_to"):
        kit.test_replies_point_at_their_parents(**cursorless(DropsParents), has_replies=True)
    kit.test_replies_point_at_their_parents(**cursorless(DropsParents), has_replies=False)


def test_rate_limit_that_ends_the_sync_quietly_is_caught(kit: AdapterConformance) -> None:
    with pytest.raises(AssertionError, match="never end it quietly"):
        kit.test_persistent_rate_limit_fails_the_source(**args(StopsOnRateLimit))
