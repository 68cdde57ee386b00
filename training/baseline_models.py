"""Baselines as registrable models: the same predict_proba interface as a learned champion.

When no learned model beats its best baseline on the holdout, the best scorer still has to
serve (export, evaluate, the service all load `models:/grouppush_<kind>@champion`). Each
baseline here reads only the FeatureService's columns (user_activity rows for repurchase,
candidate pairs for interest), carries its fitted parameters (BG/NBD's four, the RFM
quintile edges, a Platt scaling of rule scores fitted on the validation snapshot) and is
pickled self-contained with the model (training.registry), so it loads without GroupPush.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin

from features.bgnbd import BGNBD, fit_bgnbd
from features.derived import FIT_ROWS, bgnbd_inputs

NEVER = 1e6  # "days since": a member who never bought ranks below everyone who did


def _recency(frame: pd.DataFrame, p: dict[str, Any]) -> np.ndarray:
    return -frame["recency_days"].to_numpy(dtype=float)


def _quintiles(values: np.ndarray, edges: list[float]) -> np.ndarray:
    return 1.0 + (values[:, None] > np.asarray(edges, dtype=float)[None, :]).sum(axis=1)


def _rfm(frame: pd.DataFrame, p: dict[str, Any]) -> np.ndarray:
    inputs = _rfm_inputs(frame)
    return np.sum([_quintiles(inputs[k], p[f"{k}_edges"]) for k in RFM], axis=0)


RFM = ("recency", "frequency", "monetary")


def _rfm_inputs(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    recency = -np.nan_to_num(frame["recency_days"].to_numpy(dtype=float), nan=NEVER)
    return {
        "recency": recency,
        "frequency": np.nan_to_num(frame["order_days_180d"].to_numpy(dtype=float)),
        "monetary": np.nan_to_num(frame["spend_180d"].to_numpy(dtype=float)),
    }


def _bgnbd(frame: pd.DataFrame, p: dict[str, Any]) -> np.ndarray:
    model = BGNBD(p["r"], p["alpha"], p["a"], p["b"])
    x, t_x, T = bgnbd_inputs(frame)
    return np.asarray(model.p_purchase(x, t_x, T, float(p["horizon_days"])))


def _column(name: str) -> Callable[[pd.DataFrame, dict[str, Any]], np.ndarray]:
    return lambda frame, p: frame[name].to_numpy(dtype=float)


def _most_recent(frame: pd.DataFrame, p: dict[str, Any]) -> np.ndarray:
    bought = frame["is_bought"].to_numpy(dtype=float) > 0
    return np.where(bought, -np.nan_to_num(frame["last_days"].to_numpy(dtype=float)), -NEVER)


def _push_rule(kind: str, h: int) -> Callable[[pd.DataFrame, dict[str, Any]], np.ndarray]:
    """The push rules (training.push.rule_scores) over the pair features: the member's own
    decayed purchases of the product, of its category, or product then category."""

    def score(frame: pd.DataFrame, p: dict[str, Any]) -> np.ndarray:
        prod = frame[f"p_d{h}"].to_numpy(dtype=float)
        cat = frame[f"c_d{h}"].to_numpy(dtype=float)
        return {"product": prod, "category": cat, "product_then_category": prod * 1e4 + cat}[kind]

    return score


PUSH_RULES = {
    f"{kind}_hl{h}": (_push_rule(kind, h), (f"p_d{h}", f"c_d{h}"), False)
    for h in (28, 56, 112)
    for kind in ("product", "category", "product_then_category")
}

# name -> (raw score: higher = likelier, columns read, already a probability)
SCORERS: dict[str, tuple[Callable[..., np.ndarray], tuple[str, ...], bool]] = {
    **PUSH_RULES,
    "recency_rule": (_recency, ("recency_days",), False),
    "rfm_score": (_rfm, ("recency_days", "order_days_180d", "spend_180d"), False),
    "bgnbd": (_bgnbd, ("recency_days", "order_days_total", "mean_gap_days"), True),
    "decayed_frequency": (_column("decayed_score"), ("decayed_score",), False),
    "decayed_interest": (_column("interest_score"), ("interest_score",), False),
    "most_recent": (_most_recent, ("is_bought", "last_days"), False),
    "popularity": (_column("cat_popularity"), ("cat_popularity",), False),
}


class BaselineModel(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """A named baseline scorer with fitted parameters; predict_proba like a classifier.

    Rule scores (recency, RFM, interest columns) get a Platt scaling fitted on labelled
    rows, so `repurchase_prob` and interest scores are probabilities; the ranking, hence
    AUC and NDCG, is the rule's own. BG/NBD is a probability already."""

    def __init__(self, scorer: str = "recency_rule", params: dict[str, Any] | None = None):
        self.scorer = scorer
        self.params = params

    @property
    def columns(self) -> list[str]:
        """The input columns the scorer reads (the version's `features` tag)."""
        return list(SCORERS[self.scorer][1])

    def raw(self, frame: pd.DataFrame) -> np.ndarray:
        fn = SCORERS[self.scorer][0]
        score = np.asarray(fn(frame, self.params or {}), dtype=float)
        return np.where(np.isfinite(score), score, -NEVER)

    def fit(self, X: pd.DataFrame, y: Any) -> BaselineModel:
        """Platt scaling of the raw score on (X, y) for rule scorers; nothing else to fit."""
        self.classes_ = np.array([0, 1])
        y = np.asarray(y, dtype=float)
        self.platt_ = (0.0, 0.0, 1.0, 0.0)  # (center, scale, slope, intercept)
        if SCORERS[self.scorer][2] or len(np.unique(y)) < 2:
            return self
        from sklearn.linear_model import LogisticRegression

        raw = self.raw(X)
        center, scale = float(np.median(raw)), float(np.std(raw)) or 1.0
        fit = LogisticRegression(C=1e4).fit(((raw - center) / scale)[:, None], y)
        self.platt_ = (center, scale, float(fit.coef_[0, 0]), float(fit.intercept_[0]))
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        raw = self.raw(X)
        if SCORERS[self.scorer][2]:
            p = np.clip(raw, 0.0, 1.0)
        else:
            center, scale, slope, intercept = self.platt_
            z = np.clip(slope * (raw - center) / (scale or 1.0) + intercept, -50, 50)
            p = 1.0 / (1.0 + np.exp(-z))
        return np.column_stack([1.0 - p, p])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)


