"""Per-category renewal hazard as of t: how likely each bought category is rebought in the horizon.

Repeat buying of one category by one user is a renewal process: right after a purchase the
urge to rebuy is ~0, it ramps up as the days since it approach the category's repurchase cycle
and then stays flat. Model, per (user u, category c) bought before t:
    hazard(a) = lam_uc * g(a / cycle_c),   g(x) = 1 / (1 + exp(-K (x - m)))
with a the days since the last purchase in c. lam_uc is the user's own rate in c, shrunk toward
the category's pooled rate with a gamma prior (repeat purchases n over ramp-weighted exposure E:
lam = (alpha + n) / (alpha / lam0_c + E)); the ramp centre m and the prior strength alpha are
fitted on the population as of t (grid search of the gamma-Poisson marginal likelihood), so the
feature adapts to real logs instead of assuming the catalog's cycle is exact. The integral of g
is a softplus, so exposures and horizon hazards are closed-form.

Per user (users with an order before t; categories without a cycle are left out):
    renewal_expected_horizon  expected category purchases in [t, t + H), sum_c Lam_c
    renewal_p_order           1 - exp(-sum_c Lam_c): P(>= 1 order in the horizon) if still active
    renewal_max_p_category    max_c 1 - exp(-Lam_c): the most due category
    renewal_silence_expected  expected category purchases since the user's last order if active
                              (large: the silence is evidence the user stopped buying)
    renewal_p_alive           P(still active | silence): active => no purchase w.p. exp(-S);
                              stopped at a uniform time in the silence => mean of exp(-S u)
    renewal_p_order_alive     renewal_p_order * renewal_p_alive
    renewal_recent_ratio      purchases in the last RECENT_DAYS / the model's expectation there
                              (shrunk toward 1): a group or user slowing down shows here first
    renewal_expected_recent   renewal_expected_horizon * renewal_recent_ratio
H = features.readiness_horizon_days. Reads only orders before t (the build's purchase log,
interest_inputs.py), `users` and the `cat_stats` cycles.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import duckdb
import numpy as np
import pandas as pd

from configs import columns as C
from features.compute.interest_inputs import EPOCH, PurchaseDays
from features.compute.user_sample import hash_units, in_sample

RENEWAL_COLUMNS = (
    "renewal_expected_horizon",
    "renewal_p_order",
    "renewal_max_p_category",
    "renewal_silence_expected",
    "renewal_p_alive",
    "renewal_p_order_alive",
    "renewal_recent_ratio",
    "renewal_expected_recent",
)
STEEPNESS = 10.0  # ramp width ~ a fifth of a cycle
CENTERS = (0.25, 0.5, 0.75, 1.0, 1.25)  # candidate ramp centres, in cycles
ALPHAS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0)  # candidate gamma prior strengths (pseudo-events)
FIT_USERS = 20_000  # users sampled for the centre/prior fit (by id hash; 20k gave the 50k fit)
USER_PRIOR_EVENTS = 2.0  # pseudo-purchases shrinking the user's activity factor toward 1
PRIOR_STOP = 0.2  # prior share of users that stopped buying during a long silence
RECENT_DAYS = 60  # window of the recent-pace check
RECENT_PRIOR = 1.0  # pseudo-purchases shrinking the recent pace toward the long-run one


@dataclass(frozen=True)
class PairHistory:
    """Distinct order days per (user, category), sorted by pair then day.

    user: (n,) user index; cat: (n,) category index; age: (n,) days from the order day to t
    (>= 1); cycle: (n_cat,) repurchase cycle in days (NaN: unknown); start: (n_users,) days
    from the user's observable start (registration, else the first order; never before the
    log's first day) to t; unit: (n_users,) the user id's hash in [0, 1) (user_sample.py),
    which picks the fit sample (None: a seeded sample by user index, one process only)."""

    user: np.ndarray
    cat: np.ndarray
    age: np.ndarray
    cycle: np.ndarray
    start: np.ndarray
    unit: np.ndarray | None = None

    def rows(self, mask: np.ndarray) -> PairHistory:
        """The rows where MASK holds (the per-user arrays stay)."""
        return PairHistory(
            self.user[mask], self.cat[mask], self.age[mask], self.cycle, self.start, self.unit
        )


def softplus(z: np.ndarray) -> np.ndarray:
    """log(1 + e^z) = np.logaddexp(0, z) to within an ulp, in under half its time (numpy's
    exp / log1p loops are vectorised, logaddexp's is not; it was the renewal features' main
    cost on 20M order lines)."""
    z = np.asarray(z, dtype=float)
    out = np.exp(-np.abs(z), out=np.empty_like(z))
    np.log1p(out, out=out)
    out += np.maximum(z, 0.0)
    return out


def ramp_integral(a: np.ndarray, cycle: np.ndarray, center: float) -> np.ndarray:
    """Integral of g(s / cycle) over s in [0, a] (days): cycle / K * softplus difference."""
    k = STEEPNESS
    return cycle / k * (softplus(k * (a / cycle - center)) - softplus(np.asarray(-k * center)))


class _DayTable:
    """A function of (category, whole days) tabulated once per centre: the per-row integrals
    take whole-day arguments (ages, gaps, the horizon) and ~500 categories, so a lookup
    replaces ~20M softplus evaluations with the very same float operations on ~400k
    (category, day) points."""

    def __init__(self, values: np.ndarray) -> None:
        self.width = values.shape[1]
        self.flat = values.ravel()
        self.dtype = np.dtype(np.int32 if self.flat.size < 2**31 else np.int64)

    def base(self, cat: np.ndarray) -> np.ndarray:
        """Offsets of CAT's rows (add the days, then `at`)."""
        base = cat.astype(self.dtype)
        base *= self.width
        return base

    def at(self, base: np.ndarray, days: np.ndarray) -> np.ndarray:
        return self.flat.take(base + days)


