"""Derived repurchase features computed inside the model pipeline from user_activity columns.

A sklearn transformer (in features/, so serving can unpickle the model without training code):
it rebuilds the BG/NBD summary from the activity features (x = repeat order days, t_x = mean
gap * x, T = t_x + recency), fits BG/NBD on the training rows, and adds P(alive), P(order in
the horizon) and "overdue" ratios. Trees find these non-linear combinations hard to learn.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin

from features.bgnbd import BGNBD, fit_bgnbd

NEEDED = ("recency_days", "order_days_total", "mean_gap_days")
DERIVED = ("bgnbd_p_alive", "bgnbd_p_order", "overdue_ratio", "order_rate")
FIT_ROWS = 200_000


def bgnbd_inputs(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x, t_x, T) in days from the activity features; users without orders get x = 0, T = 0."""
    recency = frame["recency_days"].to_numpy(dtype=float)
    days = frame["order_days_total"].to_numpy(dtype=float)
    gap = frame["mean_gap_days"].to_numpy(dtype=float)
    x = np.nan_to_num(np.maximum(days - 1.0, 0.0))
    t_x = np.where(x > 0, np.nan_to_num(gap) * x, 0.0)
    T = t_x + np.nan_to_num(recency)
    return x, t_x, np.maximum(T, t_x)


class RepurchaseDerived(BaseEstimator, TransformerMixin):  # type: ignore[misc]
    """Adds DERIVED columns; passes every input column through."""

    derived_columns = DERIVED

    def __init__(self, horizon_days: int = 30, seed: int = 0) -> None:
        self.horizon_days = horizon_days
        self.seed = seed

    def fit(self, X: pd.DataFrame, y: Any = None) -> RepurchaseDerived:
        missing = [c for c in NEEDED if c not in X.columns]
        if missing:
            raise ValueError(f"RepurchaseDerived needs activity columns {missing}")
        x, t_x, T = bgnbd_inputs(X)
        keep = T > 0
        if keep.sum() > FIT_ROWS:
            idx = np.random.default_rng(self.seed).choice(np.flatnonzero(keep), FIT_ROWS, False)
            keep = np.zeros_like(keep)
            keep[idx] = True
        fitted = fit_bgnbd(x[keep], t_x[keep], T[keep]) if keep.any() else BGNBD(1, 1, 1, 1)
        self.params_ = (fitted.r, fitted.alpha, fitted.a, fitted.b)
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        model = BGNBD(*self.params_)
        x, t_x, T = bgnbd_inputs(X)
        out = X.copy()
        out["bgnbd_p_alive"] = model.p_alive(x, t_x, T)
        out["bgnbd_p_order"] = model.p_purchase(x, t_x, T, float(self.horizon_days))
        gap = X["mean_gap_days"].to_numpy(dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            out["overdue_ratio"] = X["recency_days"].to_numpy(dtype=float) / np.where(
                gap > 0, gap, np.nan
            )
            out["order_rate"] = (x + 1.0) / np.maximum(T, 1.0)
        return out

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        return np.asarray([*(input_features or []), *DERIVED], dtype=object)
