"""Category and product statistics as of t (catalog tables category_stats, product_stats).

Both run on the temp table `ob` (orders before t, see compute_inputs.prepare_as_of) and leave
temp tables `cat_stats` / `prod_stats` behind: the user features reuse the category median
price, the repurchase cycle and the bestseller flag from them.
"""

from __future__ import annotations

from datetime import date

import duckdb
import pandas as pd

from configs import columns as C
from configs.settings import FeatureSettings
from features.compute.compute_inputs import date_literal, ts_literal
from features.store.catalog import (
    BASIS_NONE,
    BASIS_STOCK,
    BASIS_VELOCITY,
    CATEGORY_STATS,
    PRODUCT_STATS,
)

DAY_SECONDS = 86400.0
BESTSELLER_SHARE = 0.1  # a bestseller is in the top 10% of its category by 90-day units
MIN_CATEGORY_SIZE = 10  # smaller categories rank products globally instead
DOI_CAP = 9999.0


def compute_category_stats(
    con: duckdb.DuckDBPyConnection, as_of: date, cfg: FeatureSettings
) -> pd.DataFrame:
    """Popularity, median price and repurchase cycle per category; creates `cat_stats`.

    The cycle is the products table's value (median over the category's products) when given,
    else the median gap between consecutive purchase days of the same user in the category,
    over users with at least two such days; NaN when nobody bought the category twice.
    """
    t, d = ts_literal(as_of), date_literal(as_of)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE cat_stats AS
        WITH cats AS (
            SELECT {C.CATEGORY_ID}, min({C.DEPARTMENT_ID}) AS {C.DEPARTMENT_ID},
                   median({C.REPURCHASE_CYCLE_DAYS}) AS given_cycle
            FROM products
            WHERE {C.LAUNCHED_AT} IS NULL OR {C.LAUNCHED_AT} < {t}
               OR {C.PRODUCT_ID} IN (SELECT {C.PRODUCT_ID} FROM product_first
                                      WHERE first_ts < {t})
            GROUP BY 1),
        ucd AS (SELECT DISTINCT {C.USER_ID}, {C.CATEGORY_ID}, day FROM ob
                WHERE {C.CATEGORY_ID} IN (SELECT {C.CATEGORY_ID} FROM cats
                                          WHERE given_cycle IS NULL)),
        gaps AS (
            SELECT {C.CATEGORY_ID}, date_diff('day', lag(day) OVER (
                PARTITION BY {C.USER_ID}, {C.CATEGORY_ID} ORDER BY day), day) AS gap
            FROM ucd),
        inferred AS (SELECT {C.CATEGORY_ID}, median(gap) AS cycle FROM gaps
                     WHERE gap IS NOT NULL GROUP BY 1),
        w30 AS (SELECT {C.CATEGORY_ID}, sum(quantity) AS units,
                       count(DISTINCT {C.USER_ID}) AS buyers
                FROM ob WHERE day >= {d} - {int(cfg.active_window_days)} GROUP BY 1),
        total AS (SELECT count(DISTINCT {C.USER_ID}) AS n FROM ob
                  WHERE day >= {d} - {int(cfg.active_window_days)}),
        price AS (SELECT {C.CATEGORY_ID}, median(unit_price) AS med FROM ob
                  WHERE day >= {d} - 180 GROUP BY 1)
        SELECT c.{C.CATEGORY_ID}, c.{C.DEPARTMENT_ID},
               CAST(coalesce(c.given_cycle, i.cycle) AS DOUBLE) AS repurchase_cycle_days,
               CAST(coalesce(coalesce(c.given_cycle, i.cycle) <= {cfg.high_frequency_cycle_days},
                             false) AS BIGINT) AS is_high_frequency,
               CAST(coalesce(w.units, 0) AS DOUBLE) AS units_30d,
               CAST(coalesce(w.buyers, 0) AS BIGINT) AS buyers_30d,
               CAST(coalesce(w.buyers, 0) / nullif((SELECT n FROM total), 0) AS DOUBLE)
                   AS popularity_share,
               CAST(p.med AS DOUBLE) AS median_unit_price
        FROM cats c
        LEFT JOIN inferred i USING ({C.CATEGORY_ID})
        LEFT JOIN w30 w USING ({C.CATEGORY_ID})
        LEFT JOIN price p USING ({C.CATEGORY_ID})""")
    return con.execute(
        f"SELECT {C.CATEGORY_ID}, {', '.join(CATEGORY_STATS.names)} FROM cat_stats "
        f"ORDER BY {C.CATEGORY_ID}"
    ).df()


def compute_product_stats(
    con: duckdb.DuckDBPyConnection, as_of: date, cfg: FeatureSettings
) -> pd.DataFrame:
    """Sales windows, stock, sell-through, sales velocity and the slow-moving flag with the
    definition it used (catalog: slow_moving_basis); creates `prod_stats`.

    Needs `cat_stats`. Products launched at or after t are left out (they do not exist yet).
    Extra columns kept in `prod_stats` for the user features: launch_ts, is_bestseller.
    The baseline pace counts only the days since the product's first sale, so a product
    younger than the baseline window is judged against its own short history.
    """
    t, d = ts_literal(as_of), date_literal(as_of)
    recent, baseline = int(cfg.slow_moving_recent_days), int(cfg.slow_moving_baseline_days)
    history = int(cfg.slow_moving_min_history_days)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE prod_stats AS
        WITH sales AS (
            SELECT {C.PRODUCT_ID},
                   sum(quantity) FILTER (WHERE day >= {d} - 7) AS u7,
                   sum(quantity) FILTER (WHERE day >= {d} - 30) AS u30,
                   sum(quantity) FILTER (WHERE day >= {d} - 90) AS u90,
                   median(unit_price) FILTER (WHERE day >= {d} - 180) AS med_recent,
                   median(unit_price) AS med_all, min(ts) AS first_sale,
                   max(ts) AS last_sale,
                   sum(quantity) FILTER (WHERE day >= {d} - {recent}) AS u_recent,
                   sum(quantity) FILTER (WHERE day >= {d} - {baseline}
                                         AND day < {d} - {recent}) AS u_base
            FROM ob GROUP BY 1),
        inv AS (SELECT {C.PRODUCT_ID}, arg_max({C.STOCK_QTY}, {C.SNAPSHOT_AT}) AS stock
                FROM inventory WHERE {C.SNAPSHOT_AT} < {t} GROUP BY 1),
        base AS (
            SELECT p.{C.PRODUCT_ID}, p.{C.CATEGORY_ID},
                   CAST(coalesce(p.{C.PRICE}, s.med_recent, s.med_all) AS DOUBLE) AS price,
                   CAST(coalesce(s.u7, 0) AS DOUBLE) AS units_7d,
                   CAST(coalesce(s.u30, 0) AS DOUBLE) AS units_30d,
                   CAST(coalesce(s.u90, 0) AS DOUBLE) AS units_90d,
                   CAST(i.stock AS DOUBLE) AS stock_qty,
                   coalesce(p.{C.LAUNCHED_AT}, s.first_sale) AS launch_ts,
                   s.first_sale, s.last_sale, coalesce(s.u_recent, 0) AS u_recent,
                   coalesce(s.u_base, 0) AS u_base
            FROM products p
            LEFT JOIN sales s USING ({C.PRODUCT_ID})
            LEFT JOIN inv i USING ({C.PRODUCT_ID})
            WHERE p.{C.LAUNCHED_AT} IS NULL OR p.{C.LAUNCHED_AT} < {t} OR s.u90 IS NOT NULL
               OR s.first_sale IS NOT NULL),
        ranked AS (
            SELECT *,
                count(*) OVER (PARTITION BY {C.CATEGORY_ID}) AS n_cat,
                count(*) OVER () AS n_all,
                rank() OVER (PARTITION BY {C.CATEGORY_ID} ORDER BY price) AS price_rank,
                count(price) OVER (PARTITION BY {C.CATEGORY_ID}) AS n_priced,
                row_number() OVER (PARTITION BY {C.CATEGORY_ID}
                                   ORDER BY units_90d DESC, {C.PRODUCT_ID}) AS popularity_rank,
                row_number() OVER (ORDER BY units_90d DESC, {C.PRODUCT_ID}) AS global_rank
            FROM base)
        SELECT r.{C.PRODUCT_ID}, r.{C.CATEGORY_ID}, r.price,
               CASE WHEN r.price IS NULL THEN NULL ELSE CAST(least(4, floor(
                   5.0 * (r.price_rank - 1) / r.n_priced)) AS BIGINT) END AS price_band,
               r.units_7d, r.units_30d, r.units_90d, r.stock_qty,
               CASE WHEN r.stock_qty IS NULL OR r.units_30d + r.stock_qty = 0 THEN NULL
                    ELSE r.units_30d / (r.units_30d + r.stock_qty) END AS sell_through_30d,
               CASE WHEN r.stock_qty IS NULL THEN NULL
                    WHEN r.stock_qty = 0 THEN 0.0
                    WHEN r.units_30d = 0 THEN {DOI_CAP}
                    ELSE least({DOI_CAP}, r.stock_qty / (r.units_30d / 30.0)) END
                   AS days_of_inventory,
               CAST((epoch({t}) - epoch(r.launch_ts)) / {DAY_SECONDS} AS DOUBLE) AS age_days,
               CAST(r.popularity_rank AS BIGINT) AS popularity_rank,
               c.repurchase_cycle_days, c.is_high_frequency,
               r.launch_ts,
               CAST((epoch({t}) - epoch(r.last_sale)) / {DAY_SECONDS} AS DOUBLE)
                   AS days_since_last_sale,
               CASE WHEN CAST(r.first_sale AS DATE) <= {d} - {history}
                    THEN CAST(r.u_base * {recent} / date_diff('day', greatest(
                        {d} - {baseline}, CAST(r.first_sale AS DATE)), {d} - {recent})
                        AS DOUBLE) END AS expected_units_recent,
               r.u_recent,
               CASE WHEN r.n_cat >= {MIN_CATEGORY_SIZE}
                    THEN r.popularity_rank <= ceil({BESTSELLER_SHARE} * r.n_cat)
                    ELSE r.global_rank <= ceil({BESTSELLER_SHARE} * r.n_all) END
                   AND r.units_90d > 0 AS is_bestseller
        FROM ranked r JOIN cat_stats c USING ({C.CATEGORY_ID})""")
    con.execute(_slow_moving_sql(cfg))
    return con.execute(
        f"SELECT {C.PRODUCT_ID}, {', '.join(PRODUCT_STATS.names)} FROM prod_stats "
        f"ORDER BY {C.PRODUCT_ID}"
    ).df()


