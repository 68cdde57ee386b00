"""user_activity's SQL columns as of t in numpy, from the build's user-line log (DuckDB engine).

Computes what the SQL in compute_user.py computes (the Spark engine still runs that
SQL; tests/features/compute/test_user_activity_np.py compares both): each user's lines before t
are a prefix of their run in user_lines.py, reduced per user with `np.add.reduceat` over
user chunks (~2M lines each, which bounds the temporaries). Gaps between order days telescope:
their sum is last - first day, so only the sum of squares needs a pass. The distinct
categories in 180 days come from the purchase log's run_stats (its (user, category) runs).
The users table and the memberships are read once per build too (UserRows).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from configs import columns as C
from features.compute.interest_inputs import EPOCH, PurchaseDays, RunStats
from features.compute.user_lines import FIRST_OF_DAY, NEW_ARRIVAL, UserLines, day_offset

ROWS_KEY = "user_rows"
WINDOWS = (7, 30, 90, 180)
_MIN, _MAX = np.iinfo(np.int64).min, np.iinfo(np.int64).max


@dataclass(frozen=True)
class UserRows:
    """The `users` rows in id order and the memberships, as arrays (per build)."""

    table: pa.Table  # user_id, identity_type, channel, region
    key: np.ndarray  # int32 per row: distinct user index
    ordered: np.ndarray  # int32 per row: position in PurchaseDays.users (-1: never ordered)
    reg_us: np.ndarray  # int64 per row: registered_at, epoch microseconds (_MAX: unknown)
    reg_day: np.ndarray  # float64 per row: CAST(registered_at AS DATE), epoch days (NaN)
    m_key: np.ndarray  # int32 per membership: distinct user index
    m_group: np.ndarray  # int32 per membership: group code (-1: none)
    m_joined: np.ndarray  # int64 epoch microseconds (_MIN: unknown)
    m_left: np.ndarray  # int64 epoch microseconds (_MAX: unknown)
    m_koc: np.ndarray  # bool
    m_first: np.ndarray  # int64: memberships with a group by (user, joined or 1970, row)


def user_rows(con: duckdb.DuckDBPyConnection, log: PurchaseDays, groups: pa.Array) -> UserRows:
    """LOG's cached UserRows (GROUPS: the group ids by code of user_lines.py)."""
    if ROWS_KEY not in log.cache:
        log.cache[ROWS_KEY] = _load_rows(con, log, groups)
    rows: UserRows = log.cache[ROWS_KEY]
    return rows


def _filled(col: pa.ChunkedArray, value: int) -> np.ndarray:
    return np.asarray(pc.fill_null(col, value).to_numpy(), np.int64)


def _load_rows(con: duckdb.DuckDBPyConnection, log: PurchaseDays, groups: pa.Array) -> UserRows:
    users = con.sql(f"""
        SELECT {C.USER_ID}, {C.IDENTITY_TYPE}, {C.CHANNEL}, {C.REGION},
            epoch_us({C.REGISTERED_AT}) AS reg_us,
            date_diff('day', DATE '{EPOCH}', CAST({C.REGISTERED_AT} AS DATE)) AS reg_day
        FROM users ORDER BY {C.USER_ID}""").to_arrow_table()
    ids = users[C.USER_ID].combine_chunks()
    new = np.ones(len(ids), bool)
    if len(ids) > 1:
        new[1:] = pc.not_equal(ids[1:], ids[:-1]).to_numpy(zero_copy_only=False)
    distinct = ids.filter(pa.array(new))
    mem = con.sql(f"""
        SELECT {C.USER_ID}, {C.GROUP_ID}, epoch_us({C.JOINED_AT}) AS j,
            epoch_us({C.LEFT_AT}) AS l, coalesce({C.ROLE} = 'koc', false) AS koc
        FROM memberships ORDER BY rowid""").to_arrow_table()
    m_key = _index(mem[C.USER_ID], distinct)
    keep = m_key >= 0
    m_group = _index(mem[C.GROUP_ID], groups)[keep]
    joined = _filled(mem["j"], _MIN)[keep]
    key = m_key[keep]
    cand = np.flatnonzero(m_group >= 0)
    order = np.lexsort((cand, np.where(joined == _MIN, 0, joined)[cand], key[cand]))
    return UserRows(
        table=users.select([C.USER_ID, C.IDENTITY_TYPE, C.CHANNEL, C.REGION]),
        key=(np.cumsum(new) - 1).astype(np.int32),
        ordered=_index(ids, log.users),
        reg_us=_filled(users["reg_us"], _MAX),
        reg_day=pc.cast(users["reg_day"], pa.float64()).to_numpy(),
        m_key=key,
        m_group=m_group,
        m_joined=joined,
        m_left=_filled(mem["l"], _MAX)[keep],
        m_koc=np.asarray(mem["koc"].to_numpy(), bool)[keep],
        m_first=cand[order],
    )


def _index(values: pa.ChunkedArray | pa.Array, value_set: pa.Array) -> np.ndarray:
    """Each value's position in VALUE_SET, -1 when absent or NULL."""
    got = pc.index_in(values, value_set=value_set)
    return np.asarray(pc.fill_null(got, -1).to_numpy(), np.int32)


