"""user_activity (with its tags) on the Spark executors: the DuckDB path's numpy, per user bucket.

The activity SQL (compute_user.activity_sql) stays a Spark DataFrame; the purchase log stays
the executors' (spark_interest.PartitionedLog). Both carry each user's bucket, so one bucket's
activity rows and purchase rows meet in one Python call (cogroup), which runs the very
functions the DuckDB build calls (readiness, renewal, BG/NBD, group momentum, tags). Three of
them fit on the whole population; each is split into sums over users, so the executors sum
their users and the driver fits on the small totals:
- renewal (compute_renewal.py): per centre, the fit sample's and all pairs' category totals
  (centres x 2 x categories), then the sample's log-likelihood grid (centres x priors). The
  sample is a hash of the user id (user_sample.py), the same users in both engines.
- BG/NBD (population_bgnbd.py): the buyers' distinct (x, t_x, T) and their counts.
- group momentum (group_momentum.py): per group, four counts.
- tags (tags.py): the `_pct` ranks are counts of values at or below each value, computed by
  Spark (window over the distinct values) and joined to the rows before the rules run.
Each executor writes its rows as a Parquet part into the date's parts directory (as
user_interest does) and returns the path, its tag counts and which profile columns it knows.
The driver holds what is proportional to categories, groups, distinct (x, t_x, T) and
partitions, not to users or order lines.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from configs import columns as C
from configs.settings import FeatureSettings
from features.compute.compute_readiness import readiness_by_position
from features.compute.compute_renewal import (
    CENTERS,
    RenewalFit,
    RenewalInputs,
    best_fit,
    fit_grid,
    fit_totals,
    known_pairs,
    load_history,
    renewal_by_position,
    score_totals,
)
from features.compute.compute_user import activity_sql, finish_activity
from features.compute.group_momentum import SUM_COLUMNS, group_sums
from features.compute.interest_inputs import EPOCH, PurchaseDays, purchase_days_from_rows, run_stats
from features.compute.population_bgnbd import (
    bgnbd_counts,
    fit_population,
    score_population,
)
from features.compute.spark_interest import (
    BUCKET,
    PartitionedLog,
    bucket,
    partition_log,
    write_part,
)
from features.compute.tag_summary import combination_counts, known_columns, summary_of_counts
from features.compute.tags import PCT_SUFFIX, TagDef, evaluate_tags
from features.compute.user_sample import hash_units
from features.engine_spark import SparkSql, spark_sql_text, to_spark
from features.store.catalog import USER_ACTIVITY
from features.store.offline_tables import arrow_schema, to_arrow

VECTOR_SCHEMA = "v ARRAY<DOUBLE>"
WRITTEN_SCHEMA = "path STRING, tags STRING, n BIGINT, known STRING"


def _cycles(con: SparkSql) -> pd.Series:
    """The `cat_stats` repurchase cycles by category id (small: one per category)."""
    cats = con.execute(f"SELECT {C.CATEGORY_ID}, repurchase_cycle_days FROM cat_stats").df()
    return cats.set_index(C.CATEGORY_ID)["repurchase_cycle_days"].astype(float)


def _inputs(part: PurchaseDays, cycles: pd.Series) -> RenewalInputs:
    """One partition's renewal inputs (its users' registration days come with the rows)."""
    return RenewalInputs(cycles, part.cache["registration_days"], hash_units(part.users))


def _empty_log(categories: np.ndarray, hl: float) -> PurchaseDays:
    none = np.zeros(0, np.int64)
    rows = {"u": none, "c": none, "d": none, "w": np.zeros(0)}
    part = purchase_days_from_rows(pa.array([], pa.string()), categories, rows, hl)
    part.cache["registration_days"] = np.zeros(0)
    return part


def _vector(values: np.ndarray) -> Iterator[pa.RecordBatch]:
    yield pa.RecordBatch.from_pydict({"v": [values.ravel().tolist()]}, schema=_VECTOR)


_VECTOR = pa.schema([pa.field("v", pa.list_(pa.float64()))])


def _summed(frame: Any) -> np.ndarray:
    """The per-partition vectors of a VECTOR_SCHEMA frame, added in partition order."""
    rows = frame.toPandas()["v"]
    return np.sum([np.asarray(v, dtype=float) for v in rows], axis=0)


def fit_renewal_on_executors(
    log: PartitionedLog, as_of: date, cycles: pd.Series
) -> tuple[RenewalFit | None, int]:
    """The population's renewal fit as of t from per-partition totals, and the population's
    first order day (None, 0 when nobody has a pair with a known cycle)."""
    from pyspark.sql import functions as F

    t = (as_of - EPOCH).days
    cycle_of = cycles.reindex(pd.Index(log.categories)).to_numpy(dtype=float)
    with np.errstate(invalid="ignore"):
        known = [int(c) for c in np.flatnonzero(np.isfinite(cycle_of) & (cycle_of > 0))]
    before = log.rows.where(F.col("d") < t)
    first = before.agg(
        F.min("d").alias("first"),
        F.countDistinct(F.when(F.col("c").isin(known), F.col(C.USER_ID))).alias("n"),
    ).first()
    if first is None or first["first"] is None or not first["n"]:
        return None, 0
    first_day, population = int(first["first"]), int(first["n"])
    categories, hl = log.categories, log.half_life_days

    def histories(batches: Iterator[pa.RecordBatch]) -> Any:
        part = partition_log(batches, categories, hl)
        if part is None:
            return None
        return load_history(part, as_of, _inputs(part, cycles), first_day)[0]

    def totals(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        h = histories(batches)
        if h is not None:
            sample = fit_totals(known_pairs(h), population=population)
            yield from _vector(np.concatenate([sample.ravel(), score_totals(h).ravel()]))

    both = _summed(log.rows.mapInArrow(totals, VECTOR_SCHEMA))
    sample, every = both.reshape(2, len(CENTERS), 2, len(categories))

    def grid(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        h = histories(batches)
        if h is not None:
            yield from _vector(fit_grid(known_pairs(h), 0, sample, population))

    ll = _summed(log.rows.mapInArrow(grid, VECTOR_SCHEMA)).reshape(len(CENTERS), -1)
    center, alpha = best_fit(ll)
    return RenewalFit(center, alpha, every[CENTERS.index(center)]), first_day


def _materialised(frame: Any) -> Any:
    """FRAME computed once and kept on the executors, as a DataFrame whose plan is just those
    rows (a local checkpoint; keeps the partitioning). A cached frame keeps its whole plan,
    and the activity SQL's is big enough that analysing every DataFrame built on it took
    10-20 s a date; the checkpoint's blocks are freed when the frame is garbage collected.
    Unlike a cache it cannot be recomputed: a lost executor fails the build (re-run it)."""
    return frame.localCheckpoint(eager=True)


def _activity_frame(con: SparkSql, as_of: date, cfg: FeatureSettings) -> Any:
    """The activity SQL's rows with each user's bucket, partitioned by bucket like the
    purchase log (so the cogroup does not move them again), computed once."""
    (statement,) = to_spark(activity_sql(as_of))
    statement.set("order", None)  # no global sort: the rows go to their buckets
    frame = con.spark.sql(spark_sql_text(statement)).withColumn(BUCKET, bucket(cfg))
    return _materialised(frame.repartition(cfg.spark_shuffle_partitions, BUCKET))


_POPULATION = pa.schema(
    [
        pa.field("kind", pa.int8()),
        *(pa.field(c, pa.float64()) for c in ("x", "t_x", "T")),
        pa.field("w", pa.int64()),
        pa.field(C.GROUP_ID, pa.string()),
        *(pa.field(c, pa.float64()) for c in SUM_COLUMNS),
    ]
)
POPULATION_SCHEMA = (
    f"kind TINYINT, x DOUBLE, t_x DOUBLE, T DOUBLE, w BIGINT, {C.GROUP_ID} STRING, "
    + ", ".join(f"{c} DOUBLE" for c in SUM_COLUMNS)
)


def _population_sums(act: Any) -> tuple[Any, pd.DataFrame]:
    """The BG/NBD fit (fit_population on the summed bgnbd_counts, kind 0) and group_sums of
    the population (kind 1), from one pass over the activity rows: each batch's counts and
    sums are added per key by Spark, and only those totals reach the driver."""

    def sums(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            frame = batch.to_pandas()
            counts = bgnbd_counts(frame).assign(kind=0)
            groups = group_sums(frame).reset_index().assign(kind=1)
            both = pd.concat([counts, groups], ignore_index=True)
            yield pa.RecordBatch.from_pandas(
                both.reindex(columns=_POPULATION.names), schema=_POPULATION, preserve_index=False
            )

    keys = ["kind", "x", "t_x", "T", C.GROUP_ID]
    summed = act.mapInArrow(sums, POPULATION_SCHEMA).groupBy(*keys).sum("w", *SUM_COLUMNS)
    got = summed.toPandas().rename(columns=lambda c: c[4:-1] if c.startswith("sum(") else c)
    counts = got.loc[got["kind"] == 0, ["x", "t_x", "T", "w"]].astype({"w": np.int64})
    groups = got.loc[got["kind"] == 1].set_index(C.GROUP_ID)[list(SUM_COLUMNS)]
    return fit_population(counts.reset_index(drop=True)), groups


def _spark_schema() -> Any:
    from pyspark.sql.pandas.types import from_arrow_schema

    schema = arrow_schema(USER_ACTIVITY)
    return from_arrow_schema(pa.schema([f for f in schema if f.name != C.EVENT_TIMESTAMP]))


def _with_ranks(frame: Any, tags: list[TagDef]) -> Any:
    """FRAME with the `<column>_pct` ranks the tag rules use: pandas' rank(pct=True,
    method="max") = values at or below / values, NULL and NaN left out.

    Every ranked column in one pass: the values are stacked into (name, value) rows, counted
    per distinct value, and a running sum per name (partitioned by name, not one global sort)
    gives the ranks; they meet their users in one join and come back as columns in one
    pivot. Per column, a count, a global window and a join each cost several Spark jobs."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    used = set().union(*(t.names_used() for t in tags)) if tags else set()
    ranked = [
        (name, name[: -len(PCT_SUFFIX)])
        for name in sorted(n for n in used if n.endswith(PCT_SUFFIX))
        if name[: -len(PCT_SUFFIX)] in frame.columns and name not in frame.columns
    ]
    if not ranked:
        return frame
    pairs = ", ".join(f"'{name}', CAST(`{col}` AS DOUBLE)" for name, col in ranked)
    values = frame.select(
        C.USER_ID, F.expr(f"stack({len(ranked)}, {pairs}) AS (_name, _value)")
    ).where(F.col("_value").isNotNull() & ~F.isnan(F.col("_value")))
    counts = values.groupBy("_name", "_value").count()
    per_name = Window.partitionBy("_name")
    upto = per_name.orderBy("_value").rowsBetween(Window.unboundedPreceding, Window.currentRow)
    ranks = counts.select(
        "_name",
        "_value",
        (F.sum("count").over(upto) / F.sum("count").over(per_name)).alias("_pct"),
    )
    names = [name for name, _ in ranked]
    per_user = (
        values.join(ranks, on=["_name", "_value"])
        .groupBy(C.USER_ID)
        .pivot("_name", names)
        .agg(F.first("_pct"))
    )
    return frame.join(per_user, on=C.USER_ID, how="left")


