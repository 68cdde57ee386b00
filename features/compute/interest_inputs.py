"""The (user, category, day) purchase log behind user_interest, read once per build.

Per-date SQL over the orders (joins on string ids, count DISTINCT per window, a sort of
every user x category pair) cost ~25 s per as-of date at 20M order lines. Instead the order
lines are read once per build as integer positions (order_codes.py, shared with the
user-line log) and summed to one row per (user, category, order day), sorted; each as-of date
is then a prefix of every (user, category) run (the days before t), reduced with numpy
bincounts.

Decay: a day row carries w = sum quantity * 2^((ts - day start) / half_life), so the decayed
units at t are sum w * 2^(-(t - day) / half_life) = sum quantity * 2^(-(t - ts) / half_life),
as defined in compute_interest, with every exponent bounded by the data's own span.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from configs import columns as C
from features.compute.order_codes import LINES_KEY, has_values, read_order_lines

EPOCH = date(1970, 1, 1)


@dataclass(frozen=True)
class PurchaseDays:
    """Rows sorted by (user, category, day); `run` numbers the (user, category) runs."""

    users: pa.StringArray  # user ids in id order; position = user index
    categories: np.ndarray  # category ids (object) in id order; position = category index
    run: np.ndarray  # int64 per row: its (user, category) run
    day: np.ndarray  # int32 per row: days since 1970-01-01
    w: np.ndarray  # float64 per row: sum quantity * 2^((ts - day start) / half_life)
    run_start: np.ndarray  # int64 per run: its first row
    run_user: np.ndarray  # int64 per run
    run_cat: np.ndarray  # int64 per run
    half_life_days: float  # the half-life baked into w
    # per-build values derived from the inputs, not the as-of date (compute_renewal's
    # registration days): computed by the first date that needs them
    cache: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @cached_property
    def user_index(self) -> pd.Index:
        """`users` as a pandas Index, built once per build: every as-of date aligns its
        user_activity rows to the log through it (hashing 1M ids cost ~0.3 s each time)."""
        return pd.Index(self.users.to_numpy(zero_copy_only=False))

    def positions(self, user_ids: pd.Series) -> np.ndarray:
        """Each id's position in `users` (-1: no order in the log)."""
        return np.asarray(self.user_index.get_indexer(user_ids.to_numpy()), dtype=np.int64)


@dataclass(frozen=True)
class RunStats:
    """Per (user, category) run with an order day before t (`runs` indexes PurchaseDays runs)."""

    runs: np.ndarray
    decayed: np.ndarray
    last_days: np.ndarray
    counts_30d: np.ndarray
    counts_180d: np.ndarray


def load_purchase_days(con: duckdb.DuckDBPyConnection, half_life_days: float) -> PurchaseDays:
    """One pass over the `orders` and `products` temp tables (compute_inputs.load_inputs).

    The lines come sorted by (user, day) from order_codes.py, which also leaves them
    in `cache` for user_lines.py (when the orders carry its columns): one join of the
    VARCHAR ids to codes per build. Each user's lines are then re-sorted by category, stably
    in numpy, and summed per (user, category, day) in `orders` row order, as the SQL sum."""
    hl = float(half_life_days)
    if not isinstance(con, duckdb.DuckDBPyConnection):
        return _purchase_days_sql(con, hl)
    users = con.execute(
        f"SELECT DISTINCT {C.USER_ID} FROM orders ORDER BY {C.USER_ID}"
    ).fetchnumpy()
    user_ids = pa.array(np.asarray(users[C.USER_ID], dtype=object), pa.string())
    lines, weights = read_order_lines(con, user_ids, hl, has_values(con))
    n_cats = max(len(lines.categories), 1)
    key = lines.user.astype(np.int64)
    key *= n_cats
    key += weights.category
    # stable: a user's lines stay in day order within a category; the lines are sorted by
    # user already, so only each user's few lines move (timsort on the presorted runs)
    order = np.argsort(key, kind="stable")
    key = key[order]
    day = lines.day[order].astype(np.int32)
    day += lines.base_day
    w = weights.w[order]
    new_run = np.ones(len(key), bool)
    np.not_equal(key[1:], key[:-1], out=new_run[1:])
    new_row = new_run.copy()
    new_row[1:] |= day[1:] != day[:-1]
    if not new_row.all():  # (user, category, day) rows of several lines
        heads = np.flatnonzero(new_row)
        w = _row_sums(w, weights.row[order], heads)
        key, day, new_run = key[heads], day[heads], new_run[heads]
    del order, weights, new_row
    if lines.values is not None:
        cache: dict[str, Any] = {LINES_KEY: lines}
    else:
        cache = {}
    run_start = np.flatnonzero(new_run)
    run_key = key[run_start]
    return PurchaseDays(
        users=user_ids,
        categories=np.asarray(lines.categories.to_numpy(zero_copy_only=False), dtype=object),
        run=np.cumsum(new_run, dtype=np.int64) - 1,  # (the bool cumsum is 10x slower)
        day=day,
        w=w,
        run_start=run_start,
        run_user=run_key // n_cats,
        run_cat=run_key % n_cats,
        half_life_days=hl,
        cache=cache,
    )


