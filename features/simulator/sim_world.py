"""Simulated people and places: stores, groups with lifecycle stages, users with latent traits.

Consumer groups are run by a store's delivery staff for nearby households (1-3 per store); B2B
groups gather shop owners of ONE identity type. Each group gets a lifecycle stage as of the end
date whose daily multiplier scales its members' purchase hazard (zombies collapse to ~0 in the
last ~60 days). Day numbers count from start_date (day 0); the horizon follows the last day.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from configs import columns as C
from configs.settings import SimulateSettings

CHANNELS = ("ground_push", "douyin", "app_store", "referral", "wechat_ad")
CONSUMER_CHANNEL_P = (0.35, 0.25, 0.12, 0.15, 0.13)
B2B_CHANNEL_P = (0.5, 0.1, 0.1, 0.25, 0.05)
CHURN_RISK = (0.8, 1.6, 1.0, 0.6, 1.2)  # per channel, relative to churn_share
B2B_TYPE_P = (0.5, 0.3, 0.2)  # physical_store, wechat_merchant, online_shop
REGIONS = ("north", "south", "east", "west", "central", "northeast", "southwest", "northwest")
EARLY_DAYS = 30
ZOMBIE_DAYS = 60
LATE_DECLINE_DAYS = 150
NEW_USER_DAYS = 30
NEVER = np.iinfo(np.int32).max


@dataclass(frozen=True)
class World:
    n_days: int  # observed days: start_date .. end_date
    horizon: int
    store_region: np.ndarray  # (n_stores,) index into REGIONS
    group_store: np.ndarray  # (n_groups,) store index, -1 for B2B groups
    group_type: np.ndarray  # (n_groups,) index into C.GROUP_TYPES
    group_stage: np.ndarray  # (n_groups,) index into C.GROUP_STAGES (as of end_date)
    group_created: np.ndarray  # (n_groups,) day
    stage_mult: np.ndarray  # (n_groups, n_days + horizon) activity multiplier
    day_mult: np.ndarray  # (n_days + horizon,) seasonality x weekday, mean ~1
    user_identity: np.ndarray  # index into C.IDENTITY_TYPES
    user_channel: np.ndarray  # index into CHANNELS
    user_region: np.ndarray
    user_store: np.ndarray
    user_group: np.ndarray
    user_role: np.ndarray  # index into C.ROLES
    user_registered: np.ndarray  # day (negative: before start_date)
    user_joined: np.ndarray  # day the user joined its group
    user_churn: np.ndarray  # first inactive day (NEVER when the user does not churn)
    user_churn_p: np.ndarray  # prior probability of churning (the churn day is then uniform)
    user_activity: np.ndarray  # lognormal activity level (KOC and B2B boosted)
    user_price_sens: np.ndarray  # in [0, 1]
    user_weekday: np.ndarray  # (n_users, 7) personal shopping-day pattern, mean 1
    start_dow: int  # weekday of start_date, 0 = Monday

    @property
    def n_users(self) -> int:
        return int(self.user_group.size)

    @property
    def n_total(self) -> int:
        return self.n_days + self.horizon

    def active_from(self) -> np.ndarray:
        return np.maximum(self.user_registered, 0)


def _stage_counts(n_groups: int, zombie_share: float) -> tuple[int, int, int]:
    n_zombie = max(1, round(zombie_share * n_groups)) if n_groups > 1 else 0
    n_early = max(1, round(0.1 * n_groups)) if n_groups > 2 else 0
    n_late = round(0.2 * n_groups)
    return n_early, n_late, n_zombie


def _stage_multipliers(
    stage: np.ndarray, created: np.ndarray, n_days: int, horizon: int
) -> np.ndarray:
    days = np.arange(n_days + horizon)[None, :]
    mult = np.ones((stage.size, days.size))
    early, _, late, zombie = (stage == i for i in range(len(C.GROUP_STAGES)))
    mult[early] = np.where(days >= created[early, None], 1.4, 0.0)
    decline = np.clip((days - (n_days - LATE_DECLINE_DAYS)) / LATE_DECLINE_DAYS, 0, 1)
    mult[late] = 1.0 - 0.55 * decline
    collapse = np.clip((days - (n_days - ZOMBIE_DAYS - 15)) / 15.0, 0, 1)
    mult[zombie] = 1.0 - 0.98 * collapse
    return mult


def _day_multiplier(cfg: SimulateSettings, n_total: int) -> np.ndarray:
    dates = np.datetime64(cfg.start_date) + np.arange(n_total)
    doy = (dates - dates.astype("datetime64[Y]")).astype(np.int64)
    dow = (dates.astype(np.int64) + 3) % 7  # 0 = Monday
    mult = (1.0 + 0.1 * np.sin(2 * np.pi * doy / 365.0)) * np.where(dow >= 5, 1.15, 0.94)
    mult[(doy >= 309) & (doy <= 311)] *= 1.6  # Double 11 around Nov 11
    return mult


def build_world(cfg: SimulateSettings, rng: np.random.Generator, n_days: int) -> World:
    """Stores, consumer and B2B groups, users and their latent traits."""
    horizon = cfg.horizon_days
    store_region = rng.integers(0, min(len(REGIONS), max(3, cfg.n_stores // 20)), cfg.n_stores)
    per_store = rng.choice([1, 2, 3], size=cfg.n_stores, p=[0.3, 0.45, 0.25])
    n_users = cfg.n_users
    n_b2b = int(round(cfg.b2b_user_share * n_users))
    b2b_type = rng.choice([1, 2, 3], size=n_b2b, p=B2B_TYPE_P)
    b2b_groups_per_type = [
        int(np.ceil((b2b_type == t).sum() / cfg.b2b_group_size)) for t in (1, 2, 3)
    ]
    group_store = np.concatenate(
        [np.repeat(np.arange(cfg.n_stores), per_store), np.full(sum(b2b_groups_per_type), -1)]
    )
    group_type = np.concatenate(
        [np.zeros(per_store.sum(), dtype=np.int64)]
        + [np.full(k, t) for t, k in zip((1, 2, 3), b2b_groups_per_type, strict=True)]
    )
    n_groups = group_store.size
    n_early, n_late, n_zombie = _stage_counts(n_groups, cfg.zombie_group_share)
    stage = np.ones(n_groups, dtype=np.int64)  # mid
    order = rng.permutation(n_groups)
    stage[order[:n_early]] = 0
    stage[order[n_early : n_early + n_late]] = 2
    stage[order[n_early + n_late : n_early + n_late + n_zombie]] = 3
    created = -rng.integers(30, 400, n_groups)
    created[stage == 0] = rng.integers(max(n_days - EARLY_DAYS, 0), n_days, int((stage == 0).sum()))

    # users: consumers pick a store (uneven sizes) then one of its groups; B2B one group of its type
    identity = np.zeros(n_users, dtype=np.int64)
    identity[n_users - n_b2b :] = b2b_type
    group = np.empty(n_users, dtype=np.int64)
    consumer_groups = np.flatnonzero(group_type == 0)
    size_w = rng.lognormal(0, 0.5, consumer_groups.size)
    group[: n_users - n_b2b] = rng.choice(consumer_groups, n_users - n_b2b, p=size_w / size_w.sum())
    for t in (1, 2, 3):
        members = np.flatnonzero(identity == t)
        group[members] = rng.choice(np.flatnonzero(group_type == t), members.size)
    b2b = identity > 0
    store = np.where(b2b, rng.integers(0, cfg.n_stores, n_users), group_store[group])
    region = np.where(b2b, rng.integers(0, store_region.max() + 1, n_users), store_region[store])
    channel = np.where(
        b2b,
        rng.choice(len(CHANNELS), n_users, p=B2B_CHANNEL_P),
        rng.choice(len(CHANNELS), n_users, p=CONSUMER_CHANNEL_P),
    )

    # registration: mostly before the start, some during the period, a few in the last 30 days;
    # members of early groups registered after their group was created
    registered = -rng.integers(1, 730, n_users)
    during = rng.random(n_users) < 0.25
    registered[during] = rng.integers(0, n_days, int(during.sum()))
    late = rng.random(n_users) < cfg.new_user_share
    registered[late] = rng.integers(max(n_days - 30, 0), n_days, int(late.sum()))
    in_early = stage[group] == 0
    gc = created[group]
    registered[in_early] = gc[in_early] + (
        rng.random(int(in_early.sum())) * (n_days - gc[in_early])
    ).astype(np.int64)
    joined = np.maximum(registered, created[group])

    role = np.where(rng.random(n_users) < cfg.koc_share, 1, 0)
    activity = (
        rng.lognormal(-0.2, 0.7, n_users) * np.where(role == 1, 2.5, 1.0) * np.where(b2b, 1.5, 1.0)
    )
    price_sens = rng.beta(2.0, 2.0, n_users)
    churn_p = np.clip(cfg.churn_share * np.asarray(CHURN_RISK)[channel], 0, 1)
    churns = rng.random(n_users) < churn_p
    active_from = np.maximum(registered, 0)
    churn = np.full(n_users, NEVER, dtype=np.int64)
    span = np.maximum(n_days + horizon - active_from, 1)
    churn[churns] = active_from[churns] + (rng.random(int(churns.sum())) * span[churns]).astype(
        np.int64
    )

    weekday = np.full((n_users, 7), 0.15)
    favourite = rng.integers(0, 7, (n_users, 2))
    weekday[np.arange(n_users), favourite[:, 0]] += 2.0
    weekday[np.arange(n_users), favourite[:, 1]] += 1.0
    weekday /= weekday.mean(axis=1, keepdims=True)
    return World(
        n_days=n_days,
        horizon=horizon,
        store_region=store_region,
        group_store=group_store,
        group_type=group_type,
        group_stage=stage,
        group_created=created,
        stage_mult=_stage_multipliers(stage, created, n_days, horizon),
        day_mult=_day_multiplier(cfg, n_days + horizon),
        user_identity=identity,
        user_channel=channel,
        user_region=region,
        user_store=store,
        user_group=group,
        user_role=role,
        user_registered=registered,
        user_joined=joined,
        user_churn=churn,
        user_churn_p=churn_p,
        user_activity=activity,
        user_price_sens=price_sens,
        user_weekday=weekday,
        start_dow=int((np.datetime64(cfg.start_date, "D").astype(np.int64) + 3) % 7),
    )


def user_day_multiplier(
    world: World, users: np.ndarray, day: int, *, churn: bool = True
) -> np.ndarray:
    """Everything but category and recency that scales a user's hazard on one day.

    Deterministic in the day, so the truth can integrate it exactly: group stage, seasonality,
    the user's shopping weekdays, a slow start in the first month after registration, and zero
    before registration and (churn=True) after the pre-drawn churn day. The truth passes
    churn=False and mixes over the churn day instead (see churn_posterior).
    """
    mult = world.stage_mult[world.user_group[users], day] * world.day_mult[day]
    mult = mult * world.user_weekday[users, (world.start_dow + day) % 7]
    since = day - world.user_registered[users]
    mult = mult * np.where(since < NEW_USER_DAYS, 0.4, 1.0)
    alive = since >= 0
    if churn:
        alive &= day < world.user_churn[users]
    return np.where(alive, mult, 0.0)


def churn_posterior(world: World, users: np.ndarray, day: int) -> np.ndarray:
    """P(the user is a churner | its churn day is `day` or later, i.e. active on day - 1).

    A churner's first inactive day is uniform over [active_from, n_total), so it falls on or
    after `day` with probability (n_total - day) / span; given that, it is uniform over
    [day, n_total). Activity before `day` says nothing more: churners and non-churners buy alike
    until they churn. The realised churn day is future randomness the truth must not know.
    """
    prior = world.user_churn_p[users]
    span = np.maximum(world.n_total - world.active_from()[users], 1)
    still = prior * np.clip((world.n_total - day) / span, 0.0, 1.0)
    return np.where(still > 0, still / np.maximum(still + 1.0 - prior, 1e-300), 0.0)
