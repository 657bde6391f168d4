"""Checking commitments over a Parquet dataset in Spark (DESIGN §11).

Stage 1 repartitions one row stream (conversation records, status changes and messages
as of ``as_of``) by ``(platform, conversation_id)``, sorts within partitions and runs
the core evaluator over whole conversations in ``mapInArrow``
(:func:`convokit_core._policy._partition.conversation_outcomes`). Stage 2 (only when the
policy has channel-level rules) joins the rows to the channel buckets each conversation
touches, repartitions by bucket and lets each bucket observe and finish its channels
(:func:`~convokit_core._policy._partition.channel_outcomes`). Counts are summed in
Spark; the driver sorts the kept outcomes into the local engine's order.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
import warnings
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pyarrow as pa

from convokit_core import Channel, ConfigError, ConvokitError, TeamMember
from convokit_core._policy._evaluate import Classifier, Commitment, Evaluation, _resolve_as_of
from convokit_core._policy._findings import CheckReport, CommitmentSummary, FindingList
from convokit_core._policy._partition import (
    COUNT,
    MARKER,
    OUTCOME,
    OUTCOME_SCHEMA,
    ROUTE,
    STATS,
    bucket_of,
    channel_outcomes,
    conversation_outcomes,
)
from convokit_core._policy._policyfile import Policy

__all__ = [
    "FINDING_DDL",
    "DatasetError",
    "SparkCheck",
    "SparkUnavailable",
    "check_spark",
    "spark_session",
]

log = logging.getLogger("convokit.spark")

MANIFEST = "convokit-dataset.json"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

#: The JSON reporter's finding schema (``Finding.to_dict()``), as a Spark DDL string.
FINDING_DDL = (
    "commitment string, rule string, status string, subject string, subject_kind string, "
    "platform string, conversation string, channel string, started_at string, "
    "deadline string, stopped_at string, elapsed_seconds double, evidence array<string>, "
    "decided_by string, severity string, message string"
)

_OUTCOME_DDL = (
    "`row` tinyint, meta int, platform string, conversation string, channel string, "
    "pos int, status string, subject_kind string, subject string, started bigint, "
    "deadline bigint, stopped bigint, elapsed bigint, `limit` bigint, "
    "evidence array<string>, what string, note string, rule string, n bigint"
)

JAVA_HINT = (
    "the Spark engine needs a Java 17 runtime (install it with "
    "'apt-get install openjdk-17-jre-headless', or set JAVA_HOME)"
)


class DatasetError(ConfigError):
    """The ``--input`` dataset is missing or not a convokit Parquet dataset."""


class SparkUnavailable(ConvokitError):
    """Spark could not start (most often: no Java runtime)."""


def _java_missing() -> bool:
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").exists():
        return False
    return shutil.which("java") is None


def spark_session(
    *,
    master: str | None = None,
    shuffle_partitions: int | None = None,
    conf: dict[str, str] | None = None,
) -> Any:
    """Get or create the SparkSession convokit runs in.

    ``master`` defaults to ``$SPARK_MASTER``, else ``local[2]``; Python workers run the
    interpreter convokit runs in (``spark.pyspark.python = sys.executable``); the UI is
    off and Spark's own logging is quiet; a local master gets 4g of driver memory.
    ``$CONVOKIT_SPARK_CONF`` adds settings, as
    whitespace-separated ``key=value`` pairs (``spark.executor.memory=8g …``); ``conf``
    adds more.
    """
    if _java_missing():
        raise SparkUnavailable(JAVA_HINT)
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:  # pragma: no cover - pyspark is a dependency
        raise SparkUnavailable(f"pyspark is not installed: {exc}") from exc
    settings = {
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.pyspark.python": sys.executable,
        "spark.pyspark.driver.python": sys.executable,
        "spark.sql.shuffle.partitions": str(shuffle_partitions or 8),
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        # the report collects every kept finding on the driver
        "spark.driver.maxResultSize": "0",
        "spark.driver.extraJavaOptions": f"-Dlog4j2.configurationFile={_log4j()}",
    }
    chosen = master or os.environ.get("SPARK_MASTER") or "local[2]"
    if chosen.startswith("local"):
        # executors live in the driver JVM; Spark's 1g default runs out at 1M messages
        settings["spark.driver.memory"] = "4g"
    for item in os.environ.get("CONVOKIT_SPARK_CONF", "").split():
        key, sep, value = item.partition("=")
        if not sep:
            raise ConfigError(f"CONVOKIT_SPARK_CONF: expected key=value, found {item!r}")
        settings[key] = value
    settings.update(conf or {})
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.master(chosen).appName("convokit")
    for key, value in settings.items():
        builder = builder.config(key, value)
    try:
        with _quiet():
            spark = builder.getOrCreate()
    except Exception as exc:
        raise SparkUnavailable(f"Spark did not start: {type(exc).__name__}: {exc}") from exc
    spark.sparkContext.setLogLevel("ERROR")
    return spark


@contextmanager
def _quiet() -> Iterator[None]:
    """PySpark warns about pandas versions although convokit never uses pandas."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas")
        yield


