"""Point-in-time correctness and hand-computed values of the offline feature tables."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from configs import columns as C
from configs.settings import Settings
from features.store.catalog import TABLES
from tests.features.feature_data import (
    AS_OF,
    build_offline,
    orders_frame,
    products_frame,
    random_tables,
    rows_at,
)


def _future_rows(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The same world plus facts at or after AS_OF: orders, a user, a product, a group, stock."""
    at = pd.Timestamp(AS_OF, tz="UTC")
    out = {k: v.copy() for k, v in tables.items()}
    late = orders_frame(
        [
            ("u001", "p00", str(at), 5, 50),
            ("u002", "p01", str(at), 1, 9),
            ("u003", "p02", str(at + pd.Timedelta(days=3)), 2, 20),
            ("u999", "p99", str(at + pd.Timedelta(hours=1)), 1, 1),
        ]
    )
    late[C.GROUP_ID] = "g9"
    out["orders"] = pd.concat([out["orders"], late], ignore_index=True)
    out["users"] = pd.concat(
        [
            out["users"],
            pd.DataFrame({C.USER_ID: ["u999"], C.REGISTERED_AT: [at], C.STORE_ID: ["s1"]}),
        ],
        ignore_index=True,
    )
    out["products"] = pd.concat(
        [
            out["products"],
            pd.DataFrame({C.PRODUCT_ID: ["p99"], C.CATEGORY_ID: ["c9"], C.LAUNCHED_AT: [at]}),
        ],
        ignore_index=True,
    )
    out["groups"] = pd.concat(
        [out["groups"], pd.DataFrame({C.GROUP_ID: ["g9"], C.CREATED_AT: [at]})], ignore_index=True
    )
    out["memberships"] = pd.concat(
        [
            out["memberships"],
            pd.DataFrame(
                {C.GROUP_ID: ["g9"], C.USER_ID: ["u001"], C.JOINED_AT: [at], C.ROLE: ["koc"]}
            ),
        ],
        ignore_index=True,
    )
    out["inventory"] = pd.concat(
        [
            out["inventory"],
            pd.DataFrame({C.PRODUCT_ID: ["p00"], C.SNAPSHOT_AT: [at], C.STOCK_QTY: [999.0]}),
        ],
        ignore_index=True,
    )
    return out


def test_features_as_of_t_ignore_everything_at_or_after_t(
    tmp_path: Path, tiny_settings: Settings
) -> None:
    tables = random_tables()
    before = build_offline(tmp_path / "a", tables, [AS_OF], tiny_settings)
    after = build_offline(tmp_path / "b", _future_rows(tables), [AS_OF], tiny_settings)
    for name, spec in TABLES.items():
        a, b = rows_at(before[name], AS_OF, spec.entity), rows_at(after[name], AS_OF, spec.entity)
        assert len(a) > 0, name
        pd.testing.assert_frame_equal(a, b, check_like=True, obj=name)


def test_user_activity_matches_hand_computation(tmp_path: Path, tiny_settings: Settings) -> None:
    orders = orders_frame(
        [
            ("u1", "p1", "2025-06-01T08:00", 2, 10.0),
            ("u1", "p2", "2025-06-20T09:00", 1, 5.0),
            ("u1", "p1", "2025-06-20T18:00", 1, 5.0),
            ("u1", "p1", "2025-07-01T00:00", 9, 99.0),  # at t: invisible as of t
            ("u2", "p2", "2025-02-01T10:00", 1, 7.0),
        ]
    )
    products = products_frame({"p1": "milk", "p2": "bread"})
    out = build_offline(tmp_path, {"orders": orders, "products": products}, [AS_OF], tiny_settings)
    ua = rows_at(out["user_activity"], AS_OF, C.USER_ID)
    u1 = ua.loc["u1"]
    assert u1["recency_days"] == 11
    assert (u1["order_days_7d"], u1["order_days_30d"], u1["order_days_total"]) == (0, 2, 2)
    assert u1["spend_30d"] == pytest.approx(20.0)
    assert u1["units_30d"] == pytest.approx(4.0)
    assert u1["mean_gap_days"] == pytest.approx(19.0)
    assert (u1["has_first_order"], u1["has_second_order"]) == (1, 1)
    assert u1["tenure_days"] == 30  # no users table: since the first order day
    assert u1["avg_basket_units"] == pytest.approx(2.0)
    assert u1["n_categories_180d"] == 2
    u2 = ua.loc["u2"]
    assert u2["recency_days"] == 150 and u2["order_days_180d"] == 1
    assert np.isnan(u2["mean_gap_days"])
    assert "dormant" in u2["tags"].split(",")
    assert out["group_stats"].empty  # no groups, memberships or orders.group_id


