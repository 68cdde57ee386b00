"""Contract tables that do not depend on the order process: users, products, groups, memberships,
inventory (from the realised weekly sales), and the latent truth about users, groups, products."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from configs import columns as C
from configs.settings import SimulateSettings
from features.simulator.sim_catalog import Catalog
from features.simulator.sim_names import name_columns
from features.simulator.sim_tables import ids, strings, table, timestamps
from features.simulator.sim_world import CHANNELS, NEVER, REGIONS, World


def users_table(cfg: SimulateSettings, world: World, rng: np.random.Generator) -> pa.Table:
    n = world.n_users
    return table(
        "users",
        {
            C.USER_ID: ids(C.USER_ID, np.arange(n)),
            C.REGISTERED_AT: timestamps(
                cfg.start_date, world.user_registered, rng.integers(0, 86_400, n)
            ),
            C.IDENTITY_TYPE: strings(C.IDENTITY_TYPES, world.user_identity),
            C.CHANNEL: strings(CHANNELS, world.user_channel),
            C.REGION: strings(REGIONS, world.user_region),
            C.STORE_ID: ids(C.STORE_ID, world.user_store),
        },
    )


def products_table(cfg: SimulateSettings, catalog: Catalog) -> pa.Table:
    product_name, category_name = name_columns(catalog, cfg.seed, cfg.substitute_set_size)
    return table(
        "products",
        {
            C.PRODUCT_ID: ids(C.PRODUCT_ID, np.arange(catalog.n_products)),
            C.CATEGORY_ID: ids(C.CATEGORY_ID, catalog.prod_cat),
            C.DEPARTMENT_ID: ids(C.DEPARTMENT_ID, catalog.cat_dept[catalog.prod_cat]),
            C.PRICE: catalog.prod_price,
            C.LAUNCHED_AT: timestamps(cfg.start_date, catalog.prod_launch, 9 * 3600),
            C.REPURCHASE_CYCLE_DAYS: catalog.cat_cycle[catalog.prod_cat],
            C.PRODUCT_NAME: product_name,
            C.CATEGORY_NAME: category_name,
        },
    )


def groups_table(cfg: SimulateSettings, world: World) -> pa.Table:
    n = world.group_store.size
    owner_prefix = np.where(world.group_store >= 0, "staff-", "ops-")
    owner = pa.array([f"{p}{g:05d}" for p, g in zip(owner_prefix.tolist(), range(n), strict=True)])
    return table(
        "groups",
        {
            C.GROUP_ID: ids(C.GROUP_ID, np.arange(n)),
            C.STORE_ID: ids(C.STORE_ID, world.group_store),
            C.OWNER_ID: owner,
            C.GROUP_TYPE: strings(C.GROUP_TYPES, world.group_type),
            C.CREATED_AT: timestamps(cfg.start_date, world.group_created, 10 * 3600),
        },
    )


def memberships_table(cfg: SimulateSettings, world: World, rng: np.random.Generator) -> pa.Table:
    n = world.n_users
    return table(
        "memberships",
        {
            C.GROUP_ID: ids(C.GROUP_ID, world.user_group),
            C.USER_ID: ids(C.USER_ID, np.arange(n)),
            C.JOINED_AT: timestamps(cfg.start_date, world.user_joined, rng.integers(0, 86_400, n)),
            C.ROLE: strings(C.ROLES, world.user_role),
        },
    )


def inventory_table(
    cfg: SimulateSettings,
    world: World,
    catalog: Catalog,
    weekly_units: np.ndarray,
    rng: np.random.Generator,
) -> pa.Table:
    """Weekly snapshots (plus the last day) consistent with sales.

    Normal products are replenished to 5-25 days of cover; slow movers start with their whole
    period's sales plus 120-400 days of cover (at least a pallet) and only sell down.
    """
    n_prod, n_weeks = weekly_units.shape
    snap_days = np.unique(np.append(np.arange(0, world.n_days, 7), world.n_days - 1))
    cum_weeks = np.cumsum(weekly_units, axis=1)
    week_of = snap_days // 7
    # units sold in the 28 days before each snapshot (by whole weeks)
    upto = cum_weeks[:, np.minimum(week_of, n_weeks - 1)]
    before = np.where(week_of >= 4, cum_weeks[:, np.maximum(week_of - 4, 0)], 0.0)
    daily = (upto - before) / 28.0  # (n_prod, n_snap)
    cover = rng.uniform(5, 25, (n_prod, snap_days.size))
    stock = np.round(daily * cover)
    slow = catalog.prod_slow
    final_daily = np.maximum(daily[:, -1], 0.2)
    opening = cum_weeks[:, -1] + np.round(
        final_daily * rng.uniform(120, 400, n_prod) + rng.uniform(30, 200, n_prod)
    )
    sold_before = np.where(week_of > 0, cum_weeks[:, np.maximum(week_of - 1, 0)], 0.0)
    stock[slow] = (opening[:, None] - sold_before)[slow]
    launched = catalog.prod_launch[:, None] <= snap_days[None, :]
    prod_idx, snap_idx = np.nonzero(launched)
    return table(
        "inventory",
        {
            C.PRODUCT_ID: ids(C.PRODUCT_ID, prod_idx),
            C.SNAPSHOT_AT: timestamps(cfg.start_date, snap_days[snap_idx], 23 * 3600),
            C.STOCK_QTY: np.maximum(stock[prod_idx, snap_idx], 0.0),
        },
    )


def latent_tables(world: World, catalog: Catalog) -> dict[str, pa.Table]:
    """Ground truth the contract does not carry: user traits, group stages, slow movers."""
    n = world.n_users
    return {
        "latent": pa.table(
            {
                C.USER_ID: ids(C.USER_ID, np.arange(n)),
                "activity": world.user_activity,
                "price_sensitivity": world.user_price_sens,
                "churned": world.user_churn < world.n_days,
                "churn_day": np.where(world.user_churn == NEVER, -1, world.user_churn),
            }
        ),
        "group_stage": pa.table(
            {
                C.GROUP_ID: ids(C.GROUP_ID, np.arange(world.group_store.size)),
                "stage": strings(C.GROUP_STAGES, world.group_stage),
                C.GROUP_TYPE: strings(C.GROUP_TYPES, world.group_type),
            }
        ),
        "product_latent": pa.table(
            {
                C.PRODUCT_ID: ids(C.PRODUCT_ID, np.arange(catalog.n_products)),
                "slow_moving": catalog.prod_slow,
                "popularity": catalog.prod_pop,
                "substitute_set": catalog.prod_set,
            }
        ),
    }
