"""The (user, category, day) purchase log behind user_interest, read once per build.

Per-date SQL over the orders (joins on string ids, count DISTINCT per window, a sort of
every user x category pair) cost ~25 s per as-of date at 20M order lines. Instead one DuckDB
pass aggregates the orders to one row per (user, category, order day), as integer positions,
sorted; each as-of date is then a prefix of every (user, category) run (the days before t),
reduced with numpy bincounts.

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
    """One pass over the `orders` and `products` temp tables (compute_inputs.load_inputs)."""
    hl = float(half_life_days)
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
    u = np.asarray(got["u"], np.int64)
    c = np.asarray(got["c"], np.int64)
    new_run = np.ones(len(u), bool)
    if len(u) > 1:
        new_run[1:] = (u[1:] != u[:-1]) | (c[1:] != c[:-1])
    run_start = np.flatnonzero(new_run)
    return PurchaseDays(
        users=pa.array(np.asarray(users[C.USER_ID], dtype=object), pa.string()),
        categories=np.asarray(cats[C.CATEGORY_ID], dtype=object),
        run=np.cumsum(new_run) - 1,
        day=np.asarray(got["d"], np.int32),
        w=np.asarray(got["w"], np.float64),
        run_start=run_start,
        run_user=u[run_start],
        run_cat=c[run_start],
        half_life_days=hl,
    )


def run_stats(log: PurchaseDays, as_of: date, half_life_days: float) -> RunStats:
    """Decayed units, days since the last order day, order days in 30 / 180 days, per run
    with an order before AS_OF; runs in (user, category) order."""
    t = (as_of - EPOCH).days
    before = log.day < t  # within each run a prefix: its days are sorted
    run, day = log.run[before], log.day[before]
    n_runs = len(log.run_start)
    n = np.bincount(run, minlength=n_runs)
    runs = np.flatnonzero(n)
    decay = np.exp2(-(t - day) / float(half_life_days))

    def total(weights: np.ndarray) -> np.ndarray:
        return np.bincount(run, weights=weights, minlength=n_runs)[runs]

    last_day = log.day[log.run_start[runs] + n[runs] - 1]
    return RunStats(
        runs=runs,
        decayed=total(log.w[before] * decay),
        last_days=(t - last_day).astype(np.float64),
        counts_30d=total((day >= t - 30).astype(np.float64)),
        counts_180d=total((day >= t - 180).astype(np.float64)),
    )
