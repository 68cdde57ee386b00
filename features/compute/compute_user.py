"""User activity, spend, shopping style and profile as of t (catalog table user_activity).

Runs on `ob` (orders before t) and the `cat_stats` / `prod_stats` temp tables. Day-based
features count distinct UTC order days; recency and tenure are whole days to t. The `tags`
column is left empty here: features.compute.tags fills it from the taxonomy (build.py). Three helper
modules add the repurchase signals recency/frequency miss: compute_readiness (per-category
recency vs cycle), population_bgnbd (BG/NBD refitted as of t) and group_momentum.

On DuckDB the SQL's columns come from numpy over a per-build user-line log instead
(user_lines.py, user_activity_np.py; ~10 s -> ~1.5 s per date on 1M users);
the Spark engine runs the SQL (`activity_sql`), and tests compare both.

Which users exist at t: users registered before t, plus users without a registration date
who ordered before t or hold a membership at t (a user first seen later must not leak back).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import date

import duckdb
import numpy as np
import pandas as pd

from configs import columns as C
from configs.settings import FeatureSettings
from features.compute.compute_inputs import date_literal, ts_literal
from features.compute.compute_readiness import DUE_COLUMN, readiness_by_position
from features.compute.compute_renewal import (
    RENEWAL_COLUMNS,
    align_renewal,
    renewal_by_position,
    renewal_inputs,
)
from features.compute.group_momentum import GROUP_COLUMNS, group_sums, momentum
from features.compute.interest_inputs import PurchaseDays, RunStats, load_purchase_days, run_stats
from features.compute.population_bgnbd import POPULATION_COLUMNS, population_bgnbd
from features.compute.user_activity_np import activity_frame, user_rows
from features.compute.user_lines import user_lines
from features.store.catalog import USER_ACTIVITY

NEW_ARRIVAL_DAYS = 30


def active_memberships_sql(as_of: date) -> str:
    """Memberships that hold at t: joined before t (or unknown) and not left by t."""
    t = ts_literal(as_of)
    return (
        f"SELECT * FROM memberships WHERE ({C.JOINED_AT} IS NULL OR {C.JOINED_AT} < {t}) "
        f"AND ({C.LEFT_AT} IS NULL OR {C.LEFT_AT} >= {t})"
    )


def _windows(d: str) -> str:
    parts = [
        f"count(*) FILTER (WHERE day >= {d} - {n}) AS order_days_{n}d" for n in (7, 30, 90, 180)
    ]
    return ",\n".join(parts)


def _category_cycles(con: duckdb.DuckDBPyConnection) -> pd.Series:
    """The `cat_stats` repurchase cycles by category id (compute_readiness's input)."""
    cats = con.execute(f"SELECT {C.CATEGORY_ID}, repurchase_cycle_days FROM cat_stats").df()
    return cats.set_index(C.CATEGORY_ID)["repurchase_cycle_days"].astype(float)


def _readiness_columns(
    scored: tuple[pd.DataFrame, np.ndarray], positions: np.ndarray
) -> dict[str, np.ndarray]:
    """The readiness columns for the users at POSITIONS in the log. NaN for users without an
    order before t, as the left join on user ids this replaces gave (0 due categories)."""
    ready, ordered = scored
    row = np.where(positions >= 0, positions, 0)
    absent = (positions < 0) | ~ordered[row]
    out = {}
    for name in ready.columns:
        values = ready[name].to_numpy()[row]
        if name == DUE_COLUMN:
            values[absent] = 0
        else:
            values = values.astype(float, copy=False)
            values[absent] = np.nan
        out[name] = values
    return out


def activity_sql(as_of: date) -> str:
    """The user_activity columns computed from `ob`, `users`, `memberships`, `cat_stats` and
    `prod_stats` (the Spark engine runs it; DuckDB the numpy equivalent, which tests compare)."""
    t, d = ts_literal(as_of), date_literal(as_of)
    # the users existing at t (module docstring) are filtered after the joins: as
    # `user_id IN (SELECT user_id FROM a)` DuckDB computed `a` twice (~2 s per date, 1M users)
    return f"""
    WITH days AS (
        SELECT {C.USER_ID}, day, sum(amount) AS amt, sum(quantity) AS qty
        FROM ob GROUP BY 1, 2),
    gaps AS (
        SELECT *, date_diff('day', lag(day) OVER (PARTITION BY {C.USER_ID} ORDER BY day), day)
            AS gap FROM days),
    a AS (
        SELECT {C.USER_ID}, max(day) AS last_day, min(day) AS first_day,
            {_windows(d)},
            count(*) AS order_days_total,
            sum(amt) FILTER (WHERE day >= {d} - 30) AS spend_30d,
            sum(amt) FILTER (WHERE day >= {d} - 180) AS spend_180d,
            sum(amt) AS spend_total,
            sum(qty) FILTER (WHERE day >= {d} - 30) AS units_30d,
            avg(gap) AS mean_gap_days, stddev_samp(gap) AS std_gap_days,
            sum(qty) FILTER (WHERE day >= {d} - 180)
                / nullif(count(*) FILTER (WHERE day >= {d} - 180), 0) AS avg_basket_units
        FROM gaps GROUP BY 1),
    style AS (
        SELECT o.{C.USER_ID},
            avg(o.unit_price / nullif(c.median_unit_price, 0)) AS price_ratio,
            coalesce(sum(o.quantity) FILTER (
                WHERE o.ts < p.launch_ts + INTERVAL {NEW_ARRIVAL_DAYS} DAY), 0)
                / sum(o.quantity) AS new_arrival_share,
            coalesce(sum(o.quantity) FILTER (WHERE p.is_bestseller), 0)
                / sum(o.quantity) AS bestseller_share,
            count(DISTINCT o.{C.CATEGORY_ID}) AS n_categories_180d
        FROM ob o JOIN prod_stats p USING ({C.PRODUCT_ID})
        JOIN cat_stats c ON c.{C.CATEGORY_ID} = o.{C.CATEGORY_ID}
        WHERE o.day >= {d} - 180 GROUP BY 1),
    order_group AS (
        SELECT {C.USER_ID}, {C.GROUP_ID} FROM (
            SELECT {C.USER_ID}, {C.GROUP_ID}, count(*) AS n, max(ts) AS last_ts FROM ob
            WHERE {C.GROUP_ID} IS NOT NULL GROUP BY 1, 2)
        QUALIFY row_number() OVER (PARTITION BY {C.USER_ID}
                                   ORDER BY n DESC, last_ts DESC, {C.GROUP_ID}) = 1),
    m AS ({active_memberships_sql(as_of)}),
    member AS (
        SELECT {C.USER_ID},
            arg_min({C.GROUP_ID}, coalesce({C.JOINED_AT}, TIMESTAMP '1970-01-01')) AS gid,
            max(CASE WHEN {C.ROLE} = 'koc' THEN 1 ELSE 0 END) AS is_koc
        FROM m GROUP BY 1)
    SELECT u.{C.USER_ID},
        CAST(date_diff('day', a.last_day, {d}) AS DOUBLE) AS recency_days,
        coalesce(a.order_days_7d, 0) AS order_days_7d,
        coalesce(a.order_days_30d, 0) AS order_days_30d,
        coalesce(a.order_days_90d, 0) AS order_days_90d,
        coalesce(a.order_days_180d, 0) AS order_days_180d,
        coalesce(a.order_days_total, 0) AS order_days_total,
        coalesce(a.spend_30d, 0.0) AS spend_30d,
        coalesce(a.spend_180d, 0.0) AS spend_180d,
        coalesce(a.spend_total, 0.0) AS spend_total,
        coalesce(a.units_30d, 0.0) AS units_30d,
        a.mean_gap_days, a.std_gap_days,
        CAST(date_diff('day', coalesce(CAST(u.{C.REGISTERED_AT} AS DATE), a.first_day), {d})
             AS DOUBLE) AS tenure_days,
        CAST(coalesce(a.order_days_total, 0) >= 1 AS BIGINT) AS has_first_order,
        CAST(coalesce(a.order_days_total, 0) >= 2 AS BIGINT) AS has_second_order,
        a.order_days_30d / nullif(a.order_days_90d / 3.0, 0) AS trend_30_90,
        a.avg_basket_units, s.price_ratio, s.new_arrival_share, s.bestseller_share,
        coalesce(s.n_categories_180d, 0) AS n_categories_180d,
        u.{C.IDENTITY_TYPE}, u.{C.CHANNEL}, u.{C.REGION},
        coalesce(og.{C.GROUP_ID}, member.gid) AS {C.GROUP_ID},
        coalesce(member.is_koc, 0) AS is_koc,
        '' AS tags
    FROM users u
    LEFT JOIN a USING ({C.USER_ID})
    LEFT JOIN style s USING ({C.USER_ID})
    LEFT JOIN order_group og USING ({C.USER_ID})
    LEFT JOIN member USING ({C.USER_ID})
    WHERE u.{C.REGISTERED_AT} < {t}
       OR (u.{C.REGISTERED_AT} IS NULL
           AND (a.order_days_total IS NOT NULL OR member.is_koc IS NOT NULL))
    ORDER BY u.{C.USER_ID}"""


def _activity(
    con: duckdb.DuckDBPyConnection,
    sql: str,
    as_of: date,
    log: PurchaseDays,
    stats: RunStats,
) -> tuple[pd.DataFrame, np.ndarray]:
    """SQL's columns and each row's position in LOG. On DuckDB from the build's user-line
    log in numpy (user_activity_np.py: the same values, ~10x less time than the
    SQL per date on 1M users); on Spark the SQL."""
    if isinstance(con, duckdb.DuckDBPyConnection):
        lines = user_lines(con, log)
        return activity_frame(con, lines, user_rows(con, log, lines.groups), log, stats, as_of)
    df = _fetch_frame(con, sql)
    return df, log.positions(df[C.USER_ID])


def _fetch_frame(con: duckdb.DuckDBPyConnection, sql: str) -> pd.DataFrame:
    """The rows as pandas; through Arrow on DuckDB (.df() cost ~3 s more per as-of date on 1M
    users, for the same frame)."""
    if isinstance(con, duckdb.DuckDBPyConnection):
        return con.sql(sql).to_arrow_table().to_pandas()
    return con.execute(sql).df()  # the Spark engine's connection (features/engine_spark.py)


def compute_user_activity(
    con: duckdb.DuckDBPyConnection,
    as_of: date,
    cfg: FeatureSettings,
    log: PurchaseDays | None = None,
    stats: RunStats | None = None,
) -> pd.DataFrame:
    """One row per user existing at t, catalog columns (tags empty). LOG: the build's purchase
    days (read from CON's `orders` when not given); STATS: LOG's run_stats as of t, when the
    caller already has them (the interest features use the same)."""
    sql = activity_sql(as_of)
    if log is None or log.half_life_days != cfg.half_life_days:
        log, stats = load_purchase_days(con, cfg.half_life_days), None
    # the renewal features (numpy, ~3.5 s CPU per date on 1M users: the longest part) run on
    # a second thread while this one computes the activity columns (numpy on DuckDB, SQL on
    # Spark), readiness, BG/NBD and group momentum (~3 s together): all release the GIL in
    # their large operations. A third thread (readiness) only took CPU from the renewal on 2
    # cores. The new columns are gathered into one frame and joined once.
    if stats is None:
        stats = run_stats(log, as_of, cfg.half_life_days)
    inputs = renewal_inputs(con, log)
    cycles = _category_cycles(con)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="renewal") as pool:
        renewal = pool.submit(renewal_by_position, log, as_of, cfg.readiness_horizon_days, inputs)
        df, positions = _activity(con, sql, as_of, log, stats)
        ready = readiness_by_position(log, stats, as_of, cycles, cfg.readiness_horizon_days)
        population = population_bgnbd(df, cfg.readiness_horizon_days)
        return finish_activity(df, positions, ready, renewal.result(), log, population, None)


def finish_activity(
    df: pd.DataFrame,
    positions: np.ndarray,
    ready: tuple[pd.DataFrame, np.ndarray],
    renewal: tuple[pd.DataFrame, np.ndarray],
    log: PurchaseDays,
    population: pd.DataFrame,
    groups: pd.DataFrame | None,
) -> pd.DataFrame:
    """DF (the SQL's columns) with the readiness, renewal, BG/NBD and group columns, in the
    catalog's order. POSITIONS: DF's users in LOG; GROUPS: the population's group_sums
    (None: DF is the population). Also one user partition's rows on a Spark executor
    (compute/spark_activity.py)."""
    extra = pd.DataFrame(_readiness_columns(ready, positions), index=df.index)
    extra[list(POPULATION_COLUMNS)] = population
    sums = group_sums(df) if groups is None else groups
    extra[list(GROUP_COLUMNS)] = momentum(df, sums)
    extra[list(RENEWAL_COLUMNS)] = align_renewal(renewal, log, positions)
    df = pd.concat(
        [df.drop(columns=list(extra.columns), errors="ignore"), extra], axis=1, copy=False
    )
    return df[[C.USER_ID, *USER_ACTIVITY.names]]