def write_user_activity(
    con: SparkSql,
    log: PartitionedLog,
    as_of: date,
    cfg: FeatureSettings,
    tags: list[TagDef],
    folder: Path,
) -> tuple[list[Path], int, dict[str, Any]]:
    """The executors compute the date's user_activity rows with their tags and write them
    into FOLDER (the date's parts directory, visible to every executor); returns the part
    files, their rows and the date's tag summary (tag_summary.py)."""
    cycles = _cycles(con)
    fit, first_day = fit_renewal_on_executors(log, as_of, cycles)
    act = _activity_frame(con, as_of, cfg)
    model, groups = _population_sums(act)
    horizon = cfg.readiness_horizon_days
    categories, hl = log.categories, log.half_life_days

    def users(rows: pd.DataFrame, purchases: pd.DataFrame) -> pd.DataFrame:
        df = rows.drop(columns=[BUCKET]).reset_index(drop=True)
        purchases = purchases.sort_values([C.USER_ID, "c", "d"], kind="stable")
        batch = pa.Table.from_pandas(purchases, preserve_index=False).to_batches()
        part = partition_log(iter(batch), categories, hl) or _empty_log(categories, hl)
        stats = run_stats(part, as_of, hl)
        positions = part.positions(df[C.USER_ID])
        ready = readiness_by_position(part, stats, as_of, cycles, horizon)
        inputs = _inputs(part, cycles)
        scored = renewal_by_position(part, as_of, horizon, inputs, fit, first_day)
        population = score_population(df, model, horizon)
        return finish_activity(df, positions, ready, scored, part, population, groups)

    purchases = log.rows.select(C.USER_ID, "c", "d", "w", "reg_day", BUCKET)
    rows = _materialised(  # read by the ranks and by the write: computed once
        act.groupBy(BUCKET).cogroup(purchases.groupBy(BUCKET)).applyInPandas(users, _spark_schema())
    )
    written = _write(_with_ranks(rows, tags), as_of, tags, folder)
    return written


