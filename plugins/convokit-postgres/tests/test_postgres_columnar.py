"""The columnar engine reads a PostgreSQL store directly (Arrow tables through ``COPY``)
and its findings JSON is byte-identical to the python engine's on the same store."""

from __future__ import annotations

import io
import json
import logging
import os
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import psycopg
import pytest
from _pg_data import T0 as DATA_T0
from _pg_data import jsonl
from _pg_support import with_schema
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from convokit_core import check, load_policy, open_store
from convokit_core._calendars import ALWAYS_OPEN, Calendar
from convokit_core._cli import cli
from convokit_core._columnar import _engine
from convokit_core._columnar._arrow import ColumnarTables, conv_batches
from convokit_core._columnar._reader import ConvBatch, batches
from convokit_core._model import Batch, Conversation, Message, Stakeholder, StatusChange
from convokit_core._policy._evaluate import Commitment
from convokit_core._policy._facts import CountingPolicy
from convokit_core._policy._rules import all_of, any_of, first_reply, max_silence, next_reply
from convokit_core._report._reporters import render_json
from convokit_core._timeutil import to_micros
from convokit_core.testing._generate import DEMO_POLICY, generate_history
from convokit_postgres import _columnar as pg_columnar

T0 = datetime(2024, 3, 8, 13, 0, tzinfo=UTC)
NY = Calendar(
    name="ny",
    timezone="America/New_York",
    hours={"mon-fri": ["09:00-12:30", "13:30-17:00"]},
    holidays_country="US",
    holidays_subdivision="NY",
)


def commitments(calendar: Calendar = NY) -> list[Commitment]:
    """Every built-in reply rule, composites, scopes, a calendar, pause and warning."""
    return [
        Commitment(name="first", rule=first_reply("1h")),
        Commitment(name="next", rule=next_reply("2h", pause_when="pending"), warn_before="30m"),
        Commitment(
            name="silence", rule=max_silence("1d").where(tags="complaint"), calendar=calendar
        ),
        Commitment(
            name="either",
            rule=any_of(first_reply("20m"), next_reply("3h")).unless(stakeholder_kind="media"),
            counting=CountingPolicy(public_only=False, count_automated=True),
            calendar=calendar,
        ),
        Commitment(
            name="both",
            rule=all_of(first_reply("4h"), max_silence("6h")).where(channel=["acme", "help"]),
        ),
    ]


COMMITMENTS = commitments()


def as_json(report: Any) -> str:
    buffer = io.StringIO()
    render_json(report, buffer)
    return buffer.getvalue()


def both_engines(url: str, commitments: Sequence[Commitment], as_of: datetime) -> str:
    python = as_json(check(url, commitments, as_of=as_of, engine="python", classifiers=[]))
    columnar = as_json(check(url, commitments, as_of=as_of, engine="columnar", classifiers=[]))
    assert columnar == python
    return python


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    """Batches of a few messages: many pages, conversations across page ends."""
    monkeypatch.setattr(_engine, "BATCH_ROWS", 7)


# -- the store offers the contract ----------------------------------------------------


def test_the_store_offers_arrow_tables(pg_url: str) -> None:
    with open_store(pg_url) as store:
        assert isinstance(store, ColumnarTables)
        assert list(store.columnar_tables(as_of_us=0, with_tags=True, with_text=True,
                                          batch_rows=10)) == []  # fmt: skip


def _fields(batch: ConvBatch) -> dict[str, Any]:
    out = {name: getattr(batch, name) for name in ConvBatch.__slots__}
    for name in ("at", "flags", "offsets", "conv"):
        out[name] = out[name].tolist()
    return out


