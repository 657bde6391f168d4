"""The conformance kit fails adapters that break the contract."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from convokit_core import _http
from convokit_core._errors import HttpError, MalformedPayload
from convokit_core._model import Page
from convokit_core._sync._context import SyncContext
from convokit_core.testing._adapters import AdapterConformance

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
