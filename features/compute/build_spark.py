"""The Spark build's per-user tables for one as-of date: computed and written by the executors.

features/compute/build.py runs the per-category, -product and -group stages for both engines;
on Spark the per-user tables come from here instead: user_activity with its tags
(spark_activity.py), then user_interest (spark_interest.py). Each table's executors write
Parquet parts straight into the date's staged parts directory (HistoryWriter.parts_dir); those
parts are the date's history, which the driver adopts (adopt_parts: names and a row count)
and renames into place at the commit, without reading a row.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from configs.settings import Settings
from features.compute.compute_interest import Similarity
from features.compute.spark_activity import write_user_activity
from features.compute.spark_interest import PartitionedLog, write_user_interest
from features.compute.tags import TagDef
from features.engine_spark import SparkSql
from features.stages import Stages
from features.store import offline_tables as ot
from features.store.catalog import USER_ACTIVITY, USER_INTEREST


def spark_user_tables(
    con: SparkSql,
    settings: Settings,
    as_of: date,
    tags: list[TagDef],
    timer: Stages,
    out: dict[str, ot.HistoryWriter],
    log: PartitionedLog,
) -> tuple[Similarity, dict[str, Any]]:
    """user_activity and user_interest as of AS_OF, written by the executors into their
    histories' staged parts directories; returns the date's category similarity and tag
    summary; no row passes the driver."""
    cfg = settings.features
    activity = out[USER_ACTIVITY.name]
    with timer("user_activity"):
        folder = activity.parts_dir(as_of)
        parts, rows, summary = write_user_activity(con, log, as_of, cfg, tags, folder)
        activity.adopt_parts(as_of, parts, rows)
    interest = out[USER_INTEREST.name]
    with timer("user_interest"):
        parts, rows, sim = write_user_interest(log, as_of, cfg, interest.parts_dir(as_of))
        interest.adopt_parts(as_of, parts, rows)
    return sim, summary
