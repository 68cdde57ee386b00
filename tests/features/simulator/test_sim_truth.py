"""The simulator's truth is P(order | latent state at the as-of date), not the realised future.

The churn day is drawn up front; the truth must mix over it (a churner-to-be and an identical
user who stays get the same probability) and agree with a Monte Carlo run of the horizon.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np
import pytest

from configs import columns as C
from configs.settings import SimulateSettings, load_settings
from features.simulator.sim_catalog import Catalog, build_catalog
from features.simulator.sim_choice import ADOPTION_DAYS, candidate_products
from features.simulator.sim_hazard import identity_tilt
from features.simulator.sim_orders import ChunkState, _buy, truth_probabilities
from features.simulator.sim_pushes import push_effect, true_uplift
from features.simulator.sim_world import NEVER, World, build_world
from features.simulator.simulate import _calibrate, _chunk_state

SMALL = {"n_users": 300, "end_date": "2025-03-31", "horizon_days": 20}
PUSH_FIELDS = (
    "push_slot", "push_prod", "push_add", "push_slot_mult", "push_user_mult", "push_from",
    "push_until",
)  # fmt: skip


@dataclass
class Sim:
    cfg: SimulateSettings
    world: World
    catalog: Catalog
    state: ChunkState


def _sim(**overrides: Any) -> Sim:
    cfg = load_settings("tiny", overrides={"simulate": {**SMALL, **overrides}}).simulate
    n_days = (cfg.end_date - cfg.start_date).days + 1
    rng = np.random.default_rng(3)
    catalog = build_catalog(cfg, rng, n_days)
    world = build_world(cfg, rng, n_days)
    tilt = identity_tilt(catalog, rng, len(C.IDENTITY_TYPES))
    base = _calibrate(cfg, world, catalog, tilt, rng)
    users = np.arange(world.n_users)
    return Sim(cfg, world, catalog, _chunk_state(cfg, world, catalog, tilt, users, base, rng))


def _truth(sim: Sim) -> tuple[np.ndarray, np.ndarray]:
    return truth_probabilities(sim.state, sim.world.n_days, sim.world.horizon)


def _churn_free(state: ChunkState, churn: bool) -> np.ndarray:
    """The former truth: hazards summed over the whole horizon (churn=True: the realised churn)."""
    world, rows = state.world, np.arange(state.users.size)
    cum = np.zeros(state.slot_cat.shape)
    for d in range(world.n_days, world.n_total):
        cum += state.rates(d, rows, churn=churn)[0].astype(np.float64)
    return -np.expm1(-cum.sum(axis=1))


def _replicas(sim: Sim, users: np.ndarray, reps: int) -> Sim:
    """`reps` copies of each user (world traits and as-of state) as users of their own world."""
    idx = np.repeat(users, reps)
    names = [f.name for f in fields(World) if f.name.startswith("user_")]
    world = replace(sim.world, **{k: getattr(sim.world, k)[idx].copy() for k in names})
    src = sim.state
    state = ChunkState(
        world, np.arange(idx.size), src.slot_cat[idx], src.slot_pref[idx], src.rate[idx],
        src.cycle[idx], np.random.default_rng(0), sim.catalog, sim.cfg,
    )  # fmt: skip
    state.last = src.last[idx].copy()
    state.choice.fav = src.choice.fav[idx].copy()
    state.choice.memory_prod = src.choice.memory_prod.copy()
    state.choice.memory_day = src.choice.memory_day.copy()
    for name in PUSH_FIELDS:
        setattr(state, name, getattr(src, name)[idx].copy())
    return Sim(sim.cfg, world, sim.catalog, state)


def _draw_active_churn(world: World, rng: np.random.Generator) -> np.ndarray:
    """Churn days from the generative prior, redrawn until the user is active at the as-of date."""
    out = np.empty(world.n_users, dtype=np.int64)
    todo = np.arange(world.n_users)
    while todo.size:
        start = world.active_from()[todo]
        span = np.maximum(world.n_total - start, 1)
        churns = rng.random(todo.size) < world.user_churn_p[todo]
        day = np.where(churns, start + (rng.random(todo.size) * span).astype(np.int64), NEVER)
        ok = day >= world.n_days
        out[todo[ok]] = day[ok]
        todo = todo[~ok]
    return out


def _monte_carlo(sim: Sim, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Run the simulator's daily process over the horizon: (bought anything, bought slot 0)."""
    world, state = sim.world, sim.state
    world.user_churn[:] = _draw_active_churn(world, rng)
    start = world.active_from()
    any_order = np.zeros(world.n_users, dtype=bool)
    slot0 = np.zeros(world.n_users, dtype=bool)
    for d in range(world.n_days, world.n_total):
        rows = np.flatnonzero((start <= d) & (world.user_churn > d))
        _, r, product, _ = _buy(state, rows, d, sim.cfg, rng)
        any_order[r] = True
        slot0[r[sim.catalog.prod_cat[product] == state.slot_cat[r, 0]]] = True
    return any_order, slot0


