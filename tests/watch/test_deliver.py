"""Delivery through the shared HttpClient: idempotent retries with the same key and the
same signed bytes, the ledger written only after a 2xx, SIGTERM between deliveries."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime

import httpx

from convokit_core._http import RetryPolicy
from convokit_core._model import NotificationRecord
from convokit_core._storage._memory import MemoryStore
from convokit_core._watch._engine import Delivery, deliver_all
from convokit_core._watch._notifiers import WebhookNotifier, sign
from convokit_core._watch._settings import Notification, NotifierSettings, NotifierSpec

NOW = datetime(2024, 5, 6, 12, 0, tzinfo=UTC)
SECRET = "a-long-enough-secret"


def _delivery(subject: str) -> Delivery:
    settings = NotifierSettings(
        name="hook", kind="webhook", url="https://hooks.example.test/in", secret=SECRET
    )
    notification = Notification(
        event="breached",
        idempotency_key=f"key-{subject}",
        commitment="first",
        promise=None,
        status="breached",
        severity="error",
        subject=subject,
        conversation=subject,
        platform="desk",
        channel=None,
        owner=None,
        deadline=NOW,
        elapsed_seconds=7200.0,
        message="late",
        url=None,
    )
    record = NotificationRecord(
        notifier="hook",
        key=f"key-{subject}",
        commitment="first",
        subject=subject,
        event="breached",
        deadline=NOW,
        recorded_at=NOW,
    )
    spec = NotifierSpec(settings=settings, notifier=WebhookNotifier.create(settings))
    return Delivery(spec=spec, notification=notification, record=record)


def test_retries_send_the_same_key_and_bytes_then_record() -> None:
    seen: list[httpx.Request] = []
    answers = iter([503, 502, 200])

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(next(answers))

    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    store = MemoryStore()

    async def go() -> tuple[int, list[tuple[str, str]], bool]:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            return await deliver_all(
                [_delivery("c1")],
                store,
                client=client,
                policy=RetryPolicy(max_retries=2),
                stop=threading.Event(),
                sleep=sleep,
            )

    delivered, failures, interrupted = asyncio.run(go())
    assert (delivered, failures, interrupted) == (1, [], False)
    assert len(seen) == 3
    assert len(slept) == 2
    assert {r.headers["idempotency-key"] for r in seen} == {"key-c1"}
    assert len({r.content for r in seen}) == 1
    assert seen[0].headers["convokit-signature"] == sign(SECRET, seen[0].content)
    assert [e.key for e in store.iter_notifications()] == ["key-c1"]


def test_a_failure_is_not_recorded_and_a_stop_ends_before_the_next() -> None:
    stop = threading.Event()
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        key = request.headers["idempotency-key"]
        seen.append(key)
        if key == "key-c1":
            return httpx.Response(400, json={"error": "no"})
        stop.set()  # SIGTERM arrives while c2 is being delivered
        return httpx.Response(204)

    store = MemoryStore()

    async def go() -> tuple[int, list[tuple[str, str]], bool]:
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            return await deliver_all(
                [_delivery("c1"), _delivery("c2"), _delivery("c3")],
                store,
                client=client,
                policy=RetryPolicy(max_retries=0),
                stop=stop,
            )

    delivered, failures, interrupted = asyncio.run(go())
    assert (delivered, interrupted) == (1, True)
    assert [name for name, _ in failures] == ["hook"]
    assert "400" in failures[0][1]
    assert seen == ["key-c1", "key-c2"]
    assert [e.key for e in store.iter_notifications()] == ["key-c2"]
