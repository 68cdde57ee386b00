"""Unit checks of the simulator's building blocks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from configs.settings import load_settings
from features.simulator.sim_catalog import ProductSampler, build_catalog
from features.simulator.sim_hazard import ramp
from features.simulator.sim_orders import stationary_age
from features.simulator.sim_sinks import open_sinks
from features.simulator.sim_tables import ids

SimRun = Any  # tests/features/simulator/conftest.py:SimRun


def test_ramp_rises_to_one_around_a_cycle() -> None:
    g = ramp(np.array([0.0, 0.25, 0.5, 1.0, 2.0]))
    assert np.all(np.diff(g) > 0)
    assert g[0] < 0.01 and 0.85 < g[3] < 1.0 and g[4] > 0.99


def test_stationary_age_spreads_over_the_gap() -> None:
    rng = np.random.default_rng(0)
    rate, cycle = np.full(200_000, 0.05), np.full(200_000, 10.0)
    age = stationary_age(rate, cycle, rng)
    assert age.min() >= 0
    # equilibrium age of a renewal process: E[T^2] / (2 E[T]) with T ~ 7.5 + Exp(20)
    assert abs(age.mean() - (7.5**2 / 2 + 7.5 * 20 + 20**2) / 27.5) < 0.5


def test_sampler_stays_in_category_and_skips_unlaunched() -> None:
    cfg = load_settings("tiny").simulate
    catalog = build_catalog(cfg, np.random.default_rng(1), n_days=365)
    sampler = ProductSampler(catalog)
    rng = np.random.default_rng(2)
    cats = rng.integers(0, catalog.n_categories, 20_000)
    bins = rng.integers(0, len(ProductSampler.GAMMAS), cats.size)
    products = sampler.sample(0, cats, bins, rng.random(cats.size))
    assert np.array_equal(catalog.prod_cat[products], cats)
    assert (catalog.prod_launch[products] <= 0).all()
    # price-sensitive users pick cheaper products
    cheap = catalog.prod_rel_price[products[bins == 2]].mean()
    assert cheap < catalog.prod_rel_price[products[bins == 0]].mean()


def test_substitute_sets_and_range_draws_follow_the_weights() -> None:
    cfg = load_settings("shop").simulate
    catalog = build_catalog(cfg, np.random.default_rng(1), n_days=365)
    size = cfg.substitute_set_size
    start, end = catalog.prod_set_start, catalog.prod_set_end
    assert ((end - start <= size) & (end > start)).all()
    assert (catalog.prod_cat[start] == catalog.prod_cat).all()
    assert (catalog.prod_cat[end - 1] == catalog.prod_cat).all()
    assert np.unique(catalog.prod_set).size == catalog.n_categories * -(-300 // size)
    sampler, n = ProductSampler(catalog), 200_000
    of = np.full(n, 1234)
    bins = np.repeat(np.arange(len(ProductSampler.GAMMAS)), n // 3 + 1)[:n]
    drawn = sampler.sample_range(0, start[of], end[of], bins, np.random.default_rng(3).random(n))
    assert (catalog.prod_set[drawn] == catalog.prod_set[1234]).all()
    members = np.arange(start[1234], end[1234])
    for b in range(len(ProductSampler.GAMMAS)):
        w = sampler.weight(0, members, np.full(members.size, b))
        freq = (drawn[bins == b][:, None] == members[None, :]).mean(axis=0)
        np.testing.assert_allclose(freq, w / w.sum(), atol=0.01)
        mass = sampler.mass(0, start[of[:1]], end[of[:1]], np.array([b]))
        np.testing.assert_allclose(mass, w.sum())


def test_product_choice_shares_cannot_exceed_one() -> None:
    with pytest.raises(ValueError, match="loyalty \\+ substitute_share \\+ group_adoption"):
        load_settings("tiny", {"simulate": {"loyalty": 0.8, "substitute_share": 0.3}})


def test_sinks_leave_nothing_behind_on_failure(tmp_path: Path) -> None:
    table = pa.table({"x": [1, 2]})
    with pytest.raises(RuntimeError), open_sinks(tmp_path / "d", tmp_path / "t") as sinks:
        sinks.write("orders", table)
        raise RuntimeError("boom")
    assert not list((tmp_path / "d").iterdir())
    with open_sinks(tmp_path / "d", tmp_path / "t") as sinks:
        sinks.write("orders", table)
        sinks.write("orders", table)
        sinks.write("user_repurchase", table)
    assert pq.read_table(tmp_path / "d" / "orders.parquet").num_rows == 4
    assert (tmp_path / "t" / "user_repurchase.parquet").exists()


def test_ids_are_padded_and_null_for_missing() -> None:
    assert ids("user_id", np.array([0, 42, -1])).to_pylist() == ["U0000000", "U0000042", None]


def test_line_volume_is_calibrated(tiny_run: SimRun) -> None:
    cfg = tiny_run.settings.simulate
    per_user_year = tiny_run.counts["orders"] / cfg.n_users  # the tiny period is one year
    assert abs(per_user_year / cfg.lines_per_user_year - 1) < 0.15
