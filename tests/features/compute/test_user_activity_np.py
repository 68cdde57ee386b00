"""The numpy user_activity path (DuckDB engine) gives the SQL's frame (the Spark engine's path):
same rows, order, columns and dtypes; counts exact, floats to 1e-9 relative, NULL as NaN/None."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from configs import columns as C
from configs.settings import load_settings
from features.compute.compute_inputs import connect, load_inputs, prepare_as_of
from features.compute.compute_product import compute_category_stats, compute_product_stats
from features.compute.compute_user import _activity, _fetch_frame, activity_sql
from features.compute.interest_inputs import load_purchase_days, run_stats
from features.compute.user_lines import CACHE_KEY
from tests.features.feature_data import orders_frame, random_tables, write_tables

T0 = date(2025, 7, 1)


def _edge_tables(fractional: bool) -> dict[str, pd.DataFrame]:
    """Hand-made: window edges, ties, missing registration, memberships, launches."""
    q = 1.5 if fractional else 1.0
    a = 10.0 / 3.0 if fractional else 9.99
    rows = [
        ("u1", "p1", "2025-06-30T23:59:59", q, a),  # last instant before t
        ("u1", "p1", "2025-07-01T00:00:00", q, a),  # at t: not before t
        ("u1", "p2", "2025-06-30T08:00:00", 2 * q, 2 * a),  # same day, second line
        ("u1", "p3", "2025-01-02T00:00:00", q, a),  # t - 180 days exactly
        ("u1", "p3", "2025-01-01T23:59:59", q, a),  # t - 181 days
        ("u1", "p4", "2024-12-01T10:00:00", q, 0.0),
        ("u2", "p1", "2025-05-01T10:00:00", q, a),  # one order day: no gap
        ("u3", "p2", "2025-03-01T10:00:00", q, a),  # two days: mean but no std
        ("u3", "p2", "2025-03-11T10:00:00", q, a),
        ("u4", "p5", "2025-06-20T10:00:00", q, a),  # no registration, ordered before t
        ("u5", "p5", "2025-07-05T10:00:00", q, a),  # no registration, ordered after t only
        ("u9", "p1", "2025-06-01T10:00:00", q, a),  # only in orders
        ("u10", "p1", "2025-06-01T10:00:00", q, a),  # group tie: count, then last ts
        ("u10", "p1", "2025-06-03T10:00:00", q, a),
        ("u10", "p2", "2025-06-02T10:00:00", q, a),
        ("u10", "p2", "2025-06-02T11:00:00", q, a),
        ("u11", "p1", "2025-06-01T10:00:00", q, a),  # tie on count and last ts: min id
        ("u11", "p2", "2025-06-01T10:00:00", q, a),
        ("u11", "p3", "2025-05-01T10:00:00", q, a),
        ("u12", "p6", "2025-06-10T10:00:00", q, 0.0),  # category with a 0 median price
        ("u12", "p6", "2025-03-10T10:00:00", q, 0.0),
    ]
    orders = orders_frame(rows)
    groups = {"u10": ["gB", "gB", "gA", "gA"], "u11": ["gZ", "gY", None]}
    gid = []
    seen: dict[str, int] = {}
    for uid in orders[C.USER_ID]:
        i = seen.get(uid, 0)
        seen[uid] = i + 1
        gid.append(groups[uid][i] if uid in groups else ("gA" if uid != "u2" else None))
    orders[C.GROUP_ID] = gid
    ts = pd.Timestamp
    users = pd.DataFrame(
        {
            C.USER_ID: ["u0", "u1", "u2", "u3", "u4", "u5", "u6", "u7", "u8", "u10", "u11", "u12"],
            C.REGISTERED_AT: [ts("2024-01-01", tz="UTC"), ts("2024-06-01T05:00", tz="UTC"),
                              ts("2025-06-30T23:00", tz="UTC"), ts("2025-07-01", tz="UTC"),
                              None, None, None, ts("2025-08-01", tz="UTC"), None,
                              ts("2025-01-01", tz="UTC"), None, ts("2024-01-01", tz="UTC")],
            C.IDENTITY_TYPE: "consumer",
            C.CHANNEL: ["douyin", None, "referral", "douyin", "douyin", None, "a", "b", "c",
                        "d", "e", "f"],
            C.REGION: "north",
        }
    )  # fmt: skip
    products = pd.DataFrame(
        {
            C.PRODUCT_ID: ["p1", "p2", "p3", "p4", "p5", "p6"],
            C.CATEGORY_ID: ["c1", "c1", "c2", "c2", "c3", "c4"],
            C.LAUNCHED_AT: [ts("2025-06-10", tz="UTC"), None, ts("2024-01-01", tz="UTC"),
                            None, ts("2025-08-01", tz="UTC"), None],
        }
    )  # fmt: skip
    memberships = pd.DataFrame(
        {
            C.GROUP_ID: ["gA", "gB", "gC", "gB", "gA", "gC", "gB", "gD"],
            C.USER_ID: ["u0", "u0", "u6", "u7", "u2", "u8", "u8", "u12"],
            C.JOINED_AT: [ts("2024-03-01", tz="UTC"), ts("2024-02-01", tz="UTC"), None,
                          None, ts("2025-08-01", tz="UTC"), None, None,
                          ts("2024-03-01", tz="UTC")],
            C.LEFT_AT: [None, ts("2025-07-01", tz="UTC"), None, None, None,
                        ts("2025-06-01", tz="UTC"), None, None],
            C.ROLE: ["koc", "member", "member", "koc", None, "koc", "member", "koc"],
        }
    )  # fmt: skip
    return {"orders": orders, "users": users, "products": products, "memberships": memberships}


def _compare(got: pd.DataFrame, want: pd.DataFrame) -> None:
    assert list(got.columns) == list(want.columns)
    assert len(got) == len(want)
    for name in want.columns:
        g, w = got[name], want[name]
        assert g.dtype == w.dtype, name
        if w.dtype.kind == "f":
            np.testing.assert_allclose(g.to_numpy(), w.to_numpy(), rtol=1e-9, err_msg=name)
        else:
            assert g.isna().tolist() == w.isna().tolist(), name
            assert g[w.notna()].tolist() == w[w.notna()].tolist(), name


def _check(tmp_path: Path, tables: dict[str, pd.DataFrame], dates: list[date]) -> None:
    from configs.workspace import resolve_workspace

    ws = resolve_workspace(tmp_path / "ws")
    write_tables(ws, tables)
    cfg = load_settings("tiny").features
    con = connect(1)
    load_inputs(con, ws.data)
    log = load_purchase_days(con, cfg.half_life_days)
    for as_of in dates:
        prepare_as_of(con, as_of)
        compute_category_stats(con, as_of, cfg)
        compute_product_stats(con, as_of, cfg)
        stats = run_stats(log, as_of, cfg.half_life_days)
        want = _fetch_frame(con, activity_sql(as_of))
        got, positions = _activity(con, activity_sql(as_of), as_of, log, stats)
        _compare(got, want)
        np.testing.assert_array_equal(positions, log.positions(want[C.USER_ID]))
    assert CACHE_KEY in log.cache  # read once, reused by every date


@pytest.mark.parametrize("fractional", [False, True])
def test_numpy_path_matches_sql_on_edge_cases(tmp_path: Path, fractional: bool) -> None:
    dates = [date(2024, 11, 1), date(2025, 1, 2), T0, date(2025, 7, 2), date(2025, 9, 1)]
    _check(tmp_path, _edge_tables(fractional), dates)


@pytest.mark.parametrize("seed", [7, 11])
def test_numpy_path_matches_sql_on_random_tables(tmp_path: Path, seed: int) -> None:
    dates = [date(2025, 2, 1), date(2025, 4, 15), T0]
    _check(tmp_path, random_tables(seed, n_users=80), dates)
