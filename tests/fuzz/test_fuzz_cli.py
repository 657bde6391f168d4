"""Fuzzing the CLI in-process with hostile input (issue 8: "no traceback from any input").

Every example drives ``convokit`` through click's ``CliRunner`` and asserts:

- the exit code is 0, 1 or 2;
- there is never a traceback (no ``Traceback`` in the output, and no exception other
  than ``SystemExit`` escapes);
- a failed import never changes the store (its export is compared before and after).

Inputs are both structured-but-wrong (valid JSON or TOML with hostile values: huge
integers, deep nesting, lone surrogates, NUL, extreme dates, wrong types, unknown keys)
and raw byte noise. Runs are deterministic (``derandomize=True``, no example database)
and bounded by ``max_examples``, not by time.
"""

from __future__ import annotations

import json
import math
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import attrs
import httpx
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from convokit_core._cli import cli
from convokit_core._plugins import PluginManager, set_plugin_manager
from convokit_core._sync import _engine
from convokit_core.hookspecs import hookimpl

FUZZ = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# -- hostile values --------------------------------------------------------------------

EXTREME_TIMES = [
    "0001-01-01T00:00:00+01:00",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59-01:00",
    "9999-12-31T23:59:59Z",
    "1899-12-31T23:59:59Z",
    "3000-01-01T00:00:00Z",
    "2024-03-01T09:00:00",
    "2024-02-30T09:00:00Z",
    "2024-03-01T09:00:00+25:00",
    "2024-03-01",
    "",
    "now",
]
FINE_TIMES = ["2024-03-01T09:00:00Z", "2024-03-01T10:30:00+02:00", "1999-12-31T23:59:59.5Z"]


def _json_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=True, allow_nan=True)


#: JSON fragments (raw text) of hostile values.
hostile_json = st.one_of(
    st.sampled_from(
        [
            "1" + "0" * 4400,  # over the int conversion limit
            "-" + "9" * 5000,
            "[" * 1200 + "]" * 1200,  # deeper than the parser takes
            "[" * 300 + "]" * 300,  # deep, but parsed
            '{"a":' * 400 + "1" + "}" * 400,
            '"\\ud800"',
            '"x\\udfffy"',
            '"\\u0000"',
            '"a\\u0000b"',
            "1e999",
            "-1e999",
            "NaN",
            "Infinity",
            "null",
            "true",
            "[]",
            "{}",
            '["\\ud83d"]',
            '{"\\ud800": "x"}',
            _json_text("x" * 9000),
            _json_text("é" * 300),
            _json_text("\u202e\x1b[2J"),
        ]
    ),
    st.sampled_from(EXTREME_TIMES + FINE_TIMES).map(_json_text),
    st.integers().map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(_json_text),
    st.text(max_size=30).map(lambda s: _json_text(s)),
    st.lists(st.text(max_size=5), max_size=3).map(_json_text),
)

RECORD_KEYS = {
    "message": ["id", "platform", "conversation", "channel", "author", "direction", "sent_at",
                "in_reply_to", "text", "visibility", "automated", "tags", "url", "edited_at",
                "deleted"],
    "conversation": ["id", "platform", "channel", "stakeholder", "owner", "status", "tags"],
    "status": ["platform", "conversation", "status", "at"],
    "stakeholder": ["id", "kind", "display_name", "identities"],
    "channel": ["id", "platform", "handle", "created_at", "owner_team"],
    "team_member": ["id", "name", "handles", "active_from", "active_until"],
}  # fmt: skip
GOOD_VALUES: dict[str, str] = {
    "id": '"m1"',
    "platform": '"web"',
    "conversation": '"c1"',
    "author": '"ana"',
    "direction": '"inbound"',
    "sent_at": '"2024-03-01T09:00:00Z"',
    "status": '"open"',
    "at": '"2024-03-01T09:30:00Z"',
}