def _purchase_days_sql(con: Any, hl: float) -> PurchaseDays:
    """The same log from one SQL aggregate: the Spark engine's connection (which has no
    DuckDB relation API for order_codes.py's streamed pass)."""
    users = con.execute(
        f"SELECT DISTINCT {C.USER_ID} FROM orders ORDER BY {C.USER_ID}"
    ).fetchnumpy()
    cats = con.execute(
        f"SELECT DISTINCT {C.CATEGORY_ID} FROM products ORDER BY {C.CATEGORY_ID}"
    ).fetchnumpy()
    got = con.execute(f"""
        WITH u AS (SELECT {C.USER_ID}, row_number() OVER (ORDER BY {C.USER_ID}) - 1 AS u
                   FROM (SELECT DISTINCT {C.USER_ID} FROM orders)),
        c AS (SELECT {C.CATEGORY_ID}, row_number() OVER (ORDER BY {C.CATEGORY_ID}) - 1 AS c
              FROM (SELECT DISTINCT {C.CATEGORY_ID} FROM products))
        SELECT CAST(u.u AS BIGINT) AS u, CAST(c.c AS BIGINT) AS c,
            CAST(date_diff('day', DATE '{EPOCH.isoformat()}', o.day) AS INTEGER) AS d,
            sum(o.quantity * exp(ln(2) * (epoch(o.ts) - epoch(CAST(o.day AS TIMESTAMP)))
                / 86400.0 / {hl})) AS w
        FROM orders o JOIN u USING ({C.USER_ID}) JOIN c USING ({C.CATEGORY_ID})
        GROUP BY 1, 2, 3 ORDER BY 1, 2, 3""").fetchnumpy()
    return purchase_days_from_rows(
        pa.array(np.asarray(users[C.USER_ID], dtype=object), pa.string()),
        np.asarray(cats[C.CATEGORY_ID], dtype=object),
        got,
        hl,
    )


def purchase_days_from_rows(
    users: pa.StringArray, categories: np.ndarray, rows: dict[str, np.ndarray], hl: float
) -> PurchaseDays:
    """The log from its (u, c, d, w) rows sorted by (u, c, d): u and c index USERS and
    CATEGORIES (also a Spark executor's log of one user partition)."""
    u = np.asarray(rows["u"], np.int64)
    c = np.asarray(rows["c"], np.int64)
    new_run = np.ones(len(u), bool)
    if len(u) > 1:
        new_run[1:] = (u[1:] != u[:-1]) | (c[1:] != c[:-1])
    run_start = np.flatnonzero(new_run)
    return PurchaseDays(
        users=users,
        categories=categories,
        run=np.cumsum(new_run) - 1,
        day=np.asarray(rows["d"], np.int32),
        w=np.asarray(rows["w"], np.float64),
        run_start=run_start,
        run_user=u[run_start],
        run_cat=c[run_start],
        half_life_days=hl,
    )


def _row_sums(w: np.ndarray, row: np.ndarray, heads: np.ndarray) -> np.ndarray:
    """W summed over each group of lines (groups start at HEADS) as the SQL sum adds them:
    one at a time in `orders` row order (np.add.reduceat adds a group's tail pairwise first,
    which can differ in the last bit). Only groups of several lines loop, once per line."""
    sizes = np.diff(np.r_[heads, len(w)])
    several = np.flatnonzero(sizes > 1)
    at = np.flatnonzero(np.repeat(sizes > 1, sizes))
    group = np.repeat(several, sizes[several])
    w[at] = w[at[np.lexsort((row[at], group))]]
    out = w[heads]
    k = 1
    while several.size:
        out[several] += w[heads[several] + k]
        k += 1
        several = several[sizes[several] > k]
    return out


def run_stats(log: PurchaseDays, as_of: date, half_life_days: float) -> RunStats:
    """Decayed units, days since the last order day, order days in 30 / 180 days, per run
    with an order before AS_OF; runs in (user, category) order.

    Everything that depends on the day alone is looked up in a table per calendar day: the
    decay factor (0 from t on) and the three counts packed into one float (exact integers),
    so two bincounts over the rows do it all. A run's days are sorted, so its days before t
    are a prefix and the decayed sum only adds +0.0 after the run's last term: the same
    float sum as over the prefix alone."""
    t = (as_of - EPOCH).days
    n_runs = len(log.run_start)
    day = log.day
    first = int(day.min()) if len(day) else t
    span = np.arange(first, max(int(day.max()) if len(day) else t, t) + 1)
    offset = day - first
    before = span < t
    factor = np.exp2((span - t) / float(half_life_days))
    factor[~before] = 0.0
    units = np.take(factor, offset, mode="clip")  # (offset is in range; clip: unbuffered)
    np.multiply(units, log.w, out=units)
    decayed = np.bincount(log.run, weights=units, minlength=n_runs)
    # per day: 1 (before t) + 2^17 (within 180 days) + 2^34 (within 30 days); a run has one
    # row per day, so each count is below 2^17 for any span under 359 years
    code = before * (1.0 + (span >= t - 180) * 2.0**17 + (span >= t - 30) * 2.0**34)
    np.take(code, offset, out=units, mode="clip")
    packed = np.bincount(log.run, weights=units, minlength=n_runs).astype(np.int64)
    del units
    n = packed & (2**17 - 1)
    runs = np.flatnonzero(n)
    pick = slice(None) if len(runs) == n_runs else runs  # usually every run: no gathers
    packed, decayed = packed[pick], decayed[pick]
    last_day = day[log.run_start[pick] + n[pick] - 1]
    return RunStats(
        runs=runs,
        decayed=decayed,
        last_days=(t - last_day).astype(np.float64),
        counts_30d=(packed >> 34).astype(np.float64),
        counts_180d=((packed >> 17) & (2**17 - 1)).astype(np.float64),
    )
