"""The purchase hazard: latent category preferences, the recency ramp, and base-rate calibration.

Daily rate of user u buying category c on day d:
    rate = base * activity(u) * (n_cat * pref(u, c)) ** PREF_POWER * day_mult(u, d) * g(gap / cycle)
with g a smooth ramp that is ~0 just after a purchase and ~1 once a cycle has passed; the daily
probability is 1 - exp(-rate). `base` is solved so the expected order lines per user-year hit
settings.simulate.lines_per_user_year.
"""

from __future__ import annotations

import numpy as np

from features.simulator.sim_catalog import Catalog

PREF_POWER = 1.3
RAMP_CENTER = 0.75  # g(x) = 0.5 at gap = 0.75 cycle, ~0.92 at one cycle
RAMP_STEEPNESS = 10.0
DEPT_CONCENTRATION = 0.8
CAT_CONCENTRATION = 0.6


def ramp(x: np.ndarray) -> np.ndarray:
    """g(gap / cycle): the urge to rebuy rises smoothly and saturates around one cycle."""
    steep, center = np.asarray(RAMP_STEEPNESS, x.dtype), np.asarray(RAMP_CENTER, x.dtype)
    return 1.0 / (1.0 + np.exp(-steep * (x - center)))


def identity_tilt(catalog: Catalog, rng: np.random.Generator, n_identities: int) -> np.ndarray:
    """(n_identities, n_dept) multipliers: shop owners stock up on different departments."""
    n_dept = int(catalog.cat_dept.max()) + 1
    tilt = rng.lognormal(0.0, 0.8, (n_identities, n_dept))
    tilt[0] = 1.0
    return tilt


def preferences(
    catalog: Catalog, identity: np.ndarray, tilt: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """(n_users, n_cat) Dirichlet over departments, then over categories within each."""
    n = identity.size
    n_dept = tilt.shape[1]
    dept = rng.gamma(DEPT_CONCENTRATION * tilt[identity], 1.0, (n, n_dept))
    dept /= dept.sum(axis=1, keepdims=True)
    cat = rng.gamma(
        CAT_CONCENTRATION * catalog.cat_popularity[None, :], 1.0, (n, catalog.n_categories)
    )
    cat = cat.reshape(n, n_dept, -1)
    cat /= np.maximum(cat.sum(axis=2, keepdims=True), 1e-300)
    return (dept[:, :, None] * cat).reshape(n, -1)


def top_slots(pref: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k preferred categories per user (sparse state) and their preference, best first."""
    k = min(k, pref.shape[1])
    slot_cat = np.argsort(-pref, axis=1, kind="stable")[:, :k]
    return slot_cat, np.take_along_axis(pref, slot_cat, axis=1)


def relative_rate(activity: np.ndarray, slot_pref: np.ndarray, n_cat: int) -> np.ndarray:
    """Rate before the base constant, day multiplier and recency ramp."""
    return activity[:, None] * (n_cat * slot_pref) ** PREF_POWER


def _gap_table(cycles: np.ndarray, h_grid: np.ndarray, t_max: int) -> np.ndarray:
    """E[days between purchases] for each cycle x saturated daily rate, by summing survival."""
    t = np.arange(1, t_max + 1)
    cum = np.cumsum(ramp(t[None, :] / cycles[:, None]), axis=1)  # (n_cycle, t_max)
    out = np.empty((cycles.size, h_grid.size))
    for j, h in enumerate(h_grid):
        out[:, j] = 1.0 + np.exp(-h * cum).sum(axis=1)
    return out


def calibrate_base(
    target: float,
    catalog: Catalog,
    rel_rate: np.ndarray,
    slot_cat: np.ndarray,
    mean_mult: np.ndarray,
    active_days: np.ndarray,
) -> float:
    """Solve base so a sample of users is expected to buy `target` lines each in the period.

    A renewal process buys once per expected gap E[T](rate, cycle); E[T] is tabulated on a log
    grid of rates and interpolated, then base is found by bisection in log space.
    """
    cycles, inverse = np.unique(catalog.cat_cycle, return_inverse=True)
    log_grid = np.linspace(np.log(1e-4), np.log(20.0), 60)
    table = _gap_table(cycles, np.exp(log_grid), t_max=1100)
    cyc_idx = inverse[slot_cat]
    eff = rel_rate * mean_mult[:, None]
    step = log_grid[1] - log_grid[0]
    years = np.maximum(active_days, 0) / 365.0

    def lines(log_base: float) -> float:
        pos = np.clip(
            (np.log(np.maximum(eff, 1e-300)) + log_base - log_grid[0]) / step, 0, 59 - 1e-9
        )
        i = pos.astype(np.int64)
        w = pos - i
        gap = table[cyc_idx, i] * (1 - w) + table[cyc_idx, i + 1] * w
        return float((years[:, None] * 365.0 / gap).sum(axis=1).mean())

    lo, hi = np.log(1e-6), np.log(50.0)
    for _ in range(50):
        mid = 0.5 * (lo + hi)
        if lines(mid) < target:
            lo = mid
        else:
            hi = mid
    return float(np.exp(0.5 * (lo + hi)))
