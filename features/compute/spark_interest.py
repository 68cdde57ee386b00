"""user_interest on the Spark executors: the DuckDB path's numpy, one user partition at a time.

The (user, category, day) purchase rows stay a Spark DataFrame, hash-partitioned by user and
sorted within each partition, so every user's rows sit in one partition. Each partition is
turned into its own PurchaseDays (features/compute/interest_inputs.py) and run through the very
functions the DuckDB build calls, so the engines cannot drift:
1. `run_stats` + `co_buyer_gram` per partition; the partitions' grams (categories x
   categories, exact counts) are summed by Spark and only that sum reaches the driver,
   which turns it into the similarity (`similarity_from_gram`).
2. `compute_user_interest` per partition with that similarity (the spreading is per user);
   each executor writes its rows, cast to the catalog schema, as one Parquet part file straight
   into the date's staged parts directory (HistoryWriter.parts_dir,
   features/store/offline_tables.py), and returns only the path and its row count. Those parts
   are the date's history: the driver only renames the directory into place at the commit,
   so it never reads or rewrites the rows.
What the driver holds is proportional to categories (ids, gram) and partitions (paths),
not to users or order lines. The workspace must be visible to every executor (README).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from configs import columns as C
from configs.settings import FeatureSettings
from features.compute.compute_interest import (
    Similarity,
    co_buyer_gram,
    compute_user_interest,
    similarity_from_gram,
)
from features.compute.interest_inputs import EPOCH, PurchaseDays, purchase_days_from_rows, run_stats
from features.engine_spark import SparkSql, spark_sql_text, to_spark
from features.store.catalog import USER_INTEREST
from features.store.offline_tables import to_arrow

GRAM_SCHEMA = "a INT, b INT, n DOUBLE"
BUCKET = "_bucket"  # a user's bucket: all their rows (and user_activity row) share one


def bucket(cfg: FeatureSettings) -> Any:
    """The BUCKET column of a frame with user ids (spark_activity.py groups by it)."""
    from pyspark.sql import functions as F

    return F.pmod(F.hash(F.col(C.USER_ID)), F.lit(cfg.spark_shuffle_partitions))


PART_SCHEMA = "path STRING, n BIGINT"


def _rows_sql(hl: float) -> str:
    """Purchase rows per (user, category position, day): the DuckDB engine's aggregate
    (interest_inputs._purchase_days_sql) without the global user numbering; with each row
    the user's registration day (compute_renewal.renewal_inputs) and bucket (BUCKET)."""
    return f"""
        WITH c AS (SELECT {C.CATEGORY_ID}, row_number() OVER (ORDER BY {C.CATEGORY_ID}) - 1 AS c
                   FROM (SELECT DISTINCT {C.CATEGORY_ID} FROM products)),
        g AS (
            SELECT o.{C.USER_ID}, CAST(c.c AS BIGINT) AS c,
                CAST(date_diff('day', DATE '{EPOCH.isoformat()}', o.day) AS INTEGER) AS d,
                sum(o.quantity * exp(ln(2) * (epoch(o.ts) - epoch(CAST(o.day AS TIMESTAMP)))
                    / 86400.0 / {hl})) AS w
            FROM orders o JOIN c USING ({C.CATEGORY_ID})
            GROUP BY 1, 2, 3),
        r AS (
            SELECT {C.USER_ID}, CAST(date_diff('day', DATE '{EPOCH.isoformat()}',
                                     CAST(min({C.REGISTERED_AT}) AS DATE)) AS DOUBLE) AS reg_day
            FROM users GROUP BY 1)
        SELECT g.*, r.reg_day FROM g LEFT JOIN r USING ({C.USER_ID})"""


class PartitionedLog:
    """The build's purchase rows on the executors, partitioned by user (computed once)."""

    def __init__(self, con: SparkSql, cfg: FeatureSettings) -> None:
        cats = con.execute(
            f"SELECT DISTINCT {C.CATEGORY_ID} FROM products ORDER BY {C.CATEGORY_ID}"
        ).fetchnumpy()
        self.categories = np.asarray(cats[C.CATEGORY_ID], dtype=object)
        self.half_life_days = float(cfg.half_life_days)
        (statement,) = to_spark(_rows_sql(self.half_life_days))
        rows = con.spark.sql(spark_sql_text(statement)).withColumn(BUCKET, bucket(cfg))
        self.partitions = cfg.spark_shuffle_partitions
        # computed once and kept on the executors as just those rows (partitioning and order
        # kept): every date's passes build on it, and a cached frame would make Spark analyse
        # the purchase-rows query again for each of them
        self.rows = (
            rows.repartition(self.partitions, BUCKET)
            .sortWithinPartitions(C.USER_ID, "c", "d")
            .localCheckpoint(eager=True)
        )

    def close(self) -> None:
        """Drop the rows (the checkpoint's blocks go when the frame is garbage collected)."""
        self.rows = None


