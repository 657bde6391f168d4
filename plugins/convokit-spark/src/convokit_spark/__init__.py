"""convokit-spark: the ``spark`` evaluation engine (DESIGN §11).

``convokit check --engine spark --input DIR|URL`` checks the policy over a Parquet
dataset (``convokit export --format parquet``) in Apache Spark, with the same evaluator
the local engines use, and reports exactly their findings. From Python, with a
SparkSession of your own::

    from convokit_spark import check_spark
    result = check_spark(spark, "s3a://lake/convokit/2026-12", "policy.toml")
    result.findings.write.parquet("s3a://lake/findings")   # the JSON report's schema
    report = result.report()                                # a CheckReport
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from convokit_core.hookspecs import hookimpl

from ._check import (
    FINDING_DDL,
    DatasetError,
    SparkCheck,
    SparkUnavailable,
    check_spark,
    latest_message_at,
    spark_session,
)

__all__ = [
    "FINDING_DDL",
    "DatasetError",
    "SparkCheck",
    "SparkEngine",
    "SparkUnavailable",
    "check_spark",
    "latest_message_at",
    "spark_session",
]


class SparkEngine:
    """The registered ``spark`` engine: reads a dataset, returns the CheckReport.

    The SparkSession is created (or the running one reused) with
    :func:`spark_session`: master ``$SPARK_MASTER`` (default ``local[2]``), settings
    from ``$CONVOKIT_SPARK_CONF``."""

    reads: Literal["store", "dataset"] = "dataset"

    def unsupported(self, commitments: Sequence[Any]) -> str | None:
        return None  # every rule runs: the executors call the same evaluator

    def check(
        self,
        source: Any,
        commitments: Sequence[Any],
        *,
        as_of: datetime,
        only: Collection[str] | None,
        classifiers: Sequence[Any],
        progress: Callable[[int], None] | None,
    ) -> Any:
        dataset = _dataset(source)
        spark = spark_session()
        result = check_spark(
            spark, dataset, list(commitments), as_of=as_of, only=only, classifiers=classifiers
        )
        report = result.report()
        result.outcomes.unpersist()
        if progress is not None and result.conversations:
            progress(result.conversations)
        return report

    def latest_message_at(self, source: Any) -> datetime | None:
        """For ``--as-of latest``: the dataset's newest message."""
        return latest_message_at(spark_session(), _dataset(source))


def _dataset(source: Any) -> str:
    if isinstance(source, Path):
        return str(source)
    if not isinstance(source, str):
        raise DatasetError(f"the spark engine reads a dataset directory or URL, not {source!r}")
    return source


@hookimpl
def register_engines(register: Callable[..., None]) -> None:
    register(
        "spark",
        SparkEngine(),
        description="Apache Spark over a Parquet dataset (--input DIR|URL)",
    )
