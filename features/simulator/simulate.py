"""`grouppush simulate`: community-commerce data with known ground truth.

World (stores, groups, users, catalogue) -> base hazard calibrated to lines_per_user_year ->
per chunk of users a day-by-day renewal process (sim_orders) with push campaigns (sim_pushes)
-> contract tables in out_dir and truth (exact probabilities, realised future orders, push
uplift, latent traits) in truth_dir. Orders, pushes and truth stream to Parquet chunk by chunk,
so memory is bounded by settings.simulate.chunk_users. Same seed, same bytes.
"""

from __future__ import annotations

import json
from contextlib import nullcontext
from datetime import timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa

from configs import columns as C
from configs.settings import Settings, SimulateSettings
from features.contract.io import write_parquet_atomic
from features.simulator.sim_catalog import Catalog, build_catalog
from features.simulator.sim_hazard import (
    calibrate_base,
    identity_tilt,
    preferences,
    relative_rate,
    top_slots,
)
from features.simulator.sim_lines import order_lines
from features.simulator.sim_orders import ChunkResult, ChunkState, simulate_chunk
from features.simulator.sim_pushes import Campaigns, plan_campaigns
from features.simulator.sim_sinks import open_sinks
from features.simulator.sim_static import (
    groups_table,
    inventory_table,
    latent_tables,
    memberships_table,
    products_table,
    users_table,
)
from features.simulator.sim_tables import ids, table, timestamps
from features.simulator.sim_world import World, build_world, user_day_multiplier

CALIBRATION_USERS = 3_000
TRUTH_MIN_PROB = 1e-4


def simulate(
    settings: Settings, out_dir: Path, truth_dir: Path, *, show_progress: bool = True
) -> dict[str, int]:
    """Write the contract tables to out_dir and the ground truth to truth_dir; rows per table.

    truth_dir gets: meta.json (end_date, as_of, horizon_days, seed, start_date);
    user_repurchase (user_id, prob of >= 1 order in the horizon after end_date, given the latent
    state at as_of: the pre-drawn churn day is mixed over, not known);
    user_category (user_id, category_id, prob; rows with prob > 1e-4); user_product (user_id,
    category_id, product_id, choice = P(a purchase of the category on the as-of day is this
    product), exact; prob = the category's prob x choice, the chance its horizon purchase is the
    product were the choice not to drift (sim_choice); slow movers with choice >= 0.02 in the
    user_category rows only); future_orders (the realised horizon orders, orders schema);
    push_uplift (push_id, user_id, uplift = true change in P(buy the pushed category within
    push_effect_days)); latent (user_id, activity, price_sensitivity, churned, churn_day);
    group_stage (group_id, stage, group_type); product_latent (product_id, slow_moving,
    popularity, substitute_set).
    """
    cfg = settings.simulate
    n_days = (cfg.end_date - cfg.start_date).days + 1
    if n_days < 14:
        raise ValueError(f"simulate.start_date..end_date spans {n_days} days; need at least 14")
    world_rng, cal_rng, static_rng = (
        np.random.default_rng(s) for s in np.random.SeedSequence(cfg.seed).spawn(3)
    )
    catalog = build_catalog(cfg, world_rng, n_days)
    world = build_world(cfg, world_rng, n_days)
    tilt = identity_tilt(catalog, world_rng, len(C.IDENTITY_TYPES))
    campaigns = plan_campaigns(cfg, world, catalog, world_rng)
    base = _calibrate(cfg, world, catalog, tilt, cal_rng)

    counts: dict[str, int] = {}
    n_weeks = (n_days + 6) // 7
    weekly = np.zeros((catalog.n_products, n_weeks))
    chunks = range(0, world.n_users, cfg.chunk_users)
    with open_sinks(out_dir, truth_dir) as sinks, _progress(show_progress) as progress:
        task = (
            progress.add_task("simulating", total=len(chunks) * world.n_total) if progress else None
        )

        def tick() -> None:
            if progress is not None and task is not None:
                progress.advance(task)

        offsets = {"orders": 0, "pushes": 0}
        for i, lo in enumerate(chunks):
            users = np.arange(lo, min(lo + cfg.chunk_users, world.n_users))
            rng = np.random.default_rng(np.random.SeedSequence([cfg.seed, 1, i]))
            state = _chunk_state(cfg, world, catalog, tilt, users, base, rng)
            res = simulate_chunk(state, catalog, campaigns, cfg, rng, tick)
            lines = order_lines(res, users, world, catalog, cfg, rng, offsets["orders"])
            offsets["orders"] += lines.n_orders
            weekly += lines.weekly_units
            sinks.write("orders", lines.observed)
            sinks.write("future_orders", lines.future)
            push_log, uplift = _push_tables(cfg, res, users, campaigns, offsets["pushes"])
            offsets["pushes"] += push_log.num_rows
            sinks.write("pushes", push_log)
            sinks.write("push_uplift", uplift)
            user_truth, category_truth, product_truth = _truth_tables(res, users, state)
            sinks.write("user_repurchase", user_truth)
            sinks.write("user_category", category_truth)
            sinks.write("user_product", product_truth)
        counts.update({"orders": sinks.rows["orders"], "pushes": sinks.rows["pushes"]})

    static = {
        "users": users_table(cfg, world, static_rng),
        "products": products_table(cfg, catalog),
        "inventory": inventory_table(cfg, world, catalog, weekly, static_rng),
        "groups": groups_table(cfg, world),
        "memberships": memberships_table(cfg, world, static_rng),
    }
    for name, tbl in static.items():
        write_parquet_atomic(tbl, out_dir / f"{name}.parquet")
        counts[name] = tbl.num_rows
    for name, tbl in latent_tables(world, catalog).items():
        write_parquet_atomic(tbl, truth_dir / f"{name}.parquet")
    _write_meta(cfg, truth_dir)
    return {
        name: counts[name]
        for name in ("orders", "users", "products", "inventory", "groups", "memberships", "pushes")
    }