@pytest.fixture(scope="module")
def churny() -> Sim:
    """Every user a likely churner, so the churn-day mixture matters."""
    return _sim(churn_share=1.0)


def test_truth_without_churn_risk_is_the_full_horizon_integral() -> None:
    sim = _sim(churn_share=0.0)
    assert (sim.world.user_churn == NEVER).all()
    user, slot = _truth(sim)
    np.testing.assert_array_equal(user, _churn_free(sim.state, churn=True))
    assert (user > 0).all() and np.allclose(1 - np.prod(1 - slot, axis=1), user)


def test_churner_to_be_and_stayer_get_the_same_truth() -> None:
    sim = _sim(churn_share=0.25)
    world = sim.world
    stay = np.flatnonzero((world.user_churn == NEVER) & (world.user_churn_p > 0))[0]
    twins = _replicas(sim, np.array([stay]), 2)
    twins.world.user_churn[1] = world.n_days + 3  # churns on the 4th horizon day
    user, slot = _truth(twins)
    assert user[0] == user[1] and 0 < user[0] < 1
    np.testing.assert_array_equal(slot[0], slot[1])
    # the realised churn day no longer leaks into the truth ...
    realised = _churn_free(twins.state, churn=True)
    assert realised[1] < realised[0]
    # ... while a user already gone at the as-of date has nothing left to buy
    gone = np.flatnonzero(world.user_churn < world.n_days)
    assert gone.size and (_truth(sim)[0][gone] == 0).all()


def test_truth_matches_monte_carlo_of_the_horizon(churny: Sim) -> None:
    world, reps = churny.world, 2000
    user, slot = _truth(churny)
    active = np.flatnonzero((world.user_churn >= world.n_days) & (user > 0.15) & (user < 0.85))
    picked = active[np.argsort(world.user_churn_p[active], kind="stable")]
    picked = picked[np.linspace(0, picked.size - 1, 6).astype(np.int64)]
    assert np.unique(world.user_churn_p[picked]).size >= 2
    # one of them has a push in force on its top slot at the as-of date
    state, cat = churny.state, churny.state.slot_cat[picked[0], 0]
    state.push_slot[picked[0]], state.push_add[picked[0]] = 0, 0.05
    state.push_prod[picked[0]] = np.flatnonzero(churny.catalog.prod_cat == cat)[0]
    state.push_from[picked[0]], state.push_until[picked[0]] = world.n_days - 2, world.n_days + 4
    user, slot = _truth(churny)

    reps_sim = _replicas(churny, picked, reps)
    any_order, slot0 = _monte_carlo(reps_sim, np.random.default_rng(11))
    mc_user = any_order.reshape(-1, reps).mean(axis=1)
    mc_slot = slot0.reshape(-1, reps).mean(axis=1)

    def tol(p: np.ndarray) -> np.ndarray:
        return 4.5 * np.sqrt(p * (1 - p) / reps) + 0.005

    np.testing.assert_array_less(np.abs(mc_user - user[picked]), tol(user[picked]))
    np.testing.assert_array_less(np.abs(mc_slot - slot[picked, 0]), tol(slot[picked, 0]))
    # the check has teeth: ignoring churn is far off for these users
    full = _churn_free(churny.state, churn=False)[picked]
    assert (np.abs(mc_user - full) > tol(full)).any()


def test_push_uplift_does_not_know_the_churn_day() -> None:
    sim = _sim(churn_share=0.25)
    world, day = sim.world, sim.world.n_days - 10
    stay = np.flatnonzero((world.user_churn == NEVER) & (world.user_churn_p > 0))[:20]
    twins = _replicas(sim, stay, 2)
    twins.world.user_churn[1::2] = day + 3  # churns inside the 7-day effect window
    rows = np.arange(stay.size * 2)
    effect = push_effect(twins.state, rows, twins.state.slot_cat[rows, 0], day, sim.cfg)
    uplift = true_uplift(twins.state, rows, effect, day, sim.cfg.push_effect_days)
    assert (uplift[::2] != 0).all()  # annoyed members get a negative uplift
    np.testing.assert_array_equal(uplift[::2], uplift[1::2])
    twins.world.user_churn[1::2] = day  # gone before the push: nothing to lift
    assert (true_uplift(twins.state, rows, effect, day, sim.cfg.push_effect_days)[1::2] == 0).all()


