"""The order lines as integer codes, fetched from DuckDB in one sorted pass per build.

Two per-build structures are made of the same order lines: the (user, category, day) purchase
log (interest_inputs.py) and the per-user line log (user_lines.py). Each used
to join the 21.5M VARCHAR-keyed lines of the large preset to integer codes in its own pass
(~6 s + ~4 s). Here one pass joins them once and sorts by (user, day), the line log's order;
the purchase log re-sorts each user's few lines by category in numpy.

Compact where exact: amounts as int32 cents and quantities as int16 when every value converts
back to the same double (checked in SQL first), days as int16 offsets, products as int16 codes.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import numpy as np
import pyarrow as pa

from configs import columns as C

EPOCH_SQL = "DATE '1970-01-01'"
LINES_KEY = "order_lines"  # PurchaseDays.cache: the coded lines, until user_lines takes them
BATCH_ROWS = 1 << 20
NEW_ARRIVAL_DAYS = 30
# the columns the line values need besides the purchase log's (load_inputs makes them all)
VALUE_COLUMNS = frozenset({C.PRODUCT_ID, C.GROUP_ID, "amount"})


@dataclass(frozen=True)
class LineValues:
    """What the line log keeps per line besides (user, day), and the code tables."""

    amount: np.ndarray  # int32 cents (amount_scale 100) or float64 (amount_scale 1)
    amount_scale: float
    quantity: np.ndarray  # int16 or float64
    product: np.ndarray  # int16 / int32 code: position in `products`
    new: np.ndarray  # bool: bought < NEW_ARRIVAL_DAYS after its product's launch / first sale
    group: np.ndarray  # int32 code: position in `groups` (-1: none)
    products: pa.Table  # product_id, category_id, launched_at in id order
    groups: pa.Array  # group ids (orders and memberships) in id order


@dataclass(frozen=True)
class OrderLines:
    """Order lines sorted by (user, day); lines of one (user, day) in no particular order."""

    user: np.ndarray  # int32: position in the users given
    day: np.ndarray  # int16 / int32 offset from base_day
    base_day: int  # days since 1970-01-01 of day offset 0
    categories: pa.Array  # category ids (products) in id order
    values: LineValues | None  # None when the orders lack VALUE_COLUMNS


@dataclass(frozen=True)
class LineWeights:
    """The purchase log's per-line columns, in OrderLines order."""

    category: np.ndarray  # int16 / int32: position in OrderLines.categories
    row: np.ndarray  # int32 / int64: the line's rowid in `orders` (the SQL sum's order)
    w: np.ndarray  # float64: quantity * 2^((ts - day start) / half_life)


def int_type(hi: int) -> tuple[str, type]:
    """The smallest of SMALLINT / INTEGER / BIGINT holding 0..HI, with its numpy type."""
    if hi < 2**15:
        return "SMALLINT", np.int16
    if hi < 2**31:
        return "INTEGER", np.int32
    return "BIGINT", np.int64


