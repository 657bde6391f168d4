"""Sync benchmark (DESIGN §9): 10 sources from a loopback server, 20 ms per page.

Runs the real sync engine, HTTP helper and SQLite store against a local HTTP server
whose every page takes 20 ms to answer, once with one source after the other
(``concurrency=1``) and once concurrently (``concurrency=10``), and prints both times and
the ratio (target: at least 5x). Both runs happen in this process, so the ratio holds on
a noisy machine.

    python benchmarks/bench_sync.py [--sources 10] [--pages 10] [--per-page 50]
                                    [--delay 0.02] [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import attrs
import httpx

from convokit_core._http import HttpClient
from convokit_core._model import Message, Page
from convokit_core._storage._sqlite import SQLiteStore
from convokit_core._sync._config import SourceSpec
from convokit_core._sync._context import SyncContext
from convokit_core._sync._engine import run_sync

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def _make_server(pages: int, per_page: int, delay: float) -> ThreadingHTTPServer:
    """``GET /feed/<source>?page=N`` -> ``{"items": [...], "next": N+1 | null}``."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out in separate writes

        def do_GET(self) -> None:
            time.sleep(delay)
            parts = urlsplit(self.path)
            source = parts.path.rsplit("/", 1)[-1]
            page = int(parse_qs(parts.query).get("page", ["0"])[0])
            items = [
                {
                    "id": f"{source}-{page * per_page + i}",
                    "author": f"user{i % 7}",
                    "text": f"message {i} of page {page}",
                    "at": (T0 + timedelta(seconds=page * per_page + i)).isoformat(),
                }
                for i in range(per_page)
            ]
            body = json.dumps(
                {"items": items, "next": page + 1 if page + 1 < pages else None}
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.request_queue_size = 64
    return server


def _serve_in_child(pages: int, per_page: int, delay: float, ports: Any) -> None:
    server = _make_server(pages, per_page, delay)
    ports.put(server.server_address[1])
    server.serve_forever()


@contextmanager
def serve(pages: int, per_page: int, delay: float) -> Iterator[str]:
    """Run the server in its own process, so its CPU time does not count against the
    sync being measured (as with any real server)."""
    ports: Any = multiprocessing.Queue()
    child = multiprocessing.Process(
        target=_serve_in_child, args=(pages, per_page, delay, ports), daemon=True
    )
    child.start()
    try:
        yield f"http://127.0.0.1:{ports.get(timeout=10)}"
    finally:
        child.terminate()
        child.join(timeout=5)


@attrs.frozen(kw_only=True)
class FeedConfig:
    url: str
    feed: str


class FeedAdapter:
    def __init__(self, config: FeedConfig, client: httpx.AsyncClient, context: SyncContext):
        self.config = config
        self.context = context
        self.http = HttpClient(client, base_url=config.url)

    async def fetch(self, cursor: str | None) -> AsyncIterator[Page]:
        page: int | None = int(cursor) if cursor is not None else 0
        while page is not None:
            data = await self.http.get_json(f"/feed/{self.config.feed}", params={"page": page})
            messages = tuple(
                Message(
                    id=item["id"],
                    platform="bench",
                    conversation_id=f"{self.config.feed}-{page}",
                    author_id=item["author"],
                    direction="outbound" if self.context.is_ours(item["author"]) else "inbound",
                    sent_at=datetime.fromisoformat(item["at"]),
                    text=item["text"],
                )
                for item in data["items"]
            )
            fields: dict[str, Any] = {"messages": messages, "cursor": str(page + 1)}
            yield Page(**fields)
            page = data["next"]


def create(config: FeedConfig, client: httpx.AsyncClient, context: SyncContext) -> FeedAdapter:
    return FeedAdapter(config, client, context)


def one_run(base_url: str, sources: int, concurrency: int, expected: int) -> float:
    specs = [
        SourceSpec(
            name=f"source-{i}",
            platform="bench",
            config=FeedConfig(url=base_url, feed=f"f{i}"),
            create=create,
        )
        for i in range(sources)
    ]
    with tempfile.TemporaryDirectory() as tmp:
        store = SQLiteStore(f"sqlite:///{Path(tmp) / 'bench.db'}")
        try:
            started = time.perf_counter()
            report = asyncio.run(run_sync(specs, store, concurrency=concurrency))
            elapsed = time.perf_counter() - started
            assert report.ok, report.failure_message()
            count = store.counts()["messages"]
            assert count == expected, (count, expected)
        finally:
            store.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", type=int, default=10)
    parser.add_argument("--pages", type=int, default=10)
    parser.add_argument("--per-page", type=int, default=50)
    parser.add_argument("--delay", type=float, default=0.020)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    expected = args.sources * args.pages * args.per_page
    with serve(args.pages, args.per_page, args.delay) as base_url:
        one_run(base_url, 1, 1, args.pages * args.per_page)  # warm-up
        sequential = [one_run(base_url, args.sources, 1, expected) for _ in range(args.repeat)]
        concurrent = [
            one_run(base_url, args.sources, args.sources, expected) for _ in range(args.repeat)
        ]
    seq, conc = statistics.median(sequential), statistics.median(concurrent)
    floor = args.sources * args.pages * args.delay
    print(
        f"{args.sources} sources x {args.pages} pages x {args.per_page} messages, "
        f"{args.delay * 1000:.0f} ms per page (loopback), SQLite store"
    )
    print(f"one after the other: {seq:.3f} s  (server time alone: {floor:.3f} s)")
    print(f"concurrent ({args.sources}):    {conc:.3f} s")
    print(f"speed-up:            {seq / conc:.2f}x  (target >= 5x)")


if __name__ == "__main__":
    main()
