"""Reference copies of compute_renewal's scoring as it was before the day-table rewrite (HEAD
5323e69: softplus evaluated on every row), for tests/features/compute/test_renewal_fast_paths.py:
the current code must produce the same scores to 1e-12. Not used by the package."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.compute.compute_renewal import (  # unchanged helpers
    ALPHAS,
    CENTERS,
    FIT_USERS,
    PRIOR_STOP,
    RECENT_DAYS,
    RECENT_PRIOR,
    RENEWAL_COLUMNS,
    STEEPNESS,
    PairHistory,
    _prior_rate,
    ramp_integral,
    softplus,
)


def _pairs(h: PairHistory) -> tuple[np.ndarray, np.ndarray]:
    """(start index of each pair, pair id per row)."""
    new = np.ones(h.user.size, dtype=bool)
    new[1:] = (h.user[1:] != h.user[:-1]) | (h.cat[1:] != h.cat[:-1])
    starts = np.flatnonzero(new)
    pid = np.cumsum(new, dtype=np.int32)  # int32: half the memory of the default int64
    pid -= 1
    return starts, pid


@dataclass(frozen=True)
class _Stretches:
    """Per row of a PairHistory: the stretch from its purchase to the next one in the pair (or
    to t for the pair's last), and the ramp integral over it (shared by the exposure and the
    recent-pace check: the integral is the costly part, so it is computed once)."""

    cyc: np.ndarray  # the row's category cycle
    same: np.ndarray  # the next row is in the same pair
    gap: np.ndarray  # days to the next purchase in the pair (0 for the pair's last)
    span: np.ndarray  # gap, or the censored age for the pair's last
    ramp: np.ndarray  # ramp_integral(span)


def _stretches(h: PairHistory, pid: np.ndarray, center: float) -> _Stretches:
    cyc = h.cycle[h.cat]
    same = np.zeros(h.age.size, dtype=bool)
    same[:-1] = pid[1:] == pid[:-1]
    gap = np.where(same, h.age - np.roll(h.age, -1), 0).astype(float)  # days to the next purchase
    span = np.where(same, gap, h.age.astype(float))  # the censored stretch up to t for the last
    return _Stretches(cyc, same, gap, span, ramp_integral(span, cyc, center))


def _events_exposure(
    h: PairHistory,
    starts: np.ndarray,
    pid: np.ndarray,
    center: float,
    st: _Stretches | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per pair: purchases n, exposure E (ramp-weighted days), sum log g at the repeats.

    Before the first purchase in the category the age is unknown: those days count in full.
    ST: _stretches(h, pid, center) when the caller has it."""
    st = st or _stretches(h, pid, center)
    expo = np.add.reduceat(st.ramp, starts)
    expo += np.maximum(h.start[h.user[starts]] - h.age[starts], 0.0)
    x = st.gap / st.cyc
    logg = np.where(st.same, -softplus(-STEEPNESS * (x - center)), 0.0)
    n = np.diff(np.r_[starts, h.age.size]).astype(float)
    return n, expo, np.add.reduceat(logg, starts)


