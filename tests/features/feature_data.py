"""Hand-made and tiny seeded contract tables for the feature tests (no simulator needed)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from configs import columns as C
from configs.settings import Settings
from configs.workspace import Workspace, resolve_workspace
from features.contract.io import write_parquet_atomic

AS_OF = date(2025, 7, 1)


def write_tables(ws: Workspace, tables: dict[str, pd.DataFrame]) -> None:
    for name, df in tables.items():
        write_parquet_atomic(df, ws.data / f"{name}.parquet")


def random_tables(seed: int = 7, n_users: int = 60) -> dict[str, pd.DataFrame]:
    """Users in 3 groups buying 16 products in 4 categories over Jan-Jun 2025."""
    rng = np.random.default_rng(seed)
    users = pd.DataFrame(
        {
            C.USER_ID: [f"u{i:03d}" for i in range(n_users)],
            C.REGISTERED_AT: pd.Timestamp("2024-12-01", tz="UTC")
            + pd.to_timedelta(rng.integers(0, 200, n_users), unit="D"),
            C.IDENTITY_TYPE: rng.choice(["consumer", "physical_store"], n_users, p=[0.8, 0.2]),
            C.CHANNEL: rng.choice(["ground_push", "douyin", "referral"], n_users),
            C.REGION: rng.choice(["north", "south"], n_users),
            C.STORE_ID: "s1",
        }
    )
    products = pd.DataFrame(
        {
            C.PRODUCT_ID: [f"p{i:02d}" for i in range(16)],
            C.CATEGORY_ID: [f"c{i // 4}" for i in range(16)],
            C.DEPARTMENT_ID: [f"d{i // 8}" for i in range(16)],
            C.PRICE: rng.uniform(5, 50, 16).round(2),
            C.LAUNCHED_AT: pd.Timestamp("2024-06-01", tz="UTC"),
        }
    )
    n_lines = 900
    uid = rng.integers(0, n_users, n_lines)
    ordered = pd.Timestamp("2025-01-01", tz="UTC") + pd.to_timedelta(
        rng.integers(0, 181 * 24 * 60, n_lines), unit="min"
    )
    reg = users[C.REGISTERED_AT].to_numpy()[uid]
    ordered = pd.Series(ordered).where(
        pd.Series(ordered) > pd.Series(reg), pd.Series(reg) + pd.Timedelta(hours=1)
    )
    pid = rng.integers(0, 16, n_lines)
    qty = rng.integers(1, 4, n_lines).astype(float)
    orders = pd.DataFrame(
        {
            C.USER_ID: users[C.USER_ID].to_numpy()[uid],
            C.PRODUCT_ID: products[C.PRODUCT_ID].to_numpy()[pid],
            C.ORDERED_AT: ordered.to_numpy(),
            C.QUANTITY: qty,
            C.AMOUNT: qty * products[C.PRICE].to_numpy()[pid],
            C.ORDER_ID: [f"o{i}" for i in range(n_lines)],
            C.GROUP_ID: [f"g{u % 3}" for u in uid],
            C.STORE_ID: "s1",
        }
    )
    orders = orders[orders[C.ORDERED_AT] < pd.Timestamp("2025-07-01", tz="UTC")]
    groups = pd.DataFrame(
        {
            C.GROUP_ID: ["g0", "g1", "g2"],
            C.STORE_ID: "s1",
            C.OWNER_ID: "op",
            C.GROUP_TYPE: ["consumer", "consumer", "physical_store"],
            C.CREATED_AT: pd.Timestamp("2024-11-01", tz="UTC"),
        }
    )
    memberships = pd.DataFrame(
        {
            C.GROUP_ID: [f"g{i % 3}" for i in range(n_users)],
            C.USER_ID: users[C.USER_ID],
            C.JOINED_AT: users[C.REGISTERED_AT],
            C.LEFT_AT: pd.NaT,
            C.ROLE: ["koc" if i % 10 == 0 else "member" for i in range(n_users)],
        }
    )
    days = pd.date_range("2025-01-01", "2025-06-30", freq="7D", tz="UTC")
    inventory = pd.DataFrame(
        {
            C.PRODUCT_ID: np.repeat(products[C.PRODUCT_ID].to_numpy(), len(days)),
            C.SNAPSHOT_AT: np.tile(days.to_numpy(), 16),
            C.STOCK_QTY: rng.integers(0, 300, 16 * len(days)).astype(float),
        }
    )
    return {
        "orders": orders.reset_index(drop=True),
        "users": users,
        "products": products,
        "groups": groups,
        "memberships": memberships,
        "inventory": inventory,
    }


def orders_frame(rows: Sequence[tuple[str, str, str, float, float]]) -> pd.DataFrame:
    """Orders from (user, product, ordered_at ISO, quantity, amount) tuples."""
    df = pd.DataFrame(rows, columns=[C.USER_ID, C.PRODUCT_ID, C.ORDERED_AT, C.QUANTITY, C.AMOUNT])
    df[C.ORDERED_AT] = pd.to_datetime(df[C.ORDERED_AT], utc=True, format="ISO8601")
    return df


def products_frame(categories: dict[str, str]) -> pd.DataFrame:
    """Products from {product_id: category_id}."""
    return pd.DataFrame({C.PRODUCT_ID: list(categories), C.CATEGORY_ID: list(categories.values())})


def build_offline(
    root: Path, tables: dict[str, pd.DataFrame], dates: list[date], settings: Settings
) -> dict[str, pd.DataFrame]:
    """Write TABLES to a fresh workspace under ROOT, compute DATES, read every offline table."""
    from features.compute.build import compute_snapshots
    from features.store.catalog import TABLES
    from features.store.offline_tables import offline_path

    ws = resolve_workspace(root)
    write_tables(ws, tables)
    compute_snapshots(settings, ws, dates, show_progress=False)
    return {name: pd.read_parquet(offline_path(ws.offline, name)) for name in TABLES}


def rows_at(df: pd.DataFrame, as_of: date, key: str) -> pd.DataFrame:
    """The rows of one as-of date, indexed by KEY."""
    stamp = pd.Timestamp(as_of, tz="UTC")
    return df[df[C.EVENT_TIMESTAMP] == stamp].set_index(key).drop(columns=C.EVENT_TIMESTAMP)
