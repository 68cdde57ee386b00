"""The order process follows its generative model: cycles, B2B separation, group stages."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from configs import columns as C

SimRun = Any  # tests/features/simulator/conftest.py:SimRun


def _category_gaps(run: SimRun) -> pd.DataFrame:
    orders = run.table("orders").merge(run.table("products"), on=C.PRODUCT_ID)
    orders["day"] = orders[C.ORDERED_AT].dt.floor("D")
    days = orders.drop_duplicates([C.USER_ID, C.CATEGORY_ID, "day"]).sort_values("day")
    days["gap"] = days.groupby([C.USER_ID, C.CATEGORY_ID])["day"].diff().dt.days
    return days.groupby(C.CATEGORY_ID).agg(
        median_gap=("gap", "median"), cycle=(C.REPURCHASE_CYCLE_DAYS, "first")
    )


def test_gaps_follow_repurchase_cycles(tiny_run: SimRun) -> None:
    gaps = _category_gaps(tiny_run).dropna()
    assert len(gaps) >= 15
    rho = spearmanr(gaps["median_gap"], gaps["cycle"]).statistic
    assert rho > 0.8
    high_freq = gaps[gaps["cycle"] <= 14]["median_gap"]
    durable = gaps[gaps["cycle"] >= 180]["median_gap"]
    assert len(high_freq) and len(durable)
    assert high_freq.max() < durable.min()


def test_b2b_groups_never_mix_identity_types(tiny_run: SimRun) -> None:
    members = tiny_run.table("memberships").merge(tiny_run.table("users"), on=C.USER_ID)
    members = members.merge(tiny_run.table("groups"), on=C.GROUP_ID)
    assert (members[C.IDENTITY_TYPE] == members[C.GROUP_TYPE]).all()
    assert (members.groupby(C.GROUP_ID)[C.IDENTITY_TYPE].nunique() == 1).all()
    b2b = members[members[C.GROUP_TYPE] != "consumer"]
    assert b2b[C.GROUP_TYPE].nunique() == 3  # all three B2B identity types appear
    assert members[C.ROLE].isin(C.ROLES).all() and (members[C.ROLE] == "koc").any()


def test_zombie_groups_go_quiet(tiny_run: SimRun) -> None:
    stages = tiny_run.truth_table("group_stage")
    members = tiny_run.table("memberships").merge(stages, on=C.GROUP_ID)
    orders = tiny_run.table("orders")
    end = orders[C.ORDERED_AT].max()
    recent = orders[orders[C.ORDERED_AT] > end - pd.Timedelta(days=30)].merge(stages, on=C.GROUP_ID)
    zombie = recent["stage"].eq("zombie").sum() / members["stage"].eq("zombie").sum()
    mid = recent["stage"].eq("mid").sum() / members["stage"].eq("mid").sum()
    assert zombie < 0.1 * mid
    # ... while they were active before the collapse
    early = orders[orders[C.ORDERED_AT] < end - pd.Timedelta(days=120)].merge(stages, on=C.GROUP_ID)
    assert early["stage"].eq("zombie").sum() > 0


def test_order_shape(tiny_run: SimRun) -> None:
    orders = tiny_run.table("orders").merge(tiny_run.table("users"), on=C.USER_ID)
    basket = orders.groupby(C.ORDER_ID).size()
    assert basket.min() >= 1 and (basket > 1).any()
    qty = orders.groupby(orders[C.IDENTITY_TYPE] == "consumer")[C.QUANTITY].mean()
    assert qty[False] > 3 * qty[True]  # B2B buys in bulk
    assert np.allclose(orders[C.QUANTITY], orders[C.QUANTITY].round())
    n_users = tiny_run.settings.simulate.n_users
    assert 10 < len(orders) / n_users < 40  # ~lines_per_user_year for one year


def test_koc_members_buy_more(tiny_run: SimRun) -> None:
    members = tiny_run.table("memberships")
    lines = tiny_run.table("orders")[C.USER_ID].value_counts()
    per_user = lines.reindex(members[C.USER_ID], fill_value=0).to_numpy()
    koc = (members[C.ROLE] == "koc").to_numpy()
    assert koc.sum() >= 20
    assert per_user[koc].mean() > 1.5 * per_user[~koc].mean()
