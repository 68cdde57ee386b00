"""Model building blocks: reproducibility, candidate pairs, the calibrated artifact."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from configs import columns as C
from configs.workspace import Workspace
from features.snapshots import training_snapshot_dates
from features.store import catalog
from modelinput.pairs import PAIR_FEATURES, build_pairs
from tests.training.conftest import small_settings
from training.datasets import (
    category_stats_at,
    fetch_snapshots,
    load_orders,
    offline_fetcher,
    split_snapshots,
    utc,
)
from training.interest import snapshot_pairs
from training.repurchase import train_repurchase


def _inputs(ws: Workspace, as_of: date, service: str):
    dates = training_snapshot_dates(as_of, 30, 3, 30)
    orders = load_orders(ws)
    orders = orders[orders[C.ORDERED_AT] < utc(as_of)]
    return fetch_snapshots(offline_fetcher(ws), orders, dates, service), orders, dates


def test_repurchase_training_is_reproducible(synthetic_ws: Workspace, as_of: date) -> None:
    frame, orders, dates = _inputs(synthetic_ws, as_of, catalog.REPURCHASE_SERVICE)
    cfg = small_settings().training
    split = split_snapshots(dates, 30)
    first = train_repurchase(frame, orders, split, cfg)
    second = train_repurchase(frame, orders, split, cfg)
    np.testing.assert_array_equal(first.holdout["model"], second.holdout["model"])
    assert first.metrics["auc"] > 0.6
    assert {"recency_rule", "rfm_score", "bgnbd"} <= set(first.baselines)
    # One artifact over named features: column order and extra columns do not matter.
    shuffled = first.example[first.example.columns[::-1]].assign(extra=1)
    np.testing.assert_allclose(
        first.model.predict_proba(shuffled)[:, 1], first.model.predict_proba(first.example)[:, 1]
    )


def test_pairs_cover_bought_and_popular_categories(synthetic_ws: Workspace, as_of: date) -> None:
    frame, orders, dates = _inputs(synthetic_ws, as_of, catalog.INTEREST_SERVICE)
    day = dates[-1]
    stats = category_stats_at(synthetic_ws, day)
    cfg = small_settings().training
    pairs = snapshot_pairs(frame, stats, orders, day, cfg)
    bought = orders[orders[C.ORDERED_AT] < utc(day)][[C.USER_ID, C.CATEGORY_ID]].drop_duplicates()
    have = set(map(tuple, pairs[[C.USER_ID, C.CATEGORY_ID]].to_numpy()))
    assert set(map(tuple, bought.to_numpy())) <= have
    assert not pairs.duplicated([C.USER_ID, C.CATEGORY_ID]).any()
    top = stats.nlargest(cfg.interest_popular_candidates, "popularity_share")[C.CATEGORY_ID]
    assert pairs.groupby(C.USER_ID)[C.CATEGORY_ID].apply(lambda c: set(top) <= set(c)).all()
    assert set(PAIR_FEATURES) <= set(pairs.columns)
    assert pairs[C.LABEL].isin([0, 1]).all() and pairs[C.LABEL].sum() > 0


def test_build_pairs_readiness_and_never_bought_defaults() -> None:
    interest = pd.DataFrame(
        {
            C.USER_ID: ["u1"],
            "interest_categories": [["a", "b"]],
            "interest_scores": [[0.7, 0.3]],
            "decayed_scores": [[2.0, 0.0]],
            "last_days": [[14.0, -1.0]],
            "counts_30d": [[2.0, 0.0]],
            "counts_180d": [[5.0, 0.0]],
        }
    )
    stats = pd.DataFrame(
        {
            C.CATEGORY_ID: ["a", "b", "c"],
            "repurchase_cycle_days": [7.0, 30.0, 10.0],
            "is_high_frequency": [1, 0, 1],
            "popularity_share": [0.1, 0.2, 0.5],
            "buyers_30d": [10, 20, 50],
        }
    )
    pairs = build_pairs(interest, stats, None, n_popular=1).set_index(C.CATEGORY_ID)
    assert list(pairs.index) == ["a", "b", "c"]
    assert pairs.loc["a", "readiness"] == 2.0 and pairs.loc["a", "is_bought"] == 1
    assert np.isnan(pairs.loc["b", "last_days"]) and pairs.loc["b", "is_bought"] == 0
    assert pairs.loc["c", "interest_score"] == 0.0 and pairs.loc["c", "cat_popularity_rank"] == 1