def _log4j() -> str:
    from importlib.resources import files

    return str(files("convokit_spark").joinpath("log4j2.properties"))


def _is_local(dataset: str) -> bool:
    return "://" not in dataset or dataset.startswith("file://")


def _local_path(dataset: str) -> Path:
    return Path(dataset[len("file://") :] if dataset.startswith("file://") else dataset)


def read_manifest(spark: Any, dataset: str) -> dict[str, Any]:
    """The dataset's manifest, checked (a clear :class:`DatasetError` otherwise)."""
    if _is_local(dataset):
        from convokit_core._io._parquet import _manifest

        try:
            return _manifest(_local_path(dataset))
        except ConfigError as exc:
            raise DatasetError(str(exc)) from None
    url = f"{dataset.rstrip('/')}/{MANIFEST}"
    try:
        text = "\n".join(r[0] for r in spark.read.text(url).collect())
        data = json.loads(text)
    except Exception as exc:
        raise DatasetError(
            f"{url}: not a readable convokit dataset manifest ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else ''})"
        ) from None
    if not isinstance(data, dict) or data.get("format") != "convokit-dataset":
        raise DatasetError(f"{url}: not a convokit dataset manifest")
    if data.get("version") != 1:
        raise DatasetError(f"{url}: dataset version {data.get('version')!r}; this reads 1")
    return data


def _table(spark: Any, dataset: str, name: str) -> Any:
    path = f"{dataset.rstrip('/')}/{name}"
    try:
        return spark.read.parquet(path)
    except Exception as exc:
        raise DatasetError(f"{path}: cannot read table {name!r}: {type(exc).__name__}") from None


def _dt(value: Any) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:  # Spark hands timestamps back naive, in the session zone (UTC)
        return value.replace(tzinfo=UTC)  # type: ignore[no-any-return]
    return value.astimezone(UTC)  # type: ignore[no-any-return]


def _pairs(value: Any) -> dict[str, str]:
    return {p["platform"]: p["id"] for p in value or ()}


def _commitments(policy: Policy | Sequence[Commitment]) -> tuple[list[Commitment], Any]:
    if isinstance(policy, Policy):
        return list(policy.commitments), policy.classifiers
    return list(policy), None