def _per_user(lines: UserLines, t: int, med: np.ndarray, best: np.ndarray) -> dict[str, np.ndarray]:
    """Sums and counts per user (PurchaseDays position) over the lines before day offset T;
    MED / BEST: per product, its category's median unit price (NaN: NULL or 0) / bestseller.
    One more (zero) entry at the end stands for the users without an order."""
    n = len(lines.start)
    counts = ("n", "days", *(f"d{w}" for w in WINDOWS), "first", "last", "sq", "rn")
    out: dict[str, np.ndarray] = {k: np.zeros(n, np.int64) for k in counts}
    out |= {k: np.zeros(n) for k in ("s30", "s180", "st", "q30", "q180", "r", "qn", "qb")}
    for u0, u1 in lines.chunks():
        a0, a1 = int(lines.start[u0]), int(lines.start[u1])
        heads = lines.start[u0:u1] - a0
        d = lines.day[a0:a1].astype(np.int32)
        age = t - d  # >= 1 before t
        before = age >= 1
        flags = lines.flags[a0:a1]
        rep = before & ((flags & FIRST_OF_DAY) > 0)
        sl = slice(u0, u1)

        def add(x: np.ndarray, name: str, s: slice = sl, at: np.ndarray = heads) -> None:
            out[name][s] = np.add.reduceat(x, at)

        add(before.astype(np.int64), "n")
        add(rep.astype(np.int64), "days")
        for w in WINDOWS:
            add((rep & (age <= w)).astype(np.int64), f"d{w}")
        gap = np.zeros(d.size, np.int64)
        gap[1:] = d[1:] - d[:-1]
        gap[heads] = 0
        add(np.where(rep, gap * gap, 0), "sq")
        nb = out["n"][sl]
        out["first"][sl] = d[heads]
        out["last"][sl] = d[heads + np.maximum(nb, 1) - 1]
        amt = lines.amounts(a0, a1)
        qty = lines.quantity[a0:a1].astype(np.float64)
        in30, in180 = before & (age <= 30), before & (age <= 180)
        add(np.where(before, amt, 0.0), "st")
        add(np.where(in30, amt, 0.0), "s30")
        add(np.where(in180, amt, 0.0), "s180")
        add(np.where(in30, qty, 0.0), "q30")
        add(np.where(in180, qty, 0.0), "q180")
        prod = lines.product[a0:a1]
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = amt / qty / med[prod]
        ok = in180 & ~np.isnan(ratio)
        add(np.where(ok, ratio, 0.0), "r")
        add(ok.astype(np.int64), "rn")
        add(np.where(in180 & ((flags & NEW_ARRIVAL) > 0), qty, 0.0), "qn")
        add(np.where(in180 & best[prod], qty, 0.0), "qb")
    return out


def _order_group(lines: UserLines, t: int) -> np.ndarray:
    """Per user (PurchaseDays position): the group of most lines before t, ties to the latest
    line, then the smallest group id (-1: none); plus a -1 for the users without an order."""
    og = np.where(lines.group_from < t, lines.only_group, -1).astype(np.int32)
    og = np.r_[og, np.int32(-1)]
    m = lines.multi
    sel = m.day < t
    if sel.any():
        n_groups = max(len(lines.groups), 1)
        pair, inv, cnt = np.unique(
            m.user[sel].astype(np.int64) * n_groups + m.group[sel],
            return_inverse=True,
            return_counts=True,
        )
        last = np.full(pair.size, _MIN)
        np.maximum.at(last, inv, m.ts[sel])
        user, group = pair // n_groups, pair % n_groups
        order = np.lexsort((group, -last, -cnt, user))
        user, group = user[order], group[order]
        head = np.r_[True, user[1:] != user[:-1]]
        og[user[head]] = group[head]
    return og


