"""BG/NBD (Fader, Hardie & Lee 2005) by hand: the classic "buy till you die" repurchase baseline.

Each customer buys as a Poisson process (rate ~ Gamma(r, alpha)) and may drop out after each
purchase with probability p ~ Beta(a, b). Fitted by maximum likelihood on (frequency x =
repeat purchase days, recency t_x = first -> last purchase, T = first purchase -> snapshot).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import betaln, gammaln

from configs import columns as C


@dataclass(frozen=True)
class BGNBD:
    r: float
    alpha: float
    a: float
    b: float

    def p_alive(self, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
        """P(still active | history); 1 for customers without a repeat purchase."""
        x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
        log_ratio = (self.r + x) * (np.log(self.alpha + T) - np.log(self.alpha + t_x))
        odds = np.where(x > 0, self.a / (self.b + np.maximum(x, 1.0) - 1.0) * np.exp(log_ratio), 0)
        return 1.0 / (1.0 + odds)

    def p_purchase(self, x: np.ndarray, t_x: np.ndarray, T: np.ndarray, t: float) -> np.ndarray:
        """P(at least one purchase in the next t days | history).

        Alive customers' rate has posterior Gamma(r + x, alpha + T); dropout only follows a
        purchase, so "no purchase in t" for an alive customer is the Gamma-Poisson zero term.
        """
        x, T = np.asarray(x, dtype=float), np.asarray(T, dtype=float)
        none = np.exp((self.r + x) * (np.log(self.alpha + T) - np.log(self.alpha + T + t)))
        return self.p_alive(x, t_x, T) * (1.0 - none)


def log_likelihood(params: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
    """Per-customer log-likelihood (equation 6 of the paper), computed in log space."""
    x = np.asarray(x, dtype=float)
    levels, inverse = np.unique(x, return_inverse=True)
    return _log_likelihood(params, levels, inverse.reshape(x.shape), x, t_x, T)


def _log_likelihood(
    params: np.ndarray,
    levels: np.ndarray,
    inverse: np.ndarray,
    x: np.ndarray,
    t_x: np.ndarray,
    T: np.ndarray,
) -> np.ndarray:
    """log_likelihood with x = LEVELS[INVERSE]: the gamma / beta terms depend on x alone and
    are evaluated once per distinct x (a few hundred repeat counts among ~10^5 customers;
    they were ~75% of a population fit), then gathered. Every element is computed by the
    same operations on the same values as before, so the result is bit-identical."""
    r, alpha, a, b = params
    base = (gammaln(r + levels) - gammaln(r) + r * np.log(alpha))[inverse]
    beta_ab = betaln(a, b)
    term1 = (betaln(a, b + levels) - beta_ab)[inverse] - (r + x) * np.log(alpha + T)
    drop = (betaln(a + 1, b + np.maximum(levels, 1.0) - 1) - beta_ab)[inverse]
    with np.errstate(divide="ignore", invalid="ignore"):
        term2 = np.where(x > 0, drop - (r + x) * np.log(alpha + t_x), -np.inf)
    return base + np.logaddexp(term1, term2)


def fit_bgnbd(x: np.ndarray, t_x: np.ndarray, T: np.ndarray, penalizer: float = 0.0) -> BGNBD:
    """Maximum likelihood over log-parameters (keeps them positive) with L-BFGS-B."""
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    if len(x) == 0:
        raise ValueError("BG/NBD needs at least one customer")
    # Identical (x, t_x, T) rows share a likelihood: weight unique rows (days are integers).
    keys = pd.DataFrame({"x": x, "t_x": t_x, "T": T}).value_counts().reset_index(name="w")
    ux, ut, uT, w = (keys[c].to_numpy(dtype=float) for c in ("x", "t_x", "T", "w"))
    return fit_weighted(ux, ut, uT, w, max(float(np.mean(T)), 1.0), penalizer)


def fit_weighted(
    ux: np.ndarray,
    ut: np.ndarray,
    uT: np.ndarray,
    w: np.ndarray,
    scale: float,
    penalizer: float = 0.0,
) -> BGNBD:
    """fit_bgnbd over unique (x, t_x, T) rows weighted by their customers W; SCALE: the
    start of alpha (the mean T). From summed counts the fit needs no row of its customers."""
    levels, inverse = np.unique(ux, return_inverse=True)

    def objective(log_params: np.ndarray) -> float:
        params = np.exp(log_params)
        ll = _log_likelihood(params, levels, inverse, ux, ut, uT)
        return float(-(w * ll).sum() / w.sum() + penalizer * (params**2).sum())

    start = np.log([1.0, scale, 1.0, 1.0])
    res = minimize(objective, start, method="L-BFGS-B", bounds=[(-10.0, 10.0)] * 4)
    r, alpha, a, b = np.exp(res.x)
    return BGNBD(float(r), float(alpha), float(a), float(b))


def rfm_summary(orders: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Per user (frequency, recency, T) in days from distinct order days strictly before as_of."""
    before = orders.loc[orders[C.ORDERED_AT] < as_of, [C.USER_ID, C.ORDERED_AT]]
    age = (as_of - before[C.ORDERED_AT].dt.floor("D")).dt.days
    per_day = pd.DataFrame({C.USER_ID: before[C.USER_ID], "age": age}).drop_duplicates()
    agg = per_day.groupby(C.USER_ID)["age"].agg(["min", "max", "count"])
    out = pd.DataFrame(index=agg.index)
    out["frequency"] = (agg["count"] - 1).astype(float)
    out["recency"] = (agg["max"] - agg["min"]).astype(float)
    out["T"] = agg["max"].astype(float)
    return out