def test_orders_only_log_uses_products_as_categories(
    tmp_path: Path, tiny_settings: Settings
) -> None:
    orders = orders_frame([("u1", "p1", "2025-06-01", 1, 2.0), ("u2", "p2", "2025-06-02", 1, 3.0)])
    out = build_offline(tmp_path, {"orders": orders}, [AS_OF], tiny_settings)
    ps = rows_at(out["product_stats"], AS_OF, C.PRODUCT_ID)
    assert ps.loc["p1", C.CATEGORY_ID] == "p1"
    assert np.isnan(ps.loc["p1", "stock_qty"]) and ps.loc["p1", "is_slow_moving"] == 0
    ui = rows_at(out["user_interest"], AS_OF, C.USER_ID)
    assert list(ui.loc["u1", "interest_categories"]) == ["p1"]


def test_slow_moving_flag_and_group_stage(tmp_path: Path, tiny_settings: Settings) -> None:
    cfg = tiny_settings.features
    orders = orders_frame(
        [("u1", "fast", "2025-06-20", 30, 30.0), ("u1", "slow", "2025-06-20", 1, 1.0)]
    )
    orders[C.GROUP_ID] = "g1"
    inventory = pd.DataFrame(
        {
            C.PRODUCT_ID: ["fast", "slow", "slow"],
            C.SNAPSHOT_AT: pd.to_datetime(["2025-06-30", "2025-06-30", "2025-07-02"], utc=True),
            C.STOCK_QTY: [5.0, 500.0, 0.0],
        }
    )
    groups = pd.DataFrame(
        {
            C.GROUP_ID: ["g1", "g2"],
            C.CREATED_AT: pd.to_datetime(["2025-01-01", "2025-06-25"], utc=True),
        }
    )
    members = pd.DataFrame(
        {
            C.GROUP_ID: ["g1"] + ["g1"] * 30 + ["g2"],
            C.USER_ID: ["u1"] + [f"x{i}" for i in range(30)] + ["u1"],
        }
    )
    out = build_offline(
        tmp_path,
        {"orders": orders, "inventory": inventory, "groups": groups, "memberships": members},
        [AS_OF],
        tiny_settings,
    )
    ps = rows_at(out["product_stats"], AS_OF, C.PRODUCT_ID)
    assert ps.loc["slow", "stock_qty"] == 500  # the snapshot after t is not seen
    assert ps.loc["slow", "days_of_inventory"] >= cfg.slow_moving_min_days_of_inventory
    assert (ps.loc["slow", "is_slow_moving"], ps.loc["fast", "is_slow_moving"]) == (1, 0)
    gs = rows_at(out["group_stats"], AS_OF, C.GROUP_ID)
    assert gs.loc["g1", "n_members"] == 31 and gs.loc["g1", "n_active_30d"] == 1
    assert gs.loc["g1", "stage"] == "zombie"  # 1/31 active <= zombie_max_active_share
    assert gs.loc["g2", "stage"] == "early"
    assert rows_at(out["user_activity"], AS_OF, C.USER_ID).loc["u1", C.GROUP_ID] == "g1"