@st.composite
def jsonl_record(draw: st.DrawFn) -> str:
    """A JSON object line: a record type, plausible keys, some values hostile."""
    kind = draw(st.sampled_from([*RECORD_KEYS, "bogus"]))
    keys = RECORD_KEYS.get(kind, ["id"])
    chosen = draw(st.lists(st.sampled_from(keys), unique=True, max_size=len(keys)))
    parts = [] if kind == "message" and draw(st.booleans()) else [f'"type":{_json_text(kind)}']
    for key in dict.fromkeys([*(k for k in GOOD_VALUES if k in keys), *chosen]):
        hostile = key in chosen and draw(st.integers(0, 3)) == 0
        value = draw(hostile_json) if hostile else GOOD_VALUES.get(key, draw(hostile_json))
        parts.append(f"{_json_text(key)}:{value}")
    if draw(st.integers(0, 9)) == 0:
        parts.append(f"{_json_text(draw(st.text(max_size=12)))}:{draw(hostile_json)}")
    return "{" + ",".join(parts) + "}"


def _encode(line: str) -> bytes:
    return line.encode("utf-8", "surrogatepass")


jsonl_line = st.one_of(
    jsonl_record().map(_encode),
    st.binary(max_size=80),  # raw byte noise
    hostile_json.map(_encode),  # not an object
    st.sampled_from([b"", b"   ", b"\xef\xbb\xbf{}", b"{", b'{"id":"m9"', b"\x00\x00"]),
)

# -- a store per test, compared before and after every failed import ----------------------


def invoke(args: list[str], *, stdin: bytes | None = None) -> Result:
    result = CliRunner().invoke(cli, args, input=stdin)
    assert result.exit_code in (0, 1, 2), (args, result.exit_code, result.output[-2000:])
    assert "Traceback" not in result.output, result.output[-2000:]
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    return result


class Store:
    """A seeded SQLite store in a temporary directory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.url = f"sqlite:///{root / 'store.db'}"
        seed = root / "seed.jsonl"
        seed.write_text(
            '{"id":"seed","platform":"web","conversation":"c0","author":"ana",'
            '"direction":"inbound","sent_at":"2024-03-01T09:00:00Z","channel":"help"}\n'
            '{"id":"seed2","platform":"web","conversation":"c0","author":"kc",'
            '"direction":"outbound","sent_at":"2024-03-01T13:00:00Z","channel":"help"}\n'
            '{"id":"seed3","platform":"web","conversation":"c1","author":"bo",'
            '"direction":"inbound","sent_at":"2024-03-02T09:00:00Z","tags":["complaint"]}\n'
            '{"type":"team_member","id":"kc","handles":{"web":"kc"},'
            '"active_until":"2024-06-01T00:00:00Z"}\n',
            encoding="utf-8",
        )
        assert invoke(["--store", self.url, "import", str(seed)]).exit_code == 0
        self.snapshot = self.export()

    def export(self) -> str:
        result = invoke(["--store", self.url, "export"])
        assert result.exit_code == 0
        return result.output

    def import_(self, args: list[str], stdin: bytes | None = None) -> Result:
        result = invoke(["--store", self.url, "import", *args], stdin=stdin)
        after = self.export()
        if result.exit_code != 0:
            assert after == self.snapshot, "a failed import changed the store"
        self.snapshot = after
        return result


@contextmanager
def store() -> Iterator[Store]:
    with tempfile.TemporaryDirectory(prefix="convokit-fuzz-") as root:
        yield Store(Path(root))


# -- JSONL -------------------------------------------------------------------------------


def test_fuzz_jsonl_import() -> None:
    with store() as s:
        counter = iter(range(10**9))

        @FUZZ
        @given(
            lines=st.lists(jsonl_line, min_size=1, max_size=6),
            skip=st.booleans(),
            stdin=st.booleans(),
        )
        def run(lines: list[bytes], skip: bool, stdin: bool) -> None:
            data = b"\n".join(lines) + b"\n"
            flags = ["--skip-invalid"] if skip else []
            if stdin:
                s.import_([*flags, "-"], stdin=data)
            else:
                path = s.root / f"in{next(counter)}.jsonl"
                path.write_bytes(data)
                s.import_([*flags, str(path)])

        run()


# -- CSV through a mapping -----------------------------------------------------------------


def _toml_key(key: str) -> str:
    if key and all(c.isascii() and (c.isalnum() or c in "-_") for c in key):
        return key
    return json.dumps(key)


def toml_value(value: Any) -> str:
    """TOML text of a Python value (inline tables and arrays; surrogates escaped)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str):
        # JSON string escapes are TOML basic-string escapes (ensure_ascii=False: TOML
        # has no surrogate-pair escapes; lone surrogates stay, for the file's encoder)
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return (
            "{ " + ", ".join(f"{_toml_key(k)} = {toml_value(v)}" for k, v in value.items()) + " }"
        )
    if isinstance(value, RawToml):
        return value.text
    raise TypeError(value)