def _recent_expected(
    h: PairHistory,
    starts: np.ndarray,
    pid: np.ndarray,
    center: float,
    lam: np.ndarray,
    st: _Stretches | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Per pair: purchases in the last RECENT_DAYS before t and the model's expected count there
    (each inter-purchase stretch integrated over its part inside the window).

    A stretch wholly before the window contributes ramp(span) - ramp(span) = 0 and one wholly
    inside it ramp(span) - ramp(0) = ramp(span) (both exact in floating point), so the second
    integral is evaluated only for the stretches the window boundary cuts."""
    st = st or _stretches(h, pid, center)
    age = h.age.astype(float)
    lo = age - RECENT_DAYS  # days after the purchase; in place: it runs beside the user SQL
    np.maximum(lo, 0.0, out=lo)
    np.minimum(lo, st.span, out=lo)
    part = np.where(lo >= st.span, 0.0, st.ramp)
    cut = np.flatnonzero((lo > 0.0) & (lo < st.span))
    part[cut] = st.ramp[cut] - ramp_integral(lo[cut], st.cyc[cut], center)
    del lo
    first = age[starts]
    pre = np.maximum(np.minimum(h.start[h.user[starts]], RECENT_DAYS) - first, 0.0)
    expected = lam * (np.add.reduceat(part, starts) + pre)
    got = np.add.reduceat((age <= RECENT_DAYS).astype(float), starts)
    return got, expected


def fit_renewal(h: PairHistory, seed: int = 0) -> tuple[float, float]:
    """(ramp centre, prior strength) maximising the gamma-Poisson marginal likelihood."""
    best, best_ll = (CENTERS[2], ALPHAS[2]), -np.inf
    for ll, (center, alpha) in zip(
        fit_grid(h, seed).ravel(), [(c, a) for c in CENTERS for a in ALPHAS], strict=True
    ):
        if ll > best_ll:
            best, best_ll = (center, alpha), ll
    return best


def fit_grid(h: PairHistory, seed: int = 0) -> np.ndarray:
    """fit_renewal's log-likelihood per (CENTERS, ALPHAS) candidate (its loop, storing ll)."""
    from scipy.special import gammaln

    n_users = int(h.user.max()) + 1
    if n_users > FIT_USERS:
        keep = np.zeros(n_users, dtype=bool)
        keep[np.random.default_rng(seed).choice(n_users, FIT_USERS, replace=False)] = True
        mask = keep[h.user]
        h = PairHistory(h.user[mask], h.cat[mask], h.age[mask], h.cycle, h.start)
    starts, pid = _pairs(h)
    pair_cat, pair_user = h.cat[starts], h.user[starts]
    grid = []
    for center in CENTERS:
        n, expo, logg = _events_exposure(h, starts, pid, center)
        lam0 = _prior_rate(n, expo, pair_cat, pair_user, h.cycle.size)
        for alpha in ALPHAS:
            beta = alpha / lam0
            ll = (
                gammaln(alpha + n)
                - gammaln(alpha)
                + alpha * np.log(beta / (beta + expo))
                - n * np.log(beta + expo)
                + logg
            ).sum()
            grid.append(ll)
    return np.reshape(grid, (len(CENTERS), len(ALPHAS)))


def renewal_scores(h: PairHistory, horizon_days: int, n_users: int, seed: int = 0) -> pd.DataFrame:
    """RENEWAL_COLUMNS for user indices 0..n_users-1 (NaN for users without a usable pair)."""
    row_cycle = h.cycle[h.cat]
    known = np.isfinite(row_cycle) & (row_cycle > 0)
    h = PairHistory(h.user[known], h.cat[known], h.age[known], h.cycle, h.start)
    out = pd.DataFrame(np.nan, index=np.arange(n_users), columns=list(RENEWAL_COLUMNS))
    if h.user.size == 0:
        return out
    center, alpha = fit_renewal(h, seed)
    starts, pid = _pairs(h)
    st = _stretches(h, pid, center)
    n, expo, _ = _events_exposure(h, starts, pid, center, st)
    pair_cat, pair_user = h.cat[starts], h.user[starts]
    lam0 = _prior_rate(n, expo, pair_cat, pair_user, h.cycle.size)
    lam = (alpha + n) / (alpha / lam0 + expo)
    ends = np.r_[starts[1:], h.age.size] - 1
    age = h.age[ends].astype(float)  # days since the last purchase in the category
    cyc = h.cycle[pair_cat]
    ramp_age = ramp_integral(age, cyc, center)
    due = lam * (ramp_integral(age + horizon_days, cyc, center) - ramp_age)
    recency = np.full(n_users, np.inf)
    np.minimum.at(recency, pair_user, age)
    quiet = age - recency[pair_user]  # age of the category at the user's last order
    silent = lam * (ramp_age - ramp_integral(quiet, cyc, center))
    seen = np.bincount(pair_user, minlength=n_users) > 0
    exp_h = np.bincount(pair_user, due, n_users)
    s = np.bincount(pair_user, silent, n_users)
    p_cat = -np.expm1(-due)
    max_p = np.zeros(n_users)
    np.maximum.at(max_p, pair_user, p_cat)
    p_order = -np.expm1(-exp_h)
    with np.errstate(divide="ignore", invalid="ignore"):
        stopped = np.where(s > 1e-9, -np.expm1(-s) / s, 1.0)  # mean of exp(-S u), u ~ U(0, 1)
    alive = (1 - PRIOR_STOP) * np.exp(-s)
    p_alive = alive / (alive + PRIOR_STOP * stopped)
    got, expected = _recent_expected(h, starts, pid, center, lam, st)
    del st
    ratio = (np.bincount(pair_user, got, n_users) + RECENT_PRIOR) / (
        np.bincount(pair_user, expected, n_users) + RECENT_PRIOR
    )
    values = np.column_stack(
        [exp_h, p_order, max_p, s, p_alive, p_order * p_alive, ratio, exp_h * ratio]
    )
    out.loc[seen, :] = values[seen]
    return out
