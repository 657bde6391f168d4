"""``convokit watch`` on PostgreSQL: the ledger, and one leader among watch processes."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from convokit_core import open_store
from convokit_core._cli import cli

NOW = "2024-05-06T12:00:00Z"
CONFIG = """\
store = "{store}"

[[commitment]]
name = "first"
rule = "first_reply"
within = "1h"
warn_before = "30m"

[[notify]]
name = "hook"
kind = "webhook"
url = "{url}"
"""
HISTORY = [
    {"id": "m1", "platform": "desk", "conversation": "c1", "author": "u1",
     "direction": "inbound", "sent_at": "2024-05-06T11:20:00Z"},
    {"id": "m2", "platform": "desk", "conversation": "c2", "author": "u2",
     "direction": "inbound", "sent_at": "2024-05-06T10:00:00Z"},
]  # fmt: skip


@pytest.fixture
def received() -> Iterator[tuple[str, list[Any]]]:
    bodies: list[Any] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", bodies
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stderr


def test_watch_keeps_its_ledger_and_waits_for_the_leader(
    pg_url: str,
    received: tuple[str, list[Any]],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    url, bodies = received
    Path("convokit.toml").write_text(CONFIG.format(store=pg_url, url=url), encoding="utf-8")
    Path("h.jsonl").write_text("".join(json.dumps(r) + "\n" for r in HISTORY), encoding="utf-8")
    assert _run("import", "h.jsonl")[0] == 0
    other = open_store(pg_url)
    try:
        lease = other.acquire_leadership("watch")  # type: ignore[attr-defined]
        assert lease is not None
        assert other.acquire_leadership("watch") is None  # type: ignore[attr-defined]
        code, err = _run("watch", "--once", "--now", NOW)
        assert code == 0, err
        assert "another watch process leads this store" in err
        assert bodies == []
        lease.release()
    finally:
        other.close()
    code, err = _run("watch", "--once", "--now", NOW)
    assert code == 0, err
    assert sorted((b["conversation"], b["event"]) for b in bodies) == [
        ("c1", "at_risk"),
        ("c2", "breached"),
    ]
    assert _run("watch", "--once", "--now", NOW)[0] == 0
    assert len(bodies) == 2
    check = open_store(pg_url)
    try:
        entries = list(check.iter_notifications())  # type: ignore[attr-defined]
    finally:
        check.close()
    assert sorted(e.subject for e in entries) == ["c1", "c2"]
    assert all(e.sent and e.notifier == "hook" for e in entries)
