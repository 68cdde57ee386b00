"""The renewal process: day by day, for a chunk of users x their top-K categories, as numpy arrays.

Each day every (user, category) slot buys with probability 1 - exp(-rate) (see sim_hazard); a
purchase resets the slot's recency. The product is the pushed one (push-driven) or the member's
choice inside the category (sim_choice: favourites, substitutes, group adoption, exploration).
On the first horizon day the true
probabilities are integrated along the no-purchase path (hazards there do not depend on purchases
that did not happen) and mixed over the churn day's posterior (the pre-drawn churn day is future
randomness), then the same process runs on to realise the held-out future orders.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from configs.settings import SimulateSettings
from features.simulator.sim_catalog import Catalog
from features.simulator.sim_choice import ProductChoice, choice_truth
from features.simulator.sim_hazard import RAMP_CENTER, ramp
from features.simulator.sim_pushes import Campaigns, PushEffect, run_campaigns
from features.simulator.sim_world import World, churn_posterior, user_day_multiplier

MAX_AGE_DAYS = 3 * 365
PRODUCT_TRUTH_MIN = 0.02  # choice probabilities below this are not written to the truth
PRODUCT_TRUTH_SLOT_MIN = 1e-4  # nor products of categories the member is unlikely to buy


class ChunkState:
    """Mutable per-chunk state: recency per slot, product choice, active push effects."""

    def __init__(
        self,
        world: World,
        users: np.ndarray,
        slot_cat: np.ndarray,
        slot_pref: np.ndarray,
        rate: np.ndarray,
        cycle: np.ndarray,
        rng: np.random.Generator,
        catalog: Catalog,
        cfg: SimulateSettings,
    ) -> None:
        self.world, self.users = world, users
        self.slot_cat, self.slot_pref = slot_cat, slot_pref
        # float32 halves memory traffic in the daily loop (day numbers stay exact)
        self.rate, self.cycle = rate.astype(np.float32), cycle.astype(np.float32)
        n, k = slot_cat.shape
        start = world.active_from()[users][:, None]
        self.last = (start - stationary_age(rate, cycle, rng)).astype(np.float32)
        self.choice = ProductChoice(catalog, cfg, world, users, slot_cat, rng)
        self.push_slot = np.full(n, -1, dtype=np.int64)
        self.push_prod = np.full(n, -1, dtype=np.int64)
        self.push_add = np.zeros(n)
        self.push_slot_mult = np.ones(n)
        self.push_user_mult = np.ones(n)
        self.push_from = np.zeros(n, dtype=np.int64)
        self.push_until = np.full(n, -1, dtype=np.int64)
        group = world.user_group[users]
        self._group_order = np.argsort(group, kind="stable")
        self._group_sorted = group[self._group_order]

    def group_rows(self, group: int) -> np.ndarray:
        lo, hi = np.searchsorted(self._group_sorted, [group, group + 1])
        return self._group_order[lo:hi]

    def active_effect(self, rows: np.ndarray, day: int) -> tuple[np.ndarray, PushEffect]:
        live = (
            (self.push_slot[rows] >= 0)
            & (day > self.push_from[rows])
            & (day <= self.push_until[rows])
        )
        idx = np.flatnonzero(live)
        r = rows[idx]
        return idx, PushEffect(
            self.push_slot[r], self.push_add[r], self.push_slot_mult[r], self.push_user_mult[r]
        )

    def rates(
        self,
        day: int,
        rows: np.ndarray,
        effect: PushEffect | None | str = "state",
        *,
        churn: bool = True,
    ) -> tuple[np.ndarray, np.ndarray]:
        """(len(rows), K) daily rates and the rows' day multipliers.

        effect: "state" applies the pushes in force; None none; a PushEffect (aligned with rows)
        applies that one. churn=False: as if the user never churned (the truth mixes over it).
        """
        mult = user_day_multiplier(self.world, self.users[rows], day, churn=churn)
        mult = mult.astype(np.float32)
        x = (np.float32(day) - self.last[rows]) / self.cycle[rows]
        rate = self.rate[rows] * mult[:, None] * ramp(x)
        if effect is None:
            return rate, mult
        if isinstance(effect, PushEffect):
            idx, eff = np.flatnonzero(effect.slot >= 0), effect
            eff = PushEffect(eff.slot[idx], eff.add[idx], eff.slot_mult[idx], eff.user_mult[idx])
        else:
            idx, eff = self.active_effect(rows, day)
        if idx.size:
            rate[idx] *= eff.user_mult[:, None]
            alive = mult[idx] > 0
            rate[idx, eff.slot] = rate[idx, eff.slot] * eff.slot_mult + eff.add * alive
        return rate, mult

    def start_push(
        self,
        rows: np.ndarray,
        effect: PushEffect,
        sent: np.ndarray,
        products: np.ndarray,
        day: int,
        days: int,
    ) -> None:
        self.push_slot[rows] = effect.slot[sent]
        self.push_add[rows] = effect.add[sent]
        self.push_slot_mult[rows] = effect.slot_mult[sent]
        self.push_user_mult[rows] = effect.user_mult[sent]
        self.push_prod[rows] = products
        self.push_from[rows] = day
        self.push_until[rows] = day + days


def stationary_age(rate: np.ndarray, cycle: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Days since the last purchase drawn from the renewal process's equilibrium, not all at 0.

    Survival is ~1 until the ramp (~RAMP_CENTER cycles), then decays at the saturated rate, so
    the age is uniform over the ramp with weight RAMP_CENTER * cycle, else ramp + Exp(1 / rate).
    """
    ramp_days = RAMP_CENTER * cycle
    mean_tail = 1.0 / np.maximum(rate, 1e-6)
    in_ramp = rng.random(rate.shape) < ramp_days / (ramp_days + mean_tail)
    tail = ramp_days + rng.standard_exponential(rate.shape) * mean_tail
    return np.minimum(np.where(in_ramp, rng.random(rate.shape) * ramp_days, tail), MAX_AGE_DAYS)


