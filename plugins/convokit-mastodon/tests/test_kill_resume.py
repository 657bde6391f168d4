"""`convokit sync` killed with SIGKILL at random moments resumes with nothing lost.

A real HTTP server on loopback plays Mastodon (with injected 429s and 5xx); the CLI runs
in a child process that is killed several times mid-sync and restarted. The store must
end with exactly the server's set of statuses, each as a full, correct record.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from convokit_mastodon import MastodonConfig, create
from convokit_mastodon.testing import FakeMastodon, serve

from convokit_core import SyncContext, sync_adapter
from convokit_core._storage._memory import MemoryStore
from convokit_core._storage._sqlite import SQLiteStore

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs SIGKILL")

CLI = [sys.executable, "-c", "import sys; from convokit_core._cli import main; sys.exit(main())"]


def _config(path: Path, base_url: str) -> Path:
    config = path / "convokit.toml"
    config.write_text(
        f"""
store = "sqlite:///{path / "store.db"}"

[[source]]
name = "mastodon-acme"
platform = "mastodon"
instance = "{base_url}"
account = "@acme"
token = "${{MASTODON_TOKEN}}"
page_size = 3

[[team]]
id = "kc"
name = "KC"
handles = {{ mastodon = "@kc@{base_url.removeprefix("http://")}" }}
""",
        encoding="utf-8",
    )
    return config


def _stored(db: Path) -> dict[str, tuple[Any, ...]]:
    if not db.exists():
        return {}
    con = sqlite3.connect(db)
    try:
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master")}
        if "messages" not in tables:
            return {}
    finally:
        con.close()
    store = SQLiteStore(f"sqlite:///{db}")
    try:
        return {
            m.id: (m.conversation_id, m.direction.value, m.text, m.deleted, m.in_reply_to)
            for m in store.iter_messages()
        }
    finally:
        store.close()


def _reference(fake: FakeMastodon, base_url: str) -> dict[str, tuple[Any, ...]]:
    """What one uninterrupted sync stores (through a mock transport)."""
    host = base_url.removeprefix("http://")
    store = MemoryStore()
    config = MastodonConfig(instance=base_url, account="@acme", token=fake.token, page_size=3)

    async def go() -> None:
        async with httpx.AsyncClient(transport=httpx.MockTransport(fake.handler)) as client:
            context = SyncContext(source="ref", platform="mastodon", team_handles={f"@kc@{host}"})
            result = await sync_adapter(
                create(config, client, context), store, source="ref", in_thread=False
            )
            assert result.ok, result.error

    asyncio.run(go())
    return {
        m.id: (m.conversation_id, m.direction.value, m.text, m.deleted, m.in_reply_to)
        for m in store.iter_messages()
    }


def test_sigkill_at_random_moments_then_restart_stores_exactly_the_server_set(
    tmp_path: Path,
) -> None:
    rng = random.Random(20261122)
    fake = FakeMastodon(threads=20, fault_every=6, delay=0.01)
    with serve(fake) as base_url:
        fake.host = base_url.removeprefix("http://")  # ids are qualified by host:port
        config = _config(tmp_path, base_url)
        db = tmp_path / "store.db"
        env = {
            **os.environ,
            "MASTODON_TOKEN": fake.token,
            "CONVOKIT_LOAD_PLUGINS": "mastodon",
        }
        expected = fake.expected_ids()
        counts: list[int] = []
        kills = 0
        for _ in range(5):
            process = subprocess.Popen(
                [*CLI, "--config", str(config), "sync"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
                cwd=tmp_path,
            )
            assert process.stderr is not None
            # Kill right after the run reports its n-th written page (n random): the
            # signal lands wherever the child is by then, whatever the machine's load.
            wanted = rng.randint(1, 3)
            written = 0
            for line in process.stderr:
                written += " written " in line
                if written >= wanted:
                    process.send_signal(signal.SIGKILL)
                    kills += 1
                    break
            process.wait(timeout=60)
            process.stderr.close()
            counts.append(len(_stored(db)))
        # Restart until a run completes.
        final = subprocess.run(
            [*CLI, "--config", str(config), "sync"],
            env=env,
            capture_output=True,
            text=True,
            cwd=tmp_path,
            timeout=60,
        )
        assert final.returncode == 0, final.stderr
        stored = _stored(db)

        # Exactly the server's statuses, each stored as an uninterrupted sync stores it.
        assert set(stored) == expected
        assert stored == _reference(fake, base_url)
        # Nothing was ever lost between restarts, and the kills really hit mid-sync.
        assert counts == sorted(counts)
        assert kills >= 3
        assert any(0 < n < len(expected) for n in counts), counts
        assert fake.faults > 0

        status = subprocess.run(
            [*CLI, "--config", str(config), "sync", "--status"],
            env=env,
            capture_output=True,
            text=True,
            cwd=tmp_path,
            timeout=30,
        )
        assert status.returncode == 0, status.stderr
        assert "mastodon-acme" in status.stdout
        assert " ok" in status.stdout
