"""The purchase log and the user-line log built from the one coded pass over the orders
(features/compute/order_codes.py) equal what the two SQL loaders they replace built: the purchase
log bit for bit, the line log up to the order of a (user, day)'s lines (which the SQL's sort left
open). The reference line loader below is a copy of the SQL loader it replaced; the SQL
purchase log is still the Spark engine's."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from configs import columns as C
from features.compute.compute_inputs import connect, load_inputs
from features.compute.interest_inputs import (
    EPOCH,
    PurchaseDays,
    _purchase_days_sql,
    load_purchase_days,
)
from features.compute.order_codes import LINES_KEY
from features.compute.user_lines import CACHE_KEY, FIRST_OF_DAY, NEW_ARRIVAL, UserLines, user_lines
from tests.features.feature_data import orders_frame, random_tables, write_tables

HALF_LIFE = 30.0


def _reference_purchase_days(con: duckdb.DuckDBPyConnection) -> dict[str, np.ndarray]:
    """The SQL load_purchase_days (kept in interest_inputs for the Spark engine): GROUP BY
    (user, category, day), ORDER BY them."""
    log = _purchase_days_sql(con, HALF_LIFE)
    fields = ("run", "day", "w", "run_start", "run_user", "run_cat")
    return {name: getattr(log, name) for name in fields}


def _reference_lines(con: duckdb.DuckDBPyConnection, log: PurchaseDays) -> dict[str, np.ndarray]:
    """The SQL load_user_lines' joins, ORDER BY (user, day) and per-user group reductions."""
    con.register("ref_users", pa.table({C.USER_ID: log.users, "u": np.arange(len(log.users))}))
    try:
        lo, cents, small = con.execute("""
            SELECT date_diff('day', DATE '1970-01-01', min(day)),
                bool_and(abs(amount) < 2e7
                         AND CAST(round(amount * 100) AS DOUBLE) / 100.0 = amount),
                bool_and(isfinite(quantity) AND quantity = round(quantity) AND quantity < 32767)
            FROM orders""").fetchall()[0]
        got = con.execute(f"""
            WITH first_sale AS (SELECT {C.PRODUCT_ID}, min(ts) AS ts FROM orders GROUP BY 1),
            p AS (SELECT {C.PRODUCT_ID}, {C.LAUNCHED_AT} AS launched,
                         row_number() OVER (ORDER BY {C.PRODUCT_ID}) - 1 AS p FROM products),
            g AS (SELECT {C.GROUP_ID}, row_number() OVER (ORDER BY {C.GROUP_ID}) - 1 AS g
                  FROM (SELECT DISTINCT {C.GROUP_ID} FROM (SELECT {C.GROUP_ID} FROM orders
                        UNION ALL SELECT {C.GROUP_ID} FROM memberships)
                        WHERE {C.GROUP_ID} IS NOT NULL))
            SELECT k.u, date_diff('day', DATE '{EPOCH}', o.day) - {lo} AS d,
                {"round(o.amount * 100)" if cents else "o.amount"} AS a, o.quantity AS q, p.p,
                coalesce(o.ts < coalesce(p.launched, f.ts) + INTERVAL 30 DAY, false) AS new,
                coalesce(g.g, -1) AS g, epoch_us(o.ts) AS ts
            FROM orders o JOIN ref_users k USING ({C.USER_ID})
            JOIN p USING ({C.PRODUCT_ID}) JOIN first_sale f USING ({C.PRODUCT_ID})
            LEFT JOIN g USING ({C.GROUP_ID})
            ORDER BY k.u, d""").fetchnumpy()
    finally:
        con.unregister("ref_users")
    ref = {k: np.asarray(v) for k, v in got.items()}
    u = ref["u"]
    ref["scale"] = np.array(100.0 if cents else 1.0)
    ref["small_qty"] = np.array(bool(small))
    ref["start"] = np.r_[0, np.cumsum(np.bincount(u, minlength=len(log.users)))]
    groups = {int(x): set(ref["g"][(u == x) & (ref["g"] >= 0)].tolist()) for x in np.unique(u)}
    ref["only_group"] = np.array(
        [min(groups[x]) if len(groups.get(x, ())) == 1 else -1 for x in range(len(log.users))]
    )
    has = ref["g"] >= 0
    ref["group_from"] = np.array(
        [ref["d"][(u == x) & has].min(initial=2**31 - 1) for x in range(len(log.users))]
    )
    multi = np.isin(u, [x for x, gs in groups.items() if len(gs) > 1])
    ref["multi"] = np.stack([u, ref["g"], ref["d"], ref["ts"]])[:, multi & has]
    prods = con.execute(
        f"SELECT {C.PRODUCT_ID}, {C.CATEGORY_ID} FROM products ORDER BY 1"
    ).fetchnumpy()
    ref["products"], ref["product_category"] = prods[C.PRODUCT_ID], prods[C.CATEGORY_ID]
    return ref