def test_rerunning_a_date_replaces_its_rows(tmp_path: Path, tiny_settings: Settings) -> None:
    tables = random_tables()
    first = build_offline(tmp_path, tables, [date(2025, 5, 1), AS_OF], tiny_settings)
    again = build_offline(tmp_path, tables, [AS_OF], tiny_settings)
    for name in TABLES:
        pd.testing.assert_frame_equal(first[name], again[name], obj=name)


def test_repurchase_cycle_inferred_from_gaps_unless_given(
    tmp_path: Path, tiny_settings: Settings
) -> None:
    orders = orders_frame(
        [
            ("u1", "milk1", "2025-06-01", 1, 1.0),
            ("u1", "milk1", "2025-06-08", 1, 1.0),
            ("u1", "milk1", "2025-06-15", 1, 1.0),
            ("u2", "milk1", "2025-06-01", 1, 1.0),
            ("u2", "milk1", "2025-06-11", 1, 1.0),
            ("u1", "tv1", "2025-06-01", 1, 1.0),
            ("u1", "rice1", "2025-06-01", 1, 1.0),
            ("u1", "rice1", "2025-06-03", 1, 1.0),
        ]
    )
    products = products_frame({"milk1": "milk", "tv1": "tv", "rice1": "rice"})
    products[C.REPURCHASE_CYCLE_DAYS] = [None, None, 60.0]
    out = build_offline(tmp_path, {"orders": orders, "products": products}, [AS_OF], tiny_settings)
    cs = rows_at(out["category_stats"], AS_OF, C.CATEGORY_ID)
    assert cs.loc["milk", "repurchase_cycle_days"] == 7  # median of gaps 7, 7, 10
    assert cs.loc["milk", "is_high_frequency"] == 1
    assert (
        np.isnan(cs.loc["tv", "repurchase_cycle_days"]) and cs.loc["tv", "is_high_frequency"] == 0
    )
    assert cs.loc["rice", "repurchase_cycle_days"] == 60  # given beats the 2-day gap
    ps = rows_at(out["product_stats"], AS_OF, C.PRODUCT_ID)
    assert ps.loc["milk1", "repurchase_cycle_days"] == 7


def test_first_orders_before_t_decide_products_and_group_age(
    tmp_path: Path, tiny_settings: Settings
) -> None:
    """A product launched after t but already sold before t counts (its category exists), one
    sold only after t does not; a group without a creation date dates from its first order
    before t, and one whose orders all come after t has no age yet."""
    orders = orders_frame(
        [
            ("u1", "early_sale", "2025-06-01", 1, 2.0),
            ("u1", "p1", "2025-06-11", 1, 2.0),
            ("u2", "p1", "2025-06-21", 1, 2.0),
            ("u2", "late_sale", "2025-07-05", 1, 2.0),
        ]
    )
    orders[C.GROUP_ID] = ["g1", "g1", "g2", "g3"]
    products = pd.DataFrame(
        {
            C.PRODUCT_ID: ["early_sale", "p1", "late_sale"],
            C.CATEGORY_ID: ["c_early", "c1", "c_late"],
            C.LAUNCHED_AT: pd.to_datetime(["2025-08-01", "2025-01-01", "2025-08-01"], utc=True),
        }
    )
    groups = pd.DataFrame({C.GROUP_ID: ["g1", "g2", "g3"], C.CREATED_AT: pd.NaT})
    groups[C.CREATED_AT] = pd.to_datetime(groups[C.CREATED_AT], utc=True)
    tables = {"orders": orders, "products": products, "groups": groups}
    out = build_offline(tmp_path, tables, [AS_OF], tiny_settings)
    cats = set(rows_at(out["category_stats"], AS_OF, C.CATEGORY_ID).index)
    assert cats == {"c_early", "c1"}
    gs = rows_at(out["group_stats"], AS_OF, C.GROUP_ID)
    assert gs.loc["g1", "age_days"] == pytest.approx(30.0)  # from 2025-06-01
    assert gs.loc["g2", "age_days"] == pytest.approx(10.0)  # from 2025-06-21
    assert np.isnan(gs.loc["g3", "age_days"])  # its only order is after t
