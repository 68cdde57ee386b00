"""The faster feature code computes what the code it replaced did: each test keeps a reference
copy of the old implementation and compares on seeded random data (bit for bit where the new
code does the same float operations, else to 1e-9 relative)."""

from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from scipy.optimize import minimize
from scipy.special import betaln, gammaln

from configs import columns as C
from configs.settings import Settings, load_settings
from configs.workspace import resolve_workspace
from features import bgnbd as B
from features.compute import compute_renewal as R
from features.compute.compute_inputs import connect, load_inputs, prepare_as_of
from features.compute.compute_product import compute_category_stats
from features.compute.interest_inputs import EPOCH, load_purchase_days
from tests.features import renewal_reference as REF
from tests.features.feature_data import (
    AS_OF,
    build_offline,
    random_tables,
    rows_at,
    write_tables,
)


def _old_log_likelihood(params: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray):
    r, alpha, a, b = params
    base = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    term1 = betaln(a, b + x) - betaln(a, b) - (r + x) * np.log(alpha + T)
    with np.errstate(divide="ignore", invalid="ignore"):
        term2 = np.where(
            x > 0,
            betaln(a + 1, b + np.maximum(x, 1.0) - 1)
            - betaln(a, b)
            - (r + x) * np.log(alpha + t_x),
            -np.inf,
        )
    return base + np.logaddexp(term1, term2)


