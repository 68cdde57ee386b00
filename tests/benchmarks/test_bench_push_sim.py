"""bench_push_sim's rule-1 check: it must find a push inside a product's cycle, and keep the
service's documented exemptions apart (a check that cannot fire would prove nothing)."""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd

from configs import columns as C

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import bench_push_sim as bench  # noqa: E402

AS_OF = date(2026, 1, 1)


def _orders(rows: list[tuple[str, str, str]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            C.USER_ID: [r[0] for r in rows],
            C.PRODUCT_ID: [r[1] for r in rows],
            C.ORDERED_AT: pd.to_datetime([r[2] for r in rows], utc=True),
            C.QUANTITY: 1.0,
        }
    )


def _check(cycle: float, orders: pd.DataFrame) -> dict[str, int]:
    snap = SimpleNamespace(
        user_ids=np.array(["u0", "u1"], dtype=object),
        cat_ids=np.array(["c0"], dtype=object),
        cat_cycle=np.array([cycle], np.float32),
    )
    products = pd.DataFrame({C.PRODUCT_ID: ["p0"], C.CATEGORY_ID: ["c0"]})
    pushes = pd.DataFrame({"g": [0, 0], "item": [0, 0], C.PRODUCT_ID: ["p0"] * 2, "u": [0, 1]})
    return bench.rule1(snap, pushes, orders, products, AS_OF, 14.0)


def test_push_inside_the_cycle_is_a_violation() -> None:
    orders = _orders([("u0", "p0", "2025-12-22"), ("u1", "p0", "2025-10-01")])
    assert _check(30.0, orders)["unexplained"] == 1  # u0: 10 days ago, cycle 30
    assert _check(7.0, orders)["bought_within_cycle"] == 0  # high-frequency product


def test_own_rhythm_due_is_an_exemption_not_a_violation() -> None:
    days = ["2025-12-01", "2025-12-11", "2025-12-21"]  # every 10 days; 11 days since
    out = _check(30.0, _orders([("u0", "p0", d) for d in days]))
    assert out["bought_within_cycle"] == 1
    assert out["exempt_own_rhythm_due"] == 1 and out["unexplained"] == 0
