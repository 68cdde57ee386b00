"""What the Spark executors rely on for user_activity (features/compute/spark_activity.py): the
population fits split into sums over user partitions give the whole population's fit, and
each partition's scores equal the whole-log scores of its users."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from configs import columns as C
from features.compute import compute_renewal as R
from features.compute.group_momentum import group_momentum, group_sums, momentum
from features.compute.interest_inputs import EPOCH, PurchaseDays
from features.compute.population_bgnbd import (
    bgnbd_counts,
    fit_population,
    population_bgnbd,
    score_population,
)
from features.compute.user_sample import hash_units, in_sample
from tests.features.compute.test_interest_fast_paths import _random_log
from tests.features.compute.test_interest_partitions import _partition

HORIZON = 14


def _inputs(log: PurchaseDays, seed: int) -> tuple[pd.Series, np.ndarray]:
    rng = np.random.default_rng(seed)
    cycles = pd.Series(rng.uniform(5.0, 60.0, len(log.categories)), index=log.categories)
    cycles.iloc[::4] = np.nan  # unknown cycles are left out
    reg = (date(2024, 6, 1) - EPOCH).days + rng.integers(0, 500, len(log.users)).astype(float)
    reg[::7] = np.nan
    return cycles, reg


def _split(log: PurchaseDays, reg: np.ndarray, n: int) -> list[tuple[PurchaseDays, np.ndarray]]:
    """N partitions of scattered users, each with its users' registration days."""
    owner = np.random.default_rng(1).integers(0, n, len(log.users))
    return [(_partition(log, owner == p), reg[owner == p]) for p in range(n)]


@pytest.mark.parametrize("as_of", [date(2025, 3, 1), date(2025, 10, 1)])
def test_renewal_fit_from_partition_sums_equals_the_whole_fit(
    as_of: date, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(R, "FIT_USERS", 120)  # the 300 users are sampled by their id hash
    log = _random_log(7, 300, 11, 5000)
    cycles, reg = _inputs(log, 3)
    inputs = R.RenewalInputs(cycles, reg, hash_units(log.users))
    whole, present = R.renewal_by_position(log, as_of, HORIZON, inputs)
    h_all = R.known_pairs(R.load_history(log, as_of, inputs)[0])
    population = int(np.unique(h_all.user).size)
    assert 0 < in_sample(h_all.unit, population, R.FIT_USERS).sum() < population
    t = (as_of - EPOCH).days
    first_day = int(log.day[log.day < t].min())

    parts = []
    for part, part_reg in _split(log, reg, 3):
        p_inputs = R.RenewalInputs(cycles, part_reg, hash_units(part.users))
        parts.append((part, p_inputs, R.load_history(part, as_of, p_inputs, first_day)[0]))
    sample = sum(R.fit_totals(R.known_pairs(h), population=population) for _, _, h in parts)
    ll = sum(R.fit_grid(R.known_pairs(h), 0, sample, population) for _, _, h in parts)
    np.testing.assert_allclose(ll, R.fit_grid(h_all, 0), rtol=1e-12)
    center, alpha = R.best_fit(np.asarray(ll))
    assert (center, alpha) == R.fit_renewal(h_all)
    every = sum(R.score_totals(h) for _, _, h in parts)
    fit = R.RenewalFit(center, alpha, np.asarray(every)[R.CENTERS.index(center)])

    want = whole.set_axis(log.users.take(present).to_pylist())
    for part, p_inputs, _ in parts:
        got, at = R.renewal_by_position(part, as_of, HORIZON, p_inputs, fit, first_day)
        ids = part.users.take(at).to_pylist()
        assert len(ids) > 0
        np.testing.assert_allclose(got.to_numpy(), want.loc[ids].to_numpy(), rtol=1e-12)


def _activity(seed: int, n: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    days = rng.poisson(3.0, n)
    d180 = np.minimum(days, rng.integers(0, 5, n))
    d90 = np.minimum(d180, rng.integers(0, 4, n))
    d30 = np.minimum(d90, rng.integers(0, 3, n))
    return pd.DataFrame(
        {
            C.USER_ID: [f"u{i}" for i in range(n)],
            "order_days_total": days,
            "order_days_30d": d30,
            "order_days_90d": d90,
            "order_days_180d": d180,
            "recency_days": np.where(days > 0, rng.integers(1, 200, n), np.nan).astype(float),
            "mean_gap_days": np.where(days > 1, rng.integers(1, 40, n) / 2, np.nan),
            C.GROUP_ID: np.where(rng.random(n) < 0.1, None, rng.integers(0, 9, n).astype(str)),
        }
    )


def test_bgnbd_and_group_momentum_from_partition_sums_equal_the_whole() -> None:
    frame = _activity(5, 3000)
    owner = np.random.default_rng(2).integers(0, 4, len(frame))
    parts = [frame[owner == p] for p in range(4)]
    model = fit_population(pd.concat([bgnbd_counts(p) for p in parts]))
    scored = pd.concat([score_population(p, model, HORIZON) for p in parts]).sort_index()
    pd.testing.assert_frame_equal(scored, population_bgnbd(frame, HORIZON), check_exact=True)
    sums = pd.concat([group_sums(p) for p in parts]).groupby(level=0).sum()
    pd.testing.assert_frame_equal(sums, group_sums(frame), check_exact=True)
    got = pd.concat([momentum(p, sums) for p in parts]).sort_index()
    pd.testing.assert_frame_equal(got, group_momentum(frame), check_exact=True)


def test_the_fit_sample_is_a_function_of_the_user_id() -> None:
    ids = _random_log(7, 300, 11, 5000).users
    units = hash_units(ids)
    np.testing.assert_array_equal(units, hash_units(ids.slice(0)))
    assert units[5] == hash_units(ids.slice(5, 1))[0]  # whatever partition holds the user
    assert units.min() >= 0.0 and units.max() < 1.0
    assert in_sample(units, 300, 400).all()
    assert abs(in_sample(units, 300, 100).sum() - 100) < 30