def _slow_moving_sql(cfg: FeatureSettings) -> str:
    """Two columns on `prod_stats`: which definition judges the product, and its verdict.

    stock: a stock row exists (in stock, and days of inventory or sell-through past the
    thresholds). velocity: no stock row, but enough history to know the product's own pace
    (first sale >= min_history_days before t, >= min_expected_units expected in the recent
    window); slow when still on sale (sold within alive_days) and selling at most
    max_velocity_ratio of that pace. none: neither, never slow. Plain ADD COLUMN + UPDATE
    without WHERE, which the Spark shim rewrites.
    """
    return f"""
        ALTER TABLE prod_stats ADD COLUMN velocity_ratio DOUBLE;
        UPDATE prod_stats SET velocity_ratio = CASE
            WHEN expected_units_recent > 0 THEN u_recent / expected_units_recent END;
        ALTER TABLE prod_stats ADD COLUMN slow_moving_basis VARCHAR;
        UPDATE prod_stats SET slow_moving_basis = CASE
            WHEN stock_qty IS NOT NULL THEN '{BASIS_STOCK}'
            WHEN expected_units_recent >= {float(cfg.slow_moving_min_expected_units)}
                THEN '{BASIS_VELOCITY}'
            ELSE '{BASIS_NONE}' END;
        ALTER TABLE prod_stats ADD COLUMN is_slow_moving BIGINT;
        UPDATE prod_stats SET is_slow_moving = CAST(CASE slow_moving_basis
            WHEN '{BASIS_STOCK}' THEN coalesce(stock_qty > 0 AND (
                days_of_inventory >= {cfg.slow_moving_min_days_of_inventory}
                OR sell_through_30d <= {cfg.slow_moving_max_sell_through}), false)
            WHEN '{BASIS_VELOCITY}' THEN coalesce(
                days_since_last_sale <= {int(cfg.slow_moving_alive_days)}
                AND velocity_ratio <= {float(cfg.slow_moving_max_velocity_ratio)}, false)
            ELSE false END AS BIGINT)"""
