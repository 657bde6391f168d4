"""PEP 561: a plugin outside the repo type-checks against the installed wheel."""

from __future__ import annotations

from pathlib import Path

from .conftest import FreshVenv, wheel_names

PLUGIN = '''
"""A small third-party plugin using only public names."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

import attrs
import httpx

from convokit_core import (
    ConfigError,
    Direction,
    HttpClient,
    MalformedPayload,
    Message,
    Page,
    ResetStyle,
    RetryPolicy,
    SyncContext,
    hookimpl,
    parse_datetime,
)
from convokit_core.protocols import PlatformAdapter
from convokit_core.testing import AdapterConformance


@attrs.frozen(kw_only=True)
class ToyConfig:
    base_url: str
    token: str = attrs.field(repr=False, metadata={"secret": True})


class ToyAdapter:
    def __init__(self, config: ToyConfig, client: httpx.AsyncClient, context: SyncContext) -> None:
        self._context = context
        self._http = HttpClient(
            client,
            base_url=config.base_url,
            secret_headers={"Authorization": f"Bearer {config.token}"},
            policy=RetryPolicy(max_retries=2),
            reset_header="X-RateLimit-Reset",
            reset_style=ResetStyle.EPOCH_SECONDS,
        )

    async def fetch(self, cursor: str | None) -> AsyncIterator[Page]:
        data = await self._http.get_json("items", params={"after": cursor or ""})
        if not isinstance(data, list):
            raise MalformedPayload("expected a list")
        messages = [
            Message(
                id=str(item["id"]),
                platform="toy",
                conversation_id=str(item["thread"]),
                author_id=str(item["by"]),
                direction=Direction.OUTBOUND if self._context.is_ours(item["by"]) else Direction.INBOUND,
                sent_at=parse_datetime(str(item["at"])),
                text=str(item["text"]),
            )
            for item in data
        ]
        if messages:
            yield Page(messages=messages, cursor=messages[-1].id)


def create(config: ToyConfig, client: httpx.AsyncClient, context: SyncContext) -> PlatformAdapter:
    if not config.base_url:
        raise ConfigError("base_url is empty")
    adapter: PlatformAdapter = ToyAdapter(config, client, context)
    return adapter


@hookimpl
def register_platforms(register: Callable[..., None]) -> None:
    register("toy", config=ToyConfig, create=create)


class TestToyConformance(AdapterConformance):
    pass


STARTED: datetime = datetime(2024, 1, 1, tzinfo=UTC)
'''


def test_the_wheel_ships_py_typed_and_the_plugin_template(fresh_venv: FreshVenv) -> None:
    names = wheel_names(fresh_venv.wheel)
    assert "convokit_core/py.typed" in names
    assert "convokit_core/_scaffold/template/pyproject.toml" in names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]


def test_mypy_strict_passes_on_a_plugin_outside_the_repo(
    fresh_venv: FreshVenv, tmp_path: Path
) -> None:
    module = tmp_path / "toy_plugin.py"
    module.write_text(PLUGIN, encoding="utf-8")
    done = fresh_venv.run(
        fresh_venv.bin("mypy"), "--strict", "--no-incremental", module.name, cwd=tmp_path
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Success: no issues found in 1 source file" in done.stdout


def test_mypy_strict_reports_a_misuse_of_the_public_api(
    fresh_venv: FreshVenv, tmp_path: Path
) -> None:
    # Proof the types are really read from the wheel: without py.typed every name would
    # be Any (or an import error) and this misuse would go unnoticed or be reported wrongly.
    module = tmp_path / "bad_plugin.py"
    module.write_text(
        "from convokit_core import RetryPolicy\n\nRetryPolicy(max_retries='many')\n",
        encoding="utf-8",
    )
    done = fresh_venv.run(
        fresh_venv.bin("mypy"), "--strict", "--no-incremental", module.name, cwd=tmp_path
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert 'Argument "max_retries" to "RetryPolicy" has incompatible type "str"' in done.stdout