@attrs.frozen
class RawToml:
    """TOML text used verbatim (values TOML can hold but Python cannot build easily)."""

    text: str


hostile_toml_scalar = st.one_of(
    st.sampled_from(
        [
            RawToml("1180591620717411303424"),
            RawToml("1" + "0" * 4400),
            RawToml("-9223372036854775809"),
            RawToml("0001-01-01T00:00:00+01:00"),
            RawToml("9999-12-31T23:59:59-01:00"),
            RawToml("1850-01-01T00:00:00Z"),
            RawToml("2024-03-01T09:00:00"),
            RawToml("2024-03-01"),
            RawToml("09:00:00"),
            RawToml("[" * 300 + "]" * 300),
            RawToml("[" * 1200 + "]" * 1200),
            RawToml('"\\ud800"'),
            RawToml('"\\u0000"'),
            RawToml("nan"),
            RawToml("-inf"),
            "99999999999w",
            "P99999999999W",
            "-4h",
            "4h",
            "PT",
            "x" * 5000,
            "\u202e",
        ]
    ),
    st.integers(),
    st.floats(),
    st.booleans(),
    st.text(max_size=12),
)
toml_value_strategy = st.recursive(
    hostile_toml_scalar,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)

MAPPING_FIELDS = ["id", "conversation", "author", "direction", "sent_at", "text", "tags", "url",
                  "in_reply_to", "channel", "bogus"]  # fmt: skip


@st.composite
def mapping_file(draw: st.DrawFn) -> str:
    fields: dict[str, Any] = {
        "id": "id",
        "conversation": "thread",
        "author": "who",
        "direction": {"column": "dir", "values": {"in": "inbound", "out": "outbound"}},
        "sent_at": {"column": "when", "format": "%Y-%m-%d %H:%M:%S %z"},
        "text": "body",
    }
    for name in draw(st.lists(st.sampled_from(MAPPING_FIELDS), max_size=3)):
        fields[name] = draw(
            st.one_of(
                st.sampled_from(["id", "thread", "who", "dir", "when", "body", "nope"]),
                st.fixed_dictionaries(
                    {"column": st.sampled_from(["body", "when", "dir"])},
                    optional={
                        "format": st.sampled_from(["%Y", "%", "%Y-%m-%d %H:%M:%S %z", "%s"]),
                        "split": st.sampled_from([",", ";", ""]),
                        "integer_id": st.booleans(),
                        "values": st.just({"a": "b"}),
                    },
                ),
                toml_value_strategy,
            )
        )
    top: dict[str, Any] = {"platform": draw(st.one_of(st.just("web"), toml_value_strategy))}
    if draw(st.integers(0, 4)) == 0:
        top["delimiter"] = draw(st.one_of(st.just(";"), toml_value_strategy))
    lines = [f"{_toml_key(k)} = {toml_value(v)}" for k, v in top.items()]
    lines.append("[fields]")
    lines += [f"{_toml_key(k)} = {toml_value(v)}" for k, v in fields.items()]
    return "\n".join(lines) + "\n"


