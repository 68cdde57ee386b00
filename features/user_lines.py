"""The per-build order-line log behind user_activity on DuckDB, read once per build.

The user_activity SQL (features/compute_user.py) re-aggregated every order line before t at
each as-of date (~10 s per date on 21.5M lines, VARCHAR ids, partly spilled). Most of that work
does not depend on t: one pass here keeps each line's day, amount, quantity and product as
compact integer-coded arrays, sorted by (user, day), so a date is a prefix of every user's run
(the days before t), reduced with numpy in features/user_activity_np.py. Users are positions
in the build's purchase log (`PurchaseDays.users`, the users with an order).

Compact where exact: amounts as int32 cents and quantities as int16 when every value converts
back to the same double (checked in SQL first), days as int16 offsets, products as int16 codes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from configs import columns as C
from features.interest_inputs import EPOCH, PurchaseDays

CACHE_KEY = "user_lines"
FIRST_OF_DAY = 1  # flags bit: the first line of its (user, day)
NEW_ARRIVAL = 2  # flags bit: bought < 30 days after its product's launch (compute_user)
BATCH_ROWS = 1 << 20
NEW_ARRIVAL_DAYS = 30


@dataclass(frozen=True)
class GroupLines:
    """Lines with a group of the users who ordered in several groups (order_group ties
    need the timestamps): user (log position), group code, day offset, epoch microseconds."""

    user: np.ndarray
    group: np.ndarray
    day: np.ndarray
    ts: np.ndarray


@dataclass(frozen=True)
class UserLines:
    """Order lines sorted by (user, day); user = position in PurchaseDays.users."""

    start: np.ndarray  # int64 (n_users + 1): each user's first line
    base_day: int  # days since 1970-01-01 of day offset 0
    day: np.ndarray  # int16 / int32 day offset
    amount: np.ndarray  # int32 cents (amount_scale 100) or float64 (amount_scale 1)
    amount_scale: float
    quantity: np.ndarray  # int16 or float64
    product: np.ndarray  # int16 / int32 code: position in `products`
    flags: np.ndarray  # uint8: FIRST_OF_DAY | NEW_ARRIVAL
    products: pa.Array  # product ids by code
    product_category: np.ndarray  # int32 per product: position in `categories`
    categories: pa.Array
    groups: pa.Array  # group ids by code (orders and memberships)
    only_group: np.ndarray  # int32 per user: the one group of their lines (-1: none / several)
    group_from: np.ndarray  # int32 per user: day offset of the first line with a group
    multi: GroupLines  # the lines of users with several groups

    def chunks(self, max_lines: int = 2_000_000) -> list[tuple[int, int]]:
        """User ranges of about MAX_LINES lines each (bounds the per-date temporaries)."""
        n = len(self.start) - 1
        cuts = np.searchsorted(self.start, np.arange(max_lines, self.start[-1], max_lines))
        bounds = np.unique(np.r_[0, np.clip(cuts, 0, n), n])
        return [(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:], strict=True) if b > a]

    def amounts(self, a0: int, a1: int) -> np.ndarray:
        """Amounts of lines [A0, A1) as the doubles the orders table holds."""
        raw = self.amount[a0:a1]
        return raw / self.amount_scale if self.amount_scale != 1.0 else raw.astype(np.float64)


def user_lines(con: duckdb.DuckDBPyConnection, log: PurchaseDays) -> UserLines:
    """LOG's cached UserLines, read from CON's `orders` / `products` / `memberships` once."""
    if CACHE_KEY not in log.cache:
        log.cache[CACHE_KEY] = load_user_lines(con, log)
    lines: UserLines = log.cache[CACHE_KEY]
    return lines


def _codes(con: duckdb.DuckDBPyConnection) -> tuple[pa.Table, pa.Array, pa.Array]:
    """(products with code and category, categories, groups), all in id order."""
    prods = con.sql(
        f"SELECT {C.PRODUCT_ID}, {C.CATEGORY_ID}, {C.LAUNCHED_AT} FROM products "
        f"ORDER BY {C.PRODUCT_ID}"
    ).to_arrow_table()
    cats = pc.unique(prods[C.CATEGORY_ID])
    cats = cats.take(pc.sort_indices(cats))
    groups = con.sql(f"""
        SELECT DISTINCT {C.GROUP_ID} FROM (
            SELECT {C.GROUP_ID} FROM orders UNION ALL SELECT {C.GROUP_ID} FROM memberships)
        WHERE {C.GROUP_ID} IS NOT NULL ORDER BY 1""").to_arrow_table()[C.GROUP_ID]
    return prods, cats, groups


def _int_type(lo: int, hi: int) -> tuple[str, type]:
    if lo > -(2**15) and hi < 2**15:
        return "SMALLINT", np.int16
    return "INTEGER", np.int32


def load_user_lines(con: duckdb.DuckDBPyConnection, log: PurchaseDays) -> UserLines:
    """One sorted pass over `orders`, streamed into compact arrays."""
    prods, cats, groups = _codes(con)
    n_users = len(log.users)
    con.register(
        "ua_users", pa.table({C.USER_ID: log.users, "u": np.arange(n_users, dtype=np.int32)})
    )
    con.register(
        "ua_products",
        pa.table(
            {
                C.PRODUCT_ID: prods[C.PRODUCT_ID],
                "p": np.arange(prods.num_rows, dtype=np.int32),
                "launched": prods[C.LAUNCHED_AT],
            }
        ),
    )
    con.register(
        "ua_groups",
        pa.table(
            {C.GROUP_ID: groups.combine_chunks(), "g": np.arange(len(groups), dtype=np.int32)}
        ),
    )
    try:
        lo, hi, n, cents, small_qty = con.execute(f"""
            SELECT coalesce(date_diff('day', DATE '{EPOCH}', min(day)), 0),
                   coalesce(date_diff('day', DATE '{EPOCH}', max(day)), 0), count(*),
                   coalesce(bool_and(amount IS NOT NULL AND abs(amount) < 2e7
                       AND CAST(round(amount * 100) AS DOUBLE) / 100.0 = amount), true),
                   coalesce(bool_and(isfinite(quantity) AND quantity = round(quantity)
                       AND quantity < 32767), true)
            FROM orders""").fetchall()[0]
        day_sql, day_np = _int_type(0, hi - lo)
        prod_sql, prod_np = _int_type(0, prods.num_rows)
        amount_sql = "CAST(round(o.amount * 100) AS INTEGER)" if cents else "o.amount"
        qty_sql = "CAST(o.quantity AS SMALLINT)" if small_qty else "o.quantity"
        reader = con.sql(f"""
            WITH first_sale AS (SELECT {C.PRODUCT_ID}, min(ts) AS ts FROM orders GROUP BY 1)
            SELECT k.u, CAST(date_diff('day', DATE '{EPOCH}', o.day) - {lo} AS {day_sql}) AS d,
                {amount_sql} AS a, {qty_sql} AS q, CAST(p.p AS {prod_sql}) AS p,
                coalesce(o.ts < coalesce(p.launched, f.ts)
                         + INTERVAL {NEW_ARRIVAL_DAYS} DAY, false) AS new,
                coalesce(g.g, -1) AS g
            FROM orders o JOIN ua_users k USING ({C.USER_ID})
            JOIN ua_products p USING ({C.PRODUCT_ID})
            JOIN first_sale f USING ({C.PRODUCT_ID})
            LEFT JOIN ua_groups g USING ({C.GROUP_ID})
            ORDER BY k.u, d""").to_arrow_reader(BATCH_ROWS)
        day = np.empty(n, day_np)
        amount = np.empty(n, np.int32 if cents else np.float64)
        qty = np.empty(n, np.int16 if small_qty else np.float64)
        product = np.empty(n, prod_np)
        flags = np.zeros(n, np.uint8)
        counts = np.zeros(n_users, np.int64)
        big = np.iinfo(np.int32).max
        gmin = np.full(n_users, big, np.int32)
        gmax = np.full(n_users, -1, np.int32)
        gday = np.full(n_users, big, np.int32)
        at, prev_u, prev_d = 0, -1, -1
        for batch in reader:
            cols = {k: batch.column(k).to_numpy(zero_copy_only=False) for k in batch.schema.names}
            m = len(cols["u"])
            u, d = cols["u"], cols["d"]
            sl = slice(at, at + m)
            day[sl], amount[sl], qty[sl], product[sl] = d, cols["a"], cols["q"], cols["p"]
            first = np.empty(m, bool)
            first[0] = (u[0] != prev_u) | (d[0] != prev_d)
            first[1:] = (u[1:] != u[:-1]) | (d[1:] != d[:-1])
            flags[sl] = first * FIRST_OF_DAY + cols["new"] * NEW_ARRIVAL
            counts += np.bincount(u, minlength=n_users)
            g = cols["g"].astype(np.int32)
            has = g >= 0
            _segment(np.minimum, u, np.where(has, g, big), gmin)
            _segment(np.maximum, u, g, gmax)
            _segment(np.minimum, u, np.where(has, d.astype(np.int32), big), gday)
            at, prev_u, prev_d = at + m, u[-1], d[-1]
        reader.close()
        multi_users = np.flatnonzero((gmax >= 0) & (gmin < gmax)).astype(np.int32)
        multi = _group_lines(con, multi_users, lo)
    finally:
        for name in ("ua_users", "ua_products", "ua_groups"):
            con.unregister(name)
    cat_of = pc.index_in(prods[C.CATEGORY_ID], value_set=cats).to_numpy(zero_copy_only=False)
    return UserLines(
        start=np.r_[0, np.cumsum(counts)],
        base_day=int(lo),
        day=day,
        amount=amount,
        amount_scale=100.0 if cents else 1.0,
        quantity=qty,
        product=product,
        flags=flags,
        products=prods[C.PRODUCT_ID].combine_chunks(),
        product_category=np.asarray(cat_of, np.int32),
        categories=cats,
        groups=groups.combine_chunks(),
        only_group=np.where((gmax >= 0) & (gmin == gmax), gmax, -1).astype(np.int32),
        group_from=gday,
        multi=multi,
    )


def _segment(ufunc: np.ufunc, u: np.ndarray, x: np.ndarray, out: np.ndarray) -> None:
    """OUT[user] = UFUNC(OUT[user], UFUNC over X's lines of that user); U sorted."""
    heads = np.flatnonzero(np.r_[True, u[1:] != u[:-1]])
    users = u[heads]
    out[users] = ufunc(out[users], ufunc.reduceat(x, heads))


def _group_lines(con: duckdb.DuckDBPyConnection, users: np.ndarray, lo: int) -> GroupLines:
    if users.size == 0:
        e = np.empty(0, np.int32)
        return GroupLines(e, e, e, np.empty(0, np.int64))
    con.register("ua_multi", pa.table({"u": users}))
    try:
        got = con.execute(f"""
            SELECT k.u, g.g, CAST(date_diff('day', DATE '{EPOCH}', o.day) - {lo} AS INTEGER) AS d,
                   epoch_us(o.ts) AS ts
            FROM orders o JOIN ua_users k USING ({C.USER_ID})
            JOIN ua_groups g USING ({C.GROUP_ID})
            WHERE k.u IN (SELECT u FROM ua_multi)""").fetchnumpy()
    finally:
        con.unregister("ua_multi")
    return GroupLines(
        np.asarray(got["u"], np.int32),
        np.asarray(got["g"], np.int32),
        np.asarray(got["d"], np.int32),
        np.asarray(got["ts"], np.int64),
    )


def day_offset(lines: UserLines, as_of: date) -> int:
    """AS_OF as a day offset of LINES."""
    return (as_of - EPOCH).days - lines.base_day
