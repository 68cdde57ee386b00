"""Simulated push campaigns of slow-moving products into groups, with a true, per-member uplift.

A campaign messages every member of a group about one overstocked product; a random holdout share
is logged but not messaged. Messaged members get, for push_effect_days days, extra hazard on the
product's category that grows with their latent interest and price sensitivity - unless the
category is not high-frequency and they bought it within half a cycle: then the push annoys them
(lower hazard everywhere), a NEGATIVE uplift. The true uplift is the difference in probability of
buying the category within the effect window, treated minus untreated, from the hazards.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from configs.settings import SimulateSettings
from features.simulator.sim_catalog import Catalog
from features.simulator.sim_world import World, churn_posterior

if TYPE_CHECKING:
    from features.simulator.sim_orders import ChunkState

ANNOY_SLOT_MULT = 0.2  # a just-bought durable pushed again: the category hazard drops
ANNOY_USER_MULT = 0.6  # ... and the member shops less for a while


@dataclass(frozen=True)
class Campaigns:
    group: np.ndarray
    day: np.ndarray
    product: np.ndarray
    seconds: np.ndarray  # time of day of the push

    def by_day(self) -> dict[int, np.ndarray]:
        """Campaign indices per day, in index order (deterministic)."""
        if self.day.size == 0:
            return {}
        order = np.argsort(self.day, kind="stable")
        days, starts = np.unique(self.day[order], return_index=True)
        return {int(d): part for d, part in zip(days, np.split(order, starts[1:]), strict=True)}


@dataclass
class PushEffect:
    """Per-member effect of a push (arrays aligned with the members)."""

    slot: np.ndarray  # slot of the pushed category, -1 when outside the member's categories
    add: np.ndarray  # daily hazard added to that slot
    slot_mult: np.ndarray
    user_mult: np.ndarray


def plan_campaigns(
    cfg: SimulateSettings, world: World, catalog: Catalog, rng: np.random.Generator
) -> Campaigns:
    """push_campaigns_per_group campaigns per group on random days after its creation."""
    n_groups = world.group_store.size
    group = np.repeat(np.arange(n_groups), cfg.push_campaigns_per_group)
    first = np.maximum(world.group_created[group], 0) + 1
    ok = first < world.n_days
    group, first = group[ok], first[ok]
    day = first + (rng.random(group.size) * (world.n_days - first)).astype(np.int64)
    slow = np.flatnonzero(catalog.prod_slow)
    if slow.size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return Campaigns(empty, empty, empty, empty)
    product = slow[rng.integers(0, slow.size, group.size)]
    launched = catalog.prod_launch[product] <= day
    seconds = rng.integers(9 * 3600, 21 * 3600, group.size)
    keep = launched
    return Campaigns(group[keep], day[keep], product[keep], seconds[keep])


def push_effect(
    state: ChunkState, rows: np.ndarray, cats: np.ndarray, day: int, cfg: SimulateSettings
) -> PushEffect:
    """What a push of category `cats` on `day` would do to each member row."""
    match = state.slot_cat[rows] == cats[:, None]
    has = match.any(axis=1)
    slot = np.where(has, match.argmax(axis=1), -1)
    safe = np.maximum(slot, 0)
    pref = state.slot_pref[rows, safe] / state.slot_pref[rows, 0]
    cycle = state.cycle[rows, safe]
    recent = (day - state.last[rows, safe]) / cycle < 0.5
    annoyed = has & recent & (cycle > cfg.high_frequency_cycle_days)
    sens = state.world.user_price_sens[state.users[rows]]
    add = np.where(has & ~annoyed, cfg.push_strength * pref * (0.5 + sens), 0.0)
    return PushEffect(
        slot=slot,
        add=add,
        slot_mult=np.where(annoyed, ANNOY_SLOT_MULT, 1.0),
        user_mult=np.where(annoyed, ANNOY_USER_MULT, 1.0),
    )


def true_uplift(
    state: ChunkState, rows: np.ndarray, effect: PushEffect, day: int, effect_days: int
) -> np.ndarray:
    """P(buy the category in the window | messaged) - P(... | not messaged), no-purchase path.

    Given the state on `day`, not the realised churn day: a member still active is a
    churner-to-be with posterior q whose churn day is uniform over the m days after `day`, so the
    window is cut after k days with probability q / m each (as in the repurchase truth).
    """
    world = state.world
    has = effect.slot >= 0
    idx = np.arange(rows.size)
    slot = np.maximum(effect.slot, 0)
    ctrl = np.zeros(rows.size)
    treat = np.zeros(rows.size)
    cut = np.zeros(rows.size)  # sum over k < window of the uplift of a window cut after k days
    window = range(day + 1, min(day + effect_days, world.n_total - 1) + 1)
    for d in window:
        cut += np.exp(-ctrl) - np.exp(-treat)
        base, _ = state.rates(d, rows, effect=None, churn=False)
        with_push, _ = state.rates(d, rows, effect=effect, churn=False)
        ctrl += base[idx, slot]
        treat += with_push[idx, slot]
    full = np.exp(-ctrl) - np.exp(-treat)
    users = state.users[rows]
    q = churn_posterior(world, users, day + 1)
    m = max(world.n_total - day - 1, 1)
    mixed = (1 - q) * full + q * (cut + max(m - len(window), 0) * full) / m
    active = world.user_churn[users] > day
    return np.where(has & active, mixed, 0.0)


def run_campaigns(
    state: ChunkState,
    day: int,
    camp_idx: np.ndarray,
    campaigns: Campaigns,
    catalog: Catalog,
    cfg: SimulateSettings,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Log the day's pushes for this chunk's members and start the effect on messaged ones.

    Returns (campaign index, member row, is_holdout, true uplift) per logged push.
    """
    parts, owners = [], []
    for c in camp_idx:
        members = state.group_rows(int(campaigns.group[c]))
        members = members[state.world.user_joined[state.users[members]] <= day]
        parts.append(members)
        owners.append(np.full(members.size, c, dtype=np.int64))
    rows = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
    camp = np.concatenate(owners) if owners else np.zeros(0, dtype=np.int64)
    if rows.size == 0:
        return camp, rows, np.zeros(0, dtype=bool), np.zeros(0)
    cats = catalog.prod_cat[campaigns.product[camp]].astype(np.int64)
    effect = push_effect(state, rows, cats, day, cfg)
    uplift = true_uplift(state, rows, effect, day, cfg.push_effect_days)
    holdout = rng.random(rows.size) < cfg.holdout_share
    sent = ~holdout & (effect.slot >= 0)
    state.start_push(
        rows[sent], effect, sent, campaigns.product[camp[sent]], day, cfg.push_effect_days
    )
    return camp, rows, holdout, uplift
