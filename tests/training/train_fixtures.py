"""Seeded synthetic orders + a minimal offline feature history (no Feast, no feature build).

Users order as Bernoulli processes with personal rates, some churn; each order line picks a
category from the user's preference mix. The feature functions here are deliberately small
re-implementations of the catalog tables, just enough for training's unit tests.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

import numpy as np
import pandas as pd

from configs import columns as C
from configs.workspace import Workspace
from features.contract.io import write_parquet_atomic

START = date(2025, 1, 1)
N_DAYS = 240
N_CATS = 12


def synthetic_orders(
    n_users: int = 400, seed: int = 0, n_days: int = N_DAYS
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(orders, products) over N_DAYS (or n_days) days from START."""
    rng = np.random.default_rng(seed)
    base = rng.beta(1.2, 12.0, n_users)
    slope = rng.normal(0.0, 0.03, n_users)  # trends: what recency, RFM and BG/NBD cannot see
    days = np.arange(n_days)
    rate = np.clip(base[:, None] * np.exp(slope[:, None] * (days[None, :] - n_days // 2)), 0, 0.8)
    active = rng.random((n_users, n_days)) < rate
    users, order_days = np.nonzero(active)
    prefs = rng.dirichlet(np.full(N_CATS, 0.3), n_users).cumsum(axis=1)
    lines = np.repeat(np.arange(len(users)), 2)
    pick = (prefs[users[lines]] < rng.random(len(lines))[:, None]).sum(axis=1).clip(0, N_CATS - 1)
    quantity = rng.integers(1, 4, len(lines)).astype(float)
    stamp = pd.Timestamp(START, tz="UTC") + pd.to_timedelta(order_days[lines], unit="D")
    stamp = stamp + pd.to_timedelta(rng.integers(8, 20, len(lines)), unit="h")
    orders = pd.DataFrame(
        {
            C.USER_ID: [f"u{u:04d}" for u in users[lines]],
            C.PRODUCT_ID: [f"c{c:02d}_p{i}" for c, i in zip(pick, lines % 2, strict=True)],
            C.ORDERED_AT: stamp,
            C.QUANTITY: quantity,
            C.AMOUNT: quantity * (5.0 + pick),
        }
    )
    products = pd.DataFrame({C.PRODUCT_ID: sorted(orders[C.PRODUCT_ID].unique())})
    products[C.CATEGORY_ID] = products[C.PRODUCT_ID].str.split("_").str[0]
    return orders, products


def _activity(orders: pd.DataFrame, t: pd.Timestamp) -> pd.DataFrame:
    before = orders[orders[C.ORDERED_AT] < t]
    age = (t - before[C.ORDERED_AT].dt.floor("D")).dt.days.rename("age")
    frame = pd.DataFrame({C.USER_ID: before[C.USER_ID], "age": age, C.AMOUNT: before[C.AMOUNT]})
    days = frame[[C.USER_ID, "age"]].drop_duplicates()
    g = days.groupby(C.USER_ID)["age"]
    out = pd.DataFrame({"recency_days": g.min().astype(float)})
    for w in (7, 30, 90, 180):
        out[f"order_days_{w}d"] = days[days["age"] <= w].groupby(C.USER_ID).size()
    out["order_days_total"] = g.size()
    out["spend_30d"] = frame[frame["age"] <= 30].groupby(C.USER_ID)[C.AMOUNT].sum()
    out["spend_180d"] = frame[frame["age"] <= 180].groupby(C.USER_ID)[C.AMOUNT].sum()
    out["mean_gap_days"] = (g.max() - g.min()) / (g.size() - 1).where(g.size() > 1)
    out["tenure_days"] = g.max().astype(float)
    out["has_first_order"] = 1
    out = out.fillna({c: 0 for c in out.columns if c.startswith(("order_days", "spend"))})
    out = out.reset_index()
    hashed = out[C.USER_ID].str[-1].astype(int)
    out["identity_type"] = np.where(hashed < 7, "consumer", "physical_store")
    return out


def _interest(orders: pd.DataFrame, t: pd.Timestamp, half_life: float = 30.0) -> pd.DataFrame:
    before = orders[orders[C.ORDERED_AT] < t]
    age = (t - before[C.ORDERED_AT]).dt.total_seconds() / 86400.0
    frame = pd.DataFrame(
        {
            C.USER_ID: before[C.USER_ID],
            C.CATEGORY_ID: before[C.CATEGORY_ID],
            "w": before[C.QUANTITY] * np.exp(-np.log(2) * age / half_life),
            "age": age,
        }
    )
    g = frame.groupby([C.USER_ID, C.CATEGORY_ID])
    pairs = pd.DataFrame({"decayed": g["w"].sum(), "last": np.floor(g["age"].min())})
    pairs["c30"] = frame[frame["age"] <= 30].groupby([C.USER_ID, C.CATEGORY_ID]).size()
    pairs["c180"] = g.size().astype(float)
    pairs = (
        pairs.fillna(0.0).reset_index().sort_values([C.USER_ID, "decayed"], ascending=[True, False])
    )
    pairs["share"] = pairs["decayed"] / pairs.groupby(C.USER_ID)["decayed"].transform("sum")
    agg = pairs.groupby(C.USER_ID).agg(
        interest_categories=(C.CATEGORY_ID, list),
        interest_scores=("share", list),
        decayed_scores=("decayed", list),
        last_days=("last", list),
        counts_30d=("c30", list),
        counts_180d=("c180", list),
    )
    return agg.reset_index()


def _category_stats(orders: pd.DataFrame, t: pd.Timestamp) -> pd.DataFrame:
    recent = orders[
        (orders[C.ORDERED_AT] < t) & (orders[C.ORDERED_AT] >= t - pd.Timedelta(days=30))
    ]
    cats = pd.DataFrame({C.CATEGORY_ID: [f"c{c:02d}" for c in range(N_CATS)]})
    buyers = recent.groupby(C.CATEGORY_ID)[C.USER_ID].nunique()
    cats["buyers_30d"] = cats[C.CATEGORY_ID].map(buyers).fillna(0).astype(int)
    cats["popularity_share"] = cats["buyers_30d"] / max(recent[C.USER_ID].nunique(), 1)
    cats["repurchase_cycle_days"] = 14.0
    cats["is_high_frequency"] = 1
    cats["units_30d"] = cats[C.CATEGORY_ID].map(recent.groupby(C.CATEGORY_ID)[C.QUANTITY].sum())
    return cats.fillna(0.0)


def write_workspace(
    ws: Workspace, dates: Sequence[date], n_users: int = 400, seed: int = 0, n_days: int = N_DAYS
) -> pd.DataFrame:
    """Contract orders/products + offline histories for `dates`; returns orders (with category)."""
    orders, products = synthetic_orders(n_users, seed, n_days)
    write_parquet_atomic(orders, ws.data / "orders.parquet")
    write_parquet_atomic(products, ws.data / "products.parquet")
    orders[C.CATEGORY_ID] = orders[C.PRODUCT_ID].str.split("_").str[0]
    tables: dict[str, list[pd.DataFrame]] = {
        "user_activity": [],
        "user_interest": [],
        "category_stats": [],
    }
    for d in dates:
        t = pd.Timestamp(d, tz="UTC")
        for name, fn in (
            ("user_activity", _activity),
            ("user_interest", _interest),
            ("category_stats", _category_stats),
        ):
            tables[name].append(fn(orders, t).assign(**{C.EVENT_TIMESTAMP: t}))
    for name, parts in tables.items():
        write_parquet_atomic(pd.concat(parts, ignore_index=True), ws.offline / f"{name}.parquet")
    return orders


def end_date(n_days: int = N_DAYS) -> date:
    """The as-of date the fixture data supports (day after the last order)."""
    return START + timedelta(days=n_days)
