"""compute_renewal's day-table scoring (integrals looked up per category x whole day instead of
a softplus per row) gives the scores of the per-row code it replaced (renewal_reference.py),
to 1e-12 relative, on seeded random histories with the edge cases forced in."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.compute import compute_renewal as R
from tests.features import renewal_reference as REF

T = 420  # as-of day: ages are T - day


def _history(n_users: int, n_cat: int, seed: int) -> R.PairHistory:
    """Random distinct days per (user, category) in (user, category, day) order, plus: users
    with one purchase, ages on the recent window's edge, tied last ages across a user's
    categories, categories without a usable cycle (NaN, 0, negative) and never bought."""
    rng = np.random.default_rng(seed)
    per_user = rng.integers(1, 6, n_users)
    per_user[::7] = 1  # one category ...
    user = np.repeat(np.arange(n_users), per_user)
    key = np.unique(user * n_cat + rng.integers(0, n_cat - 1, user.size))  # last cat: unbought
    pair_user, pair_cat = key // n_cat, key % n_cat
    rows = rng.integers(1, 12, key.size)
    first_user_pair = np.r_[True, pair_user[1:] != pair_user[:-1]]
    rows[(pair_user % 7 == 0) & first_user_pair] = 1  # ... and one purchase
    first = rng.integers(1, T, key.size)
    edge = rng.random(key.size) < 0.2
    first[edge] = rng.choice(
        [1, 2, R.RECENT_DAYS - 1, R.RECENT_DAYS, R.RECENT_DAYS + 1], edge.sum()
    )
    row_pair = np.repeat(np.arange(key.size), rows)
    offset = np.arange(row_pair.size) - np.repeat(np.cumsum(rows) - rows, rows)
    gaps = rng.integers(1, 45, row_pair.size)
    gaps[offset == 0] = 0
    run = np.cumsum(gaps)
    run -= np.repeat(run[np.cumsum(rows) - rows], rows)
    age = first[row_pair] - run  # descending within the pair: days ascending
    tied = (pair_user % 5 == 1)[row_pair]
    age[tied] = np.maximum(1, (age[tied] // 10) * 10)  # ties across categories (and days)
    keep = (age >= 1) & np.r_[True, (age[1:] != age[:-1]) | (row_pair[1:] != row_pair[:-1])]
    row_pair, age = row_pair[keep], age[keep]
    cycle = rng.uniform(3.0, 120.0, n_cat)
    cycle[1::9], cycle[2::9], cycle[3::9] = np.nan, 0.0, -5.0
    users = pair_user[row_pair].astype(np.int32)
    first_age = np.zeros(n_users)
    np.maximum.at(first_age, users, age.astype(float))
    start = np.minimum(float(age.max()), np.maximum(first_age, rng.integers(0, 500, n_users)))
    cats = pair_cat[row_pair].astype(np.int32)
    return R.PairHistory(users, cats, age.astype(np.int32), cycle, start)


@pytest.mark.parametrize(("n_users", "n_cat", "seed"), [(300, 12, 1), (900, 40, 2), (60, 7, 3)])
def test_renewal_scores_match_the_per_row_code(n_users: int, n_cat: int, seed: int) -> None:
    h = _history(n_users, n_cat, seed)
    for horizon in (1, 30):
        got = R.renewal_scores(h, horizon, n_users + 7)  # 7 users without an order
        want = REF.renewal_scores(h, horizon, n_users + 7)
        pd.testing.assert_frame_equal(got, want, rtol=1e-12, atol=0)
        assert got.iloc[-7:].isna().all().all()
        assert got.notna().all(axis=1).sum() > n_users // 4


def test_fit_renewal_picks_what_the_per_row_fit_did() -> None:
    """Above FIT_USERS the fit samples users; several seeds move the sample."""
    h = _history(R.FIT_USERS + 3_000, 30, 4)
    known = (np.isfinite(h.cycle) & (h.cycle > 0))[h.cat]
    h = R.PairHistory(h.user[known], h.cat[known], h.age[known], h.cycle, h.start)
    for seed in (0, 1, 2):
        np.testing.assert_allclose(R.fit_grid(h, seed), REF.fit_grid(h, seed), rtol=1e-12, atol=0)
        got = R.fit_renewal(h, seed)
        assert got == REF.fit_renewal(h, seed)
    small = _history(200, 8, 5)
    known = (np.isfinite(small.cycle) & (small.cycle > 0))[small.cat]
    small = R.PairHistory(small.user[known], small.cat[known], small.age[known], small.cycle,
                          small.start)  # fmt: skip
    np.testing.assert_allclose(R.fit_grid(small, 0), REF.fit_grid(small), rtol=1e-12, atol=0)
    assert R.fit_renewal(small) == REF.fit_renewal(small)


def test_edge_histories_score_as_before() -> None:
    """Empty, every cycle unknown, one user with one purchase, and one category."""
    cyc = np.array([np.nan, 20.0])
    one = np.array([0], dtype=np.int32)
    cases = [
        R.PairHistory(one[:0], one[:0], one[:0], cyc, np.zeros(0)),
        R.PairHistory(one, one, np.array([5], dtype=np.int32), np.array([np.nan]), np.ones(1) * 5),
        R.PairHistory(one, one + 1, np.array([61], dtype=np.int32), cyc, np.array([90.0])),
        R.PairHistory(
            np.array([0, 0, 1], dtype=np.int32),
            np.array([1, 1, 1], dtype=np.int32),
            np.array([60, 1, 60], dtype=np.int32),
            cyc,
            np.array([60.0, 300.0]),
        ),  # fmt: skip
    ]
    for h in cases:
        got = R.renewal_scores(h, 14, 3)
        pd.testing.assert_frame_equal(got, REF.renewal_scores(h, 14, 3), rtol=1e-12, atol=0)
    assert got.notna().all(axis=1).sum() == 2
    with pytest.raises(ValueError, match="horizon_days"):
        R.renewal_scores(cases[2], -1, 3)