def _calibrate(
    cfg: SimulateSettings,
    world: World,
    catalog: Catalog,
    tilt: np.ndarray,
    rng: np.random.Generator,
) -> float:
    """Base hazard so a user buys ~lines_per_user_year lines a year.

    The renewal formula (calibrate_base) misses the wait for a user's shopping weekday and the
    uneven multipliers; one pilot run of a user sample measures that bias and corrects for it.
    """
    sample = np.unique(
        np.linspace(0, world.n_users - 1, min(CALIBRATION_USERS, world.n_users)).astype(np.int64)
    )
    pref = preferences(catalog, world.user_identity[sample], tilt, rng)
    slot_cat, slot_pref = top_slots(pref, cfg.max_categories_per_user)
    total = np.zeros(sample.size)
    active = np.zeros(sample.size)
    for d in range(world.n_days):
        mult = user_day_multiplier(world, sample, d)
        total += mult
        active += mult > 0
    mean_mult = total / np.maximum(active, 1)
    rel = relative_rate(world.user_activity[sample], slot_pref, catalog.n_categories)
    target = cfg.lines_per_user_year * world.n_days / 365.0
    base = calibrate_base(target, catalog, rel, slot_cat, mean_mult, active)
    state = ChunkState(
        world,
        sample,
        slot_cat,
        slot_pref,
        base * rel,
        catalog.cat_cycle[slot_cat],
        rng,
        catalog,
        cfg,
    )
    no_pushes = Campaigns(*(np.zeros(0, dtype=np.int64) for _ in range(4)))
    pilot = simulate_chunk(state, catalog, no_pushes, cfg, rng, truth=False)
    realised = float((pilot.day < world.n_days).sum()) / sample.size
    if realised <= 0:
        return base
    return calibrate_base(target**2 / realised, catalog, rel, slot_cat, mean_mult, active)