@dataclass
class ChunkResult:
    day: np.ndarray  # order line day
    row: np.ndarray  # user row within the chunk
    product: np.ndarray
    pushed: np.ndarray  # bool: bought the pushed product
    push_camp: np.ndarray
    push_row: np.ndarray
    push_holdout: np.ndarray
    push_uplift: np.ndarray
    truth_user: np.ndarray  # (n,) P(>= 1 order in the horizon)
    truth_slot: np.ndarray  # (n, K) P(buy the slot's category in the horizon)
    # (row, slot, product, P(a purchase of the slot on the first horizon day is the product)),
    # push candidates (slow movers) with probability >= PRODUCT_TRUTH_MIN only
    truth_choice: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def truth_probabilities(
    state: ChunkState, first_day: int, horizon: int
) -> tuple[np.ndarray, np.ndarray]:
    """P(>= 1 order) and P(buy the slot) in [first_day, first_day + horizon) given the latent
    state on first_day: exact, no Monte Carlo.

    Hazards are integrated along the no-purchase path as if the user never churned; a user still
    active on first_day is a churner-to-be with posterior q, whose churn day is then uniform over
    the horizon (see churn_posterior; the horizon must run to the world's last day), so
    P = (1 - q) P(full horizon) + q mean_k P(first k days). Users already churned get 0.
    """
    world = state.world
    if horizon and first_day + horizon != world.n_total:
        raise ValueError("the truth's horizon must end on the world's last day")
    rows = np.arange(state.users.size)
    cum = np.zeros(state.slot_cat.shape)
    # sums over k < horizon of P(buy in the first k days): the churn-day mixture's terms
    partial, partial_user = np.zeros(cum.shape), np.zeros(rows.size)
    for d in range(first_day, first_day + horizon):
        partial -= np.expm1(-cum)
        partial_user -= np.expm1(-cum.sum(axis=1))
        rate, _ = state.rates(d, rows, churn=False)
        cum += rate.astype(np.float64)
    total = cum.sum(axis=1)
    q = churn_posterior(world, state.users, first_day)
    active = world.user_churn[state.users] >= first_day
    k = max(horizon, 1)
    user = (1 - q) * -np.expm1(-total) + q * partial_user / k
    slot = (1 - q[:, None]) * -np.expm1(-cum) + q[:, None] * partial / k
    return np.where(active, user, 0.0), np.where(active[:, None], slot, 0.0)