def _old_fit_bgnbd(x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> B.BGNBD:
    keys = pd.DataFrame({"x": x, "t_x": t_x, "T": T}).value_counts().reset_index(name="w")
    ux, ut, uT, w = (keys[c].to_numpy(dtype=float) for c in ("x", "t_x", "T", "w"))
    scale = max(float(np.mean(T)), 1.0)

    def objective(log_params: np.ndarray) -> float:
        ll = _old_log_likelihood(np.exp(log_params), ux, ut, uT)
        return float(-(w * ll).sum() / w.sum())

    res = minimize(objective, np.log([1.0, scale, 1.0, 1.0]), method="L-BFGS-B",
                   bounds=[(-10.0, 10.0)] * 4)  # fmt: skip
    r, alpha, a, b = np.exp(res.x)
    return B.BGNBD(float(r), float(alpha), float(a), float(b))


def _rfm(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.poisson(rng.gamma(0.7, 3.0, n)).astype(float)
    T = rng.integers(1, 400, n).astype(float)
    gap = rng.uniform(1.0, 30.0, n)
    t_x = np.where(x > 0, np.minimum(np.round(gap * x), T), 0.0)
    return x, t_x, T


def test_log_likelihood_is_bit_identical_to_the_old_one() -> None:
    x, t_x, T = _rfm(5_000, 1)
    for params in ([0.5, 20.0, 0.8, 2.5], [2.0, 3.0, 0.1, 9.0], [0.05, 400.0, 4.0, 0.3]):
        got = B.log_likelihood(np.array(params), x, t_x, T)
        np.testing.assert_array_equal(got, _old_log_likelihood(np.array(params), x, t_x, T))


def test_fit_bgnbd_finds_the_same_parameters_as_the_old_fit() -> None:
    x, t_x, T = _rfm(20_000, 2)
    assert B.fit_bgnbd(x, t_x, T) == _old_fit_bgnbd(x, t_x, T)


def _old_events_exposure(h: R.PairHistory, starts, pid, center: float):
    cyc = h.cycle[h.cat]
    same = np.zeros(h.age.size, dtype=bool)
    same[:-1] = pid[1:] == pid[:-1]
    gap = np.where(same, h.age - np.roll(h.age, -1), 0).astype(float)
    span = np.where(same, gap, h.age.astype(float))
    expo = np.add.reduceat(R.ramp_integral(span, cyc, center), starts)
    expo += np.maximum(h.start[h.user[starts]] - h.age[starts], 0.0)
    x = gap / cyc
    logg = np.where(same, -np.logaddexp(0.0, -R.STEEPNESS * (x - center)), 0.0)
    n = np.diff(np.r_[starts, h.age.size]).astype(float)
    return n, expo, np.add.reduceat(logg, starts)


def _old_recent_expected(h: R.PairHistory, starts, pid, center: float, lam):
    cyc = h.cycle[h.cat]
    same = np.zeros(h.age.size, dtype=bool)
    same[:-1] = pid[1:] == pid[:-1]
    age = h.age.astype(float)
    span = np.where(same, age - np.roll(age, -1), age)
    lo = np.minimum(np.maximum(age - R.RECENT_DAYS, 0.0), span)
    part = R.ramp_integral(span, cyc, center) - R.ramp_integral(lo, cyc, center)
    first = age[starts]
    pre = np.maximum(np.minimum(h.start[h.user[starts]], R.RECENT_DAYS) - first, 0.0)
    expected = lam * (np.add.reduceat(part, starts) + pre)
    got = np.add.reduceat((age <= R.RECENT_DAYS).astype(float), starts)
    return got, expected


def _old_renewal_scores(h: R.PairHistory, horizon_days: int, n_users: int) -> pd.DataFrame:
    known = np.isfinite(h.cycle[h.cat]) & (h.cycle[h.cat] > 0)
    h = R.PairHistory(h.user[known], h.cat[known], h.age[known], h.cycle, h.start)
    out = pd.DataFrame(np.nan, index=np.arange(n_users), columns=list(R.RENEWAL_COLUMNS))
    center, alpha = R.fit_renewal(h, 0)
    starts, pid = REF._pairs(h)  # (pair starts, pair id per row)
    n, expo, _ = _old_events_exposure(h, starts, pid, center)
    pair_cat, pair_user = h.cat[starts], h.user[starts]
    lam0 = R._prior_rate(n, expo, pair_cat, pair_user, h.cycle.size)
    lam = (alpha + n) / (alpha / lam0 + expo)
    ends = np.r_[starts[1:], h.age.size] - 1
    age = h.age[ends].astype(float)
    cyc = h.cycle[pair_cat]
    ri = R.ramp_integral
    due = lam * (ri(age + horizon_days, cyc, center) - ri(age, cyc, center))
    recency = np.full(n_users, np.inf)
    np.minimum.at(recency, pair_user, age)
    quiet = age - recency[pair_user]
    silent = lam * (ri(age, cyc, center) - ri(quiet, cyc, center))
    seen = np.bincount(pair_user, minlength=n_users) > 0
    exp_h = np.bincount(pair_user, due, n_users)
    s = np.bincount(pair_user, silent, n_users)
    max_p = np.zeros(n_users)
    np.maximum.at(max_p, pair_user, -np.expm1(-due))
    p_order = -np.expm1(-exp_h)
    with np.errstate(divide="ignore", invalid="ignore"):
        stopped = np.where(s > 1e-9, -np.expm1(-s) / s, 1.0)
    alive = (1 - R.PRIOR_STOP) * np.exp(-s)
    p_alive = alive / (alive + R.PRIOR_STOP * stopped)
    got, expected = _old_recent_expected(h, starts, pid, center, lam)
    ratio = (np.bincount(pair_user, got, n_users) + R.RECENT_PRIOR) / (
        np.bincount(pair_user, expected, n_users) + R.RECENT_PRIOR
    )
    values = np.column_stack(
        [exp_h, p_order, max_p, s, p_alive, p_order * p_alive, ratio, exp_h * ratio]
    )
    out.loc[seen, :] = values[seen]
    return out


def _random_history(n_users: int, n_cat: int, seed: int) -> R.PairHistory:
    """Distinct days per (user, category) in (user, category, day) order, ages to t = 400."""
    rng = np.random.default_rng(seed)
    t = 400
    user, cat, age = [], [], []
    for u in range(n_users):
        for c in np.sort(rng.choice(n_cat, rng.integers(1, 5), replace=False)):
            days = np.sort(rng.choice(t, rng.integers(1, 12), replace=False))
            user += [u] * days.size
            cat += [c] * days.size
            age += list(t - days)
    cycle = rng.uniform(5.0, 90.0, n_cat)
    cycle[::5] = np.nan  # unknown cycles are left out
    ages = np.array(age, dtype=np.int32)
    users = np.array(user, dtype=np.int32)
    first = np.zeros(n_users)
    np.maximum.at(first, users, ages.astype(float))
    start = np.minimum(float(t), np.maximum(first, rng.integers(0, 450, n_users)))
    return R.PairHistory(users, np.array(cat, dtype=np.int32), ages, cycle, start)


@pytest.mark.parametrize("seed", [3, 4])
def test_renewal_scores_match_the_old_ones(seed: int) -> None:
    h = _random_history(400, 12, seed)
    got = R.renewal_scores(h, 14, 410)
    pd.testing.assert_frame_equal(got, _old_renewal_scores(h, 14, 410), rtol=1e-12, atol=0)
    assert got.notna().all(axis=1).sum() > 300  # users with a cycled pair are scored


def test_users_at_t_follow_the_registration_rule(tmp_path: Path, tiny_settings: Settings) -> None:
    """Registered before t, or without a registration date and with an order before t or a
    membership holding at t (the rule the old IN-subquery SQL spelled out)."""
    tables = random_tables()
    users = tables["users"]
    users.loc[users.index % 4 == 0, C.REGISTERED_AT] = pd.NaT
    late = pd.Timestamp(AS_OF, tz="UTC") + pd.Timedelta(days=2)
    extra = pd.DataFrame({C.USER_ID: ["x_none", "x_late"], C.REGISTERED_AT: [pd.NaT, late]})
    tables["users"] = pd.concat([users, extra], ignore_index=True)
    members = tables["memberships"]
    members.loc[members.index % 8 == 4, C.JOINED_AT] = late  # joined after t
    orders = tables["orders"]
    tables["orders"] = orders[~orders[C.USER_ID].isin(["u000", "u004", "u008"])]
    out = build_offline(tmp_path, tables, [AS_OF], tiny_settings)
    got = set(rows_at(out["user_activity"], AS_OF, C.USER_ID).index)
    t = pd.Timestamp(AS_OF, tz="UTC")
    reg = tables["users"].set_index(C.USER_ID)[C.REGISTERED_AT]
    ordered = set(tables["orders"].loc[tables["orders"][C.ORDERED_AT] < t, C.USER_ID])
    m = tables["memberships"]
    member = set(m.loc[m[C.JOINED_AT].isna() | (m[C.JOINED_AT] < t), C.USER_ID])
    want = {u for u, r in reg.items() if (pd.notna(r) and r < t) or (
        pd.isna(r) and (u in ordered or u in member))}  # fmt: skip
    assert got == want
    assert "u004" not in want and "u008" in want and "x_none" not in want  # each case is hit


def test_softplus_matches_logaddexp() -> None:
    z = np.concatenate([np.random.default_rng(5).normal(0.0, 20.0, 10_000), [0.0, -745.0, 700.0]])
    np.testing.assert_allclose(R.softplus(z), np.logaddexp(0.0, z), rtol=1e-14, atol=0)


def _old_user_renewal(con, as_of, horizon_days: int, user_ids: pd.Series, log) -> pd.DataFrame:
    """The string-keyed load_history + reindex that user_renewal replaced."""
    t = (as_of - EPOCH).days
    before = log.day < t
    run = log.run[before]
    user_all, cat_all = log.run_user[run], log.run_cat[run]
    age = (t - log.day[before]).astype(np.int32)
    new_user = np.ones(user_all.size, dtype=bool)
    new_user[1:] = user_all[1:] != user_all[:-1]
    ui = (np.cumsum(new_user) - 1).astype(np.int32)
    cat_seen = np.bincount(cat_all, minlength=len(log.categories)) > 0
    ci = (np.cumsum(cat_seen) - 1)[cat_all].astype(np.int32)
    cycles = con.execute("SELECT category_id, repurchase_cycle_days FROM cat_stats").df()
    cycle = (
        cycles.set_index(C.CATEGORY_ID)["repurchase_cycle_days"]
        .astype(float)
        .reindex(pd.Index(log.categories[cat_seen]))
        .to_numpy()
    )
    reg = con.execute(f"""
        SELECT user_id, date_diff('day', CAST(min(registered_at) AS DATE),
                                  DATE '{as_of.isoformat()}') AS reg_age
        FROM users GROUP BY 1""").df()
    users = log.users.take(pa.array(user_all[new_user])).to_numpy(zero_copy_only=False)
    reg_age = reg.set_index(C.USER_ID)["reg_age"].reindex(pd.Index(users)).fillna(0).to_numpy()
    first_age = np.maximum.reduceat(age, np.flatnonzero(new_user)).astype(float)
    start = np.minimum(float(age.max(initial=0)), np.maximum(first_age, reg_age))
    frame = R.renewal_scores(R.PairHistory(ui, ci, age, cycle, start), horizon_days, users.size)
    frame.index = pd.Index(users.astype(str))
    out = frame.reindex(user_ids.astype(str).to_numpy())
    out.index = user_ids.index
    return out


def test_user_renewal_aligns_users_as_the_id_reindex_did() -> None:
    """Positions instead of id lookups (and registration days read once per build): the same
    rows, NaN for users without an order before t or not in the log at all."""
    tables = random_tables(seed=11, n_users=80)
    users = tables["users"]
    users.loc[users.index % 5 == 0, C.REGISTERED_AT] = pd.NaT
    with tempfile.TemporaryDirectory() as tmp:
        ws = resolve_workspace(Path(tmp))
        write_tables(ws, tables)
        con = connect()
        load_inputs(con, ws.data)
        cfg = load_settings("tiny").features
        log = load_purchase_days(con, 30.0)
        for as_of in (date(2025, 3, 1), AS_OF):
            prepare_as_of(con, as_of)
            compute_category_stats(con, as_of, cfg)
            ids = pd.Series([*tables["users"][C.USER_ID], "nobody"], index=range(5, 86))
            got = R.user_renewal(con, as_of, 14, ids, log)
            want = _old_user_renewal(con, as_of, 14, ids, log)
            pd.testing.assert_frame_equal(got, want, check_exact=True)
            assert got.notna().all(axis=1).sum() > 10 and got.isna().all(axis=1).sum() >= 1
