"""Replenishment readiness per user as of t: how far each bought category is into its cycle.

Repeat buying is a renewal process per user x category: the urge to rebuy is low just after a
purchase and rises as the days since it approach the category's repurchase cycle. User-level
recency and frequency (and BG/NBD on them) cannot see this; a user whose staples were all
bought last week is less likely to order soon than one whose staples are all due. For each
(user, category) bought before t:
    age = days since the last order day in the category, cycle = cat_stats cycle,
    r = age / cycle, w = the user's order days in the category in [t-180d, t),
then per user (categories without a known cycle are left out):
    readiness_sum           = sum w * min(r, READINESS_CAP)
    mean_readiness          = readiness_sum / sum w (the activity-free share of it)
    max_readiness           = max min(r, READINESS_CAP) over repeat categories (w >= 2)
    due_in_horizon          = sum w over categories due by t + H (age + H >= cycle)
    expected_orders_horizon = sum H * w / exposure * clip((age + H / 2) / cycle, 0, 1)
    days_to_next_due        = min (cycle - age) over repeat categories (< 0: overdue)
Repeat categories only for the max / min: a category bought once long ago is "overdue"
forever and would swamp them. H = features.readiness_horizon_days; exposure = the user's
observed days in the window, clipped to [MIN_EXPOSURE_DAYS, WINDOW_DAYS]. Also
    replenishment_due       = number of categories with cycle <= age < 2 * cycle
Computed with numpy from the build's (user, category, day) purchase log
(interest_inputs.py), which already holds every run's last day and 180-day count:
the same per-(user, category) GROUP BY in SQL, with a DISTINCT day count, cost ~15-30 s per
as-of date on 20M order lines; this takes ~1 s.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from configs import columns as C
from features.compute.interest_inputs import EPOCH, PurchaseDays, RunStats

WINDOW_DAYS = 180
MIN_EXPOSURE_DAYS = 30
READINESS_CAP = 2.0
READINESS_COLUMNS = (
    "readiness_sum",
    "mean_readiness",
    "max_readiness",
    "due_in_horizon",
    "expected_orders_horizon",
    "days_to_next_due",
)
DUE_COLUMN = "replenishment_due"
FIRST_DAY_KEY = "readiness_first_day"  # PurchaseDays.cache


def _per_user(values: np.ndarray, users: np.ndarray, n_users: int) -> np.ndarray:
    return np.bincount(users, weights=values, minlength=n_users)


def _extreme(values: np.ndarray, users: np.ndarray, n_users: int, ufunc: np.ufunc) -> np.ndarray:
    """ufunc.at per user over VALUES (NaN where a user has no value)."""
    fill = np.inf if ufunc is np.minimum else -np.inf
    out = np.full(n_users, fill)
    ufunc.at(out, users, values)
    out[np.isinf(out)] = np.nan
    return out


def user_readiness(
    log: PurchaseDays, stats: RunStats, as_of: date, cycles: pd.Series, horizon_days: int
) -> pd.DataFrame:
    """READINESS_COLUMNS + DUE_COLUMN per user id with an order before AS_OF (STATS' date).

    CYCLES: repurchase cycle in days by category id (cat_stats); missing / <= 0 -> left out.
    Users whose categories all lack a cycle get NaN readiness (as a SQL LEFT JOIN would).
    """
    frame, ordered = readiness_by_position(log, stats, as_of, cycles, horizon_days)
    frame.index = pd.Index(log.users.to_numpy(zero_copy_only=False), name=C.USER_ID)
    return frame[ordered]


def _user_first_days(log: PurchaseDays) -> np.ndarray:
    """Each user's first order day in LOG (float), computed once per build (log.cache): at
    any t it is the minimum over the user's runs with a day before t (a run outside those
    starts on or after t, after a run inside), and the user has an order before t iff < t."""
    if FIRST_DAY_KEY not in log.cache:
        first_day = log.day[log.run_start].astype(float)
        log.cache[FIRST_DAY_KEY] = _extreme(first_day, log.run_user, len(log.users), np.minimum)
    first: np.ndarray = log.cache[FIRST_DAY_KEY]
    return first


def readiness_by_position(
    log: PurchaseDays, stats: RunStats, as_of: date, cycles: pd.Series, horizon_days: int
) -> tuple[pd.DataFrame, np.ndarray]:
    """user_readiness for every user of LOG by position (row i: log.users[i]), and the mask
    of the users with an order before AS_OF (the rows user_readiness keeps).

    Only the runs of categories with a known cycle are gathered (the users' first days are
    per build): the same values as masking every run's arrays, ~2x less time per date."""
    h = float(horizon_days)
    n_users = len(log.users)
    t = float((as_of - EPOCH).days)
    user_first = _user_first_days(log)
    cycle_of = cycles.reindex(pd.Index(log.categories)).to_numpy(dtype=float)
    all_runs = len(stats.runs) == len(log.run_start)  # usually: no gathers by run
    run_cat = log.run_cat if all_runs else log.run_cat[stats.runs]
    with np.errstate(invalid="ignore"):
        known_cat = np.isfinite(cycle_of) & (cycle_of > 0)
    known = known_cat[run_cat]
    if known.all():
        u = log.run_user if all_runs else log.run_user[stats.runs]
        age, w, cat = stats.last_days, stats.counts_180d, run_cat
    else:
        keep = np.flatnonzero(known)
        u = log.run_user[keep] if all_runs else log.run_user[stats.runs[keep]]
        age, w, cat = stats.last_days[keep], stats.counts_180d[keep], run_cat[keep]
    cycle = cycle_of[cat]
    exposure = np.clip(t - user_first[u], MIN_EXPOSURE_DAYS, WINDOW_DAYS)
    r = np.minimum(age / cycle, READINESS_CAP)
    repeat = w >= 2
    readiness_sum = _per_user(w * r, u, n_users)
    weight = _per_user(w, u, n_users)
    progress = np.clip((age + h / 2) / cycle, 0.0, 1.0)
    columns = {
        "readiness_sum": readiness_sum,
        "mean_readiness": np.divide(
            readiness_sum, weight, out=np.full(n_users, np.nan), where=weight > 0
        ),
        "max_readiness": _extreme(r[repeat], u[repeat], n_users, np.maximum),
        "due_in_horizon": _per_user(np.where(age + h >= cycle, w, 0.0), u, n_users),
        "expected_orders_horizon": _per_user(h * w / exposure * progress, u, n_users),
        "days_to_next_due": _extreme((cycle - age)[repeat], u[repeat], n_users, np.minimum),
    }
    no_cycle = np.bincount(u, minlength=n_users) == 0
    for name, values in columns.items():  # (bincount of no values is int64)
        columns[name] = values = values.astype(float, copy=False)
        values[no_cycle] = np.nan
    in_cycle = (age >= cycle) & (age < 2 * cycle)
    columns[DUE_COLUMN] = np.bincount(u[in_cycle], minlength=n_users).astype(np.int64)
    return pd.DataFrame(columns), user_first < t
