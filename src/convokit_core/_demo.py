"""``convokit demo`` and ``convokit init``: a realistic history checked end to end."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import IO

import attrs

from ._plugins import open_store
from .testing._generate import DEMO_POLICY, HistorySpec, generate_history

__all__ = ["DEMO_POLICY", "DemoResult", "run_demo"]


@attrs.frozen(kw_only=True)
class DemoResult:
    """Where the demo put its store and policy, and what it generated."""

    store_url: str
    policy_path: Path
    counts: dict[str, int]
    as_of: datetime
    """The end of the generated history: the moment the demo checks at."""


def run_demo(directory: Path, *, conversations: int = 400, seed: int = 2024) -> DemoResult:
    """Generate a realistic support history into ``directory/convokit.db`` and write the
    demo policy to ``directory/policy.toml``."""
    directory.mkdir(parents=True, exist_ok=True)
    db = directory / "convokit.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    policy_path = directory / "policy.toml"
    policy_path.write_text(DEMO_POLICY, encoding="utf-8")
    url = f"sqlite:///{db}"
    spec = HistorySpec(conversations=conversations, seed=seed)
    with open_store(url) as store:
        with store.transaction() as tx:
            for batch in generate_history(spec=spec):
                tx.write(batch)
        counts = store.counts()
    as_of = spec.start + timedelta(days=spec.days)
    return DemoResult(store_url=url, policy_path=policy_path, counts=counts, as_of=as_of)


def write_starter_config(stream: IO[str]) -> None:
    """The ``convokit.toml`` that ``convokit init`` writes."""
    stream.write(
        "# convokit configuration — see docs/cli.md and docs/policy-files.md\n"
        'store = "sqlite:///convokit.db"\n\n'
        "# Platforms to sync (see docs/sync.md), for example:\n"
        "# [[source]]\n"
        '# name = "mastodon-main"\n'
        '# platform = "mastodon"\n'
        '# instance = "https://social.example"\n'
        '# account = "acme"\n'
        '# token = "${MASTODON_TOKEN}"\n\n'
        "# Who speaks for us (outbound messages are recognised by these handles):\n"
        "# [[team]]\n"
        '# id = "kim"\n'
        '# handles = { mastodon = "kim@social.example" }\n\n'
    )
    stream.write(DEMO_POLICY)
