"""Secret rules and scrubbing: whole forms only, never ordinary text."""

from __future__ import annotations

import base64
import json
import logging
import sys
import urllib.parse

import pytest

from convokit_core._errors import ConfigError, HttpError, SyncError
from convokit_core._secrets import (
    MIN_SECRET_LENGTH,
    Scrubber,
    ScrubbingFilter,
    check_secret,
    register_secrets,
    scrub,
    scrubbed_traceback,
    secret_forms,
)

SECRET = "Sc/rub+me&now=9"  # characters that every encoding changes


def test_minimum_length_is_eight() -> None:
    assert MIN_SECRET_LENGTH == 8
    check_secret("12345678", "'token'")
    with pytest.raises(ValueError, match="'token' is too short") as info:
        check_secret("1234567", "'token'")
    assert "1234567" not in str(info.value)


@pytest.mark.parametrize("char", ["\r", "\n", "\x00", "\x1b", "\x1f", "\x7f", "\x80", "\x9f"])
def test_every_control_character_is_refused(char: str) -> None:
    with pytest.raises(ValueError, match=f"U\\+{ord(char):04X}"):
        check_secret(f"abcdefgh{char}ij", "'token'")


def test_non_ascii_printable_characters_are_fine() -> None:
    check_secret("päss-wörd-ünïcode", "'token'")


@pytest.mark.parametrize(
    "form",
    [
        SECRET,
        urllib.parse.quote(SECRET, safe=""),
        urllib.parse.quote(SECRET),
        urllib.parse.quote_plus(SECRET),
        "Sc%2frub%2bme%26now%3d9",  # lower-case hex
        base64.b64encode(SECRET.encode()).decode(),
        base64.urlsafe_b64encode(SECRET.encode()).decode(),
        json.dumps(SECRET)[1:-1],
    ],
)
def test_every_form_is_scrubbed(form: str) -> None:
    scrubber = Scrubber([SECRET])
    assert scrubber.scrub(f"before {form} after") == "before *** after"


