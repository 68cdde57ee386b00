"""Replenishment readiness per user as of t: how far each bought category is into its cycle.

Repeat buying is a renewal process per user x category: the urge to rebuy is low just after a
purchase and rises as the days since it approach the category's repurchase cycle. User-level
recency and frequency (and BG/NBD on them) cannot see this; a user whose staples were all
bought last week is less likely to order soon than one whose staples are all due. For each
(user, category) bought before t:
    age = days since the last order day in the category, cycle = cat_stats cycle,
    r = age / cycle, w = the user's order days in the category in [t-180d, t),
then per user (categories without a known cycle are left out):
    readiness_sum           = sum w * min(r, READINESS_CAP)
    mean_readiness          = readiness_sum / sum w (the activity-free share of it)
    max_readiness           = max min(r, READINESS_CAP) over repeat categories (w >= 2)
    due_in_horizon          = sum w over categories due by t + H (age + H >= cycle)
    expected_orders_horizon = sum H * w / exposure * clip((age + H / 2) / cycle, 0, 1)
    days_to_next_due        = min (cycle - age) over repeat categories (< 0: overdue)
Repeat categories only for the max / min: a category bought once long ago is "overdue"
forever and would swamp them. H = features.readiness_horizon_days; exposure = the user's
observed days in the window, clipped to [MIN_EXPOSURE_DAYS, WINDOW_DAYS]. Runs on `ob` and
`cat_stats`; leaves the temp table `user_readiness` (one row per user with an order before t)
for compute_user.
"""

from __future__ import annotations

from datetime import date

import duckdb

from configs import columns as C
from features.compute_inputs import date_literal

WINDOW_DAYS = 180
MIN_EXPOSURE_DAYS = 30
READINESS_CAP = 2.0
READINESS_COLUMNS = (
    "readiness_sum",
    "mean_readiness",
    "max_readiness",
    "due_in_horizon",
    "expected_orders_horizon",
    "days_to_next_due",
)


def create_user_readiness(con: duckdb.DuckDBPyConnection, as_of: date, horizon_days: int) -> None:
    """Create temp table `user_readiness` (user_id + READINESS_COLUMNS) from `ob`, `cat_stats`."""
    d, h = date_literal(as_of), float(horizon_days)
    cap = READINESS_CAP
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE user_readiness AS
        WITH uc AS (
            SELECT {C.USER_ID}, {C.CATEGORY_ID},
                CAST(date_diff('day', max(day), {d}) AS DOUBLE) AS age,
                CAST(count(DISTINCT day) FILTER (WHERE day >= {d} - {WINDOW_DAYS}) AS DOUBLE)
                    AS w
            FROM ob GROUP BY 1, 2),
        expo AS (
            SELECT {C.USER_ID}, CAST(least({WINDOW_DAYS}, greatest({MIN_EXPOSURE_DAYS},
                date_diff('day', min(day), {d}))) AS DOUBLE) AS exposure
            FROM ob GROUP BY 1),
        j AS (
            SELECT uc.{C.USER_ID}, uc.age, uc.w, e.exposure, c.repurchase_cycle_days AS cycle,
                least(uc.age / c.repurchase_cycle_days, {cap}) AS r
            FROM uc JOIN cat_stats c ON c.{C.CATEGORY_ID} = uc.{C.CATEGORY_ID}
            JOIN expo e ON e.{C.USER_ID} = uc.{C.USER_ID}
            WHERE c.repurchase_cycle_days > 0)
        SELECT {C.USER_ID},
            sum(w * r) AS readiness_sum,
            sum(w * r) / nullif(sum(w), 0) AS mean_readiness,
            max(r) FILTER (WHERE w >= 2) AS max_readiness,
            coalesce(sum(w) FILTER (WHERE age + {h} >= cycle), 0.0) AS due_in_horizon,
            sum({h} * w / exposure * least(1.0, greatest(0.0, (age + {h / 2}) / cycle)))
                AS expected_orders_horizon,
            min(cycle - age) FILTER (WHERE w >= 2) AS days_to_next_due
        FROM j GROUP BY 1""")
