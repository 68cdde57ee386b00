"""The per-build order-line log behind user_activity on DuckDB, read once per build.

The user_activity SQL (compute_user.py) re-aggregated every order line before t at
each as-of date (~10 s per date on 21.5M lines, VARCHAR ids, partly spilled). Most of that work
does not depend on t: the build keeps each line's day, amount, quantity and product as
compact integer-coded arrays, sorted by (user, day), so a date is a prefix of every user's run
(the days before t), reduced with numpy in user_activity_np.py. Users are positions
in the build's purchase log (`PurchaseDays.users`, the users with an order). The lines come
from the one coded pass over the orders that load_purchase_days makes (order_codes.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from configs import columns as C
from features.compute.interest_inputs import EPOCH, PurchaseDays
from features.compute.order_codes import LINES_KEY, OrderLines, read_order_lines

CACHE_KEY = "user_lines"
FIRST_OF_DAY = 1  # flags bit: the first line of its (user, day)
NEW_ARRIVAL = 2  # flags bit: bought < 30 days after its product's launch (compute_user)


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
    """LOG's cached UserLines: from the coded lines load_purchase_days left in its cache, or
    read from CON's `orders` / `products` / `memberships` once."""
    if CACHE_KEY not in log.cache:
        coded = log.cache.pop(LINES_KEY, None)
        log.cache[CACHE_KEY] = (
            load_user_lines(con, log) if coded is None else from_order_lines(con, log, coded)
        )
    lines: UserLines = log.cache[CACHE_KEY]
    return lines


def load_user_lines(con: duckdb.DuckDBPyConnection, log: PurchaseDays) -> UserLines:
    """One sorted pass over `orders` (order_codes.py)."""
    coded, _ = read_order_lines(con, log.users, log.half_life_days, values=True)
    return from_order_lines(con, log, coded)


def from_order_lines(
    con: duckdb.DuckDBPyConnection, log: PurchaseDays, lines: OrderLines
) -> UserLines:
    """The line log of LINES (sorted by (user, day), users = LOG's)."""
    v = lines.values
    if v is None:
        raise ValueError("the order lines were read without their values")
    u, d = lines.user, lines.day
    n_users = len(log.users)
    first = np.ones(len(u), bool)
    if len(u):
        first[1:] = (u[1:] != u[:-1]) | (d[1:] != d[:-1])
    flags = first.view(np.uint8) * np.uint8(FIRST_OF_DAY)
    flags |= v.new.view(np.uint8) * np.uint8(NEW_ARRIVAL)
    del first
    big = np.iinfo(np.int32).max
    gmin = np.full(n_users, big, np.int32)
    gmax = np.full(n_users, -1, np.int32)
    gday = np.full(n_users, big, np.int32)
    if len(u):
        g, has = v.group, v.group >= 0
        _segment(np.minimum, u, np.where(has, g, big), gmin)
        _segment(np.maximum, u, g, gmax)
        _segment(np.minimum, u, np.where(has, d.astype(np.int32), big), gday)
    multi_users = np.flatnonzero((gmax >= 0) & (gmin < gmax)).astype(np.int32)
    prods = v.products
    cat_of = pc.index_in(prods[C.CATEGORY_ID], value_set=lines.categories)
    return UserLines(
        start=np.r_[0, np.cumsum(np.bincount(u, minlength=n_users))],
        base_day=lines.base_day,
        day=d,
        amount=v.amount,
        amount_scale=v.amount_scale,
        quantity=v.quantity,
        product=v.product,
        flags=flags,
        products=prods[C.PRODUCT_ID].combine_chunks(),
        product_category=np.asarray(cat_of.to_numpy(zero_copy_only=False), np.int32),
        categories=lines.categories,
        groups=v.groups,
        only_group=np.where((gmax >= 0) & (gmin == gmax), gmax, -1).astype(np.int32),
        group_from=gday,
        multi=_group_lines(con, log.users, v.groups, multi_users, lines.base_day),
    )


def _segment(ufunc: np.ufunc, u: np.ndarray, x: np.ndarray, out: np.ndarray) -> None:
    """OUT[user] = UFUNC(OUT[user], UFUNC over X's lines of that user); U sorted."""
    heads = np.flatnonzero(np.r_[True, u[1:] != u[:-1]])
    users = u[heads]
    out[users] = ufunc(out[users], ufunc.reduceat(x, heads))


def _group_lines(
    con: duckdb.DuckDBPyConnection,
    user_ids: pa.Array,
    groups: pa.Array,
    users: np.ndarray,
    lo: int,
) -> GroupLines:
    """The lines with a group of USERS (positions in USER_IDS), with their timestamps."""
    if users.size == 0:
        e = np.empty(0, np.int32)
        return GroupLines(e, e, e, np.empty(0, np.int64))
    tables = {
        "ua_users": pa.table({C.USER_ID: user_ids, "u": np.arange(len(user_ids), dtype=np.int32)}),
        "ua_groups": pa.table({C.GROUP_ID: groups, "g": np.arange(len(groups), dtype=np.int32)}),
        "ua_multi": pa.table({"u": users}),
    }
    for name, table in tables.items():
        con.register(name, table)
    try:
        got = con.execute(f"""
            SELECT k.u, g.g, CAST(date_diff('day', DATE '{EPOCH}', o.day) - {lo} AS INTEGER) AS d,
                   epoch_us(o.ts) AS ts
            FROM orders o JOIN ua_users k USING ({C.USER_ID})
            JOIN ua_groups g USING ({C.GROUP_ID})
            WHERE k.u IN (SELECT u FROM ua_multi)""").fetchnumpy()
    finally:
        for name in tables:
            con.unregister(name)
    return GroupLines(
        np.asarray(got["u"], np.int32),
        np.asarray(got["g"], np.int32),
        np.asarray(got["d"], np.int32),
        np.asarray(got["ts"], np.int64),
    )


def day_offset(lines: UserLines, as_of: date) -> int:
    """AS_OF as a day offset of LINES."""
    return (as_of - EPOCH).days - lines.base_day