def _read_all(
    store: Any, as_of: datetime, rows: int, transfer: str = "auto"
) -> list[dict[str, Any]]:
    """Every ConvBatch of ``store`` (SQLite through its reader, PostgreSQL through Arrow),
    merged into one, so that batch sizes do not matter."""
    kw: dict[str, Any] = {
        "as_of_us": to_micros(as_of),
        "kinds": {"u-odd": "media", "u1": "customer"},
        "with_tags": True,
        "with_text": True,
        "with_channels": True,
        "batch_rows": rows,
    }
    if isinstance(store, ColumnarTables):
        tables = store.columnar_tables(  # type: ignore[call-arg]
            as_of_us=kw["as_of_us"],
            with_tags=True,
            with_text=True,
            with_channels=True,
            batch_rows=rows,
            transfer=transfer,
        )
        found = list(
            conv_batches(
                tables, kinds=kw["kinds"], with_tags=True, with_text=True, with_channels=True
            )
        )
    else:
        con = store.connect_reader()
        try:
            found = list(batches(con, **kw))
        finally:
            con.close()
    merged: dict[str, Any] = {}
    shift = convs = 0
    for batch in found:
        for name, value in _fields(batch).items():
            if name == "offsets":
                value = [v + shift for v in value[1:]]
            elif name == "conv":
                value = [v + convs for v in value]
            merged.setdefault(name, []).extend(value)
        shift += len(batch.ids)
        convs += batch.n
    return [merged]