def has_values(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether CON's `orders` carry the line log's columns (not just the purchase log's)."""
    return set(con.table("orders").columns) >= VALUE_COLUMNS


def _codes(con: duckdb.DuckDBPyConnection) -> tuple[pa.Table, pa.Array]:
    """(products with category and launch, groups), both in id order."""
    prods = con.sql(
        f"SELECT {C.PRODUCT_ID}, {C.CATEGORY_ID}, {C.LAUNCHED_AT} FROM products "
        f"ORDER BY {C.PRODUCT_ID}"
    ).to_arrow_table()
    groups = con.sql(f"""
        SELECT DISTINCT {C.GROUP_ID} FROM (
            SELECT {C.GROUP_ID} FROM orders UNION ALL SELECT {C.GROUP_ID} FROM memberships)
        WHERE {C.GROUP_ID} IS NOT NULL ORDER BY 1""").to_arrow_table()[C.GROUP_ID]
    return prods, groups.combine_chunks()


def _positions(ids: pa.Array, code: str, name: str) -> pa.Table:
    return pa.table({name: ids, code: np.arange(len(ids), dtype=np.int32)})


def read_order_lines(
    con: duckdb.DuckDBPyConnection, users: pa.Array, half_life_days: float, values: bool
) -> tuple[OrderLines, LineWeights]:
    """CON's `orders` lines of USERS (ids in id order) as codes, streamed into arrays; with
    the line log's VALUES when asked (`orders` with VALUE_COLUMNS, `products`, `memberships`
    and `product_first` from compute_inputs.load_inputs)."""
    cats = con.sql(f"SELECT DISTINCT {C.CATEGORY_ID} FROM products ORDER BY 1").to_arrow_table()[
        C.CATEGORY_ID
    ]
    cats = cats.combine_chunks()
    tables = {
        "oc_users": _positions(users, "u", C.USER_ID),
        "oc_cats": _positions(cats, "c", C.CATEGORY_ID),
    }
    if values:
        prods, groups = _codes(con)
        tables["oc_products"] = pa.table(
            {
                C.PRODUCT_ID: prods[C.PRODUCT_ID],
                "p": np.arange(prods.num_rows, dtype=np.int32),
                "launched": prods[C.LAUNCHED_AT],
            }
        )
        tables["oc_groups"] = _positions(groups, "g", C.GROUP_ID)
    for name, table in tables.items():
        con.register(name, table)
    try:
        lo, hi, n, max_row, cents, small_qty = con.execute(f"""
            SELECT coalesce(date_diff('day', {EPOCH_SQL}, min(day)), 0),
                   coalesce(date_diff('day', {EPOCH_SQL}, max(day)), 0), count(*),
                   coalesce(max(rowid), 0),
                   {_value_checks() if values else "false, false"}
            FROM orders""").fetchall()[0]
        day_sql, day_np = int_type(hi - lo)
        cat_sql, cat_np = int_type(len(cats))
        row_sql, row_np = int_type(max_row)
        hl = float(half_life_days)
        cols = {
            "u": ("k.u", np.int32),
            "d": (f"CAST(date_diff('day', {EPOCH_SQL}, o.day) - {lo} AS {day_sql})", day_np),
            "c": (f"CAST(c.c AS {cat_sql})", cat_np),
            "r": (f"CAST(o.rowid AS {row_sql})", row_np),
            "w": (
                f"o.quantity * exp(ln(2) * (epoch(o.ts) - epoch(CAST(o.day AS TIMESTAMP)))"
                f" / 86400.0 / {hl})",
                np.float64,
            ),
        }
        joins = [
            f"JOIN oc_users k USING ({C.USER_ID})",
            f"JOIN oc_cats c USING ({C.CATEGORY_ID})",
        ]
        if values:
            prod_sql, prod_np = int_type(len(tables["oc_products"]))
            cols |= {
                "a": (
                    "CAST(round(o.amount * 100) AS INTEGER)" if cents else "o.amount",
                    np.int32 if cents else np.float64,
                ),
                "q": (
                    "CAST(o.quantity AS SMALLINT)" if small_qty else "o.quantity",
                    np.int16 if small_qty else np.float64,
                ),
                "p": (f"CAST(p.p AS {prod_sql})", prod_np),
                "new": (
                    f"coalesce(o.ts < coalesce(p.launched, f.first_ts)"
                    f" + INTERVAL {NEW_ARRIVAL_DAYS} DAY, false)",
                    np.bool_,
                ),
                "g": ("coalesce(g.g, -1)", np.int32),
            }
            joins += [
                f"JOIN oc_products p USING ({C.PRODUCT_ID})",
                f"JOIN product_first f USING ({C.PRODUCT_ID})",
                f"LEFT JOIN oc_groups g USING ({C.GROUP_ID})",
            ]
        select = ", ".join(f"{sql} AS {name}" for name, (sql, _) in cols.items())
        # rowid breaks the ties: a (user, day)'s lines in a fixed order, so the per-day float
        # sums in user_activity_np are the same bits on every run (DuckDB leaves ties open)
        reader = con.sql(
            f"SELECT {select} FROM orders o {' '.join(joins)} ORDER BY k.u, d, r"
        ).to_arrow_reader(BATCH_ROWS)
        out = {name: np.empty(n, dtype) for name, (_, dtype) in cols.items()}
        at = 0
        for batch in reader:
            m = batch.num_rows
            for name, arr in out.items():
                arr[at : at + m] = batch.column(name).to_numpy(zero_copy_only=False)
            at += m
        reader.close()
    finally:
        for name in tables:
            con.unregister(name)
    if at < n:  # lines without a known user or category
        out = {name: arr[:at].copy() for name, arr in out.items()}
    line_values = None
    if values:
        line_values = LineValues(
            amount=out["a"],
            amount_scale=100.0 if cents else 1.0,
            quantity=out["q"],
            product=out["p"],
            new=out["new"],
            group=out["g"],
            products=prods,
            groups=groups,
        )
    lines = OrderLines(out["u"], out["d"], int(lo), cats, line_values)
    return lines, LineWeights(out["c"], out["r"], out["w"])


def _value_checks() -> str:
    """SQL: (every amount is exact in cents, every quantity a small integer)."""
    return """coalesce(bool_and(amount IS NOT NULL AND abs(amount) < 2e7
                  AND CAST(round(amount * 100) AS DOUBLE) / 100.0 = amount), true),
              coalesce(bool_and(isfinite(quantity) AND quantity = round(quantity)
                  AND quantity < 32767), true)"""
