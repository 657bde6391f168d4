"""A canary token run through every CLI path at ``-vv`` must never come out anywhere.

The toy platform's fake server echoes the token it receives in its error bodies (raw,
URL-encoded, base64 and as basic-auth base64), a malformed payload carries it, and one
adapter crashes with it in an exception chain, the way a careless platform or adapter
would. Every output is then searched for every form of the canary: stdout, stderr,
log records (with tracebacks), ``sync --status``, exports, and the bytes of the SQLite
store and its ``-wal``/``-shm`` files.
"""

from __future__ import annotations

import base64
import json
import logging
import sys
import urllib.parse
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from convokit_core import _http
from convokit_core._cli import cli
from convokit_core._model import Page
from convokit_core._plugins import PluginManager, set_plugin_manager
from convokit_core._sync import _engine
from convokit_core.hookspecs import hookimpl

# tests/secrets is not a package (it would shadow the stdlib's ``secrets``); the toy
# platform lives in the tests/sync package.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from sync.toy import ToyAdapter, ToyConfig, ToyServer

CANARY = "CaNaRy-7f3a/9q+Zk=w&x"  # every encoding changes it


def canary_forms() -> dict[str, str]:
    """The forms searched for, computed here (not by the code under test)."""
    basic = base64.b64encode(f"api-user:{CANARY}".encode()).decode()
    return {
        "raw": CANARY,
        "quote": urllib.parse.quote(CANARY, safe=""),
        "quote-path": urllib.parse.quote(CANARY),
        "quote_plus": urllib.parse.quote_plus(CANARY),
        "base64": base64.b64encode(CANARY.encode()).decode(),
        "base64-urlsafe": base64.urlsafe_b64encode(CANARY.encode()).decode(),
        # the middle of "api-user:CANARY" in base64: only the canary's bytes
        "basic-auth": basic[12:-4],
        "json-unicode": json.dumps(CANARY)[1:-1],
    }


class EchoServer(ToyServer):
    """The toy API, which in some modes echoes the credentials it received."""

    def __init__(self) -> None:
        super().__init__(7, token=CANARY)
        self.mode = "ok"
        self.seen_canary = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        auth = request.headers.get("authorization", "")
        if CANARY in auth:
            self.seen_canary += 1
        echoed = auth.removeprefix("Bearer ")
        if self.mode == "401":
            body = {"error": f"token {echoed} ({urllib.parse.quote(echoed, safe='')}) revoked"}
            return httpx.Response(401, json=body)
        if self.mode == "500":
            encoded = base64.b64encode(f"api-user:{echoed}".encode()).decode()
            text = f"upstream said Basic {encoded} / {urllib.parse.quote_plus(echoed)}"
            return httpx.Response(500, text=text)
        if self.mode == "malformed":
            return httpx.Response(200, json={"items": f"debug: auth={auth}"})
        if self.mode == "redirect":
            return httpx.Response(
                302, headers={"Location": f"https://elsewhere.example/x?access_token={echoed}"}
            )
        return super().__call__(request)


class CrashingAdapter(ToyAdapter):
    """Fails with the token deep in an exception chain (a careless adapter)."""

    async def fetch(self, cursor: str | None) -> AsyncIterator[Page]:
        async for page in super().fetch(cursor):
            yield page
        try:
            raise KeyError(f"session {self.config.token}")
        except KeyError as exc:
            raise RuntimeError(f"state: token={self.config.token!r}") from exc


class CanaryPlugin:
    __name__ = "canary-plugin"

    @hookimpl
    def register_platforms(self, register: Any) -> None:
        register("toy", config=ToyConfig, create=ToyAdapter)
        register("crashy", config=ToyConfig, create=CrashingAdapter)


CONFIG = """
store = "sqlite:///store.db"

[[source]]
name = "main"
platform = "toy"
url = "https://toy.example"
token = "${CANARY_TOKEN}"

[[team]]
id = "ac"
handles = { toy = "acme" }

[[commitment]]
name = "first"
rule = "first_reply"
within = "1h"
"""

CRASHY = """
[[source]]
name = "crashy"
platform = "crashy"
url = "https://toy.example"
token = "${CANARY_TOKEN}"
"""


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[EchoServer]:
    fake = EchoServer()
    set_plugin_manager(PluginManager(plugins=[CanaryPlugin()], load_entry_points=False))
    monkeypatch.setattr(
        _engine, "default_client", lambda: httpx.AsyncClient(transport=httpx.MockTransport(fake))
    )

    async def no_wait(seconds: float) -> None:
        return None

    monkeypatch.setattr(_http, "_sleep", no_wait)
    monkeypatch.setenv("CANARY_TOKEN", CANARY)
    yield fake
    set_plugin_manager(None)