def _days(width: int) -> np.ndarray:
    return np.arange(width, dtype=float)[None, :]


def _ramp_table(cycle: np.ndarray, center: float, width: int) -> _DayTable:
    """ramp_integral(a, cycle_c, center) for a = 0 .. width - 1 (rows of unknown cycles: 1)."""
    cyc = np.where(np.isfinite(cycle) & (cycle > 0), cycle, 1.0)[:, None]
    return _DayTable(ramp_integral(_days(width), cyc, center))


def _log_ramp_table(cycle: np.ndarray, center: float, width: int) -> _DayTable:
    """log g(gap / cycle_c) = -softplus(-K (gap / cycle_c - m)) for gap = 0 .. width - 1."""
    cyc = np.where(np.isfinite(cycle) & (cycle > 0), cycle, 1.0)[:, None]
    return _DayTable(-softplus(-STEEPNESS * (_days(width) / cyc - center)))


def _pairs(h: PairHistory) -> tuple[np.ndarray, np.ndarray]:
    """(start index of each pair, per row: the next row is in the same pair)."""
    same = np.empty(h.user.size, dtype=bool)
    np.equal(h.user[1:], h.user[:-1], out=same[:-1])
    same[:-1] &= h.cat[1:] == h.cat[:-1]
    same[-1:] = False
    new = np.empty_like(same)
    new[:1] = True
    np.logical_not(same[:-1], out=new[1:])
    return np.flatnonzero(new), same


def _spans(age: np.ndarray, same: np.ndarray) -> np.ndarray:
    """Whole days per row from its purchase to the next one in the pair, or to t (its age)
    for the pair's last."""
    span = age.copy()
    span[:-1] -= age[1:] * same[:-1]
    return span


@dataclass(frozen=True)
class _Stretches:
    """Per row of a PairHistory: the stretch from its purchase to the next one in the pair (or
    to t for the pair's last), and the ramp integral over it (shared by the exposure and the
    recent-pace check)."""

    base: np.ndarray  # the row's offset in the day tables (its category)
    same: np.ndarray  # the next row is in the same pair
    span: np.ndarray  # whole days to the next purchase, or the censored age for the pair's last
    ramp: np.ndarray  # ramp_integral(span)


def _stretches(h: PairHistory, same: np.ndarray, ramp: _DayTable) -> _Stretches:
    base = ramp.base(h.cat)
    span = _spans(h.age, same)
    return _Stretches(base, same, span, ramp.at(base, span))