csv_cell = st.one_of(
    st.sampled_from(
        [
            b"ok",
            b"",
            b'"quoted, with comma"',
            b'"multi\nline"',
            b'"unterminated',
            b"caf\xe9",
            b"\xff\xfe",
            b"a\x00b",
            b"x" * 600,
            b"2024-03-01 09:00:00 +0000",
            b"0001-01-01 00:00:00 +0100",
            b"9999-12-31 23:59:59 -0100",
            b"in",
            b"out",
        ]
    ),
    st.binary(max_size=12),
)
csv_row = st.lists(csv_cell, min_size=0, max_size=7).map(lambda cells: b",".join(cells))
GOOD_CSV_ROW = b"r1,t1,ana,in,2024-03-01 09:00:00 +0000,hello"


def test_fuzz_csv_import_through_a_mapping() -> None:
    with store() as s:
        counter = iter(range(10**9))

        @FUZZ
        @given(
            mapping=st.one_of(mapping_file(), st.just(None)),
            header=st.one_of(
                st.just(b"id,thread,who,dir,when,body"), csv_row, st.binary(max_size=30)
            ),
            rows=st.lists(st.one_of(st.just(GOOD_CSV_ROW), csv_row), max_size=5),
            skip=st.booleans(),
        )
        def run(mapping: str | None, header: bytes, rows: list[bytes], skip: bool) -> None:
            n = next(counter)
            map_path = s.root / f"map{n}.toml"
            if mapping is None:
                map_path.write_bytes(b'[fields]\nid = "id"\nplatform = "x"\n')
            else:
                map_path.write_bytes(mapping.encode("utf-8", "surrogatepass"))
            path = s.root / f"in{n}.csv"
            path.write_bytes(b"\n".join([header, *rows]) + b"\n")
            flags = ["--skip-invalid"] if skip else []
            s.import_([*flags, "--mapping", str(map_path), str(path)])

        run()


# -- policy files -------------------------------------------------------------------------

RULES = ["first_reply", "next_reply", "max_silence", "periodic_update", "channel_activity",
         "follow_up", "owner_assigned", "resolution_within", "no_such_rule"]  # fmt: skip
PARAMS = ["within", "window", "every", "max_gap", "acknowledge_within", "resolve_within",
          "duration", "pause_when", "tags", "bogus"]  # fmt: skip
RULE_PARAM = {"first_reply": "within", "next_reply": "within", "max_silence": "window",
              "periodic_update": "every", "channel_activity": "max_gap",
              "follow_up": "acknowledge_within", "resolution_within": "duration"}  # fmt: skip
duration_value = st.one_of(
    st.sampled_from(["4h", "1d", "PT30M", "2w", "90s", "519w"]), hostile_toml_scalar
)


@st.composite
def rule_table(draw: st.DrawFn, depth: int = 0) -> dict[str, Any]:
    if depth < 3 and draw(st.integers(0, 3)) == 0:
        kind = draw(st.sampled_from(["all_of", "any_of"]))
        parts = draw(st.lists(rule_table(depth + 1), min_size=0, max_size=2))
        table: dict[str, Any] = {kind: parts}
    else:
        name = draw(st.sampled_from(RULES))
        table = {"rule": name}
        if name in RULE_PARAM and draw(st.booleans()):
            table[RULE_PARAM[name]] = draw(st.sampled_from(["4h", "1d", "PT30M", "2w", "90s"]))
        else:
            for param in draw(st.lists(st.sampled_from(PARAMS), unique=True, max_size=3)):
                table[param] = draw(duration_value)
    if draw(st.integers(0, 5)) == 0:
        table[draw(st.sampled_from(["where", "unless"]))] = draw(
            st.one_of(
                st.just({"platform": "web"}),
                st.just({"stakeholder_kind": ["customer"]}),
                toml_value_strategy,
            )
        )
    return table


def _deep(levels: int) -> dict[str, Any]:
    """``all_of`` nested ``levels`` deep, as TOML text (too deep to build recursively)."""
    inner = '{ rule = "first_reply", within = "1h" }'
    for _ in range(levels - 1):
        inner = "{ all_of = [" + inner + "] }"
    return {"all_of": RawToml("[" + inner + "]")}


