"""recall@k / NDCG@k on hand-made rankings; classification metrics sanity."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from configs import columns as C
from training.metrics import classification_metrics, ranking_metrics


def _scores(rows: list[tuple[str, str, float]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=[C.USER_ID, C.CATEGORY_ID, C.SCORE])


def _truth(rows: list[tuple[str, str]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=[C.USER_ID, C.CATEGORY_ID])


def test_recall_and_ndcg_by_hand() -> None:
    # u1 ranks a, b, c; bought b and d (d never ranked). u2 ranks x first and bought x.
    scores = _scores([("u1", "a", 0.9), ("u1", "b", 0.5), ("u1", "c", 0.1), ("u2", "x", 0.7)])
    truth = _truth([("u1", "b"), ("u1", "d"), ("u2", "x")])
    m = ranking_metrics(scores, truth, ks=(1, 5))
    assert m["n_users"] == 2
    assert m["recall@1"] == pytest.approx((0.0 + 1.0) / 2)
    assert m["recall@5"] == pytest.approx((0.5 + 1.0) / 2)
    # u1: hit at rank 2 -> dcg 1/log2(3); ideal for 2 relevant = 1 + 1/log2(3)
    u1 = (1 / math.log2(3)) / (1 + 1 / math.log2(3))
    assert m["ndcg@5"] == pytest.approx((u1 + 1.0) / 2)
    assert m["ndcg@1"] == pytest.approx(0.5)


def test_users_without_scores_count_as_misses_and_ties_are_deterministic() -> None:
    scores = _scores([("u1", "b", 0.5), ("u1", "a", 0.5)])
    truth = _truth([("u1", "a"), ("u3", "z")])
    m = ranking_metrics(scores, truth, ks=(1,))
    assert m["recall@1"] == pytest.approx(0.5)  # tie -> "a" first by id; u3 gets 0


def test_perfect_ranking_scores_one() -> None:
    scores = _scores([("u", c, s) for c, s in zip("abcdef", [6, 5, 4, 3, 2, 1], strict=True)])
    truth = _truth([("u", "a"), ("u", "b")])
    m = ranking_metrics(scores, truth)
    assert m["ndcg@10"] == pytest.approx(1.0)
    assert m["recall@1"] == pytest.approx(0.5)


def test_classification_metrics() -> None:
    y = np.array([0, 0, 1, 1])
    m = classification_metrics(y, np.array([0.1, 0.4, 0.35, 0.8]))
    assert m["auc"] == pytest.approx(0.75)
    assert "brier" in m and "log_loss" in m
    rule = classification_metrics(y, np.array([-10.0, -3.0, -1.0, -np.inf]))
    assert "brier" not in rule  # scores that are not probabilities get ranking metrics only
