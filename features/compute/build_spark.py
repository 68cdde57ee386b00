"""The Spark build's per-user tables for one as-of date: computed and written by the executors.

features/compute/build.py runs the per-category, -product and -group stages for both engines;
on Spark the per-user tables come from here instead: user_activity with its tags
(spark_activity.py), then user_interest (spark_interest.py). Each table's executors write
Parquet parts under the build's staging folder, which the date's history writer streams into
the date file behind the next stages (offline_tables.HistoryWriter.write_parts).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from configs.settings import Settings
from features.compute.compute_interest import Similarity
from features.compute.spark_activity import write_user_activity
from features.compute.spark_interest import PartitionedLog, write_user_interest
from features.compute.tags import TagDef
from features.compute.write_behind import WriteBehind
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
    writer: WriteBehind,
    log: PartitionedLog,
) -> tuple[Similarity, dict[str, Any]]:
    """user_activity and user_interest as of AS_OF, queued on WRITER into their histories;
    returns the date's category similarity and tag summary."""
    cfg = settings.features
    activity = out[USER_ACTIVITY.name]
    with timer("user_activity"):
        staging = ot.staging_dir(activity.offline_dir) / "spark"
        parts, summary = write_user_activity(con, log, as_of, cfg, tags, staging)
    with timer("write"):
        writer.submit(activity.write_parts, as_of, parts)
    interest = out[USER_INTEREST.name]
    with timer("user_interest"):
        staging = ot.staging_dir(interest.offline_dir) / "spark"
        parts, sim = write_user_interest(log, as_of, cfg, staging)
    with timer("write"):
        writer.submit(interest.write_parts, as_of, parts)
    return sim, summary