@st.composite
def policy_file(draw: st.DrawFn) -> str:
    lines: list[str] = []
    if draw(st.booleans()):
        calendar = {
            "timezone": draw(st.sampled_from(["UTC", "America/New_York", "Mars/Olympus", ""])),
            "hours": draw(
                st.one_of(
                    st.just({"mon-fri": ["09:00-17:00"]}),
                    st.just({"mon": ["09:00-09:01"]}),
                    st.just({"sun-mon": ["25:00-26:00"]}),
                    toml_value_strategy,
                )
            ),
        }
        if draw(st.booleans()):
            calendar["holidays"] = draw(st.one_of(st.just("US"), toml_value_strategy))
        if draw(st.booleans()):
            calendar["closed"] = draw(
                st.one_of(st.just([RawToml("2024-12-24")]), toml_value_strategy)
            )
        lines.append("[calendars.biz]")
        lines += [f"{k} = {toml_value(v)}" for k, v in calendar.items()]
    for index in range(draw(st.integers(1, 3))):
        table: dict[str, Any] = {"name": f"c{index}"}
        table.update(
            draw(
                st.one_of(
                    rule_table(),
                    st.integers(20, 60).map(_deep),
                    st.just(_deep(400)),
                )
            )
        )
        if draw(st.booleans()):
            table["calendar"] = draw(st.sampled_from(["biz", "nope"]))
        if draw(st.integers(0, 3)) == 0:
            table["warn_before"] = draw(duration_value)
        if draw(st.integers(0, 5)) == 0:
            table["severity"] = draw(st.one_of(st.just("warning"), toml_value_strategy))
        lines.append("[[commitment]]")
        lines += [f"{_toml_key(k)} = {toml_value(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"


@st.composite
def valid_policy_file(draw: st.DrawFn) -> str:
    """A policy that loads, so that evaluation and reporting run too."""
    lines = ['[calendars.biz]', 'timezone = "America/New_York"',
             'hours = { mon-fri = ["09:00-12:30", "13:30-17:00"] }']  # fmt: skip
    for index in range(draw(st.integers(1, 4))):
        name = draw(st.sampled_from([*sorted(RULE_PARAM), "owner_assigned"]))
        lines += ["[[commitment]]", f'name = "c{index}"', f'rule = "{name}"']
        if name in RULE_PARAM:
            duration = draw(st.sampled_from(["1h", "4h", "1d", "PT30M", "2w", "90s", "100w"]))
            lines.append(f'{RULE_PARAM[name]} = "{duration}"')
        if draw(st.booleans()):
            lines.append('calendar = "biz"')
        if draw(st.booleans()):
            lines.append('warn_before = "30m"')
    return "\n".join(lines) + "\n"


AS_OF = st.one_of(
    st.none(),
    st.none(),
    st.sampled_from(EXTREME_TIMES + FINE_TIMES + ["2024-03-01T09:00:00\udcff"]),
)


def test_fuzz_policy_files_through_check() -> None:
    with store() as s:
        counter = iter(range(10**9))

        @FUZZ
        @given(
            policy=st.one_of(
                valid_policy_file(), valid_policy_file(), policy_file(), st.binary(max_size=60)
            ),
            as_of=AS_OF,
            fmt=st.sampled_from(["json", "table", "junit", "markdown"]),
        )
        def run(policy: str | bytes, as_of: str | None, fmt: str) -> None:
            path = s.root / f"policy{next(counter)}.toml"
            data = policy if isinstance(policy, bytes) else policy.encode("utf-8", "surrogatepass")
            path.write_bytes(data)
            args = ["--store", s.url, "check", "--policy", str(path), "--format", fmt]
            if as_of is not None:
                args += ["--as-of", as_of]
            result = invoke(args)
            if result.exit_code in (0, 1) and fmt == "json":
                json.loads(result.stdout)  # a complete document

        run()


# -- convokit.toml: [[commitment]], [[team]] and [[source]] tables -------------------------


@attrs.frozen(kw_only=True)
class QuietConfig:
    """Config of the fuzz platform (its adapter fetches nothing)."""

    url: str
    token: str = attrs.field(repr=False, metadata={"secret": True})
    limit: int = 3


class QuietAdapter:
    def __init__(self, config: QuietConfig) -> None:
        self.config = config

    async def fetch(self, cursor: str | None) -> Any:
        if False:  # pragma: no cover - an adapter with nothing new
            yield None


def _create(config: QuietConfig, client: httpx.AsyncClient, context: Any) -> QuietAdapter:
    return QuietAdapter(config)


class QuietPlugin:
    __name__ = "fuzz-quiet-plugin"

    @hookimpl
    def register_platforms(self, register: Callable[..., None]) -> None:
        register("quiet", config=QuietConfig, create=_create, description="fetches nothing")


def _refuse(request: httpx.Request) -> httpx.Response:
    return httpx.Response(599, text="no network in the fuzz suite")


@st.composite
def config_file(draw: st.DrawFn, store_url: str) -> str:
    lines = [f"store = {json.dumps(store_url)}"]
    for _ in range(draw(st.integers(0, 2))):
        team: dict[str, Any] = {"id": draw(st.one_of(st.just("kc"), toml_value_strategy))}
        for key in draw(
            st.lists(
                st.sampled_from(["name", "handles", "active_from", "active_until", "bogus"]),
                unique=True,
                max_size=3,
            )
        ):
            team[key] = draw(
                st.one_of(
                    st.just({"quiet": "@kc"}),
                    st.just(RawToml("2024-01-01T00:00:00Z")),
                    toml_value_strategy,
                )
            )
        lines.append("[[team]]")
        lines += [f"{_toml_key(k)} = {toml_value(v)}" for k, v in team.items()]
    for index in range(draw(st.integers(0, 2))):
        source: dict[str, Any] = {
            "name": draw(st.one_of(st.just(f"s{index}"), toml_value_strategy)),
            "platform": draw(st.one_of(st.just("quiet"), st.just("nope"), toml_value_strategy)),
            "url": draw(st.one_of(st.just("https://quiet.example"), toml_value_strategy)),
            "token": draw(
                st.one_of(
                    st.just("quiet-token-1234567890"),
                    st.just("${FUZZ_MISSING_VARIABLE}"),
                    st.just("tok\r\nen-with-newline"),
                    toml_value_strategy,
                )
            ),
        }
        if draw(st.booleans()):
            source[draw(st.sampled_from(["limit", "bogus"]))] = draw(toml_value_strategy)
        lines.append("[[source]]")
        lines += [f"{_toml_key(k)} = {toml_value(v)}" for k, v in source.items()]
    if draw(st.booleans()):
        lines.append(draw(st.one_of(valid_policy_file(), policy_file())))
    return "\n".join(lines) + "\n"


def test_fuzz_convokit_toml_through_the_cli() -> None:
    with store() as s:
        set_plugin_manager(PluginManager(plugins=[QuietPlugin()]))
        saved = _engine.default_client
        _engine.default_client = lambda: httpx.AsyncClient(  # type: ignore[assignment]
            transport=httpx.MockTransport(_refuse)
        )
        try:

            @FUZZ
            @given(
                config=st.one_of(config_file(s.url), st.binary(max_size=60)),
                command=st.sampled_from(
                    [["sync"], ["sync", "--status"], ["check"], ["check", "--format", "json"]]
                ),
            )
            def run(config: str | bytes, command: list[str]) -> None:
                path = s.root / "convokit.toml"
                data = (
                    config if isinstance(config, bytes) else config.encode("utf-8", "surrogatepass")
                )
                path.write_bytes(data)
                invoke(["--config", str(path), *command])

            run()
        finally:
            _engine.default_client = saved  # type: ignore[assignment]
            set_plugin_manager(None)