def simulate_chunk(
    state: ChunkState,
    catalog: Catalog,
    campaigns: Campaigns,
    cfg: SimulateSettings,
    rng: np.random.Generator,
    tick: Callable[[], None] | None = None,
    *,
    truth: bool = True,
) -> ChunkResult:
    """Run the chunk over the observed days and the horizon; collect lines, pushes and truth
    (truth=False: zeros, for the calibration pilot)."""
    world = state.world
    on_day = campaigns.by_day()
    lines: list[tuple[np.ndarray, ...]] = []
    pushes: list[tuple[np.ndarray, ...]] = []
    truth_user = truth_slot = np.zeros(0)
    empty = np.zeros(0, dtype=np.int64)
    truth_choice = (empty, empty, empty, np.zeros(0))
    alive_until = world.user_churn[state.users]
    start = world.active_from()[state.users]
    for d in range(world.n_total):
        if d == world.n_days and truth:
            truth_user, truth_slot = truth_probabilities(state, d, world.horizon)
            truth_choice = choice_truth(
                state.choice,
                state.slot_cat,
                d,
                catalog.prod_slow,
                PRODUCT_TRUTH_MIN,
                truth_slot > PRODUCT_TRUTH_SLOT_MIN,
            )
        if d in on_day:
            pushes.append(run_campaigns(state, d, on_day[d], campaigns, catalog, cfg, rng))
        rows = np.flatnonzero((start <= d) & (alive_until > d))
        if rows.size:
            lines.append(_buy(state, rows, d, cfg, rng))
        if tick is not None:
            tick()
    if world.horizon == 0 or not truth:
        truth_user, truth_slot = np.zeros(state.users.size), np.zeros(state.slot_cat.shape)
    day, row, product, pushed = (np.concatenate([part[i] for part in lines]) for i in range(4))
    camp, prow, hold, upl = (
        np.concatenate([part[i] for part in pushes]) if pushes else np.zeros(0) for i in range(4)
    )
    return ChunkResult(
        day, row, product, pushed, camp.astype(np.int64), prow.astype(np.int64), hold.astype(bool),
        upl.astype(np.float64), truth_user, truth_slot, truth_choice,
    )  # fmt: skip


def _buy(
    state: ChunkState,
    rows: np.ndarray,
    day: int,
    cfg: SimulateSettings,
    rng: np.random.Generator,
) -> tuple[np.ndarray, ...]:
    rate, mult = state.rates(day, rows)
    # Exp(1) < rate has probability 1 - exp(-rate): the daily purchase probability
    hit = rng.standard_exponential(rate.shape, dtype=np.float32) < rate
    iu, ik = np.nonzero(hit)
    r = rows[iu]
    cats = state.slot_cat[r, ik]
    product = state.choice.choose(r, ik, cats, day, rng)
    # a purchase in a pushed category is the pushed product with the push's share of the rate
    live = (state.push_slot[r] == ik) & (day > state.push_from[r]) & (day <= state.push_until[r])
    share = np.where(
        live, state.push_add[r] * (mult[iu] > 0) / np.maximum(rate[iu, ik], 1e-12), 0.0
    )
    pushed = rng.random(r.size) < share
    product = np.where(pushed, state.push_prod[r], product)
    state.choice.remember(r, ik, cats, product, day, rng)
    state.last[r, ik] = day
    return np.full(r.size, day, dtype=np.int64), r, product, pushed