def _awkward_messages() -> list[Message]:
    """Strings CSV must not bend: separators, quotes, newlines, what looks like NULL."""
    texts = ["", "null", "NULL", "NaN", 'say "hi", then\nleave', "  spaced  ", "ünï€ode", "\\N"]
    out = []
    for i, text in enumerate(texts):
        out.append(
            Message(
                id=["a,b", 'q"uote', "line\nbreak", "NULL", "", "N/A", "x y", "ü"][i] + str(i),
                platform="twitter",
                conversation_id='odd,"id"' if i < 4 else "NULL",
                author_id="u-odd" if i % 3 == 0 else "acme",
                direction=["inbound", "outbound", "internal"][i % 3],
                sent_at=T0 + timedelta(minutes=i // 2, microseconds=7 * i),
                channel_id=None if i % 2 else 'a,"b"',
                visibility=["public", "private", "note"][i % 3],
                automated=i == 4,
                tags=[(), ("com,plaint",), ('q"t', "\n")][i % 3],
                text=text,
            )
        )
    return out


def _load_jsonl_everywhere(tmp_path: Path, pg_url: str, text: str) -> str:
    data = tmp_path / "data.jsonl"
    data.write_text(text, encoding="utf-8")
    sqlite_url = f"sqlite:///{tmp_path}/same.db"
    for url in (sqlite_url, pg_url):
        code, _, err = run("--store", url, "import", str(data))
        assert code == 0, err
    return sqlite_url


#: Both transfers; the ADBC driver is in the test extra, so CI fails when it is missing
#: (set CONVOKIT_PG_NO_ADBC=1 to test only the csv transfer where it cannot install).
TRANSFERS = ["csv"] + ([] if os.environ.get("CONVOKIT_PG_NO_ADBC") else ["adbc"])


@pytest.mark.parametrize("transfer", TRANSFERS)
def test_the_same_batches_as_the_sqlite_reader(tmp_path: Path, pg_url: str, transfer: str) -> None:
    """Every ConvBatch field, from SQLite's reader and from PostgreSQL's Arrow tables,
    on data with derived conversations, histories, ties and awkward strings."""
    sqlite_url = _load_jsonl_everywhere(tmp_path, pg_url, jsonl())
    later = Conversation(
        id="later",
        platform="twitter",
        stakeholder_id="u1",
        status="pending",  # stored; as of T0 + 2m it is open: its changes come later
        messages=[
            Message(id="l1", platform="twitter", conversation_id="later", author_id="u1",
                    direction="inbound", sent_at=T0)
        ],
        status_history=[
            StatusChange(platform="twitter", conversation_id="later", status=status,
                         at=T0 + timedelta(days=1, minutes=k))
            for k, status in enumerate(["resolved", "pending"])
        ],
    )  # fmt: skip
    extra = Batch(
        conversations=[later],
        messages=_awkward_messages(),
        status_changes=[
            StatusChange(platform="twitter", conversation_id="NULL", status="pending", at=T0),
            StatusChange(
                platform="twitter",
                conversation_id="NULL",
                status="resolved",
                at=T0 + timedelta(days=30),
            ),
        ],
    )
    with open_store(sqlite_url) as lite, open_store(pg_url) as pg:
        lite.write(extra)
        pg.write(extra)
        starts = [DATA_T0 - timedelta(days=1), DATA_T0 + timedelta(hours=20), T0,
                  T0 + timedelta(minutes=2), T0 + timedelta(days=60)]  # fmt: skip
        compared = 0
        for as_of in starts:
            expected = _read_all(lite, as_of, 50)
            for rows in (1, 9, 50_000):
                assert _read_all(pg, as_of, rows, transfer) == expected
            compared += len(expected[0].get("ids", []))
        assert compared > 1000


@pytest.mark.parametrize("transfer", TRANSFERS)
def test_one_snapshot_for_every_page(pg_url: str, transfer: str) -> None:
    """A write between two batches is not seen by the rest of the read."""
    with open_store(pg_url) as store:
        for batch in generate_history(60, seed=3, batch_size=1000):
            store.write(batch)
        total = store.counts()["messages"]
        assert isinstance(store, ColumnarTables)
        tables = store.columnar_tables(
            as_of_us=to_micros(datetime(2030, 1, 1, tzinfo=UTC)),
            with_tags=False,
            with_text=False,
            batch_rows=40,
            transfer=transfer,  # type: ignore[call-arg]
        )
        first = next(tables)
        late = Message(
            id="late",
            platform="twitter",
            conversation_id="zzz-after-everything",
            author_id="someone",
            direction="inbound",
            sent_at=datetime(2024, 2, 1, tzinfo=UTC),
        )
        store.write(Batch(messages=[late]))
        rest = list(tables)
        assert len(rest) > 3
        read = sum(pair[1].num_rows for pair in [first, *rest])
        assert read == total
        assert store.counts()["messages"] == total + 1


@pytest.mark.parametrize("transfer", TRANSFERS)
def test_a_read_left_early_frees_its_connections(pg_url: str, transfer: str) -> None:
    """The engine stops after one batch (an error, a cancel): the streams are cancelled,
    the store reads on."""
    with open_store(pg_url) as store:
        for batch in generate_history(80, seed=5, batch_size=1000):
            store.write(batch)
        assert isinstance(store, ColumnarTables)
        for _ in range(3):
            tables = store.columnar_tables(
                as_of_us=to_micros(datetime(2030, 1, 1, tzinfo=UTC)),
                with_tags=True,
                with_text=True,
                batch_rows=30,
                transfer=transfer,  # type: ignore[call-arg]
            )
            assert next(tables)[1].num_rows >= 30
            tables.close()  # type: ignore[attr-defined]
        assert store.counts()["messages"] > 300
        assert sum(1 for _ in store.iter_conversations()) == 80
    # Only this test session's database counts (another suite may be reading its own
    # at the same time). A closed session's backend leaves pg_stat_activity only once
    # it has seen the end of its socket: wait for that (a bound for a hang, not a
    # timing); a stream left running never goes idle and fails the bound.
    deadline = time.monotonic() + 60
    with psycopg.connect(pg_url, autocommit=True) as conn:
        while True:
            busy = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'convokit' "
                "AND datname = current_database() AND state <> 'idle' "
                "AND pid <> pg_backend_pid()"
            ).fetchone()
            if busy == (0,):
                break
            assert time.monotonic() < deadline, f"{busy} convokit sessions still busy"
            time.sleep(0.01)


# -- identical findings ---------------------------------------------------------------


