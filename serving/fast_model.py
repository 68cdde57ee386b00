"""The interest champion's LightGBM booster fed one float32 matrix, not the sklearn pipeline.

Why: the registered model is CalibratedClassifierCV(FrozenEstimator(Pipeline[ColumnTransformer
-> LGBMClassifier])); through sklearn each chunk of ~1.4M pairs goes pandas frame -> pandas
ColumnTransformer output -> float64 copy -> booster, and the per-user categorical column is
encoded once per pair. Here the encoders run once per user, the booster gets a C-ordered
float32 matrix (LightGBM widens each value to double, as it does the float64 frame) and the
fitted calibrators are applied as sklearn applies them. Only that model shape is unwrapped;
anything else returns None and is scored through the pipeline. Callers also check the
result against the pipeline on a sample (serving.interest_scoring).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from modelinput.pairs import PAIR_CATEGORICAL, PAIR_FEATURES


@dataclass(frozen=True)
class _Stage:
    """One calibrated classifier: its booster, input columns and calibrator."""

    booster: Any  # lightgbm.Booster
    columns: tuple[str, ...]  # the booster's inputs, in order
    encoders: tuple[tuple[Any, tuple[str, ...]], ...]  # (fitted encoder, its input columns)
    calibrator: Any | None
    raw: bool  # the calibrator reads raw scores (decision_function), not probabilities


@dataclass(frozen=True)
class FastModel:
    stages: tuple[_Stage, ...]

    def encode_users(self, activity: pd.DataFrame) -> dict[str, np.ndarray]:
        """Each encoded categorical column per activity user (+ a trailing unknown-user row)."""
        frame = activity.reindex(columns=list(PAIR_CATEGORICAL)).astype(object)
        frame = pd.concat([frame, pd.DataFrame({c: [None] for c in PAIR_CATEGORICAL})])
        frame = frame.reset_index(drop=True)
        out: dict[str, np.ndarray] = {}
        for stage in self.stages:
            for encoder, cols in stage.encoders:
                codes = np.asarray(encoder.transform(frame[list(cols)]), dtype=np.float32)
                for i, col in enumerate(encoder.get_feature_names_out(list(cols))):
                    out.setdefault(str(col), codes[:, i])
        return out

    def predict(self, columns: dict[str, np.ndarray], n: int) -> np.ndarray:
        """Positive-class probability (float32) from every input column (n rows each)."""
        threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 0
        total = np.zeros(n, dtype=np.float64)
        for stage in self.stages:
            x = np.empty((n, len(stage.columns)), dtype=np.float32)
            for j, name in enumerate(stage.columns):
                x[:, j] = columns[name]
            pred = stage.booster.predict(x, raw_score=stage.raw, num_threads=threads)
            del x
            total += pred if stage.calibrator is None else stage.calibrator.predict(pred)
        total /= len(self.stages)
        return total.astype(np.float32)


def _identity(transformer: Any) -> bool:
    from sklearn.preprocessing import FunctionTransformer

    if isinstance(transformer, str):
        return transformer == "passthrough"
    return isinstance(transformer, FunctionTransformer) and transformer.func is None


def _stage(estimator: Any, calibrator: Any | None) -> _Stage | None:
    from lightgbm import LGBMClassifier
    from sklearn.compose import ColumnTransformer
    from sklearn.frozen import FrozenEstimator
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OrdinalEncoder

    if isinstance(estimator, FrozenEstimator):
        estimator = estimator.estimator
    if not isinstance(estimator, Pipeline) or len(estimator.steps) != 2:
        return None
    prep, lgbm = estimator.steps[0][1], estimator.steps[1][1]
    if not isinstance(prep, ColumnTransformer) or not isinstance(lgbm, LGBMClassifier):
        return None
    if len(lgbm.classes_) != 2 or lgbm.booster_.params.get("objective", "binary") != "binary":
        return None
    encoders: list[tuple[Any, tuple[str, ...]]] = []
    for _, transformer, cols in prep.transformers_:
        names = tuple(str(c) for c in cols) if not isinstance(cols, str) else (cols,)
        if transformer == "drop" or not names:
            continue
        if _identity(transformer) and set(names) <= set(PAIR_FEATURES):
            continue
        if isinstance(transformer, OrdinalEncoder) and set(names) <= set(PAIR_CATEGORICAL):
            encoders.append((transformer, names))
            continue
        return None
    columns = tuple(str(c) for c in prep.get_feature_names_out())
    if list(columns) != list(lgbm.booster_.feature_name()):
        return None
    raw = hasattr(estimator, "decision_function") and hasattr(lgbm, "decision_function")
    return _Stage(lgbm.booster_, columns, tuple(encoders), calibrator, raw and bool(calibrator))


def unwrap(model: Any) -> FastModel | None:
    """The booster-level view of MODEL (binary, sigmoid/isotonic calibration), or None."""
    try:
        from sklearn.calibration import CalibratedClassifierCV
    except ImportError:
        return None
    if isinstance(model, CalibratedClassifierCV):
        if len(model.classes_) != 2 or model.method not in ("sigmoid", "isotonic"):
            return None
        stages = []
        for cc in model.calibrated_classifiers_:
            if len(cc.calibrators) != 1:
                return None
            stage = _stage(cc.estimator, cc.calibrators[0])
            if stage is None:
                return None
            stages.append(stage)
        return FastModel(tuple(stages)) if stages else None
    stage = _stage(model, None)
    return FastModel((stage,)) if stage is not None else None
