"""Push logs (holdout, true uplift, traces in orders) and overstocked slow movers."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from configs import columns as C

SimRun = Any  # tests/features/simulator/conftest.py:SimRun


def test_holdout_share_matches_settings(tiny_run: SimRun) -> None:
    pushes = tiny_run.table("pushes")
    assert len(pushes) > 1000
    assert abs(pushes[C.IS_HOLDOUT].mean() - tiny_run.settings.simulate.holdout_share) < 0.03
    assert pushes[C.USER_ID].notna().all()


def test_pushes_target_slow_movers_of_the_group(tiny_run: SimRun) -> None:
    pushes = tiny_run.table("pushes")
    slow = tiny_run.truth_table("product_latent").query("slow_moving")[C.PRODUCT_ID]
    assert pushes[C.PRODUCT_ID].isin(slow).all()
    members = tiny_run.table("memberships")[[C.GROUP_ID, C.USER_ID]]
    joined = pushes.merge(members, on=[C.GROUP_ID, C.USER_ID], how="left", indicator=True)
    assert (joined["_merge"] == "both").all()


def test_uplift_negative_after_recent_durable_purchase(tiny_run: SimRun) -> None:
    pushes = tiny_run.table("pushes").merge(
        tiny_run.truth_table("push_uplift"), on=[C.PUSH_ID, C.USER_ID]
    )
    products = tiny_run.table("products")
    pushes = pushes.merge(
        products[[C.PRODUCT_ID, C.CATEGORY_ID, C.REPURCHASE_CYCLE_DAYS]], on=C.PRODUCT_ID
    )
    orders = tiny_run.table("orders").merge(
        products[[C.PRODUCT_ID, C.CATEGORY_ID]], on=C.PRODUCT_ID
    )
    last = pushes.merge(
        orders[[C.USER_ID, C.CATEGORY_ID, C.ORDERED_AT]], on=[C.USER_ID, C.CATEGORY_ID]
    )
    last = last[last[C.ORDERED_AT] < last[C.PUSHED_AT].dt.floor("D")]
    last = last.groupby(C.PUSH_ID).agg(
        bought=(C.ORDERED_AT, "max"), pushed=(C.PUSHED_AT, "first"),
        cycle=(C.REPURCHASE_CYCLE_DAYS, "first"), uplift=("uplift", "first"),
    )  # fmt: skip
    gap = (last["pushed"] - last["bought"]).dt.days
    just_bought = last[(last["cycle"] > 14) & (gap < 0.3 * last["cycle"])]
    assert len(just_bought) > 20
    assert (just_bought["uplift"] < 0).mean() > 0.9
    assert pushes["uplift"].between(-1, 1).all() and pushes["uplift"].mean() > 0


def test_messaged_members_buy_the_pushed_product_more(tiny_run: SimRun) -> None:
    pushes = tiny_run.table("pushes")
    orders = tiny_run.table("orders")
    hits = pushes.merge(
        orders[[C.USER_ID, C.PRODUCT_ID, C.ORDERED_AT]], on=[C.USER_ID, C.PRODUCT_ID]
    )
    delay = hits[C.ORDERED_AT] - hits[C.PUSHED_AT]
    window = tiny_run.settings.simulate.push_effect_days
    hits = hits[(delay > pd.Timedelta(0)) & (delay <= pd.Timedelta(days=window + 1))]
    converted = pushes[C.PUSH_ID].isin(hits[C.PUSH_ID])
    rate = converted.groupby(pushes[C.IS_HOLDOUT]).mean()
    assert rate[False] > 2 * rate[True]


def test_slow_movers_are_overstocked(tiny_run: SimRun) -> None:
    inventory = tiny_run.table("inventory")
    orders = tiny_run.table("orders")
    last_day = inventory[C.SNAPSHOT_AT].max()
    snap = inventory[inventory[C.SNAPSHOT_AT] == last_day].set_index(C.PRODUCT_ID)[C.STOCK_QTY]
    recent = orders[orders[C.ORDERED_AT] > last_day - pd.Timedelta(days=30)]
    daily = recent.groupby(C.PRODUCT_ID)[C.QUANTITY].sum().reindex(snap.index, fill_value=0) / 30
    doi = np.where(daily > 0, snap / daily.where(daily > 0, 1), np.where(snap > 0, np.inf, 0))
    share = float((doi > 60).mean())
    assert abs(share - tiny_run.settings.simulate.slow_moving_share) < 0.06
    slow = tiny_run.truth_table("product_latent").set_index(C.PRODUCT_ID)["slow_moving"]
    assert (doi[slow.reindex(snap.index).to_numpy()] > 60).mean() > 0.95
    weeks = inventory.groupby(C.PRODUCT_ID)[C.SNAPSHOT_AT].nunique()
    assert weeks.max() == 53  # weekly snapshots over a year, plus the final day