@pytest.mark.parametrize("transfer", TRANSFERS)
def test_generated_histories_with_derived_conversations(
    pg_url: str, small_batches: None, transfer: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """generate_history data, a third of its conversations written without their record
    (derived from their messages), checked at several instants, through each transfer."""
    if transfer == "csv":  # as without adbc_driver_postgresql installed
        monkeypatch.setattr(pg_columnar, "_adbc", lambda: None)
    with open_store(pg_url) as store:
        for i, batch in enumerate(generate_history(150, seed=11, batch_size=50)):
            keep = [c for k, c in enumerate(batch.conversations) if (k + i) % 3]
            loose = [c for k, c in enumerate(batch.conversations) if not (k + i) % 3]
            store.write(
                attrs.evolve(
                    batch,
                    conversations=keep,
                    messages=[m for c in loose for m in c.messages],
                    status_changes=[s for c in loose for s in c.status_history],
                )
            )
        newest = store.latest_message_at()
    assert newest is not None
    start = datetime(2024, 1, 1, tzinfo=UTC)
    for as_of in (start - timedelta(hours=1), start + timedelta(days=20), newest):
        text = both_engines(pg_url, COMMITMENTS, as_of)
        if as_of > start:
            assert '"status": "breached"' in text
            assert '"status": "met"' in text


def test_demo_data_through_the_cli(
    tmp_path: Path, pg_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The demo, moved into PostgreSQL: ``--engine columnar`` gives python's JSON, and
    ``-v`` says the columnar engine read PostgreSQL itself."""
    from convokit_core._demo import run_demo

    demo = run_demo(tmp_path / "demo", conversations=150)
    exported = tmp_path / "demo.jsonl"
    code, out, err = run("--store", demo.store_url, "export")
    assert code == 0, err
    exported.write_text(out, encoding="utf-8")
    code, _, err = run("--store", pg_url, "import", str(exported))
    assert code == 0, err
    head, *blocks = DEMO_POLICY.split("[[commitment]]")
    keep = [b for b in blocks if 'rule = "max_silence"' in b or 'rule = "first_reply"' in b]
    assert keep
    policy = tmp_path / "policy.toml"
    policy.write_text(head + "".join("[[commitment]]" + b for b in keep))
    outputs = {}
    for engine in ("python", "columnar"):
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="convokit"):
            code, out, err = run(
                "-v", "--store", pg_url, "check", "--policy", str(policy),
                "--as-of", demo.as_of.isoformat(), "--format", "json", "--engine", engine,
            )  # fmt: skip
        assert code in (0, 1), err
        outputs[engine] = (out, " ".join(r.getMessage() for r in caplog.records))
    assert outputs["columnar"][0] == outputs["python"][0]
    assert '"status": "breached"' in outputs["python"][0]
    assert "columnar engine reads it directly" in outputs["columnar"][1]
    assert "python engine evaluates it" not in outputs["columnar"][1]
    assert "columnar engine reads it directly" not in outputs["python"][1]
    # the full demo policy (with the demo's calendars) on the API, too
    commitments = [
        c for c in load_policy(demo.policy_path).commitments if c.name in policy.read_text()
    ]
    both_engines(pg_url, commitments, demo.as_of)


def test_the_log_names_the_direct_read(pg_url: str, caplog: pytest.LogCaptureFixture) -> None:
    with open_store(pg_url) as store:
        for batch in generate_history(5, seed=1):
            store.write(batch)
    with caplog.at_level(logging.INFO, logger="convokit.policy"):
        check(pg_url, COMMITMENTS[:1], as_of=T0, engine="columnar", classifiers=[])
    said = [r.getMessage() for r in caplog.records if r.name == "convokit.policy"]
    assert any("hands over Arrow tables; the columnar engine reads it directly" in s for s in said)


# -- hypothesis: small histories with every edge ---------------------------------------

stamp = st.integers(0, 3 * 1440)


@st.composite
def histories(draw: st.DrawFn) -> Batch:
    convs: list[Conversation] = []
    loose: list[Message] = []
    loose_changes: list[StatusChange] = []
    for n in range(draw(st.integers(1, 5))):
        cid = draw(st.sampled_from(["", "9", "10", "a,b", "Ä", "x\ny", "NULL"])) + f"/{n}"
        platform = draw(st.sampled_from(["twitter", "mastodon"]))
        minutes = draw(st.lists(stamp, min_size=1, max_size=7))
        if draw(st.booleans()):
            minutes = [m // 90 * 90 for m in minutes]  # ties
        messages = []
        for i, minute in enumerate(minutes):
            direction = draw(st.sampled_from(["inbound", "outbound", "internal"]))
            messages.append(
                Message(
                    id=f"{draw(st.sampled_from(['m', 'M', '0', 'n,']))}{i}",
                    platform=platform,
                    conversation_id=cid,
                    author_id=f"u{n}" if direction == "inbound" else "acme",
                    direction=direction,
                    sent_at=T0 + timedelta(minutes=minute, microseconds=draw(st.integers(0, 2))),
                    channel_id=draw(st.sampled_from(["acme", "help", None])),
                    visibility=draw(st.sampled_from(["public", "private", "note"])),
                    automated=draw(st.booleans()),
                    tags=draw(st.sampled_from([(), ("complaint",), ("vip", "q")])),
                )
            )
        changes = [
            StatusChange(
                platform=platform,
                conversation_id=cid,
                status=draw(st.sampled_from(["open", "pending", "resolved"])),
                at=T0 + timedelta(minutes=draw(stamp) + k),
            )
            for k in range(draw(st.integers(0, 3)))
        ]
        if draw(st.booleans()):
            loose.extend(messages)
            loose_changes.extend(changes)
        else:
            convs.append(
                Conversation(
                    id=cid,
                    platform=platform,
                    channel_id=draw(st.sampled_from(["acme", None])),
                    stakeholder_id=f"u{n}",
                    owner_id=draw(st.sampled_from([None, "kc"])),
                    status=draw(st.sampled_from(["open", "pending", "resolved"])),
                    tags=draw(st.sampled_from([(), ("complaint",)])),
                    messages=messages,
                    status_history=changes,
                )
            )
    media = [Stakeholder(id="u0", kind="media"), Stakeholder(id="u1", kind="customer")]
    return Batch(
        conversations=convs, messages=loose, status_changes=loose_changes, stakeholders=media
    )


@pytest.fixture
def one_store(pg_url: str) -> Callable[[Batch], str]:
    """Empty the test's store and load one batch into it (hypothesis reuses the schema)."""

    def load(batch: Batch) -> str:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute("TRUNCATE messages, conversations, status_changes, stakeholders")
        with open_store(pg_url) as store:
            store.write(batch)
        return pg_url

    open_store(pg_url).close()  # create the schema
    return load


@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    batch=histories(),
    as_of_minutes=st.integers(-10, 4 * 1440),
    calendar=st.sampled_from([ALWAYS_OPEN, NY]),
)
def test_generated_edge_histories_give_identical_json(
    one_store: Callable[[Batch], str],
    small_batches: None,
    batch: Batch,
    as_of_minutes: int,
    calendar: Calendar,
) -> None:
    url = one_store(batch)
    both_engines(url, commitments(calendar), T0 + timedelta(minutes=as_of_minutes))


def test_schema_urls_stay_apart(pg_database: str, new_pg_schema: Callable[[], str]) -> None:
    """Two stores in two schemas of one database: each columnar read sees its own."""
    urls = [with_schema(pg_database, new_pg_schema()) for _ in range(2)]
    for k, url in enumerate(urls):
        with open_store(url) as store:
            for batch in generate_history(10 * (k + 1), seed=k):
                store.write(batch)
    reports = [
        json.loads(as_json(check(u, COMMITMENTS[:1], as_of=T0, engine="columnar", classifiers=[])))
        for u in urls
    ]
    assert [r["commitments"][0]["counts"] for r in reports] != [{}, {}]
    assert reports[0] != reports[1]