def _chunk_state(
    cfg: SimulateSettings,
    world: World,
    catalog: Catalog,
    tilt: np.ndarray,
    users: np.ndarray,
    base: float,
    rng: np.random.Generator,
) -> ChunkState:
    pref = preferences(catalog, world.user_identity[users], tilt, rng)
    slot_cat, slot_pref = top_slots(pref, cfg.max_categories_per_user)
    rate = base * relative_rate(world.user_activity[users], slot_pref, catalog.n_categories)
    cycle = catalog.cat_cycle[slot_cat]
    return ChunkState(world, users, slot_cat, slot_pref, rate, cycle, rng, catalog, cfg)


def _push_tables(
    cfg: SimulateSettings, res: ChunkResult, users: np.ndarray, campaigns: Campaigns, offset: int
) -> tuple[pa.Table, pa.Table]:
    camp, row, holdout, uplift = res.push_camp, res.push_row, res.push_holdout, res.push_uplift
    push_ids = ids(C.PUSH_ID, offset + np.arange(camp.size))
    user_ids = ids(C.USER_ID, users[row])
    log = table(
        "pushes",
        {
            C.PUSH_ID: push_ids,
            C.GROUP_ID: ids(C.GROUP_ID, campaigns.group[camp]),
            C.PRODUCT_ID: ids(C.PRODUCT_ID, campaigns.product[camp]),
            C.PUSHED_AT: timestamps(cfg.start_date, campaigns.day[camp], campaigns.seconds[camp]),
            C.USER_ID: user_ids,
            C.IS_HOLDOUT: holdout,
        },
    )
    truth = pa.table(
        {C.PUSH_ID: push_ids, C.USER_ID: user_ids, "uplift": pa.array(uplift, pa.float64())}
    )
    return log, truth


def _truth_tables(
    res: ChunkResult, users: np.ndarray, state: ChunkState
) -> tuple[pa.Table, pa.Table, pa.Table]:
    prob_user, prob_slot = res.truth_user, res.truth_slot
    keep_u, keep_k = np.nonzero(prob_slot > TRUTH_MIN_PROB)
    user_truth = pa.table(
        {C.USER_ID: ids(C.USER_ID, users), "prob": pa.array(prob_user, pa.float64())}
    )
    category_truth = pa.table(
        {
            C.USER_ID: ids(C.USER_ID, users[keep_u]),
            C.CATEGORY_ID: ids(C.CATEGORY_ID, state.slot_cat[keep_u, keep_k]),
            "prob": pa.array(prob_slot[keep_u, keep_k], pa.float64()),
        }
    )
    row, slot, product, choice = res.truth_choice
    live = prob_slot[row, slot] > TRUTH_MIN_PROB  # the category rows user_category keeps
    row, slot, product, choice = row[live], slot[live], product[live], choice[live]
    product_truth = pa.table(
        {
            C.USER_ID: ids(C.USER_ID, users[row]),
            C.CATEGORY_ID: ids(C.CATEGORY_ID, state.slot_cat[row, slot]),
            C.PRODUCT_ID: ids(C.PRODUCT_ID, product),
            "choice": pa.array(choice, pa.float64()),
            "prob": pa.array(prob_slot[row, slot] * choice, pa.float64()),
        }
    )
    return user_truth, category_truth, product_truth


def _write_meta(cfg: SimulateSettings, truth_dir: Path) -> None:
    meta = {
        "end_date": cfg.end_date.isoformat(),
        "as_of": (cfg.end_date + timedelta(days=1)).isoformat(),
        "horizon_days": cfg.horizon_days,
        "seed": cfg.seed,
        "start_date": cfg.start_date.isoformat(),
    }
    truth_dir.mkdir(parents=True, exist_ok=True)
    (truth_dir / "meta.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")


def _progress(show: bool):  # type: ignore[no-untyped-def]
    if not show:
        return nullcontext(None)
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn()
    )
