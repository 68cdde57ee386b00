"""The truth: exact probabilities that realised future orders agree with, and its metadata."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
from sklearn.metrics import roc_auc_score

from configs import columns as C

SimRun = Any  # tests/features/simulator/conftest.py:SimRun


def test_meta(tiny_run: SimRun) -> None:
    meta = json.loads((tiny_run.truth / "meta.json").read_text())
    cfg = tiny_run.settings.simulate
    assert meta["end_date"] == cfg.end_date.isoformat()
    assert pd.Timestamp(meta["as_of"]) - pd.Timestamp(meta["end_date"]) == pd.Timedelta(days=1)
    assert meta["horizon_days"] == cfg.horizon_days and meta["seed"] == cfg.seed


def test_user_probabilities_predict_future_buyers(tiny_run: SimRun) -> None:
    truth = tiny_run.truth_table("user_repurchase")
    assert len(truth) == tiny_run.settings.simulate.n_users
    assert truth["prob"].between(0, 1).all()
    buyers = truth[C.USER_ID].isin(tiny_run.truth_table("future_orders")[C.USER_ID])
    assert truth["prob"][buyers].mean() > truth["prob"][~buyers].mean() + 0.2
    assert roc_auc_score(buyers, truth["prob"]) > 0.85
    # calibrated: expected buyers ~ realised buyers
    assert (
        abs(truth["prob"].sum() - buyers.sum())
        < 4 * (truth["prob"] * (1 - truth["prob"])).sum() ** 0.5
    )


def test_category_probabilities_predict_future_categories(tiny_run: SimRun) -> None:
    truth = tiny_run.truth_table("user_category")
    assert truth["prob"].between(1e-4, 1).all()
    future = tiny_run.truth_table("future_orders").merge(
        tiny_run.table("products"), on=C.PRODUCT_ID
    )
    bought = future[[C.USER_ID, C.CATEGORY_ID]].drop_duplicates().assign(y=True)
    truth = truth.merge(bought, on=[C.USER_ID, C.CATEGORY_ID], how="left")
    y = truth["y"].fillna(False).astype(bool)
    assert roc_auc_score(y, truth["prob"]) > 0.8
    assert y.sum() > 0.9 * len(bought)  # nearly every realised purchase had a truth row


def test_latent_traits(tiny_run: SimRun) -> None:
    latent = tiny_run.truth_table("latent")
    assert len(latent) == tiny_run.settings.simulate.n_users
    assert latent["price_sensitivity"].between(0, 1).all() and (latent["activity"] > 0).all()
    orders = tiny_run.table("orders").merge(latent, on=C.USER_ID)
    start = pd.Timestamp(tiny_run.settings.simulate.start_date, tz="UTC")
    day = (orders[C.ORDERED_AT] - start).dt.days
    churned = orders["churn_day"] >= 0
    assert churned.any()
    assert (day[churned] < orders.loc[churned, "churn_day"]).all()  # nothing after churning


def test_product_truth_predicts_which_product_members_buy(tiny_run: SimRun) -> None:
    truth = tiny_run.truth_table("user_product")
    products = tiny_run.table("products")
    slow = tiny_run.truth_table("product_latent").query("slow_moving")[C.PRODUCT_ID]
    assert len(truth) and truth[C.PRODUCT_ID].isin(slow).all()  # push candidates only
    assert truth["choice"].between(0.02, 1).all()
    cat = truth[C.PRODUCT_ID].map(products.set_index(C.PRODUCT_ID)[C.CATEGORY_ID])
    assert (cat == truth[C.CATEGORY_ID]).all()
    assert (truth.groupby([C.USER_ID, C.CATEGORY_ID])["choice"].sum() <= 1 + 1e-9).all()
    category = tiny_run.truth_table("user_category")
    both = truth.merge(category, on=[C.USER_ID, C.CATEGORY_ID], suffixes=("", "_cat"))
    assert len(both) == len(truth) and (both["prob"] <= both["prob_cat"] + 1e-12).all()
    # among members who buy the category in the horizon, the choice ranks who buys the product
    future = tiny_run.truth_table("future_orders")
    future = future.assign(
        **{C.CATEGORY_ID: future[C.PRODUCT_ID].map(products.set_index(C.PRODUCT_ID)[C.CATEGORY_ID])}
    )
    buyers = future[[C.USER_ID, C.CATEGORY_ID]].drop_duplicates()
    got = future[[C.USER_ID, C.PRODUCT_ID]].drop_duplicates().assign(y=True)
    pool = truth.merge(buyers, on=[C.USER_ID, C.CATEGORY_ID]).merge(
        got, on=[C.USER_ID, C.PRODUCT_ID], how="left"
    )
    y = pool["y"].fillna(False).astype(bool)
    assert roc_auc_score(y, pool["choice"]) > 0.7
