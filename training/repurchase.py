"""Repurchase likelihood: will a member order again within the horizon after the snapshot?"""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from configs import columns as C
from configs.settings import TrainingSettings
from features.derived import NEEDED as DERIVED_NEEDS
from features.derived import RepurchaseDerived
from features.stages import Stages
from features.store import catalog
from training.baseline_models import repurchase_candidates
from training.baselines import repurchase_baselines
from training.datasets import SNAPSHOT, SnapshotSplit, repurchase_labels, snapshot_rows
from training.estimator import ModelResult, fit_on_split, importances, predict, run_facts
from training.metrics import classification_metrics

CATEGORICAL = ("identity_type", "channel", "region")


def feature_columns(frame: pd.DataFrame) -> tuple[list[str], list[str]]:
    """The FeatureService's numeric activity features and profile categoricals present."""
    numeric = [c for c in catalog.USER_ACTIVITY.numeric() if c in frame.columns]
    categorical = [c for c in CATEGORICAL if c in frame.columns]
    return numeric, categorical


def add_labels(frame: pd.DataFrame, orders: pd.DataFrame, horizon_days: int) -> pd.DataFrame:
    """label = at least one order in [snapshot, snapshot + horizon). Adds the column to FRAME
    itself and returns it (the fetched frame is ~1 GB on the large preset: no copy)."""
    labels = np.zeros(len(frame), dtype=np.int8)
    snaps = frame[SNAPSHOT].to_numpy()
    for day in pd.unique(snaps):
        rows = np.flatnonzero(snaps == day)
        users = frame[C.USER_ID].iloc[rows]
        labels[rows] = repurchase_labels(orders, users, day, horizon_days)
    frame[C.LABEL] = labels
    return frame


def _derivable(numeric: list[str]) -> bool:
    return all(c in numeric for c in DERIVED_NEEDS)


def score_holdout(
    model: Any,
    test: pd.DataFrame,
    orders: pd.DataFrame,
    day: date,
    horizon_days: int,
    stages: Stages | None = None,
) -> tuple[pd.DataFrame, dict[str, float], dict[str, dict[str, float]]]:
    """Model and baseline scores on labelled rows of one snapshot: (frame, metrics, baselines)."""
    stages = stages or Stages()
    y = test[C.LABEL].to_numpy()
    with stages("repurchase.holdout"):
        scores = predict(model, test)
        holdout = pd.DataFrame({C.USER_ID: test[C.USER_ID], C.LABEL: y, "model": scores})
        metrics = classification_metrics(y, scores)
    baselines = {}
    with stages("repurchase.baselines"):
        for name, values in repurchase_baselines(test, orders, day, horizon_days).items():
            holdout[name] = values
            baselines[name] = classification_metrics(y, values)
    return holdout, metrics, baselines


def train_repurchase(
    frame: pd.DataFrame,
    orders: pd.DataFrame,
    split: SnapshotSplit,
    cfg: TrainingSettings,
    stages: Stages | None = None,
) -> ModelResult:
    """Fit on the training snapshots, stop/calibrate on the validation one, score the holdout.

    frame: point-in-time rows of REPURCHASE_SERVICE for every snapshot (SNAPSHOT column),
    without labels; labels come from `orders` here.
    """
    stages = stages or Stages()
    with stages("repurchase.labels"):
        frame = add_labels(frame, orders, cfg.horizon_days)
        numeric, categorical = feature_columns(frame)
        train = snapshot_rows(frame, split.train)
        valid = snapshot_rows(frame, [split.valid])
        test = snapshot_rows(frame, [split.test]).reset_index(drop=True)
    cols = [*numeric, *categorical]
    if train.empty or valid.empty or test.empty:
        raise ValueError(f"repurchase: a snapshot has no rows ({split}); check the feature build")
    derive = RepurchaseDerived(cfg.horizon_days, cfg.seed) if _derivable(numeric) else None
    with stages("repurchase.fit"):
        model, pipe = fit_on_split(
            numeric, categorical, train, valid, cfg, derive=derive, refit=True
        )
    holdout, metrics, baselines = score_holdout(
        model, test, orders, split.test, cfg.horizon_days, stages
    )
    y = holdout[C.LABEL].to_numpy()
    return ModelResult(
        name="repurchase",
        model=model,
        pipe=pipe,
        numeric=numeric,
        categorical=categorical,
        feature_service=catalog.REPURCHASE_SERVICE,
        metrics=metrics,
        baselines=baselines,
        primary="auc",
        bar=max(m["auc"] for m in baselines.values()),
        holdout=holdout,
        holdout_metric=lambda m: classification_metrics(y, predict(m, test))["auc"],
        importance=importances(pipe),
        example=test[cols].head(5).reset_index(drop=True),
        data=run_facts(split, pipe, train, valid, test),
        candidates=repurchase_candidates(
            valid, valid[C.LABEL].to_numpy(), cfg.horizon_days, cfg.seed, history=test
        ),
    )