def _members(rows: UserRows, t_us: int, n_keys: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(has an active membership, is_koc, arg_min group code or -1) per distinct user."""
    act = (rows.m_joined < t_us) & (rows.m_left >= t_us)
    has = np.bincount(rows.m_key[act], minlength=n_keys) > 0
    koc = np.bincount(rows.m_key[act & rows.m_koc], minlength=n_keys) > 0
    gid = np.full(n_keys, -1, np.int32)
    first = rows.m_first[act[rows.m_first]]
    key = rows.m_key[first]
    head = np.r_[True, key[1:] != key[:-1]] if key.size else np.empty(0, bool)
    gid[key[head]] = rows.m_group[first[head]]
    return has, koc, gid


def _product_arrays(con: duckdb.DuckDBPyConnection, lines: UserLines) -> tuple[np.ndarray, ...]:
    """Per product code: its category's median unit price as of t (NaN: NULL or 0, which
    the SQL's nullif leaves out of the mean) and its bestseller flag (`cat_stats`,
    `prod_stats`)."""
    cats = con.sql(f"SELECT {C.CATEGORY_ID}, median_unit_price FROM cat_stats").to_arrow_table()
    by_cat = np.full(len(lines.categories), np.nan)
    at = _index(cats[C.CATEGORY_ID], lines.categories)
    price = pc.fill_null(pc.cast(cats["median_unit_price"], pa.float64()), np.nan).to_numpy()
    by_cat[at[at >= 0]] = np.where(price == 0, np.nan, price)[at >= 0]
    prods = con.sql(f"SELECT {C.PRODUCT_ID}, is_bestseller FROM prod_stats").to_arrow_table()
    best = np.zeros(len(lines.products), bool)
    at = _index(prods[C.PRODUCT_ID], lines.products)
    flag = pc.fill_null(prods["is_bestseller"], False).to_numpy(zero_copy_only=False)
    best[at[at >= 0]] = np.asarray(flag, bool)[at >= 0]
    return by_cat[lines.product_category], best


def activity_frame(
    con: duckdb.DuckDBPyConnection,
    lines: UserLines,
    rows: UserRows,
    log: PurchaseDays,
    stats: RunStats,
    as_of: date,
) -> tuple[pd.DataFrame, np.ndarray]:
    """The user_activity SQL's frame (same rows, order, columns and dtypes) and each row's
    position in LOG (-1: no order). STATS: LOG's run_stats as of AS_OF."""
    t = day_offset(lines, as_of)
    t_days = (as_of - EPOCH).days
    t_us = int(datetime.combine(as_of, time(), UTC).timestamp()) * 1_000_000
    med, best = _product_arrays(con, lines)
    per = _per_user(lines, t, med, best)
    n_keys = int(rows.key[-1]) + 1 if rows.key.size else 0
    member, koc, gid = _members(rows, t_us, n_keys)
    known = rows.reg_us != _MAX
    o = np.where(rows.ordered >= 0, rows.ordered, len(lines.start) - 1)  # the zero entry
    ordered = per["n"][o] > 0
    exists = np.where(known, rows.reg_us < t_us, ordered | member[rows.key])
    idx = np.flatnonzero(exists)
    o, h, key = o[idx], ordered[idx], rows.key[idx]

    def col(name: str) -> np.ndarray:
        return per[name][o]

    days, d180, q180 = col("days"), col("d180"), col("q180")
    gaps, first, span = days - 1, col("first"), col("last") - col("first")
    style = h & (d180 > 0)
    nan = np.nan
    with np.errstate(divide="ignore", invalid="ignore"):
        var = (gaps * col("sq") - span * span) / (gaps * (gaps - 1))
        frame: dict[str, pa.ChunkedArray | pa.Array | np.ndarray] = {
            C.USER_ID: rows.table[C.USER_ID].take(idx),
            "recency_days": np.where(h, (t - col("last")).astype(np.float64), nan),
            **{f"order_days_{w}d": np.where(h, col(f"d{w}"), 0) for w in WINDOWS},
            "order_days_total": np.where(h, days, 0),
            "spend_30d": np.where(h, col("s30"), 0.0),
            "spend_180d": np.where(h, col("s180"), 0.0),
            "spend_total": np.where(h, col("st"), 0.0),
            "units_30d": np.where(h, col("q30"), 0.0),
            "mean_gap_days": np.where(h & (gaps >= 1), span / gaps, nan),
            "std_gap_days": np.where(h & (gaps >= 2), np.sqrt(var), nan),
            "tenure_days": np.where(
                np.isnan(rows.reg_day[idx]),
                np.where(h, (t - first).astype(np.float64), nan),
                t_days - rows.reg_day[idx],
            ),
            "has_first_order": np.where(h, days >= 1, False).astype(np.int64),
            "has_second_order": np.where(h, days >= 2, False).astype(np.int64),
            "trend_30_90": np.where(h & (col("d90") > 0), col("d30") / (col("d90") / 3.0), nan),
            "avg_basket_units": np.where(style, q180 / d180, nan),
            "price_ratio": np.where(style & (col("rn") > 0), col("r") / col("rn"), nan),
            "new_arrival_share": np.where(style, col("qn") / q180, nan),
            "bestseller_share": np.where(style, col("qb") / q180, nan),
        }
    seen = log.run_user[stats.runs[stats.counts_180d > 0]]
    cats = np.bincount(seen, minlength=len(per["n"])).astype(np.int64)
    frame["n_categories_180d"] = np.where(style, cats[o], 0)
    profile = rows.table.take(idx)
    for name in (C.IDENTITY_TYPE, C.CHANNEL, C.REGION):
        frame[name] = profile[name]
    og = _order_group(lines, t)[o]
    group = np.where(og >= 0, og, gid[key])
    frame[C.GROUP_ID] = lines.groups.take(pa.array(group, pa.int32(), mask=group < 0))
    frame["is_koc"] = koc[key].astype(np.int32)
    frame["tags"] = pc.fill_null(pa.nulls(idx.size, pa.string()), "")
    # pandas through Arrow, as the SQL path: pd.DataFrame(dict) consolidated the columns
    # in Python (~0.8 s per date on 1M users)
    return pa.table(frame).to_pandas(), rows.ordered[idx].astype(np.int64)