@pytest.mark.parametrize("user", ["", "a", "ab", "abc", "api-user"])
def test_basic_auth_base64_is_scrubbed_whatever_the_user_name(user: str) -> None:
    encoded = base64.b64encode(f"{user}:{SECRET}".encode()).decode()
    scrubbed = Scrubber([SECRET]).scrub(f"Authorization: Basic {encoded}")
    assert encoded not in scrubbed
    # Only the characters encoding the user name and the colon (and at most one
    # character shared with the secret's first byte, and the last) survive.
    before, stars, after = scrubbed.removeprefix("Authorization: Basic ").partition("***")
    assert stars == "***"
    assert len(before) <= -(-(len(user) + 1) * 4 // 3)
    assert len(after) <= 3


def test_surrounding_text_is_never_mangled() -> None:
    secret = "token-of-len"
    text = "https://example.org/token-of/len?x=token-of-le the token-of-len. tokens"
    assert Scrubber([secret]).scrub(text) == (
        "https://example.org/token-of/len?x=token-of-le the ***. tokens"
    )


def test_longer_forms_win_and_one_pass_never_rescans() -> None:
    inner = "abcdefgh12"
    outer = "xx-abcdefgh12-yy"
    assert Scrubber([inner, outer]).scrub(f"{outer} {inner}") == "*** ***"


def test_forms_of_a_plain_alphanumeric_secret_are_few() -> None:
    forms = secret_forms("abcdefghijkl")
    assert "abcdefghijkl" in forms
    assert all(len(f) >= MIN_SECRET_LENGTH for f in forms)


def test_registered_secrets_leave_error_messages_and_reprs() -> None:
    register_secrets(["registered-secret-77"])
    error = HttpError("GET https://x/?t=registered-secret-77 failed", status=500)
    assert str(error) == "GET https://x/?t=*** failed"
    assert "registered-secret-77" not in repr(error)
    assert scrub("a registered-secret-77 b") == "a *** b"


def test_a_printed_traceback_is_scrubbed_including_chained_causes() -> None:
    register_secrets(["chained-secret-88"])
    try:
        try:
            raise ValueError("inner chained-secret-88")
        except ValueError as exc:
            raise SyncError("outer chained-secret-88") from exc
    except SyncError as exc:
        text = scrubbed_traceback(exc)
    assert "chained-secret-88" not in text
    assert "inner ***" in text
    assert "outer ***" in text


def test_the_logging_filter_scrubs_message_args_and_exceptions(
    caplog: pytest.LogCaptureFixture,
) -> None:
    register_secrets(["logged-secret-99"])
    logger = logging.getLogger("convokit.test-filter")
    register_secrets([])  # installs the filter on loggers that exist now
    assert any(isinstance(f, ScrubbingFilter) for f in logger.filters)
    with caplog.at_level(logging.DEBUG, logger="convokit"):
        logger.info("token %s in args", "logged-secret-99")
        try:
            raise ConfigError(f"bad {base64.b64encode(b'logged-secret-99').decode()}")
        except ConfigError:
            logger.debug("failed", exc_info=True)
        try:
            raise KeyError("logged-secret-99")
        except KeyError:
            logger.exception("boom logged-secret-99")
    text = caplog.text
    assert "logged-secret-99" not in text
    assert base64.b64encode(b"logged-secret-99").decode() not in text
    assert "token *** in args" in text
    for record in caplog.records:
        assert record.exc_info is None
        assert "logged-secret-99" not in record.getMessage()
        assert "logged-secret-99" not in (record.exc_text or "")
    assert "KeyError: '***'" in text


def test_a_logger_created_after_registration_is_covered_by_the_handler_filter() -> None:
    import io

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    family = logging.getLogger("convokit")
    family.addHandler(handler)
    try:
        register_secrets(["late-logger-secret-1"])
        late = logging.getLogger("convokit.created-late-for-this-test")
        late.setLevel(logging.INFO)
        late.warning("value late-logger-secret-1")
    finally:
        family.removeHandler(handler)
    assert stream.getvalue() == "value ***\n"


# -- each layer on its own (the others could hide a broken one) ---------------------------


@pytest.fixture
def empty_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """No process-wide secret: only the layer under test can scrub."""
    from convokit_core import _http, _secrets

    monkeypatch.setattr(_secrets, "_registered", set())
    monkeypatch.setattr(_secrets, "_scrubber", Scrubber())
    monkeypatch.setattr(_http, "register_secrets", lambda secrets: None)


@pytest.mark.usefixtures("empty_registry")
def test_the_http_client_scrubs_its_own_messages() -> None:
    import asyncio

    import httpx

    from convokit_core._http import HttpClient

    token = "layer-http-token-1"
    body = {"error": f"bad {token} {urllib.parse.quote(token)}"}
    transport = httpx.MockTransport(lambda request: httpx.Response(401, json=body))
    http = HttpClient(
        httpx.AsyncClient(transport=transport),
        base_url="https://api.example",
        secret_headers={"Authorization": f"Bearer {token}"},
    )
    with pytest.raises(HttpError) as info:
        asyncio.run(http.get_json("/x"))
    assert str(info.value).endswith("HTTP 401 Unauthorized: bad *** ***")


@pytest.mark.usefixtures("empty_registry")
def test_the_sync_engine_scrubs_the_sources_secrets(caplog: pytest.LogCaptureFixture) -> None:
    import asyncio
    from collections.abc import AsyncIterator

    from convokit_core._model import Page
    from convokit_core._storage._memory import MemoryStore
    from convokit_core._sync._engine import sync_adapter

    secret = "layer-engine-secret"

    class Leaky:
        async def fetch(self, cursor: str | None) -> AsyncIterator[Page]:
            raise RuntimeError(f"oops {base64.b64encode(secret.encode()).decode()} {secret}")
            yield Page(cursor="x")  # pragma: no cover - makes this an async generator

    caplog.set_level(logging.DEBUG, logger="convokit")
    result = asyncio.run(
        sync_adapter(Leaky(), MemoryStore("memory://"), source="s", secrets=[secret])
    )
    assert result.error == "unexpected RuntimeError in the adapter: oops *** ***"
    assert secret not in caplog.text
    assert "Traceback" in caplog.text


@pytest.mark.usefixtures("empty_registry")
def test_loading_sources_registers_their_secrets() -> None:
    import tomllib
    from pathlib import Path

    from convokit_core._config import Config
    from convokit_core._plugins import PluginManager
    from convokit_core._sync._config import load_sources
    from convokit_core.hookspecs import hookimpl

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, for sync.toy
    from sync.toy import ToyConfig, create

    class Plugin:
        __name__ = "toy-layer"

        @hookimpl
        def register_platforms(self, register: object) -> None:
            assert callable(register)
            register("toy", config=ToyConfig, create=create)

    text = '[[source]]\nname = "a"\nplatform = "toy"\nurl = "https://t.example"\ntoken = "${T}"\n'
    manager = PluginManager(plugins=[Plugin()], load_entry_points=False)
    config = Config(path=Path("convokit.toml"), data=tomllib.loads(text), text=text)
    assert scrub("x layer-config-secret y") == "x layer-config-secret y"
    load_sources(config, manager, env={"T": "layer-config-secret"})
    assert scrub("x layer-config-secret y") == "x *** y"


def test_httpx_request_logs_are_scrubbed_too(caplog: pytest.LogCaptureFixture) -> None:
    import asyncio

    import httpx

    register_secrets(["httpx-logged-secret"])
    caplog.set_level(logging.INFO, logger="httpx")

    async def go() -> None:
        transport = httpx.MockTransport(lambda request: httpx.Response(200))
        async with httpx.AsyncClient(transport=transport) as client:
            await client.get("https://api.example/x?access_token=httpx-logged-secret")

    asyncio.run(go())
    assert any(r.name == "httpx" for r in caplog.records)
    assert "httpx-logged-secret" not in caplog.text
    assert "access_token=***" in caplog.text
