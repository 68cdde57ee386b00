"""Group size, activity, lifecycle stage and category mix as of t (catalog table group_stats).

Groups come from the groups table, else from orders.group_id; members from memberships that
hold at t, else the users whose orders before t were attributed to the group. With neither,
the table is empty. Activity (n_active_30d, gmv_30d) counts a member's orders anywhere, over
`active_window_days`. Stage, first match wins: early (age < early_stage_days), zombie
(active share <= zombie_max_active_share), late (<= late_max_active_share), else mid.
"""

from __future__ import annotations

from datetime import date

import duckdb
import pandas as pd

from configs import columns as C
from configs.settings import FeatureSettings
from features.compute.compute_inputs import InputInfo, date_literal, ts_literal
from features.compute.compute_user import active_memberships_sql
from features.store.catalog import GROUP_STATS


def _groups_sql(info: InputInfo, as_of: date) -> str:
    t = ts_literal(as_of)
    if info.has("groups"):
        return (
            f"SELECT {C.GROUP_ID}, {C.STORE_ID}, {C.GROUP_TYPE}, {C.CREATED_AT} FROM groups "
            f"WHERE {C.CREATED_AT} IS NULL OR {C.CREATED_AT} < {t}"
        )
    return (
        f"SELECT {C.GROUP_ID}, mode({C.STORE_ID}) AS {C.STORE_ID}, NULL::VARCHAR AS "
        f"{C.GROUP_TYPE}, NULL::TIMESTAMP AS {C.CREATED_AT} FROM ob "
        f"WHERE {C.GROUP_ID} IS NOT NULL GROUP BY 1"
    )


def _members_sql(info: InputInfo, as_of: date) -> str:
    if info.has("memberships"):
        return (
            f"SELECT {C.GROUP_ID}, {C.USER_ID}, {C.JOINED_AT}, {C.ROLE} "
            f"FROM ({active_memberships_sql(as_of)})"
        )
    return (
        f"SELECT {C.GROUP_ID}, {C.USER_ID}, min(ts) AS {C.JOINED_AT}, NULL::VARCHAR AS "
        f"{C.ROLE} FROM ob WHERE {C.GROUP_ID} IS NOT NULL GROUP BY 1, 2"
    )


def compute_group_stats(
    con: duckdb.DuckDBPyConnection, as_of: date, cfg: FeatureSettings, info: InputInfo
) -> pd.DataFrame:
    """One row per group existing at t, catalog columns."""
    t, d = ts_literal(as_of), date_literal(as_of)
    window = int(cfg.active_window_days)
    sql = f"""
    WITH g AS ({_groups_sql(info, as_of)}),
    m AS ({_members_sql(info, as_of)}),
    spend AS (SELECT {C.USER_ID}, sum(amount) AS amt FROM ob
              WHERE day >= {d} - {window} GROUP BY 1),
    s AS (
        SELECT m.{C.GROUP_ID}, count(*) AS n_members, count(sp.amt) AS n_active,
               coalesce(sum(sp.amt), 0.0) AS gmv,
               count(*) FILTER (WHERE m.{C.ROLE} = 'koc') AS koc,
               min(m.{C.JOINED_AT}) AS first_join
        FROM m LEFT JOIN spend sp USING ({C.USER_ID}) GROUP BY 1),
    first_order AS (SELECT {C.GROUP_ID}, first_ts FROM group_first WHERE first_ts < {t}),
    cat_units AS (
        SELECT m.{C.GROUP_ID}, o.{C.CATEGORY_ID}, sum(o.quantity) AS units
        FROM m JOIN ob o USING ({C.USER_ID}) WHERE o.day >= {d} - 90 GROUP BY 1, 2
        QUALIFY row_number() OVER (PARTITION BY m.{C.GROUP_ID}
                                   ORDER BY sum(o.quantity) DESC, o.{C.CATEGORY_ID}) <= 3),
    top AS (SELECT {C.GROUP_ID}, string_agg({C.CATEGORY_ID}, ',' ORDER BY units DESC,
                                            {C.CATEGORY_ID}) AS top_categories
            FROM cat_units GROUP BY 1),
    base AS (
        SELECT g.{C.GROUP_ID}, g.{C.GROUP_TYPE}, g.{C.STORE_ID},
               CAST(coalesce(s.n_members, 0) AS BIGINT) AS n_members,
               CAST(coalesce(s.n_active, 0) AS BIGINT) AS n_active_30d,
               CAST(coalesce(s.n_active, 0) / nullif(s.n_members, 0) AS DOUBLE)
                   AS active_share_30d,
               CAST(coalesce(s.gmv, 0.0) AS DOUBLE) AS gmv_30d,
               CAST(coalesce(s.koc, 0) AS BIGINT) AS koc_count,
               CAST((epoch({t}) - epoch(coalesce(g.{C.CREATED_AT}, s.first_join, f.first_ts)))
                    / 86400.0 AS DOUBLE) AS age_days,
               coalesce(top.top_categories, '') AS top_categories
        FROM g LEFT JOIN s USING ({C.GROUP_ID}) LEFT JOIN first_order f USING ({C.GROUP_ID})
        LEFT JOIN top USING ({C.GROUP_ID}))
    SELECT *, CASE
        WHEN age_days < {cfg.early_stage_days} THEN 'early'
        WHEN coalesce(active_share_30d, 0) <= {cfg.zombie_max_active_share} THEN 'zombie'
        WHEN active_share_30d <= {cfg.late_max_active_share} THEN 'late'
        ELSE 'mid' END AS stage
    FROM base ORDER BY {C.GROUP_ID}"""
    df = con.execute(sql).df()
    return df[[C.GROUP_ID, *GROUP_STATS.names]]