class Outputs:
    """Everything the runs printed, keyed by the command that printed it."""

    def __init__(self) -> None:
        self.texts: dict[str, str] = {}

    def run(self, label: str, *args: str, expect: int, config: str = CONFIG) -> str:
        Path("convokit.toml").write_text(config, encoding="utf-8")
        result = CliRunner().invoke(cli, ["-vv", *args], catch_exceptions=False)
        self.texts[f"{label} stdout"] = result.stdout
        self.texts[f"{label} stderr"] = result.stderr
        assert result.exit_code == expect, (label, result.stdout, result.stderr)
        return result.stdout + result.stderr

    def leaks(self, forms: dict[str, str]) -> list[str]:
        return [
            f"{kind} canary in {where}: {text[max(0, text.find(form) - 80) :][:200]!r}"
            for where, text in self.texts.items()
            for kind, form in forms.items()
            if form in text
        ]


def run_every_path(server: EchoServer, out: Outputs) -> None:
    combined = out.run("sync ok", "sync", expect=0)
    assert "main: 3 pages, 7 records" in combined
    server.mode = "401"
    combined = out.run("sync 401", "sync", expect=1)
    assert "HTTP 401 Unauthorized: token *** (***) revoked" in combined
    server.mode = "500"
    combined = out.run("sync 500", "sync", expect=1)
    assert "failed after 4 attempts: HTTP 500 Internal Server Error: upstream said" in combined
    server.mode = "malformed"
    combined = out.run("sync malformed", "sync", expect=1)
    assert "expected {'items': [...]}, got {'items': 'debug: auth=***'}" in combined
    server.mode = "redirect"
    out.run("sync redirect", "sync", expect=1)
    server.mode = "ok"
    combined = out.run("sync crash", "sync", expect=1, config=CONFIG + CRASHY)
    assert "unexpected RuntimeError in the adapter: state: token='***'" in combined
    out.run("sync unknown source", "sync", "--source", "nosuch", expect=2)
    status = out.run("sync --status", "sync", "--status", expect=0)
    assert "failed: GET https://toy.example/api/items?limit=3&after=0007 failed: HTTP 401" in status
    out.run("export stdout", "export", expect=0)
    out.run("export file", "export", "-o", "export.jsonl", expect=0)
    out.texts["export.jsonl"] = Path("export.jsonl").read_text(encoding="utf-8")
    out.run("check", "check", "--format", "json", "--fail-on", "never", expect=0)
    out.run("store info", "store", "info", expect=0)
    out.run("plugins", "plugins", "--all", expect=0)
    assert server.seen_canary >= 10, "the canary really was sent"


def store_leaks(forms: dict[str, str]) -> list[str]:
    files = [p for p in Path().glob("store.db*") if p.is_file()]
    assert Path("store.db") in files
    found = []
    for path in files:
        data = path.read_bytes()
        found += [
            f"{kind} canary in {path}" for kind, form in forms.items() if form.encode() in data
        ]
    return found


def test_canary_never_leaks_into_output_logs_or_the_store(
    server: EchoServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="convokit")
    out = Outputs()
    run_every_path(server, out)
    records = caplog.records
    assert any(
        r.levelno == logging.DEBUG and "failed:\nTraceback" in r.getMessage() for r in records
    )
    out.texts["log records"] = "\n".join(
        f"{r.name} {r.getMessage()} {r.exc_text or ''} {r.stack_info or ''}" for r in records
    )
    out.texts["formatted log"] = caplog.text
    forms = canary_forms()
    assert out.leaks(forms) + store_leaks(forms) == []


def test_canary_never_leaks_through_the_clis_own_log_handler(
    server: EchoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Without handlers on the root logger, ``-vv`` installs its own stderr handler.
    family = logging.getLogger("convokit")
    before = list(family.handlers)
    monkeypatch.setattr(logging.root, "handlers", [])
    out = Outputs()
    try:
        run_every_path(server, out)
    finally:
        for handler in [h for h in family.handlers if h not in before]:
            family.removeHandler(handler)
        family.setLevel(logging.NOTSET)
    assert "DEBUG convokit.sync: source crashy failed:\nTraceback" in out.texts["sync crash stderr"]
    forms = canary_forms()
    assert out.leaks(forms) + store_leaks(forms) == []
