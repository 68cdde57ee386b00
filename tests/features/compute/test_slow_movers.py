"""Slow movers from sales velocity when a product has no stock row (product_stats).

Hand-made daily sales with known paces: a product selling at its usual pace, one that slowed
to a quarter of it, one that stopped selling (discontinued), one too young and one too rare to
judge, and one with a stock row (judged by stock as before).
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest
from pydantic import ValidationError

from configs import columns as C
from configs.settings import FeatureSettings, Settings, load_settings
from configs.workspace import resolve_workspace
from features.compute.compute_inputs import connect, load_inputs, prepare_as_of
from features.compute.compute_product import compute_category_stats, compute_product_stats
from features.compute.slow_movers import describe, slow_mover_counts
from tests.features.feature_data import AS_OF, build_offline, orders_frame, write_tables

START = date(2025, 1, 1)


def _days(first: date, last: date, every: int = 1) -> list[date]:
    n = (last - first).days
    return [first + timedelta(days=i) for i in range(0, n + 1, every)]


def _orders(future: bool = False) -> pd.DataFrame:
    """One unit per sale day; FUTURE adds a burst of sales at and after t (never seen)."""
    before_recent = AS_OF - timedelta(days=29)
    sales = {
        "steady": _days(START, AS_OF - timedelta(days=1)),
        # 1/day, then one sale every 4 days in the last 28 days: a quarter of its pace
        "slowing": _days(START, before_recent) + _days(AS_OF - timedelta(days=27), AS_OF, 4),
        "stocked": _days(START, before_recent) + _days(AS_OF - timedelta(days=27), AS_OF, 4),
        "dead": _days(START, AS_OF - timedelta(days=47)),  # stopped 47 days before t
        "young": _days(AS_OF - timedelta(days=60), AS_OF - timedelta(days=1)),
        "rare": [date(2025, 1, 10), date(2025, 3, 10), date(2025, 6, 20)],
    }
    if future:
        sales["slowing"] = sales["slowing"] + [AS_OF] * 50 + [AS_OF + timedelta(days=3)] * 50
    rows = [
        ("u1", p, f"{d.isoformat()}T10:00:00Z", 1, 1.0)
        for p, days in sales.items()
        for d in days
        if d < AS_OF or future
    ]
    return orders_frame(rows)


def _inventory() -> pd.DataFrame:
    return pd.DataFrame(
        {
            C.PRODUCT_ID: ["stocked"],
            C.SNAPSHOT_AT: pd.to_datetime(["2025-06-25"], utc=True),
            C.STOCK_QTY: [200.0],
        }
    )


def _product_stats(
    root: Path, tables: dict[str, pd.DataFrame], cfg: FeatureSettings
) -> pd.DataFrame:
    ws = resolve_workspace(root)
    write_tables(ws, tables)
    con = connect()
    load_inputs(con, ws.data)
    prepare_as_of(con, AS_OF)
    compute_category_stats(con, AS_OF, cfg)
    return compute_product_stats(con, AS_OF, cfg).set_index(C.PRODUCT_ID)


@pytest.fixture
def cfg(tiny_settings: Settings) -> FeatureSettings:
    return tiny_settings.features


def test_velocity_definition_without_inventory(tmp_path: Path, cfg: FeatureSettings) -> None:
    ps = _product_stats(tmp_path, {"orders": _orders()}, cfg)
    basis = ps["slow_moving_basis"].to_dict()
    assert basis == {
        "steady": "velocity",
        "slowing": "velocity",
        "stocked": "velocity",  # no inventory table: no stock row for anyone
        "dead": "velocity",
        "young": "none",  # first sale 60 days before t < slow_moving_min_history_days
        "rare": "none",  # ~0.3 units expected in 28 days < slow_moving_min_expected_units
    }
    assert ps.loc["steady", "velocity_ratio"] == pytest.approx(1.0)
    assert ps.loc["slowing", "expected_units_recent"] == pytest.approx(28.0)
    assert ps.loc["slowing", "velocity_ratio"] == pytest.approx(7 / 28)
    assert ps.loc["dead", "days_since_last_sale"] == pytest.approx(46 + 14 / 24)
    slow = ps.index[ps["is_slow_moving"] == 1].tolist()
    assert sorted(slow) == ["slowing", "stocked"]  # dead is not on sale any more
    assert ps["stock_qty"].isna().all()


def test_stock_row_wins_and_others_use_velocity(tmp_path: Path, cfg: FeatureSettings) -> None:
    ps = _product_stats(tmp_path, {"orders": _orders(), "inventory": _inventory()}, cfg)
    assert ps.loc["stocked", "slow_moving_basis"] == "stock"
    assert ps.loc["stocked", "is_slow_moving"] == 1  # 200 units at ~8 a month: overstocked
    assert ps.loc["slowing", "slow_moving_basis"] == "velocity"
    assert ps.loc["slowing", "is_slow_moving"] == 1


def test_velocity_thresholds_are_settings(tmp_path: Path, cfg: FeatureSettings) -> None:
    strict = cfg.model_copy(update={"slow_moving_max_velocity_ratio": 0.2})
    ps = _product_stats(tmp_path / "a", {"orders": _orders()}, strict)
    assert ps["is_slow_moving"].sum() == 0  # 0.25 of the pace is not slow enough at 0.2
    lenient = cfg.model_copy(update={"slow_moving_alive_days": 60})
    ps = _product_stats(tmp_path / "b", {"orders": _orders()}, lenient)
    assert ps.loc["dead", "is_slow_moving"] == 1  # still "on sale" within 60 days, ratio 0


def test_velocity_is_point_in_time(tmp_path: Path, cfg: FeatureSettings) -> None:
    before = _product_stats(tmp_path / "a", {"orders": _orders()}, cfg)
    with_future = _product_stats(tmp_path / "b", {"orders": _orders(future=True)}, cfg)
    pd.testing.assert_frame_equal(before, with_future)


def test_windows_must_nest() -> None:
    with pytest.raises(ValidationError, match="slow_moving_recent_days"):
        load_settings(overrides={"features": {"slow_moving_recent_days": 400}})
    with pytest.raises(ValidationError, match="slow_moving_min_history_days"):
        load_settings(overrides={"features": {"slow_moving_min_history_days": 20}})


def test_build_summary_counts_slow_movers(tmp_path: Path, tiny_settings: Settings) -> None:
    build_offline(tmp_path, {"orders": _orders()}, [AS_OF], tiny_settings)
    counts = slow_mover_counts(resolve_workspace(tmp_path).offline, [AS_OF])
    got = counts[AS_OF.isoformat()]
    assert (got["velocity_products"], got["velocity_slow"]) == (4, 2)
    assert (got["stock_products"], got["none_products"]) == (0, 2)
    (line,) = describe(counts)
    assert "no stock feed" in line and "2 by sales velocity" in line


def _shop(users: int = 6) -> dict[str, pd.DataFrame]:
    """_orders spread over USERS members of one group (no groups or inventory table)."""
    orders = _orders()
    orders[C.USER_ID] = [f"u{i % users}" for i in range(len(orders))]
    orders[C.GROUP_ID] = "g1"
    return {"orders": orders}


@pytest.mark.integration
def test_push_list_without_inventory_returns_velocity_slow_movers(
    tmp_path: Path, tiny_settings: Settings
) -> None:
    from serving.engine import push_list
    from serving.loader import load_snapshot

    build_offline(tmp_path, _shop(), [AS_OF], tiny_settings)
    snap = load_snapshot(resolve_workspace(tmp_path), tiny_settings, AS_OF, champions=False)
    assert not snap.stock_feed
    assert sorted(snap.prod_ids[snap.default_candidates]) == ["slowing", "stocked"]
    res = push_list(snap, snap.group_index["g1"], tiny_settings.serving, members_per_product=50)
    assert {it.product_id for it in res.items} == {"slowing", "stocked"}
    # no stock cap without a stock row: every member with a signal is targeted
    assert all(len(it.members) == 6 for it in res.items)