def partition_log(
    batches: Iterator[pa.RecordBatch], categories: np.ndarray, hl: float
) -> PurchaseDays | None:
    """One partition's rows (sorted by user, category, day) as a PurchaseDays of its users."""
    got = list(batches)
    if not got:
        return None
    table = pa.Table.from_batches(got)
    if table.num_rows == 0:
        return None
    ids = table.column(C.USER_ID).combine_chunks().cast(pa.string())
    new_user = np.ones(table.num_rows, dtype=bool)
    values = np.asarray(ids.to_numpy(zero_copy_only=False), dtype=object)
    new_user[1:] = values[1:] != values[:-1]
    rows = {
        "u": np.cumsum(new_user) - 1,
        "c": table.column("c").to_numpy(),
        "d": table.column("d").to_numpy(),
        "w": table.column("w").to_numpy(),
    }
    users = ids.filter(pa.array(new_user))
    part = purchase_days_from_rows(users, categories, rows, hl)
    if "reg_day" in table.column_names:  # compute_renewal.renewal_inputs' per-build values
        reg = table.column("reg_day").combine_chunks().filter(pa.array(new_user))
        part.cache["registration_days"] = np.asarray(
            reg.to_numpy(zero_copy_only=False), dtype=float
        )
    return part


def similarity(log: PartitionedLog, as_of: date, cfg: FeatureSettings) -> Similarity:
    """Category similarity as of t from the per-partition co-buyer grams, summed by Spark."""
    categories, hl = log.categories, log.half_life_days

    def grams(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        part = partition_log(batches, categories, hl)
        if part is None:
            return
        gram = co_buyer_gram(run_stats(part, as_of, hl), part)
        a, b = np.nonzero(gram)
        yield pa.RecordBatch.from_pydict(
            {"a": a.astype(np.int32), "b": b.astype(np.int32), "n": gram[a, b]}
        )

    summed = log.rows.mapInArrow(grams, GRAM_SCHEMA).groupBy("a", "b").sum("n").toPandas()
    gram = np.zeros((len(categories), len(categories)))
    gram[summed["a"].to_numpy(), summed["b"].to_numpy()] = summed["sum(n)"].to_numpy()
    return similarity_from_gram(gram, categories, cfg)


def write_part(table: pa.Table, folder: str) -> str:
    """One executor's part of a date: written under a fresh name and fsynced (a retried task
    writes another name; HistoryWriter.adopt_parts keeps only the reported ones)."""
    path = f"{folder}/part-{uuid.uuid4().hex}.parquet"
    pq.write_table(table, path, compression="zstd")
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())
    return path


def write_user_interest(
    log: PartitionedLog, as_of: date, cfg: FeatureSettings, folder: Path
) -> tuple[list[Path], int, Similarity]:
    """Each executor computes its users' user_interest rows and writes them into FOLDER (the
    date's parts directory, visible to every executor); returns the part files, their rows
    and the similarity."""
    sim = similarity(log, as_of, cfg)
    categories, hl = log.categories, log.half_life_days
    target = str(folder)

    def interest(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        part = partition_log(batches, categories, hl)
        if part is None:
            return
        rows, _ = compute_user_interest(None, as_of, cfg, part, None, sim)  # type: ignore[arg-type]
        table = to_arrow(rows, USER_INTEREST, as_of)
        path = write_part(table, target)
        yield pa.RecordBatch.from_pydict({"path": [path], "n": [table.num_rows]})

    written = log.rows.mapInArrow(interest, PART_SCHEMA).toPandas()
    return sorted(Path(p) for p in written["path"]), int(written["n"].sum()), sim


def spark_partitioned_log(con: Any, cfg: FeatureSettings) -> PartitionedLog | None:
    """The executors' purchase log when CON is the Spark engine's connection, else None."""
    return PartitionedLog(con, cfg) if isinstance(con, SparkSql) else None
