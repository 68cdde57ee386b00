"""Scoring metrics: classification (AUC, PR-AUC, log loss, Brier, calibration) and ranking
(recall@k, NDCG@k) over long (user, item, score) frames, vectorised so 1M users stay cheap."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score

from configs import columns as C

KS = (1, 5, 10)


def classification_metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    """AUC, PR-AUC, log loss and Brier of scores p against binary labels y.

    Scores outside [0, 1] (rule baselines) get AUC and PR-AUC only: their log loss means nothing.
    """
    y = np.asarray(y, dtype=int)
    p = np.asarray(p, dtype=float)
    p = np.where(np.isfinite(p), p, np.nanmin(np.where(np.isfinite(p), p, np.inf)) - 1.0)
    out = {"n": float(len(y)), "positive_rate": float(y.mean()) if len(y) else float("nan")}
    if len(np.unique(y)) < 2:
        return {**out, "auc": float("nan"), "pr_auc": float("nan")}
    out["auc"] = float(roc_auc_score(y, p))
    out["pr_auc"] = float(average_precision_score(y, p))
    if p.min() >= 0.0 and p.max() <= 1.0:
        clipped = np.clip(p, 1e-7, 1 - 1e-7)
        out["log_loss"] = float(log_loss(y, clipped, labels=[0, 1]))
        out["brier"] = float(brier_score_loss(y, p))
    return out


def calibration_table(y: np.ndarray, p: np.ndarray, n_bins: int = 10) -> pd.DataFrame:
    """Mean predicted vs observed rate per quantile bin of p (for the calibration plot)."""
    frame = pd.DataFrame({"y": np.asarray(y, dtype=float), "p": np.asarray(p, dtype=float)})
    ranks = frame["p"].rank(method="first") / max(len(frame), 1)
    frame["bin"] = np.minimum((ranks * n_bins).astype(int), n_bins - 1)
    table = frame.groupby("bin").agg(
        predicted=("p", "mean"), observed=("y", "mean"), n=("y", "size")
    )
    return table.reset_index()


def rank_within_user(scores: pd.DataFrame, score_col: str = C.SCORE) -> pd.Series:
    """1-based rank per user by descending score; ties broken by category id for determinism."""
    order = scores.sort_values([C.USER_ID, score_col, C.CATEGORY_ID], ascending=[True, False, True])
    ranks = order.groupby(C.USER_ID, sort=False).cumcount() + 1
    return ranks.reindex(scores.index)


def ranking_metrics(
    scores: pd.DataFrame, truth: pd.DataFrame, ks: tuple[int, ...] = KS
) -> dict[str, float]:
    """Mean recall@k and NDCG@k (binary relevance) over the users that appear in truth.

    scores: user_id, category_id, score (any candidate set; users absent score zero hits).
    truth: user_id, category_id actually bought in the window (deduplicated here).
    """
    truth = truth[[C.USER_ID, C.CATEGORY_ID]].drop_duplicates()
    n_true = truth.groupby(C.USER_ID).size()
    out: dict[str, float] = {"n_users": float(len(n_true))}
    if n_true.empty:
        return {**out, **{f"{m}@{k}": float("nan") for k in ks for m in ("recall", "ndcg")}}
    ranked = scores[[C.USER_ID, C.CATEGORY_ID, C.SCORE]].copy()
    ranked = ranked[ranked[C.USER_ID].isin(n_true.index)]
    ranked[C.RANK] = rank_within_user(ranked).to_numpy()
    ranked = ranked[ranked[C.RANK] <= max(ks)]
    hits = ranked.merge(truth, on=[C.USER_ID, C.CATEGORY_ID], how="inner")
    users = n_true.index
    for k in ks:
        top = hits[hits[C.RANK] <= k]
        n_hits = top.groupby(C.USER_ID).size().reindex(users, fill_value=0)
        recall = n_hits / n_true
        dcg = (1.0 / np.log2(top[C.RANK] + 1.0)).groupby(top[C.USER_ID]).sum()
        dcg = dcg.reindex(users, fill_value=0.0)
        discounts = np.cumsum(1.0 / np.log2(np.arange(1, k + 1) + 1.0))
        idcg = discounts[np.minimum(n_true.to_numpy(), k) - 1]
        out[f"recall@{k}"] = float(recall.mean())
        out[f"ndcg@{k}"] = float((dcg.to_numpy() / idcg).mean())
    return out
