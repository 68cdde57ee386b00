"""Readiness, population BG/NBD and group momentum features on hand-made data."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from configs import columns as C
from features.compute.compute_inputs import connect
from features.compute.compute_readiness import DUE_COLUMN, READINESS_COLUMNS, user_readiness
from features.compute.group_momentum import group_momentum
from features.compute.interest_inputs import PurchaseDays, load_purchase_days, run_stats
from features.compute.population_bgnbd import POPULATION_COLUMNS, population_bgnbd

AS_OF = date(2025, 7, 1)
CYCLES = {"cA": 10.0, "cB": 60.0, "cC": None}  # cC: no known cycle -> left out
LINES = [  # user, category, day
    ("u1", "cA", "2025-06-11"),
    ("u1", "cA", "2025-06-21"),
    ("u1", "cA", "2025-07-01"),  # at t: must not count
    ("u1", "cB", "2025-06-01"),
    ("u1", "cC", "2025-06-30"),
    ("u2", "cA", "2024-12-01"),  # outside the 180-day window: exposure only
    ("u2", "cA", "2025-06-26"),
    ("u3", "cB", "2024-10-01"),
]


def _log() -> PurchaseDays:
    orders = pd.DataFrame(LINES, columns=[C.USER_ID, C.CATEGORY_ID, "day"])
    orders["ts"] = pd.to_datetime(orders["day"]) + pd.Timedelta(hours=9)
    orders["day"] = orders["ts"].dt.date
    orders["quantity"] = 1.0
    con = connect()
    con.register("orders_df", orders)
    con.execute("CREATE TEMP TABLE orders AS SELECT * FROM orders_df")
    con.execute(f"CREATE TEMP TABLE products AS SELECT DISTINCT {C.CATEGORY_ID} FROM orders")
    try:
        return load_purchase_days(con, 30.0)
    finally:
        con.close()


def _readiness(horizon_days: int = 30) -> pd.DataFrame:
    log = _log()
    cycles = pd.Series(CYCLES, dtype=float)
    got = user_readiness(log, run_stats(log, AS_OF, 30.0), AS_OF, cycles, horizon_days)
    return got.drop(columns=DUE_COLUMN).sort_index()


def test_readiness_matches_hand_computation() -> None:
    got = _readiness()
    assert list(got.columns) == list(READINESS_COLUMNS)
    # u1: cA age 10 / cycle 10 = 1.0, w 2; cB age 30 / 60 = 0.5, w 1; exposure 30 days.
    # u2: cA age 5 / 10 = 0.5, w 1 (the December day is outside 180 d); exposure 180.
    # u3: cB age 273 -> r capped at 2 but w 0: weighted sums 0, the rest undefined.
    # max_readiness / days_to_next_due: u1's cA only (the one category bought twice).
    expected = pd.DataFrame(
        {
            "readiness_sum": [2 * 1.0 + 1 * 0.5, 0.5, 0.0],
            "mean_readiness": [2.5 / 3, 0.5, np.nan],
            "max_readiness": [1.0, np.nan, np.nan],  # repeat categories (w >= 2) only
            "due_in_horizon": [3.0, 1.0, 0.0],
            # 30 * w / exposure * min(1, (age + 15) / cycle)
            "expected_orders_horizon": [2.0 * 1.0 + 1.0 * 0.75, 30 / 180 * 1.0, 0.0],
            "days_to_next_due": [0.0, np.nan, np.nan],
        },
        index=pd.Index(["u1", "u2", "u3"], name=C.USER_ID),
    )
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)


def test_due_in_horizon_follows_the_horizon() -> None:
    """u1's cB comes due 30 days after t: inside a 30-day horizon, outside a 29-day one."""
    assert _readiness(30).loc["u1", "due_in_horizon"] == 3.0
    assert _readiness(29).loc["u1", "due_in_horizon"] == 2.0


def _activity() -> pd.DataFrame:
    return pd.DataFrame(
        {
            C.USER_ID: ["a", "b", "c", "d"],
            C.GROUP_ID: ["g1", "g1", "g2", None],
            "recency_days": [2.0, 150.0, np.nan, 10.0],
            "order_days_total": [12, 3, 0, 2],
            "mean_gap_days": [10.0, 5.0, np.nan, 20.0],
            "order_days_30d": [2, 0, 0, 1],
            "order_days_90d": [6, 0, 0, 2],
            "order_days_180d": [12, 1, 0, 2],
        }
    )


def test_population_bgnbd_scores_buyers_only() -> None:
    frame = _activity()
    got = population_bgnbd(frame, horizon_days=30)
    assert list(got.columns) == list(POPULATION_COLUMNS)
    assert got.loc[2].isna().all()  # no order: no score
    buyers = got.drop(index=2)
    assert ((buyers >= 0) & (buyers <= 1)).all().all()
    # the frequent, recent buyer is likelier to order than the one lapsed for 150 days
    assert got.loc[0, "population_p_order"] > got.loc[1, "population_p_order"]


def test_group_momentum_by_hand() -> None:
    got = group_momentum(_activity())
    # g1: 30-day days 2, 90-day days 6 -> 2 / (6 / 3) = 1; active 1 of 2 in 180 days
    assert got.loc[0].tolist() == pytest.approx([1.0, 0.5])
    assert got.loc[1].tolist() == pytest.approx([1.0, 0.5])
    assert got.loc[[2, 3]].isna().all().all()  # g2 has no activity; d has no group


def test_replenishment_due_counts_categories_within_one_to_two_cycles() -> None:
    log = _log()
    got = user_readiness(
        log, run_stats(log, AS_OF, 30.0), AS_OF, pd.Series(CYCLES, dtype=float), 30
    )[DUE_COLUMN]
    # u1: cA 10 days since, cycle 10 -> due; cB 30 of 60 -> not yet; cC has no cycle.
    # u2: cA 5 of 10 -> not yet. u3: cB 273 days of 60 -> more than two cycles: lapsed.
    assert got.to_dict() == {"u1": 1, "u2": 0, "u3": 0}