def _canonical(u: np.ndarray, cols: list[np.ndarray]) -> list[np.ndarray]:
    """COLS with each (user, day)'s lines sorted by their values (the SQL left that open)."""
    order = np.lexsort((*cols[::-1], u))
    return [np.asarray(x)[order] for x in cols]


def _check_lines(lines: UserLines, ref: dict[str, np.ndarray]) -> None:
    np.testing.assert_array_equal(lines.start, ref["start"])
    assert lines.amount_scale == ref["scale"]
    assert lines.quantity.dtype == (np.int16 if ref["small_qty"] else np.float64)
    assert lines.amount.dtype == (np.int32 if ref["scale"] == 100.0 else np.float64)
    u = np.repeat(np.arange(len(lines.start) - 1), np.diff(lines.start))
    first = np.r_[True, (u[1:] != u[:-1]) | (lines.day[1:] != lines.day[:-1])][: len(u)]
    np.testing.assert_array_equal(lines.flags & FIRST_OF_DAY, first * FIRST_OF_DAY)
    got = [lines.day, lines.amount, lines.quantity, lines.product, lines.flags & NEW_ARRIVAL]
    want = [ref["d"], ref["a"], ref["q"], ref["p"], ref["new"] * NEW_ARRIVAL]
    for g, w in zip(_canonical(u, got), _canonical(ref["u"], want), strict=True):
        np.testing.assert_array_equal(g, w)
    np.testing.assert_array_equal(lines.only_group, ref["only_group"])
    np.testing.assert_array_equal(lines.group_from, ref["group_from"])
    m = lines.multi
    got_multi = np.stack([m.user, m.group, m.day, m.ts]).astype(np.int64)
    np.testing.assert_array_equal(
        got_multi[:, np.lexsort(got_multi[::-1])], ref["multi"][:, np.lexsort(ref["multi"][::-1])]
    )
    assert lines.products.to_pylist() == ref["products"].tolist()
    cats = lines.categories.take(pa.array(lines.product_category))
    assert cats.to_pylist() == ref["product_category"].tolist()


def _edge_tables(fractional: bool) -> dict[str, pd.DataFrame]:
    """Several lines per (user, category, day) whose float sum depends on the order, a product
    only seen in orders, users without registration, NULL groups, users in several groups."""
    q = 0.5 if fractional else 1.0
    a = 10.0 / 3.0 if fractional else 9.99
    rows = [
        ("u1", "p2", "2025-03-01T13:53:20", q, a),  # three lines of (u1, c1, 2025-03-01):
        ("u1", "p1", "2025-03-01T00:00:07", 1.0, a),  # their sum depends on the order
        ("u1", "p1", "2025-03-01T10:00:00", 3.0, 2 * a),
        ("u1", "p3", "2025-03-01T09:00:00", q, a),  # same day, another category
        ("u1", "p9", "2025-03-02T09:00:00", q, a),  # product only seen in orders
        ("u1", "p1", "2025-02-27T09:00:00", q, 0.0),
        ("u2", "p1", "2025-03-01T08:00:00", 2.0, a),  # no registration
        ("u2", "p1", "2025-03-01T08:00:00", 2.0, a),  # identical line
        ("u3", "p4", "2025-01-05T10:00:00", q, a),  # several groups
        ("u3", "p4", "2025-01-06T10:00:00", q, a),
        ("u3", "p2", "2025-01-06T11:00:00", q, a),
        ("u0", "p3", "2024-12-31T23:59:59", q, a),  # only in orders, NULL group
        ("u4", "p5", "2025-06-20T10:00:00", q, a),
    ]
    orders = orders_frame(rows)
    orders[C.GROUP_ID] = ["gA", "gA", None, "gA", "gA", "gA", None, None, "gB", "gC", "gB",
                          None, "gA"]  # fmt: skip
    day = lambda text: pd.Timestamp(text, tz="UTC")  # noqa: E731
    users = pd.DataFrame(
        [
            ("u1", day("2024-01-01")),
            ("u3", None),
            ("u4", day("2025-01-01")),
            ("u7", day("2025-01-01")),
        ],
        columns=[C.USER_ID, C.REGISTERED_AT],
    ).assign(**{C.IDENTITY_TYPE: "consumer", C.CHANNEL: "douyin", C.REGION: "north"})
    launched = [day("2025-02-10"), None, day("2024-01-01"), None, day("2025-08-01"), None]
    products = pd.DataFrame(
        zip(
            [f"p{i}" for i in range(1, 7)],
            ["c1", "c1", "c2", "c3", "c3", "c4"],
            launched,
            strict=True,
        ),
        columns=[C.PRODUCT_ID, C.CATEGORY_ID, C.LAUNCHED_AT],
    )
    memberships = pd.DataFrame(
        {
            C.GROUP_ID: ["gD", "gB"],
            C.USER_ID: ["u7", "u3"],
            C.JOINED_AT: [day("2024-03-01"), None],
            C.LEFT_AT: [None, None],
            C.ROLE: ["koc", "member"],
        }
    )
    return {"orders": orders, "users": users, "products": products, "memberships": memberships}


