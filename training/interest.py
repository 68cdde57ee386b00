"""Category interest: P(member buys category c within the horizon), LightGBM on candidate pairs.

Ranking quality (recall@k, NDCG@k over the members who buy in the window) is what matters;
probabilities are Platt-calibrated (no ties, so per-user rankings keep their order).

Scale (1M users on the large preset): each training/validation snapshot is a seeded sample of
`training.interest_max_users` users, and the held-out snapshot a seeded sample of
`training.interest_eval_max_users` users of its whole population (None: all of them); the
samples are drawn before the Feast fetch, and pairs are built in user chunks. Rank metrics
are over the sampled users who buy in the window, so they estimate the full-population ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from configs import columns as C
from configs.settings import TrainingSettings
from features.stages import Stages
from features.store import catalog
from modelinput.pair_frame import training_pairs
from modelinput.pairs import PAIR_CATEGORICAL, PAIR_FEATURES, build_pairs
from training.baseline_models import interest_candidates
from training.baselines import DECAYED_FREQUENCY, interest_baselines
from training.datasets import SNAPSHOT, SnapshotSplit, category_truth
from training.estimator import ModelResult, fit_on_split, importances, predict, run_facts
from training.metrics import ranking_metrics

USER_CHUNK = 50_000  # users per build_pairs call: bounds the pair frame (as serving does)


def snapshot_caps(split: SnapshotSplit, cfg: TrainingSettings) -> dict[date, int | None]:
    """Users fetched per snapshot: training/validation samples, the held-out sample."""
    caps: dict[date, int | None] = {d: cfg.interest_max_users for d in split.train}
    caps[split.valid] = cfg.interest_max_users
    caps[split.test] = cfg.interest_eval_max_users
    return caps


def fit_settings(cfg: TrainingSettings) -> TrainingSettings:
    """CFG with the interest model's learning rate (training.interest_learning_rate) when set."""
    if cfg.interest_learning_rate is None:
        return cfg
    return cfg.model_copy(update={"learning_rate": cfg.interest_learning_rate})


def chunked_pairs(rows: pd.DataFrame, stats: pd.DataFrame, n_popular: int) -> pd.DataFrame:
    """build_pairs per USER_CHUNK users (per-user features: the same frame as one call),
    through the array path (modelinput.pair_frame) unless the ids need the general one."""

    def pairs(block: pd.DataFrame) -> pd.DataFrame:
        fast = training_pairs(block, stats, n_popular)
        return fast if fast is not None else build_pairs(block, stats, block, n_popular)

    if len(rows) <= USER_CHUNK:
        return pairs(rows)
    blocks = (rows.iloc[i : i + USER_CHUNK] for i in range(0, len(rows), USER_CHUNK))
    return pd.concat([pairs(b) for b in blocks], ignore_index=True)


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
    pairs = chunked_pairs(rows, stats, cfg.interest_popular_candidates)
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
    stages: Stages | None = None,
) -> tuple[pd.DataFrame, dict[str, float], dict[str, dict[str, float]], pd.DataFrame]:
    """Rank the pairs' users' categories by the model and every baseline; score against the
    categories they bought in [day, day + horizon). Returns (scored, metrics, baselines, truth)."""
    stages = stages or Stages()
    with stages("interest.holdout"):
        users = pairs[C.USER_ID].unique()
        truth = category_truth(orders, day, cfg.horizon_days)
        truth = truth[truth[C.USER_ID].isin(users)]
        scored = pairs[[C.USER_ID, C.CATEGORY_ID]].assign(**{C.SCORE: predict(model, pairs)})
        if C.LABEL in pairs.columns:
            scored[C.LABEL] = pairs[C.LABEL].to_numpy()
        metrics = ranking_metrics(scored, truth)
        if C.LABEL in pairs.columns:
            metrics["candidate_recall"] = float(pairs[C.LABEL].sum() / max(len(truth), 1))
    with stages("interest.baselines"):
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
    stages: Stages | None = None,
    half_life_days: float = 30.0,
) -> ModelResult:
    """frame: INTEREST_SERVICE rows for every snapshot (sampled per `snapshot_caps`, or
    sampled here when larger); stats: category_stats per snapshot; half_life_days: the
    feature build's (its decayed scores feed the baseline candidates)."""
    stages = stages or Stages()
    caps = snapshot_caps(split, cfg)
    with stages("interest.pairs"):
        pairs = {d: snapshot_pairs(frame, stats[d], orders, d, cfg, caps[d]) for d in caps}
        del frame  # the user_interest arrays: the pairs hold what the model needs
        train = pd.concat([pairs[d] for d in split.train], ignore_index=True)
        valid, test = pairs[split.valid], pairs[split.test]
        del pairs
    numeric, categorical = list(PAIR_FEATURES), list(PAIR_CATEGORICAL)
    cols = [*numeric, *categorical]
    with stages("interest.fit"):
        model, pipe = fit_on_split(
            numeric, categorical, train, valid, fit_settings(cfg), method="sigmoid"
        )
    scored, metrics, baselines, truth = score_holdout(
        model, test, orders, stats[split.test], split.test, cfg, stages
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
        candidates=interest_candidates(valid, valid[C.LABEL].to_numpy(), half_life_days),
    )


def _half_life(name: str) -> float:
    return float(name.rsplit("_hl", 1)[1])
