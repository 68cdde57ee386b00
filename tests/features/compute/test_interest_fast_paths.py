"""The dense-block user_interest and the single-bincount run_stats compute the very same
tables as the code they replaced (tests/features/interest_reference.py), bit for bit, on
seeded purchase logs with ties, users spanning block boundaries, one-category users and
dates with no runs yet."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pyarrow as pa
import pytest
import scipy.sparse as sp

import features.compute.compute_interest as ci
from configs.settings import FeatureSettings, load_settings
from features.compute.interest_inputs import EPOCH, PurchaseDays, RunStats, run_stats
from tests.features import interest_reference as ref

FIRST_DAY = date(2025, 1, 1)


def _random_log(seed: int, n_users: int, n_cat: int, n_rows: int) -> PurchaseDays:
    """Rows as load_purchase_days builds them: sorted distinct (user, category, day)."""
    rng = np.random.default_rng(seed)
    popularity = rng.dirichlet(np.full(n_cat, 0.5))
    u = rng.integers(0, n_users, n_rows)
    c = rng.choice(n_cat, n_rows, p=popularity)
    single = u < n_users // 10  # a tenth of the users buy one category only
    c[single] = u[single] % n_cat
    d = (FIRST_DAY - EPOCH).days + rng.integers(0, 300, n_rows)
    # every user has a row, so `users` lists only buyers (as the SQL's DISTINCT does)
    u = np.concatenate([u, np.arange(n_users)])
    c = np.concatenate([c, np.arange(n_users) % n_cat])
    d = np.concatenate([d, (FIRST_DAY - EPOCH).days + rng.integers(0, 300, n_users)])
    key = np.unique((u * n_cat + c) * 1000 + (d - (FIRST_DAY - EPOCH).days))
    u, c = key // 1000 // n_cat, key // 1000 % n_cat
    d = (key % 1000 + (FIRST_DAY - EPOCH).days).astype(np.int32)
    w = rng.choice([0.5, 1.0, 2.0], len(key))  # few distinct weights: many tied scores
    new_run = np.ones(len(u), bool)
    new_run[1:] = (u[1:] != u[:-1]) | (c[1:] != c[:-1])
    run_start = np.flatnonzero(new_run)
    return PurchaseDays(
        users=pa.array([f"u{i:04d}" for i in range(n_users)], pa.string()),
        categories=np.array([f"c{i:03d}" for i in range(n_cat)], dtype=object),
        run=np.cumsum(new_run) - 1,
        day=d,
        w=w,
        run_start=run_start,
        run_user=u[run_start],
        run_cat=c[run_start],
        half_life_days=30.0,
    )


def _cfg(**update: float) -> FeatureSettings:
    base = load_settings("tiny").features
    return base.model_copy(
        update={"interest_top_n": 4, "similarity_top_k": 3, "half_life_days": 30.0, **update}
    )


def _assert_same_stats(got: RunStats, want: RunStats) -> None:
    for name in ("runs", "decayed", "last_days", "counts_30d", "counts_180d"):
        a, b = getattr(got, name), getattr(want, name)
        assert a.dtype == b.dtype or not len(a), name  # (the old empty bincounts were int64)
        np.testing.assert_array_equal(a, b, err_msg=name)


DATES = [FIRST_DAY, FIRST_DAY + timedelta(days=45), date(2025, 7, 30), date(2026, 3, 1)]


@pytest.mark.parametrize("as_of", DATES)
def test_run_stats_equals_the_reference(as_of: date) -> None:
    log = _random_log(1, 400, 9, 6000)
    got = run_stats(log, as_of, 30.0)
    _assert_same_stats(got, ref.run_stats(log, as_of, 30.0))
    assert (len(got.runs) == 0) == (as_of == FIRST_DAY)


@pytest.mark.parametrize(
    ("seed", "n_cat", "update"),
    [
        (2, 9, {}),
        (3, 40, {"interest_top_n": 7}),  # many spread-only categories per user: top-n cuts
        (4, 6, {"interest_top_n": 30}),  # fewer categories than top_n
        (5, 12, {"spread_weight": 1.0}),  # bought entries only where the spread reaches
        (6, 12, {"spread_weight": 0.0}),
    ],
)
@pytest.mark.parametrize("as_of", DATES)
def test_user_interest_equals_the_reference(
    seed: int, n_cat: int, update: dict, as_of: date, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = _random_log(seed, 500, n_cat, 8000)
    cfg = _cfg(**update)
    stats = run_stats(log, as_of, 30.0)
    monkeypatch.setattr(ref, "USER_BLOCK", 64)
    want, want_sim = ref.compute_user_interest(cfg, log, stats)
    monkeypatch.setattr(ci, "USER_BLOCK", 37)  # blocks cut through users' neighbours
    got, got_sim = ci.compute_user_interest(None, as_of, cfg, log, stats)  # type: ignore[arg-type]
    assert got.schema == want.schema
    for name in want.column_names:
        assert got.column(name).equals(want.column(name)), name
    assert got.num_rows == len(np.unique(log.run_user[stats.runs]))
    for part in ("raw", "spread"):
        a, b = getattr(got_sim, part), getattr(want_sim, part)
        for field in ("indptr", "indices", "data"):
            np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    pd_got, pd_want = got_sim.to_frame(), want_sim.to_frame()
    assert pd_got.equals(pd_want)


def test_cell_budget_sets_the_block_height(monkeypatch: pytest.MonkeyPatch) -> None:
    log = _random_log(7, 300, 20, 5000)
    cfg, as_of = _cfg(), date(2025, 9, 1)
    stats = run_stats(log, as_of, 30.0)
    want, _ = ref.compute_user_interest(cfg, log, stats)
    monkeypatch.setattr(ci, "BLOCK_CELLS", 20 * 11)  # 11 users per block
    got, _ = ci.compute_user_interest(None, as_of, cfg, log, stats)  # type: ignore[arg-type]
    assert got.equals(want)


@pytest.mark.parametrize(("n_users", "n_cat", "n_rows"), [(2000, 15, 9000), (60, 300, 200)])
def test_co_buyers_counts_both_ways(n_users: int, n_cat: int, n_rows: int) -> None:
    """Bitsets (few categories) and the sparse product (many) give X^T X exactly."""
    rng = np.random.default_rng(8)
    key = np.unique(rng.integers(0, n_users, n_rows) * n_cat + rng.integers(0, n_cat, n_rows))
    u, c = key // n_cat, key % n_cat
    x = sp.csr_matrix((np.ones(len(u)), (u, c)), shape=(n_users, n_cat))
    np.testing.assert_array_equal(ci._co_buyers(u, c, n_users, n_cat), (x.T @ x).toarray())


def test_negative_values_take_the_float64_ordering() -> None:
    """Outside the pipeline's non-negative scores the dense helpers defer to _row_order."""
    rng = np.random.default_rng(9)
    shape = (50, 8)
    cells = np.sort(rng.choice(shape[0] * shape[1], 200, replace=False))
    values = rng.integers(-2, 3, len(cells)).astype(float)  # ties and negatives
    rows, cols = cells // shape[1], cells % shape[1]
    indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=shape[0]))])
    m = sp.csr_matrix((values, cols, indptr), shape=shape)
    np.testing.assert_array_equal(ci._top_n_mask(cells, values, shape, 3), ci._top_k_mask(m, 3))
    got, scores32 = ci._sorted_rows(cells, values, shape)
    final = ci._row_order(rows, values, cols)
    np.testing.assert_array_equal(got, final)
    np.testing.assert_array_equal(scores32, values[final].astype(np.float32))
    with pytest.raises(AssertionError):  # the float32 key order differs: the test can fail
        np.testing.assert_array_equal(final, np.lexsort((cols, rows)))
