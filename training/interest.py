"""Category interest: P(member buys category c within the horizon), LightGBM on candidate pairs.

Ranking quality (recall@k, NDCG@k over the members who buy in the window) is what matters;
probabilities are Platt-calibrated (no ties, so per-user rankings keep their order).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from configs import columns as C
from configs.settings import TrainingSettings
from features import catalog
from features.pairs import PAIR_CATEGORICAL, PAIR_FEATURES, build_pairs
from training.baselines import DECAYED_FREQUENCY, interest_baselines
from training.datasets import SNAPSHOT, SnapshotSplit, category_truth
from training.estimator import ModelResult, fit_on_split, importances, predict, run_facts
from training.metrics import ranking_metrics


def snapshot_pairs(
    frame: pd.DataFrame,
    stats: pd.DataFrame,
    orders: pd.DataFrame,
    day: date,
    cfg: TrainingSettings,
    max_users: int | None = None,
) -> pd.DataFrame:
    """Candidate pairs of one snapshot with label = the user buys the category in the window."""
    rows = frame[frame[SNAPSHOT] == day]
    if max_users is not None and len(rows) > max_users:
        rows = rows.sample(n=max_users, random_state=cfg.seed)
    pairs = build_pairs(rows, stats, rows, cfg.interest_popular_candidates)
    truth = category_truth(orders, day, cfg.horizon_days).assign(**{C.LABEL: np.int8(1)})
    pairs = pairs.merge(truth, on=[C.USER_ID, C.CATEGORY_ID], how="left")
    pairs[C.LABEL] = pairs[C.LABEL].fillna(0).astype(np.int8)
    pairs[SNAPSHOT] = day
    return pairs


def score_holdout(
    model: Any,
    pairs: pd.DataFrame,
    orders: pd.DataFrame,
    stats: pd.DataFrame,
    day: date,
    cfg: TrainingSettings,
) -> tuple[pd.DataFrame, dict[str, float], dict[str, dict[str, float]], pd.DataFrame]:
    """Rank the pairs' users' categories by the model and every baseline; score against the
    categories they bought in [day, day + horizon). Returns (scored, metrics, baselines, truth)."""
    users = pairs[C.USER_ID].unique()
    truth = category_truth(orders, day, cfg.horizon_days)
    truth = truth[truth[C.USER_ID].isin(users)]
    scored = pairs[[C.USER_ID, C.CATEGORY_ID]].assign(**{C.SCORE: predict(model, pairs)})
    if C.LABEL in pairs.columns:
        scored[C.LABEL] = pairs[C.LABEL].to_numpy()
    metrics = ranking_metrics(scored, truth)
    if C.LABEL in pairs.columns:
        metrics["candidate_recall"] = float(pairs[C.LABEL].sum() / max(len(truth), 1))
    rankings = interest_baselines(pairs, orders, stats, day, cfg.decay_half_lives)
    baselines = {name: ranking_metrics(frame, truth) for name, frame in rankings.items()}
    decayed = {k: v for k, v in baselines.items() if k.startswith(DECAYED_FREQUENCY)}
    best = max(decayed, key=lambda k: decayed[k]["ndcg@10"])
    baselines[f"{DECAYED_FREQUENCY}_best"] = {**decayed[best], "half_life": _half_life(best)}
    return scored, metrics, baselines, truth


def train_interest(
    frame: pd.DataFrame,
    stats: Mapping[date, pd.DataFrame],
    orders: pd.DataFrame,
    split: SnapshotSplit,
    cfg: TrainingSettings,
) -> ModelResult:
    """frame: INTEREST_SERVICE rows for every snapshot; stats: category_stats per snapshot."""
    cap = cfg.interest_max_users
    train = pd.concat(
        [snapshot_pairs(frame, stats[d], orders, d, cfg, cap) for d in split.train],
        ignore_index=True,
    )
    valid = snapshot_pairs(frame, stats[split.valid], orders, split.valid, cfg, cap)
    test = snapshot_pairs(frame, stats[split.test], orders, split.test, cfg)
    numeric, categorical = list(PAIR_FEATURES), list(PAIR_CATEGORICAL)
    cols = [*numeric, *categorical]
    model, pipe = fit_on_split(numeric, categorical, train, valid, cfg, method="sigmoid")
    scored, metrics, baselines, truth = score_holdout(
        model, test, orders, stats[split.test], split.test, cfg
    )
    decayed = {k: v for k, v in baselines.items() if k.startswith(DECAYED_FREQUENCY)}
    return ModelResult(
        name="interest",
        model=model,
        pipe=pipe,
        numeric=numeric,
        categorical=categorical,
        feature_service=catalog.INTEREST_SERVICE,
        metrics=metrics,
        baselines=baselines,
        primary="ndcg@10",
        bar=max(v["ndcg@10"] for v in decayed.values()),
        holdout=scored,
        holdout_metric=lambda m: ranking_metrics(
            scored.assign(**{C.SCORE: predict(m, test)}), truth
        )["ndcg@10"],
        importance=importances(pipe),
        example=test[cols].head(5).reset_index(drop=True),
        data=run_facts(split, pipe, train, valid, test),
    )


def _half_life(name: str) -> float:
    return float(name.rsplit("_hl", 1)[1])
