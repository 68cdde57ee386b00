"""One artifact per model: a calibrated sklearn estimator over a DataFrame of named features.

Preprocessing (column selection, string categoricals -> ordinal codes) lives inside the
pipeline, so serving passes the FeatureService's frame as is and never keeps a column order.
Only scikit-learn and LightGBM classes end up in the pickle: loading needs no GroupPush code.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.frozen import FrozenEstimator
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OrdinalEncoder

from configs import columns as C
from configs.settings import TrainingSettings


def lightgbm() -> ModuleType:
    """LightGBM, its OpenMP threads told to sleep when idle (unless OMP_WAIT_POLICY is set).

    Why: libgomp's default spins waiting threads. On this 2-core machine shared with other
    jobs, 2 spinning threads fight the others for the cores: 100 boosting rounds on 40k rows
    took 46-83 s instead of 2-4 s at a load average of ~8 (PASSIVE: 2.1 s). libgomp reads the
    variable once, when LightGBM first loads it, hence the lazy import.
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import lightgbm as lgb

    return lgb


def lgbm_params(cfg: TrainingSettings) -> dict[str, Any]:
    """Seeded, deterministic, two threads: the same data gives the same model."""
    return {
        "n_estimators": cfg.num_boost_round,
        "learning_rate": cfg.learning_rate,
        "num_leaves": cfg.num_leaves,
        "min_child_samples": cfg.min_child_samples,
        "subsample": 0.8,
        "subsample_freq": 1,
        "colsample_bytree": 0.9,
        "random_state": cfg.seed,
        "deterministic": True,
        "force_col_wise": True,
        "num_threads": 2,
        "verbose": -1,
    }


def make_pipeline(
    numeric: Sequence[str],
    categorical: Sequence[str],
    cfg: TrainingSettings,
    derive: Any | None = None,
) -> Pipeline:
    """[derive ->] select + encode -> LightGBM. `derive` is a transformer from features/
    (importable by serving) that adds columns named by its `DERIVED`-style output."""
    encoder = OrdinalEncoder(
        handle_unknown="use_encoded_value",
        unknown_value=np.nan,
        encoded_missing_value=np.nan,
        dtype=np.float64,
    )
    extra = list(getattr(derive, "derived_columns", ()))
    prep = ColumnTransformer(
        [("num", "passthrough", [*numeric, *extra]), ("cat", encoder, list(categorical))],
        verbose_feature_names_out=False,
    ).set_output(transform="pandas")
    steps: list[tuple[str, Any]] = [("derive", derive)] if derive is not None else []
    steps += [("prep", prep), ("lgbm", lightgbm().LGBMClassifier(**lgbm_params(cfg)))]
    return Pipeline(steps)


def _as_strings(frame: pd.DataFrame, categorical: Sequence[str]) -> pd.DataFrame:
    """Categoricals as object strings with NaN for missing, so the encoder learns no "None"
    category: at predict time None, NaN, pandas categoricals and unseen values all map to NaN."""
    out = frame.copy()
    for col in categorical:
        out[col] = out[col].astype(object).where(out[col].notna(), np.nan)
    return out


def fit_calibrated(
    numeric: Sequence[str],
    categorical: Sequence[str],
    train: tuple[pd.DataFrame, np.ndarray],
    stop: tuple[pd.DataFrame, np.ndarray],
    calib: tuple[pd.DataFrame, np.ndarray],
    cfg: TrainingSettings,
    method: str | None = None,
    derive: Any | None = None,
    refit: bool = False,
) -> tuple[CalibratedClassifierCV, Pipeline]:
    """Fit LightGBM with early stopping on `stop`, then calibrate on the disjoint `calib` rows.

    refit: then refit on train + stop rows for the chosen number of rounds. The stop rows are
    the latest snapshot with complete labels; a drifting population (groups collapsing, churn
    accumulating) is best described by it, and training on older snapshots only misses that.

    method: "isotonic" | "sigmoid" (default cfg.calibration); sigmoid keeps the ranking
    free of ties, which matters for per-user top-k lists. Returns (calibrated estimator, the
    frozen inner pipeline for importances).
    """
    pipe = make_pipeline(numeric, categorical, cfg, derive)
    x_train = _as_strings(train[0], categorical)
    prep = pipe[:-1].fit(x_train)  # the eval set must see the same preprocessing
    x_stop = prep.transform(_as_strings(stop[0], categorical))
    pipe.fit(
        x_train,
        train[1],
        lgbm__eval_X=x_stop,
        lgbm__eval_y=stop[1],
        lgbm__callbacks=[lightgbm().early_stopping(cfg.early_stopping_rounds, verbose=False)],
        lgbm__categorical_feature=list(categorical),
    )
    if refit:
        # the stop rows are the most recent labelled ones: refit on them too, for the number of
        # rounds early stopping chose (calibration rows stay unseen, the holdout untouched)
        rounds = int(pipe.named_steps["lgbm"].best_iteration_ or cfg.num_boost_round)
        pipe = make_pipeline(numeric, categorical, cfg, derive)
        pipe.set_params(lgbm__n_estimators=max(rounds, 1))
        both = pd.concat([train[0], stop[0]], ignore_index=True)
        pipe.fit(
            _as_strings(both, categorical),
            np.concatenate([train[1], stop[1]]),
            lgbm__categorical_feature=list(categorical),
        )
    model = CalibratedClassifierCV(FrozenEstimator(pipe), method=method or cfg.calibration)
    model.fit(_as_strings(calib[0], categorical), calib[1])
    return model, pipe


