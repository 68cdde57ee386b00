"""Seeded, hand-sized feature tables in the catalog's shape (no Feast, no MLflow needed)."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from configs import columns as C

AS_OF = date(2025, 12, 1)


def feature_tables(
    n_users: int = 60,
    n_cats: int = 6,
    products_per_cat: int = 4,
    n_groups: int = 3,
    seed: int = 7,
    zombie_groups: int = 1,
    interest_k: int = 4,
) -> dict[str, pd.DataFrame]:
    """user_activity, user_interest, category_stats, product_stats, group_stats + memberships."""
    rng = np.random.default_rng(seed)
    ts = pd.Timestamp(AS_OF, tz="UTC")
    users = [f"u{i}" for i in range(n_users)]
    cats = [f"c{i}" for i in range(n_cats)]
    groups = [f"g{i}" for i in range(n_groups)]
    group_of = [groups[i % n_groups] for i in range(n_users)]
    ua = pd.DataFrame(
        {
            C.USER_ID: users,
            C.EVENT_TIMESTAMP: ts,
            "recency_days": rng.integers(0, 60, n_users).astype(float),
            "order_days_30d": rng.integers(0, 6, n_users),
            "order_days_90d": rng.integers(0, 15, n_users),
            "price_ratio": rng.uniform(0.6, 1.6, n_users),
            "tags": ["T01,T02" if i % 2 else "T03" for i in range(n_users)],
            C.GROUP_ID: group_of,
        }
    )
    k = min(interest_k, n_cats)
    interest_rows = []
    for _ in users:
        cs = rng.choice(n_cats, size=k, replace=False)
        sc = rng.dirichlet(np.ones(k))
        order = np.argsort(-sc)
        last = rng.integers(-1, 40, k).astype(float)
        interest_rows.append(
            (
                np.array([cats[c] for c in cs[order]]),
                sc[order],
                np.where(last >= 0, sc[order] * 3, 0.0),
                last[order],
                np.where(last[order] >= 0, rng.integers(0, 5, k), 0).astype(float),
                np.where(last[order] >= 0, rng.integers(1, 9, k), 0).astype(float),
            )
        )
    names = [f.name for f in _interest_features()]
    ui = pd.DataFrame(interest_rows, columns=names)
    ui.insert(0, C.USER_ID, users)
    ui[C.EVENT_TIMESTAMP] = ts
    cstats = pd.DataFrame(
        {
            C.CATEGORY_ID: cats,
            C.EVENT_TIMESTAMP: ts,
            C.REPURCHASE_CYCLE_DAYS: [7.0 if i % 3 == 0 else 21.0 for i in range(n_cats)],
            "is_high_frequency": [1 if i % 3 == 0 else 0 for i in range(n_cats)],
            "popularity_share": rng.uniform(0.01, 0.3, n_cats),
            "buyers_30d": rng.integers(1, 50, n_cats),
        }
    )
    n_products = n_cats * products_per_cat
    pstats = pd.DataFrame(
        {
            C.PRODUCT_ID: [f"p{i}" for i in range(n_products)],
            C.EVENT_TIMESTAMP: ts,
            C.CATEGORY_ID: [cats[i // products_per_cat] for i in range(n_products)],
            "price_band": rng.integers(0, 5, n_products),
            C.STOCK_QTY: rng.integers(20, 200, n_products).astype(float),
            "is_slow_moving": 1,
        }
    )
    gstats = pd.DataFrame(
        {
            C.GROUP_ID: groups,
            C.EVENT_TIMESTAMP: ts,
            C.GROUP_TYPE: "consumer",
            C.STORE_ID: "s1",
            "n_active_30d": np.arange(n_groups)[::-1] + 1,
            "stage": [
                "zombie" if i >= n_groups - zombie_groups else "mid" for i in range(n_groups)
            ],
        }
    )
    members = pd.DataFrame({C.GROUP_ID: group_of, C.USER_ID: users})
    return {
        "user_activity": ua,
        "user_interest": ui,
        "category_stats": cstats,
        "product_stats": pstats,
        "group_stats": gstats,
        "memberships": members,
    }


def _interest_features():  # type: ignore[no-untyped-def]
    from features.store.catalog import USER_INTEREST

    return USER_INTEREST.features
