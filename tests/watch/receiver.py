"""A real loopback webhook receiver (http.server in a thread) for the watch tests."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import attrs


@attrs.define
class Received:
    headers: dict[str, str]
    body: bytes
    path: str = "/hook"

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    def signature_ok(self, secret: str) -> bool:
        expected = "sha256=" + hmac.new(secret.encode(), self.body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(self.headers.get("convokit-signature", ""), expected)


class Receiver:
    """Records every POST; answers ``status`` (200 unless set).

    ``block_on``: the number (1-based) of the request to hold until :attr:`release` is
    set; :attr:`arrived` is set once that request was read in full.
    """

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.status = 200
        self.block_on: int | None = None
        self.arrived = threading.Event()
        self.release = threading.Event()
        self._lock = threading.Lock()
        self.url = ""

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length", "0"))
        body = handler.rfile.read(length)
        with self._lock:
            self.requests.append(
                Received(
                    headers={k.lower(): v for k, v in handler.headers.items()},
                    body=body,
                    path=handler.path,
                )
            )
            number = len(self.requests)
            status = self.status
        if number == self.block_on:
            self.arrived.set()
            self.release.wait(timeout=120)
        handler.send_response(status)
        handler.send_header("Content-Length", "2")
        handler.end_headers()
        with suppress(OSError):
            handler.wfile.write(b"ok")

    def bodies(self) -> list[Any]:
        return [r.json for r in self.requests]


@contextmanager
def running_receiver() -> Iterator[Receiver]:
    receiver = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            receiver.handle(self)

        def log_message(self, format: str, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.release.set()
        server.shutdown()
        server.server_close()
        thread.join()