def _exposure(h: PairHistory, starts: np.ndarray, ramp: np.ndarray) -> np.ndarray:
    """Per pair: exposure E (ramp-weighted days). Before the first purchase in the category
    the age is unknown: those days count in full."""
    expo = np.add.reduceat(ramp, starts)
    expo += np.maximum(h.start[h.user[starts]] - h.age[starts], 0.0)
    return expo


def _events_exposure(
    h: PairHistory,
    starts: np.ndarray,
    same: np.ndarray,
    center: float,
    span: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per pair: purchases n, exposure E (_exposure), sum log g at the repeats.
    SPAN: _spans(h.age, same) when the caller has it (for `same` rows it is the gap)."""
    span = _spans(h.age, same) if span is None else span
    width = int(h.age.max()) + 1
    ramp = _ramp_table(h.cycle, center, width)
    base = ramp.base(h.cat)
    expo = _exposure(h, starts, ramp.at(base, span))
    logg = np.where(same, _log_ramp_table(h.cycle, center, width).at(base, span), 0.0)
    return _counts(starts, h.age.size), expo, np.add.reduceat(logg, starts)


def _counts(starts: np.ndarray, size: int) -> np.ndarray:
    """Purchases n per pair."""
    return np.diff(np.r_[starts, size]).astype(float)


def category_totals(
    n: np.ndarray, expo: np.ndarray, pair_cat: np.ndarray, n_cat: int
) -> np.ndarray:
    """(2, n_cat): purchases and exposure per category. Sums over users: a Spark partition's
    totals add up to the population's (compute/spark_activity.py)."""
    return np.stack([np.bincount(pair_cat, n, n_cat), np.bincount(pair_cat, expo, n_cat)])


def _prior_rate(
    n: np.ndarray,
    expo: np.ndarray,
    pair_cat: np.ndarray,
    pair_user: np.ndarray,
    n_cat: int,
    totals: np.ndarray | None = None,
) -> np.ndarray:
    """Prior rate per pair: the category's pooled rate (purchases per exposure day) times the
    user's activity factor (their purchases over those expected at the category rates, shrunk
    toward 1 with USER_PRIOR_EVENTS pseudo-purchases): an active user is active everywhere.
    TOTALS: the population's category_totals (default: these pairs')."""
    ev, ex = category_totals(n, expo, pair_cat, n_cat) if totals is None else totals
    pooled = (ev.sum() + 1.0) / (ex.sum() + 1.0)
    lam_cat = np.maximum(np.where(ex > 0, (ev + pooled) / (ex + 1.0), pooled), 1e-6)[pair_cat]
    n_users = int(pair_user.max()) + 1
    got = np.bincount(pair_user, n, n_users)
    expected = np.bincount(pair_user, lam_cat * expo, n_users)
    factor = (got + USER_PRIOR_EVENTS) / (expected + USER_PRIOR_EVENTS)
    return lam_cat * factor[pair_user]


def _recent_expected(
    h: PairHistory,
    starts: np.ndarray,
    lam: np.ndarray,
    st: _Stretches,
    ramp: _DayTable,
) -> tuple[np.ndarray, np.ndarray]:
    """Per pair: purchases in the last RECENT_DAYS before t and the model's expected count there
    (each inter-purchase stretch integrated over its part inside the window).

    A stretch wholly before the window contributes ramp(span) - ramp(span) = 0 and one wholly
    inside it ramp(span) - ramp(0) = ramp(span) (both exact in floating point), so the second
    integral is looked up only for the stretches the window boundary cuts."""
    lo = h.age - RECENT_DAYS  # whole days after the purchase
    np.maximum(lo, 0, out=lo)
    np.minimum(lo, st.span, out=lo)
    part = np.where(lo >= st.span, 0.0, st.ramp)
    cut = np.flatnonzero((lo > 0) & (lo < st.span))
    part[cut] = st.ramp[cut] - ramp.at(st.base[cut], lo[cut])
    del lo
    first = h.age[starts]
    pre = np.maximum(np.minimum(h.start[h.user[starts]], RECENT_DAYS) - first, 0.0)
    expected = lam * (np.add.reduceat(part, starts) + pre)
    got = np.add.reduceat((h.age <= RECENT_DAYS).astype(float), starts)
    return got, expected


def _fit_sample(h: PairHistory, seed: int, population: int | None) -> PairHistory:
    """The pairs of the users in the centre/prior fit: about FIT_USERS of the POPULATION
    users with a pair, picked by their id's hash (the same users in every engine and
    partition); without hashes (h.unit None) a seeded sample of FIT_USERS user indices."""
    if h.unit is not None:
        population = int(np.unique(h.user).size) if population is None else population
        keep = in_sample(h.unit, population, FIT_USERS)
        return h if keep.all() else h.rows(keep[h.user])
    n_users = int(h.user.max()) + 1
    if n_users <= FIT_USERS:
        return h
    keep = np.zeros(n_users, dtype=bool)
    keep[np.random.default_rng(seed).choice(n_users, FIT_USERS, replace=False)] = True
    return h.rows(keep[h.user])


def _centre_totals(h: PairHistory) -> np.ndarray:
    """(len(CENTERS), 2, n_cat): H's category_totals per candidate centre."""
    out = np.zeros((len(CENTERS), 2, h.cycle.size))
    if h.user.size == 0:
        return out
    starts, same = _pairs(h)
    span = _spans(h.age, same)
    for i, center in enumerate(CENTERS):
        n, expo, _ = _events_exposure(h, starts, same, center, span)
        out[i] = category_totals(n, expo, h.cat[starts], h.cycle.size)
    return out


def fit_totals(h: PairHistory, seed: int = 0, population: int | None = None) -> np.ndarray:
    """The fit sample's totals per centre (summable over user partitions)."""
    return _centre_totals(_fit_sample(h, seed, population))


def fit_grid(
    h: PairHistory, seed: int, totals: np.ndarray | None = None, population: int | None = None
) -> np.ndarray:
    """Gamma-Poisson marginal log-likelihood per (CENTERS, ALPHAS) candidate over the fit
    sample (_fit_sample). TOTALS: the whole sample's fit_totals when H holds only a part of
    it (the log-likelihoods of user partitions then add up)."""
    from scipy.special import gammaln

    h = _fit_sample(h, seed, population)
    ll = np.zeros((len(CENTERS), len(ALPHAS)))
    if h.user.size == 0:
        return ll
    starts, same = _pairs(h)
    pair_cat, pair_user = h.cat[starts], h.user[starts]
    span = _spans(h.age, same)
    n = _counts(starts, h.age.size)
    terms = [gammaln(alpha + n) - gammaln(alpha) for alpha in ALPHAS]  # centre-free
    for i, center in enumerate(CENTERS):
        n, expo, logg = _events_exposure(h, starts, same, center, span)
        lam0 = _prior_rate(
            n, expo, pair_cat, pair_user, h.cycle.size, None if totals is None else totals[i]
        )
        for j, alpha in enumerate(ALPHAS):
            beta = alpha / lam0
            ll[i, j] = (
                terms[j] + alpha * np.log(beta / (beta + expo)) - n * np.log(beta + expo) + logg
            ).sum()
    return ll


def best_fit(ll: np.ndarray) -> tuple[float, float]:
    """(ramp centre, prior strength) of the largest log-likelihood (the first of equals in
    grid order; the middle candidate if none is finite)."""
    best, best_ll = (CENTERS[2], ALPHAS[2]), -np.inf
    for i, center in enumerate(CENTERS):
        for j, alpha in enumerate(ALPHAS):
            if ll[i, j] > best_ll:
                best, best_ll = (center, alpha), ll[i, j]
    return best


def fit_renewal(h: PairHistory, seed: int = 0) -> tuple[float, float]:
    """(ramp centre, prior strength) maximising the gamma-Poisson marginal likelihood."""
    return best_fit(fit_grid(h, seed))


@dataclass(frozen=True)
class RenewalFit:
    """The population's fit as of t, for scoring one user partition: the chosen centre and
    prior strength, and the category_totals of all pairs at that centre."""

    center: float
    alpha: float
    totals: np.ndarray


def known_pairs(h: PairHistory) -> PairHistory:
    """H without the rows of categories whose cycle is unknown."""
    known = (np.isfinite(h.cycle) & (h.cycle > 0))[h.cat]
    return h if known.all() else h.rows(known)


def score_totals(h: PairHistory) -> np.ndarray:
    """The totals of all of H's known pairs per centre (the scores' pooled rates; summable
    over user partitions)."""
    return _centre_totals(known_pairs(h))


def renewal_scores(
    h: PairHistory, horizon_days: int, n_users: int, seed: int = 0, fit: RenewalFit | None = None
) -> pd.DataFrame:
    """RENEWAL_COLUMNS for user indices 0..n_users-1 (NaN for users without a usable pair).
    Ages are whole days; HORIZON_DAYS >= 0. FIT: the population's, when H is one user
    partition of it (default: fitted on H)."""
    if horizon_days < 0:
        raise ValueError(f"horizon_days must be >= 0, got {horizon_days}")
    h = known_pairs(h)
    out = pd.DataFrame(np.nan, index=np.arange(n_users), columns=list(RENEWAL_COLUMNS))
    if h.user.size == 0:
        return out
    center, alpha = fit_renewal(h, seed) if fit is None else (fit.center, fit.alpha)
    starts, same = _pairs(h)
    table = _ramp_table(h.cycle, center, int(h.age.max()) + horizon_days + 1)
    st = _stretches(h, same, table)
    n = _counts(starts, h.age.size)
    expo = _exposure(h, starts, st.ramp)
    pair_cat, pair_user = h.cat[starts], h.user[starts]
    totals = None if fit is None else fit.totals
    lam0 = _prior_rate(n, expo, pair_cat, pair_user, h.cycle.size, totals)
    lam = (alpha + n) / (alpha / lam0 + expo)
    ends = np.r_[starts[1:], h.age.size] - 1
    age = h.age[ends]  # whole days since the last purchase in the category
    base = st.base[ends]
    ramp_age = st.ramp[ends]  # the last row's stretch is its age
    due = lam * (table.at(base, age + horizon_days) - ramp_age)
    users = np.flatnonzero(np.r_[True, pair_user[1:] != pair_user[:-1]])  # pairs by user
    seen = np.zeros(n_users, dtype=bool)
    seen[pair_user[users]] = True
    recency = np.minimum.reduceat(age, users)
    quiet = age - np.repeat(recency, np.diff(np.r_[users, age.size]))  # at the last order
    silent = lam * (ramp_age - table.at(base, quiet))
    exp_h = np.bincount(pair_user, due, n_users)
    s = np.bincount(pair_user, silent, n_users)
    p_cat = -np.expm1(-due)
    max_p = np.zeros(n_users)
    max_p[pair_user[users]] = np.maximum(np.maximum.reduceat(p_cat, users), 0.0)
    p_order = -np.expm1(-exp_h)
    with np.errstate(divide="ignore", invalid="ignore"):
        stopped = np.where(s > 1e-9, -np.expm1(-s) / s, 1.0)  # mean of exp(-S u), u ~ U(0, 1)
    alive = (1 - PRIOR_STOP) * np.exp(-s)
    p_alive = alive / (alive + PRIOR_STOP * stopped)
    got, expected = _recent_expected(h, starts, lam, st, table)
    del st
    ratio = (np.bincount(pair_user, got, n_users) + RECENT_PRIOR) / (
        np.bincount(pair_user, expected, n_users) + RECENT_PRIOR
    )
    values = np.column_stack(
        [exp_h, p_order, max_p, s, p_alive, p_order * p_alive, ratio, exp_h * ratio]
    )
    out.loc[seen, :] = values[seen]
    return out


@dataclass(frozen=True)
class RenewalInputs:
    """What the renewal features read from DuckDB: the `cat_stats` cycles by category id, and
    per user of the log the day (since 1970-01-01) of their earliest registration (NaN: none)
    and their id's hash_units (the fit sample)."""

    cycles: pd.Series
    registration_days: np.ndarray
    units: np.ndarray | None = None


def renewal_inputs(con: duckdb.DuckDBPyConnection, log: PurchaseDays) -> RenewalInputs:
    """The registration days are the same at every as-of date: read once per build (log.cache)."""
    cycles = con.execute(f"SELECT {C.CATEGORY_ID}, repurchase_cycle_days FROM cat_stats").df()
    if "registration_days" not in log.cache:
        reg = con.execute(f"""
            SELECT {C.USER_ID}, date_diff('day', DATE '{EPOCH.isoformat()}',
                                          CAST(min({C.REGISTERED_AT}) AS DATE)) AS reg_day
            FROM users GROUP BY 1""").df()
        days = np.full(len(log.users), np.nan)
        at = log.positions(reg[C.USER_ID])
        days[at[at >= 0]] = reg["reg_day"].to_numpy(dtype=float)[at >= 0]
        log.cache["registration_days"] = days
        log.cache["user_units"] = hash_units(log.users)
    by_cat = cycles.set_index(C.CATEGORY_ID)["repurchase_cycle_days"].astype(float)
    return RenewalInputs(
        by_cat, np.asarray(log.cache["registration_days"]), log.cache["user_units"]
    )


def load_history(
    log: PurchaseDays, as_of: date, inputs: RenewalInputs, first_day: int | None = None
) -> tuple[PairHistory, np.ndarray]:
    """Distinct (user, category, day) before t with `cat_stats` cycles; and the users' positions
    in LOG (PairHistory user i is log.users[positions[i]]). numpy only (no DuckDB), so it
    can run beside the user_activity SQL.

    Read from the build's purchase log (interest_inputs.py): its rows are already
    the distinct (user, category, day) triples in (user, category, day) order, so the dense
    user / category numbers are running counts; re-deriving them in SQL per date cost ~20 s
    on 20M order lines. Categories keep LOG's numbering (every user partition's the same).
    FIRST_DAY: the population's first order day (default: LOG's), before which no user's
    start lies."""
    t = (as_of - EPOCH).days
    before = log.day < t
    run = log.run[before]
    user_all, cat_all = log.run_user[run], log.run_cat[run]
    age = (t - log.day[before]).astype(np.int32)
    new_user = np.ones(user_all.size, dtype=bool)
    new_user[1:] = user_all[1:] != user_all[:-1]
    ui = np.cumsum(new_user, dtype=np.int32)
    ui -= 1
    present_users = user_all[new_user]
    ci = cat_all.astype(np.int32)
    cycle = inputs.cycles.reindex(pd.Index(log.categories)).to_numpy()
    # date_diff('day', registration date, t), 0 without one
    reg_age = np.nan_to_num(t - inputs.registration_days[present_users], nan=0.0)
    first_age = (  # the user's earliest day over all categories
        np.maximum.reduceat(age, np.flatnonzero(new_user)).astype(float) if age.size else age * 1.0
    )
    oldest = float(age.max(initial=0)) if first_day is None else float(t - first_day)
    start = np.minimum(oldest, np.maximum(first_age, reg_age))
    units = None if inputs.units is None else inputs.units[present_users]
    return PairHistory(ui, ci, age, cycle, start, units), present_users


def renewal_by_position(
    log: PurchaseDays,
    as_of: date,
    horizon_days: int,
    inputs: RenewalInputs,
    fit: RenewalFit | None = None,
    first_day: int | None = None,
) -> tuple[pd.DataFrame, np.ndarray]:
    """renewal_scores of the users with an order before t, and their positions in LOG
    (FIT, FIRST_DAY: the population's, when LOG is one user partition of it)."""
    history, present = load_history(log, as_of, inputs, first_day)
    return renewal_scores(history, horizon_days, present.size, fit=fit), present


def align_renewal(
    scored: tuple[pd.DataFrame, np.ndarray], log: PurchaseDays, positions: np.ndarray
) -> np.ndarray:
    """renewal_by_position's rows for the users at POSITIONS in LOG (-1 or unscored: NaN)."""
    frame, present = scored
    row_of = np.full(len(log.users) + 1, -1, dtype=np.int64)  # last slot: not in the log
    row_of[present] = np.arange(present.size)
    rows = row_of[np.where(positions >= 0, positions, len(log.users))]
    values = np.full((rows.size, len(RENEWAL_COLUMNS)), np.nan)
    hit = rows >= 0
    values[hit] = frame.to_numpy()[rows[hit]]
    return values


def user_renewal(
    con: duckdb.DuckDBPyConnection,
    as_of: date,
    horizon_days: int,
    user_ids: pd.Series,
    log: PurchaseDays,
) -> pd.DataFrame:
    """RENEWAL_COLUMNS aligned with USER_IDS (NaN for users without an order before t)."""
    scored = renewal_by_position(log, as_of, horizon_days, renewal_inputs(con, log))
    values = align_renewal(scored, log, log.positions(user_ids))
    return pd.DataFrame(values, index=user_ids.index, columns=list(RENEWAL_COLUMNS))