def _write(
    rows: Any, as_of: date, tags: list[TagDef], folder: Path
) -> tuple[list[Path], int, dict[str, Any]]:
    target = str(folder)

    def write(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        table = pa.Table.from_batches(list(batches))
        if table.num_rows == 0:
            return
        users = table.to_pandas()
        users["tags"] = evaluate_tags(users, tags)
        path = write_part(to_arrow(users, USER_ACTIVITY, as_of), target)
        counts = users["tags"].fillna("").value_counts()
        yield pa.RecordBatch.from_pydict(
            {
                "path": [path] + [None] * len(counts),
                "tags": [None, *counts.index.astype(str)],
                "n": [len(users), *counts.to_numpy(dtype=np.int64)],
                "known": [",".join(sorted(known_columns(users)))] + [None] * len(counts),
            }
        )

    got = rows.mapInArrow(write, WRITTEN_SCHEMA).toPandas()
    heads = got["path"].notna()
    n = int(got.loc[heads, "n"].sum())
    counts = combination_counts(got[~heads].groupby("tags")["n"].sum())
    known = {c for text in got.loc[heads, "known"] for c in str(text).split(",") if c}
    paths = sorted(Path(p) for p in got.loc[heads, "path"])
    return paths, n, summary_of_counts(n, counts, known, tags)