class SparkCheck:
    """The result of :func:`check_spark`: Spark DataFrames, and the driver-side report.

    Attributes:
        outcomes: the raw outcome rows of both stages (persisted).
        findings: the kept findings in the JSON reporter's schema (:data:`FINDING_DDL`),
            in the local engine's order.
        summaries: one row per commitment and status: ``meta`` (the commitment's
            index in the policy), ``status``, ``n``.
        timings: seconds spent in :meth:`report`, by step.
    """

    def __init__(
        self,
        spark: Any,
        dataset: str,
        commitments: Sequence[Commitment],
        run: Evaluation,
        outcomes: Any,
    ) -> None:
        from pyspark.sql import functions as F

        self.spark = spark
        self.dataset = dataset
        self.commitments = tuple(commitments)
        self._run = run
        self.outcomes = outcomes
        self.summaries = (
            outcomes.where(F.col("row") == COUNT)
            .groupBy("meta", "status")
            .agg(F.sum("n").alias("n"))
            .orderBy("meta", "status")
        )
        raw = outcomes.where(F.col("row") == OUTCOME)
        chan = F.col("conversation").isNull()
        ordered = raw.orderBy(
            chan.cast("int"),
            F.when(~chan, F.col("platform")),
            F.col("conversation"),
            F.col("meta"),
            F.when(chan, F.col("platform")),
            F.when(chan, F.col("channel")),
            F.col("pos"),
        )
        metas = run.metas

        def to_json(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
            schema = _finding_arrow_schema()
            for batch in batches:
                rows = batch.to_pylist()
                out = [
                    FindingList.make(
                        metas[r["meta"]],
                        r["platform"],
                        r["conversation"],
                        r["channel"],
                        _outcome(r),
                    ).to_dict()
                    for r in rows
                ]
                yield pa.RecordBatch.from_pylist(out, schema=schema)

        with _quiet():
            self.findings = ordered.mapInArrow(to_json, FINDING_DDL)
        self.timings: dict[str, float] = {}

    def report(self) -> CheckReport:
        """The :class:`CheckReport` the local engines build (same findings, same order,
        same counts); ``store`` is the dataset."""
        import time

        t0 = time.perf_counter()
        table = self.outcomes.where(self.outcomes["row"] != ROUTE).toArrow()
        t1 = time.perf_counter()
        report = self._report(table)
        self.timings = {"spark": round(t1 - t0, 2), "driver": round(time.perf_counter() - t1, 2)}
        return report

    def _report(self, table: pa.Table) -> CheckReport:
        import pyarrow.compute as pc

        run = self._run
        for counts_of in run.counts:
            for status in counts_of:
                counts_of[status] = 0
        rows = table.column("row")
        counts = table.filter(pc.equal(rows, COUNT))
        for meta, status, n in zip(
            counts.column("meta").to_pylist(),
            counts.column("status").to_pylist(),
            counts.column("n").to_pylist(),
            strict=True,
        ):
            run.counts[meta][status] += n
        stats = table.filter(pc.equal(rows, STATS))
        run.conversations = sum(stats.column("n").to_pylist())
        kept = table.filter(pc.equal(rows, OUTCOME))
        per_conv = kept.filter(pc.is_valid(kept.column("conversation"))).sort_by(
            [
                ("platform", "ascending"),
                ("conversation", "ascending"),
                ("meta", "ascending"),
                ("pos", "ascending"),
            ]
        )
        per_chan = kept.filter(pc.is_null(kept.column("conversation"))).sort_by(
            [
                ("meta", "ascending"),
                ("platform", "ascending"),
                ("channel", "ascending"),
                ("pos", "ascending"),
            ]
        )
        findings = FindingList(run.metas)
        for part in (per_conv, per_chan):
            _fill(findings, part)
        return CheckReport(
            as_of=run.as_of,
            commitments=self.summary_objects(),
            findings=findings,
            store=self.dataset,
            only=run.keep,
        )

    def summary_objects(self) -> tuple[CommitmentSummary, ...]:
        """Per-commitment summaries (after :meth:`report`)."""
        return self._run.summaries()

    @property
    def conversations(self) -> int:
        """Conversations evaluated (after :meth:`report`)."""
        return self._run.conversations

    def write(self, path: str, format: str = "parquet") -> None:
        """Write the findings (in order) to ``path/findings`` as Parquet or JSON lines,
        and the report's header and per-commitment summaries to ``path/commitments``
        (JSON lines: ``as_of``, then one summary per line as in the JSON report)."""
        if format not in ("parquet", "json"):
            raise ConfigError(f"write: format must be 'parquet' or 'json', found {format!r}")
        from convokit_core import format_datetime

        base = path.rstrip("/")
        writer = self.findings.write.mode("overwrite")
        if format == "json":
            writer.option("ignoreNullFields", "false").json(f"{base}/findings")
        else:
            writer.parquet(f"{base}/findings")
        counts: dict[int, dict[str, int]] = {}
        for r in self.summaries.collect():
            counts.setdefault(r["meta"], {})[r["status"]] = r["n"]
        head = {"as_of": format_datetime(self._run.as_of), "store": self.dataset}
        lines = [json.dumps(head)]
        for i, summary in enumerate(self._run.summaries()):
            data = summary.to_dict()
            for status in data["counts"]:
                data["counts"][status] = counts.get(i, {}).get(status, 0)
            decided = data["counts"]["met"] + data["counts"]["breached"]
            data["compliance"] = None if not decided else data["counts"]["met"] / decided
            lines.append(json.dumps(data, ensure_ascii=False))
        self.spark.createDataFrame([(line,) for line in lines], "value string").coalesce(
            1
        ).write.mode("overwrite").text(f"{base}/commitments")


def _finding_arrow_schema() -> pa.Schema:
    s = pa.string()
    return pa.schema(
        [
            ("commitment", s),
            ("rule", s),
            ("status", s),
            ("subject", s),
            ("subject_kind", s),
            ("platform", s),
            ("conversation", s),
            ("channel", s),
            ("started_at", s),
            ("deadline", s),
            ("stopped_at", s),
            ("elapsed_seconds", pa.float64()),
            ("evidence", pa.list_(s)),
            ("decided_by", s),
            ("severity", s),
            ("message", s),
        ]
    )


def _outcome(r: dict[str, Any]) -> tuple[Any, ...]:
    return (
        r["status"],
        r["subject_kind"],
        r["subject"],
        r["started"],
        r["deadline"],
        r["stopped"],
        r["elapsed"],
        r["limit"],
        tuple(r["evidence"] or ()),
        r["what"],
        r["note"],
        r["rule"],
    )


def _fill(findings: FindingList, table: pa.Table) -> None:
    """Add the sorted outcome rows of ``table`` to ``findings``, one block per run of
    rows with the same (commitment, platform, conversation, channel)."""
    import pyarrow.compute as pc

    names = [
        "status", "subject_kind", "subject", "started", "deadline", "stopped", "elapsed",
        "limit", "evidence", "what", "note", "rule",
    ]  # fmt: skip
    keys = ("meta", "platform", "conversation", "channel")
    for batch in table.to_batches(max_chunksize=200_000):
        n = batch.num_rows
        if not n:
            continue
        change = None
        for name in keys:
            col = batch.column(name)
            col = pc.fill_null(col, -1 if name == "meta" else "\x00")
            diff = pc.not_equal(col.slice(1), col.slice(0, n - 1))
            change = diff if change is None else pc.or_(change, diff)
        assert change is not None
        starts = [0, *(i + 1 for i in pc.indices_nonzero(change).to_pylist()), n]
        metas = batch.column("meta").to_pylist()
        platforms = batch.column("platform").to_pylist()
        conversations = batch.column("conversation").to_pylist()
        channels = batch.column("channel").to_pylist()
        outcomes = list(zip(*[batch.column(c).to_pylist() for c in names], strict=True))
        add = findings.add_block
        for a, b in pairwise(starts):
            add(metas[a], platforms[a], conversations[a], channels[a], outcomes[a:b])


def _null(name: str, kind: str) -> Any:
    from pyspark.sql import functions as F

    return F.lit(None).cast(kind).alias(name)


def _row_stream(
    spark: Any, dataset: str, as_of_us: int, *, with_tags: bool, with_text: bool
) -> Any:
    """Records, status changes and messages (as of ``as_of``) in one row stream
    (:data:`convokit_core._policy._partition.ROW_COLUMNS`)."""
    from pyspark.sql import functions as F

    tags_t = "array<string>"
    msgs = _table(spark, dataset, "messages")
    msgs = msgs.select(
        "platform",
        "conversation_id",
        F.lit(2).alias("kind"),
        F.unix_micros("sent_at").alias("at"),
        "id",
        "direction",
        "visibility",
        "automated",
        F.col("tags") if with_tags else _null("tags", tags_t),
        "channel_id",
        F.col("text") if with_text else _null("text", "string"),
        "author_id",
        _null("stakeholder_id", "string"),
        _null("owner_id", "string"),
        _null("status", "string"),
    ).where(F.col("at") <= F.lit(as_of_us))
    convs = _table(spark, dataset, "conversations").select(
        "platform",
        F.col("id").alias("conversation_id"),
        F.lit(0).alias("kind"),
        _null("at", "bigint"),
        _null("id", "string"),
        _null("direction", "string"),
        _null("visibility", "string"),
        _null("automated", "boolean"),
        F.col("tags").cast(tags_t),
        "channel_id",
        _null("text", "string"),
        _null("author_id", "string"),
        "stakeholder_id",
        "owner_id",
        "status",
    )
    statuses = _table(spark, dataset, "status_changes").select(
        "platform",
        "conversation_id",
        F.lit(1).alias("kind"),
        F.unix_micros("at").alias("at"),
        _null("id", "string"),
        _null("direction", "string"),
        _null("visibility", "string"),
        _null("automated", "boolean"),
        _null("tags", tags_t),
        _null("channel_id", "string"),
        _null("text", "string"),
        _null("author_id", "string"),
        _null("stakeholder_id", "string"),
        _null("owner_id", "string"),
        "status",
    )
    return convs.unionByName(statuses).unionByName(msgs)


_SORT = ("platform", "conversation_id", "kind", "at", "id", "status")

#: Messages per partition that :func:`default_partitions` aims at.
MESSAGES_PER_PARTITION = 500_000


def default_partitions(spark: Any, manifest: dict[str, Any]) -> int:
    """Partitions of each stage: one per :data:`MESSAGES_PER_PARTITION` messages of the
    manifest, and at least Spark's default parallelism (every core busy)."""
    rows = manifest.get("tables", {}).get("messages", {}).get("rows", 0)
    wanted = -(-int(rows or 0) // MESSAGES_PER_PARTITION)
    return max(int(spark.sparkContext.defaultParallelism), wanted, 1)


def check_spark(
    spark: Any,
    dataset: str,
    policy: Policy | Sequence[Commitment],
    *,
    as_of: datetime | None = None,
    only: Collection[str] | None = None,
    classifiers: Sequence[Classifier] | None = None,
    partitions: int | None = None,
) -> SparkCheck:
    """Check ``policy`` over the Parquet dataset ``dataset`` (a directory or URL, as
    ``convokit export --format parquet`` writes it) in ``spark`` at ``as_of`` (default:
    now).

    Nothing runs until a result is read: :meth:`SparkCheck.report` for the report the
    local engines build, ``.findings`` / ``.summaries`` as Spark DataFrames, or
    :meth:`SparkCheck.write`. ``classifiers`` default to those the policy names (all
    registered ones when it names none); they, the calendars and the team ship to the
    executors with the evaluation. ``partitions``: Spark partitions of each stage
    (default: :func:`default_partitions`).
    """
    from pyspark.sql import functions as F

    commitments, names = _commitments(policy)
    if classifiers is None:
        from convokit_core._policy._run import resolve_classifiers

        classifiers = resolve_classifiers(names)
    as_of_dt = _resolve_as_of(as_of)
    manifest = read_manifest(spark, dataset)
    nparts = partitions or default_partitions(spark, manifest)

    team = [
        TeamMember(
            id=r["id"],
            name=r["name"],
            handles=_pairs(r["handles"]),
            active_from=_dt(r["active_from"]),
            active_until=_dt(r["active_until"]),
        )
        for r in _table(spark, dataset, "team_members").orderBy("id").collect()
    ]
    channels = [
        Channel(
            platform=r["platform"],
            id=r["id"],
            handle=r["handle"],
            created_at=_dt(r["created_at"]),
            owner_team=r["owner_team"],
        )
        for r in _table(spark, dataset, "channels").orderBy("platform", "id").collect()
    ]
    run = Evaluation(
        commitments,
        as_of=as_of_dt,
        keep=only,
        team=team,
        channels=channels,
        classifiers=classifiers,
    )
    kinds: dict[str, str] = {}
    if run.uses_stakeholders:
        kinds = {
            r["id"]: r["kind"]
            for r in _table(spark, dataset, "stakeholders").select("id", "kind").collect()
        }
    kinds_b = spark.sparkContext.broadcast(kinds)
    conv_idx = [i for i, c in enumerate(commitments) if c.rule.level != "channel"]
    chan_idx = [i for i, c in enumerate(commitments) if c.rule.level == "channel"]
    conv_commitments = [commitments[i] for i in conv_idx]
    chan_commitments = [commitments[i] for i in chan_idx]
    keep = None if run.keep is None else set(run.keep)
    with_channels = run.uses_channels
    with_tags = run.uses_tags or run.needs_text
    with_text = run.needs_text
    cls = tuple(classifiers)
    buckets = nparts if chan_idx else 0

    def stage1(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        return conversation_outcomes(
            batches,
            commitments=conv_commitments,
            indices=conv_idx,
            as_of=as_of_dt,
            keep=keep,
            team=team,
            channels=channels,
            classifiers=cls,
            kinds=kinds_b.value,
            with_channels=with_channels,
            route_buckets=buckets,
        )

    stream = _row_stream(spark, dataset, run.as_of_us, with_tags=with_tags, with_text=with_text)
    with _quiet():
        first = (
            stream.repartition(nparts, "platform", "conversation_id")
            .sortWithinPartitions(*_SORT)
            .mapInArrow(stage1, _OUTCOME_DDL)
        )
    if chan_idx:
        first = first.persist()

        def stage2(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
            return channel_outcomes(
                batches,
                commitments=chan_commitments,
                indices=chan_idx,
                as_of=as_of_dt,
                keep=keep,
                buckets=buckets,
                team=team,
                channels=channels,
                classifiers=cls,
                kinds=kinds_b.value,
                with_channels=with_channels,
            )

        routes = (
            first.where(F.col("row") == ROUTE)
            .select(
                "platform",
                F.col("conversation").alias("conversation_id"),
                F.col("n").cast("int").alias("bucket"),
            )
            .distinct()
        )
        owners = sorted({bucket_of(c.platform, c.id, buckets) for c in channels})
        markers = spark.createDataFrame([(b,) for b in owners], "bucket int").select(
            "bucket",
            *[_null(c, t) for c, t in stream.dtypes if c not in ("kind",)],
            F.lit(MARKER).alias("kind"),
        )
        routed = stream.join(routes, ["platform", "conversation_id"]).unionByName(markers)
        with _quiet():
            second = (
                routed.repartition(nparts, "bucket")
                .sortWithinPartitions("bucket", *_SORT)
                .mapInArrow(stage2, _OUTCOME_DDL)
            )
        outcomes = first.where(F.col("row") != ROUTE).unionByName(second)
    else:
        outcomes = first
    outcomes = outcomes.persist()
    return SparkCheck(spark, dataset, commitments, run, outcomes)


def latest_message_at(spark: Any, dataset: str) -> datetime | None:
    """When the dataset's newest message was sent (``None`` without messages)."""
    from pyspark.sql import functions as F

    read_manifest(spark, dataset)
    row = _table(spark, dataset, "messages").agg(F.max(F.unix_micros("sent_at"))).first()
    value = None if row is None else row[0]
    return None if value is None else _EPOCH + timedelta(microseconds=value)


assert OUTCOME_SCHEMA.names[0] == "row"