def _check(tmp_path: Path, tables: dict[str, pd.DataFrame]) -> PurchaseDays:
    from configs.workspace import resolve_workspace

    ws = resolve_workspace(tmp_path / "ws")
    write_tables(ws, tables)
    con = connect(1)
    load_inputs(con, ws.data)
    log = load_purchase_days(con, HALF_LIFE)
    want = _reference_purchase_days(con)
    for name, value in want.items():
        got = getattr(log, name)
        assert got.dtype == value.dtype, name
        np.testing.assert_array_equal(got, value, err_msg=name)  # bit for bit
    users = con.execute(f"SELECT DISTINCT {C.USER_ID} FROM orders ORDER BY 1").fetchall()
    assert log.users.to_pylist() == [u for (u,) in users]
    cats = con.execute(f"SELECT DISTINCT {C.CATEGORY_ID} FROM products ORDER BY 1").fetchall()
    assert log.categories.tolist() == [c for (c,) in cats]
    assert LINES_KEY in log.cache  # the coded lines wait for user_lines
    lines = user_lines(con, log)
    assert LINES_KEY not in log.cache and log.cache[CACHE_KEY] is lines
    _check_lines(lines, _reference_lines(con, log))
    return log


@pytest.mark.parametrize("fractional", [False, True])
def test_coded_pass_matches_sql_loaders_on_edge_cases(tmp_path: Path, fractional: bool) -> None:
    tables = _edge_tables(fractional)
    log = _check(tmp_path, tables)
    assert len(log.w) == len(tables["orders"]) - 3  # (u1, c1, 03-01) and u2's lines summed
    lines = log.cache[CACHE_KEY]
    assert "p9" in lines.products.to_pylist() and len(lines.multi.user) == 3
    assert (lines.quantity.dtype == np.float64) == fractional


@pytest.mark.parametrize("seed", [7, 11])
def test_coded_pass_matches_sql_loaders_on_random_tables(tmp_path: Path, seed: int) -> None:
    _check(tmp_path, random_tables(seed))


def test_purchase_days_without_line_columns() -> None:
    """Orders with only the purchase log's columns (no product, amount): no line log."""
    con = connect(1)
    con.execute(f"""CREATE TEMP TABLE orders AS
        SELECT {C.USER_ID}, {C.CATEGORY_ID}, ts, CAST(ts AS DATE) AS day,
               CAST(quantity AS DOUBLE) AS quantity FROM (VALUES
            ('u2', 'c1', TIMESTAMP '2025-01-01 10:00:00', 2),
            ('u1', 'c2', TIMESTAMP '2025-01-01 11:00:00', 1),
            ('u1', 'c2', TIMESTAMP '2025-01-01 12:00:00', 1),
            ('u1', 'c1', TIMESTAMP '2025-01-03 09:00:00', 1))
        t({C.USER_ID}, {C.CATEGORY_ID}, ts, quantity)""")
    con.execute(f"CREATE TEMP TABLE products AS SELECT DISTINCT {C.CATEGORY_ID} FROM orders")
    log = load_purchase_days(con, HALF_LIFE)
    want = _reference_purchase_days(con)
    for name, value in want.items():
        np.testing.assert_array_equal(getattr(log, name), value, err_msg=name)
    assert log.users.to_pylist() == ["u1", "u2"] and LINES_KEY not in log.cache


def test_lines_of_a_user_day_come_in_orders_row_order(tmp_path: Path) -> None:
    """Ties of (user, day) are broken by the orders rowid, so the per-day float sums of
    user_activity add the same lines in the same order on every run."""
    from configs.workspace import resolve_workspace
    from features.compute.order_codes import read_order_lines

    ws = resolve_workspace(tmp_path / "ws")
    write_tables(ws, _edge_tables(True))
    con = connect(2)
    load_inputs(con, ws.data)
    users = con.execute(f"SELECT DISTINCT {C.USER_ID} FROM orders ORDER BY 1").fetchnumpy()
    ids = pa.array(np.asarray(users[C.USER_ID], dtype=object), pa.string())
    lines, weights = read_order_lines(con, ids, HALF_LIFE, True)
    same = (lines.user[1:] == lines.user[:-1]) & (lines.day[1:] == lines.day[:-1])
    assert same.sum() >= 3  # the edge tables have several lines on one user-day
    assert (weights.row[1:][same] > weights.row[:-1][same]).all()