def _observed(sim: Sim, rng: np.random.Generator) -> None:
    """Run the observed period so favourites drift and the group memory fills."""
    start, world = sim.world.active_from(), sim.world
    for d in range(world.n_days):
        rows = np.flatnonzero((start <= d) & (world.user_churn > d))
        _buy(sim.state, rows, d, sim.cfg, rng)


def test_product_choice_truth_is_the_sampled_distribution() -> None:
    """choice_probabilities is exact: many draws of choose() at the as-of state match it."""
    sim = _sim(churn_share=0.0, group_adoption=0.3, substitute_share=0.2, loyalty=0.4)
    _observed(sim, np.random.default_rng(5))
    choice, day, reps = sim.state.choice, sim.world.n_days, 4000
    cats = sim.state.slot_cat[:, 0]
    prods, prob = choice.probabilities(0, cats, day)
    np.testing.assert_allclose(prob.sum(axis=1), 1.0)
    # the truth's restricted form (slow movers only, padded) gives the same numbers
    keep = sim.catalog.prod_slow
    cand = candidate_products(sim.catalog, keep)[cats]
    _, sub = choice.probabilities(0, cats, day, cand)
    full = np.take_along_axis(prob, np.maximum(cand - prods[:, :1], 0), axis=1)
    np.testing.assert_allclose(sub, np.where(cand >= 0, full, 0.0), rtol=1e-12, atol=1e-15)
    assert (cand >= 0).sum() == keep[prods].sum()
    memory = choice.memory_prod[choice.group, cats]
    fresh = (memory >= 0) & (day - choice.memory_day[choice.group, cats] <= ADOPTION_DAYS)
    # members whose group memory holds a product that is none of their favourites
    new = fresh & ~(memory[:, :, None] == choice.fav[:, 0][:, None, :]).any(axis=2)
    picked = np.flatnonzero(new.any(axis=1))[:5]
    assert picked.size == 5
    r = np.repeat(picked, reps)
    drawn = choice.choose(
        r, np.zeros(r.size, dtype=np.int64), cats[r], day, np.random.default_rng(8)
    )
    for i, row in enumerate(picked):
        freq = (drawn[i * reps : (i + 1) * reps, None] == prods[row][None, :]).mean(axis=0)
        p = prob[row]
        np.testing.assert_array_less(np.abs(freq - p), 4.5 * np.sqrt(p * (1 - p) / reps) + 0.003)
    # the group memory matters: dropping its share would be far off for the adopted products
    groupless = prob[picked] - 0.3 / 4 * (
        fresh[picked][:, :, None] & (prods[picked][:, None, :] == memory[picked][:, :, None])
    ).sum(axis=1)
    gap = np.abs(groupless - prob[picked]).max(axis=1)
    assert (gap > 0.05).all()


def test_members_repeat_favourites_and_adopt_their_group() -> None:
    """Only favourites when loyalty is 1; only recent group purchases when adoption is 1."""
    loyal = _sim(churn_share=0.0, loyalty=1.0, substitute_share=0.0, group_adoption=0.0)
    loyal.cfg = loyal.cfg.model_copy(update={"adopt_share": 0.0})
    loyal.state.choice.cfg = loyal.cfg
    favs = loyal.state.choice.fav.copy()
    day, r, product, pushed = _buy_days(loyal, 60)
    k = np.argmax(loyal.state.slot_cat[r] == loyal.catalog.prod_cat[product][:, None], axis=1)
    assert r.size > 500 and ((favs[r, k] == product[:, None]).any(axis=1) | pushed).all()

    herd = _sim(churn_share=0.0, loyalty=0.0, substitute_share=0.0, group_adoption=1.0)
    choice = herd.state.choice
    _observed(herd, np.random.default_rng(5))
    d = herd.world.n_days
    rows = np.arange(herd.world.n_users)
    cats = herd.state.slot_cat[:, 0]
    drawn = choice.choose(
        rows, np.zeros(rows.size, dtype=np.int64), cats, d, np.random.default_rng(1)
    )
    memory = choice.memory_prod[choice.group, cats]
    fresh = (memory >= 0) & (d - choice.memory_day[choice.group, cats] <= ADOPTION_DAYS)
    all_fresh = fresh.all(axis=1)
    assert all_fresh.sum() > 50
    got = (drawn[:, None] == np.where(fresh, memory, -2)).any(axis=1)
    assert got[all_fresh].all()


def _buy_days(sim: Sim, days: int) -> tuple[np.ndarray, ...]:
    start, world, rng = sim.world.active_from(), sim.world, np.random.default_rng(2)
    parts = []
    for d in range(days):
        rows = np.flatnonzero((start <= d) & (world.user_churn > d))
        parts.append(_buy(sim.state, rows, d, sim.cfg, rng))
    return tuple(np.concatenate([p[i] for p in parts]) for i in range(4))