def halves(users: pd.Series) -> np.ndarray:
    """A stable user split (hash parity): early stopping on one half, calibration on the other."""
    return (pd.util.hash_pandas_object(users, index=False).to_numpy() % 2).astype(bool)


def fit_on_split(
    numeric: Sequence[str],
    categorical: Sequence[str],
    train: pd.DataFrame,
    valid: pd.DataFrame,
    cfg: TrainingSettings,
    method: str | None = None,
    derive: Any | None = None,
    refit: bool = False,
) -> tuple[CalibratedClassifierCV, Pipeline]:
    """Fit on labelled training rows; the validation snapshot's users are split in two halves
    (early stopping / calibration) so neither step sees the other's rows (refit: see
    fit_calibrated)."""
    cols = [*numeric, *categorical]
    half = halves(valid[C.USER_ID])
    return fit_calibrated(
        numeric,
        categorical,
        (train[cols], train[C.LABEL].to_numpy()),
        (valid.loc[half, cols], valid.loc[half, C.LABEL].to_numpy()),
        (valid.loc[~half, cols], valid.loc[~half, C.LABEL].to_numpy()),
        cfg,
        method=method,
        derive=derive,
        refit=refit,
    )


def run_facts(
    split: Any, pipe: Pipeline, train: pd.DataFrame, valid: pd.DataFrame, test: pd.DataFrame
) -> dict[str, Any]:
    """Data time ranges and sizes logged with the run."""
    return {
        "train_snapshots": [str(d) for d in split.train],
        "valid_snapshot": str(split.valid),
        "test_snapshot": str(split.test),
        "n_train": len(train),
        "n_valid": len(valid),
        "n_test": len(test),
        "n_test_users": int(test[C.USER_ID].nunique()),
        "train_positive_rate": float(train[C.LABEL].mean()),
        "best_iteration": int(
            pipe.named_steps["lgbm"].best_iteration_ or pipe.named_steps["lgbm"].n_estimators
        ),
    }


def predict(model: Any, frame: pd.DataFrame) -> np.ndarray:
    """Positive-class probability for a frame of named features (extra columns are ignored)."""
    return np.asarray(model.predict_proba(frame)[:, 1])


def importances(pipe: Pipeline) -> pd.Series:
    """Gain importance by feature name, largest first."""
    booster = pipe.named_steps["lgbm"].booster_
    gains = booster.feature_importance(importance_type="gain")
    return pd.Series(gains, index=booster.feature_name()).sort_values(ascending=False)


@dataclass
class ModelResult:
    """A fitted model with everything the registry, the report and promotion need."""

    name: str
    model: Any
    pipe: Pipeline
    numeric: list[str]
    categorical: list[str]
    feature_service: str
    metrics: dict[str, float]
    baselines: dict[str, dict[str, float]]
    primary: str  # the metric promotion compares ("auc" / "ndcg@10")
    bar: float  # the baseline value the model must beat on `primary`
    holdout: pd.DataFrame  # what the plots need
    holdout_metric: Callable[[Any], float]  # `primary` of any model on this same holdout
    importance: pd.Series
    example: pd.DataFrame  # a few holdout rows of the named features (MLflow input example)
    data: dict[str, Any] = field(default_factory=dict)
    # baseline scorers as models (training.baseline_models), fitted on the validation rows:
    # the registry serves the best of them when the learned model does not win
    candidates: dict[str, Any] = field(default_factory=dict)

    @property
    def features(self) -> list[str]:
        return [*self.numeric, *self.categorical]