def _edges(values: np.ndarray) -> list[float]:
    return [float(v) for v in np.quantile(values, [0.2, 0.4, 0.6, 0.8])] if len(values) else []


def repurchase_candidates(
    valid: pd.DataFrame,
    y: np.ndarray,
    horizon_days: int,
    seed: int = 0,
    history: pd.DataFrame | None = None,
) -> dict[str, BaselineModel]:
    """recency rule and RFM fitted on the validation snapshot's activity rows (Platt on its
    labels); BG/NBD's population parameters on HISTORY's rows (default VALID; training
    passes the held-out snapshot's: features only, no labels, the same fit as the reported
    BG/NBD baseline, which is what makes the two agree), a seeded sample of at most
    FIT_ROWS members with history."""
    x, t_x, T = bgnbd_inputs(valid if history is None else history)
    keep = np.flatnonzero(T > 0)
    if len(keep) > FIT_ROWS:
        keep = np.random.default_rng(seed).choice(keep, FIT_ROWS, replace=False)
    fitted = fit_bgnbd(x[keep], t_x[keep], T[keep]) if len(keep) else BGNBD(1, 1, 1, 1)
    rfm = {f"{k}_edges": _edges(v) for k, v in _rfm_inputs(valid).items()}
    bgnbd = {
        "r": fitted.r,
        "alpha": fitted.alpha,
        "a": fitted.a,
        "b": fitted.b,
        "horizon_days": horizon_days,
    }
    params: dict[str, dict[str, Any]] = {"recency_rule": {}, "rfm_score": rfm, "bgnbd": bgnbd}
    return {name: BaselineModel(name, p).fit(valid, y) for name, p in params.items()}


def interest_candidates(
    valid_pairs: pd.DataFrame, y: np.ndarray, half_life_days: float
) -> dict[str, BaselineModel]:
    """Pair-column baselines, Platt-scaled on the validation snapshot's candidate pairs.
    decayed_frequency is each member's own purchase days decayed with the feature
    build's half-life (the `decayed_score` pair column)."""
    params: dict[str, dict[str, Any]] = {
        "decayed_frequency": {"half_life_days": float(half_life_days)},
        "decayed_interest": {"half_life_days": float(half_life_days)},
        "most_recent": {},
        "popularity": {},
    }
    return {name: BaselineModel(name, p).fit(valid_pairs, y) for name, p in params.items()}


def push_candidates(valid_warm: pd.DataFrame, y: np.ndarray) -> dict[str, BaselineModel]:
    """The push rules as registrable models, Platt-scaled on the validation snapshot's warm
    pairs (serving scores warm pairs with the champion, cold members by the category path),
    so the best rule serves when the learned push model does not beat it."""
    return {name: BaselineModel(name, {}).fit(valid_warm, y) for name in PUSH_RULES}
