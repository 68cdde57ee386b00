"""From simulated purchases to order lines: quantity, discount, amount, order ids and times.

Lines a user buys on one day form one order (one order_id, one time of day). Households buy small
quantities (more of cheap items); shop owners (B2B) buy in bulk.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from configs import columns as C
from configs.settings import SimulateSettings
from features.simulator.sim_catalog import Catalog
from features.simulator.sim_orders import ChunkResult
from features.simulator.sim_tables import ids, table, timestamps
from features.simulator.sim_world import World

PUSH_DISCOUNT = 0.85


@dataclass
class Lines:
    observed: pa.Table
    future: pa.Table
    n_orders: int
    weekly_units: np.ndarray  # (n_products, n_weeks) units sold in the observed period


def order_lines(
    res: ChunkResult,
    users: np.ndarray,
    world: World,
    catalog: Catalog,
    cfg: SimulateSettings,
    rng: np.random.Generator,
    order_offset: int,
) -> Lines:
    """Quantities, amounts and ids for one chunk's purchases, split at the end date."""
    order = np.lexsort((res.product, res.day, res.row))
    day, row, product, pushed = (
        res.day[order],
        res.row[order],
        res.product[order],
        res.pushed[order],
    )
    new_order = np.ones(day.size, dtype=bool)
    new_order[1:] = (day[1:] != day[:-1]) | (row[1:] != row[:-1])
    order_no = np.cumsum(new_order) - 1
    n_orders = int(new_order.sum())
    seconds = rng.integers(7 * 3600, 22 * 3600, n_orders)[order_no]

    user = users[row]
    b2b = world.user_identity[user] > 0
    price = catalog.prod_price[product]
    qty = 1 + rng.poisson(np.where(b2b, 6.0, 0.3 + 0.5 * (price < 5.0)))
    discount = np.where(rng.random(day.size) < 0.2, rng.uniform(0.7, 0.95, day.size), 1.0)
    discount = np.where(pushed, PUSH_DISCOUNT, discount)
    amount = np.round(qty * price * discount, 2)

    n_weeks = (world.n_days + 6) // 7
    obs = day < world.n_days
    key = product[obs] * n_weeks + day[obs] // 7
    weekly = np.bincount(key, weights=qty[obs], minlength=catalog.n_products * n_weeks)

    def build(mask: np.ndarray) -> pa.Table:
        return table(
            "orders",
            {
                C.USER_ID: ids(C.USER_ID, user[mask]),
                C.PRODUCT_ID: ids(C.PRODUCT_ID, product[mask]),
                C.ORDERED_AT: timestamps(cfg.start_date, day[mask], seconds[mask]),
                C.QUANTITY: qty[mask].astype(np.float64),
                C.AMOUNT: amount[mask],
                C.ORDER_ID: ids(C.ORDER_ID, order_offset + order_no[mask]),
                C.GROUP_ID: ids(C.GROUP_ID, world.user_group[user[mask]]),
                C.STORE_ID: ids(C.STORE_ID, world.user_store[user[mask]]),
            },
        )

    return Lines(build(obs), build(~obs), n_orders, weekly.reshape(catalog.n_products, n_weeks))
