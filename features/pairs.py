"""User x candidate-category pair features for the interest model.

Lives in features/ because training builds its sets with it and serving scores with it, and
serving must not import training code. Candidates per user = every category in the user's
sparse interest vector (all categories bought before t + the top similarity-spread ones) plus
the top-N popular categories. One row per (user, category); vectorised through Arrow.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from configs import columns as C

ARRAYS = {
    "interest_categories": C.CATEGORY_ID,
    "interest_scores": "interest_score",
    "decayed_scores": "decayed_score",
    "last_days": "last_days",
    "counts_30d": "counts_30d",
    "counts_180d": "counts_180d",
}
CATEGORY_COLUMNS = {
    "repurchase_cycle_days": "cat_cycle_days",
    "is_high_frequency": "cat_high_frequency",
    "popularity_share": "cat_popularity",
    "buyers_30d": "cat_buyers_30d",
}
USER_COLUMNS = (
    "recency_days",
    "order_days_30d",
    "order_days_90d",
    "order_days_total",
    "mean_gap_days",
    "n_categories_180d",
    "trend_30_90",
)
PAIR_CATEGORICAL = ("identity_type",)
PAIR_FEATURES = (
    "interest_score",
    "decayed_score",
    "decayed_share",
    "last_days",
    "counts_30d",
    "counts_180d",
    "interest_rank",
    "is_bought",
    "readiness",
    "cycles_missed",
    "cat_popularity_rank",
    *CATEGORY_COLUMNS.values(),
    *USER_COLUMNS,
)
PAIR_KEYS = (C.USER_ID, C.CATEGORY_ID)


def explode_interest(
    interest: pd.DataFrame, arrays: tuple[str, ...] = tuple(ARRAYS)
) -> pd.DataFrame:
    """Long (user, category) rows from the per-user aligned arrays of the user_interest table
    (only the `arrays` asked for; interest_categories always)."""
    lengths = pa.array(interest["interest_categories"], type=pa.list_(pa.string())).value_lengths()
    lengths_np = lengths.fill_null(0).to_numpy(zero_copy_only=False)
    out = {C.USER_ID: np.repeat(interest[C.USER_ID].to_numpy(), lengths_np)}
    for source, target in ARRAYS.items():
        if source not in arrays and source != "interest_categories":
            continue
        kind = pa.string() if source == "interest_categories" else pa.float64()
        flat = pa.array(interest[source], type=pa.list_(kind)).flatten()
        out[target] = flat.to_numpy(zero_copy_only=False)
        if len(out[target]) != len(out[C.USER_ID]):
            raise ValueError(f"user_interest: array {source!r} is not aligned with categories")
    long = pd.DataFrame(out)
    long["interest_rank"] = long.groupby(C.USER_ID, sort=False).cumcount() + 1
    return long


def popular_categories(category_stats: pd.DataFrame, n: int) -> pd.Series:
    """The n categories with the largest 30-day buyer share (ties by id)."""
    ranked = category_stats.sort_values(
        ["popularity_share", C.CATEGORY_ID], ascending=[False, True]
    )
    return ranked[C.CATEGORY_ID].head(n).reset_index(drop=True)


def build_pairs(
    interest: pd.DataFrame,
    category_stats: pd.DataFrame,
    activity: pd.DataFrame | None = None,
    n_popular: int = 10,
) -> pd.DataFrame:
    """Candidate pairs with PAIR_FEATURES (+ identity_type) for every user in `interest`.

    interest: user_id + the user_interest arrays; category_stats: category_id + its table's
    columns; activity: user_id + user_activity columns (missing ones become NaN).
    """
    long = explode_interest(interest)
    users = interest[[C.USER_ID]].drop_duplicates()
    popular = popular_categories(category_stats, n_popular).to_frame(C.CATEGORY_ID)
    extra = users.merge(popular, how="cross")
    extra = extra.merge(long[list(PAIR_KEYS)], on=list(PAIR_KEYS), how="left", indicator=True)
    extra = extra.loc[extra["_merge"] == "left_only", list(PAIR_KEYS)]
    for col in ("interest_score", "decayed_score", "counts_30d", "counts_180d"):
        extra[col] = 0.0
    extra["last_days"] = -1.0
    extra["interest_rank"] = 999
    pairs = pd.concat([long, extra], ignore_index=True)

    pairs["is_bought"] = (pairs["last_days"] >= 0).astype(np.int8)
    pairs["last_days"] = pairs["last_days"].where(pairs["last_days"] >= 0)
    total = pairs.groupby(C.USER_ID, sort=False)["decayed_score"].transform("sum")
    pairs["decayed_share"] = (pairs["decayed_score"] / total.where(total > 0)).fillna(0.0)

    cats = category_stats[[C.CATEGORY_ID, *CATEGORY_COLUMNS]].rename(columns=CATEGORY_COLUMNS)
    cats["cat_popularity_rank"] = cats["cat_popularity"].rank(ascending=False, method="min")
    pairs = pairs.merge(cats, on=C.CATEGORY_ID, how="left")
    cycle = pairs["cat_cycle_days"].where(pairs["cat_cycle_days"] > 0)
    pairs["readiness"] = pairs["last_days"] / cycle
    pairs["cycles_missed"] = np.floor(pairs["readiness"])

    wanted = [c for c in (*USER_COLUMNS, *PAIR_CATEGORICAL)]
    if activity is not None:
        present = [c for c in wanted if c in activity.columns]
        pairs = pairs.merge(activity[[C.USER_ID, *present]], on=C.USER_ID, how="left")
    for col in wanted:
        if col not in pairs.columns:
            pairs[col] = np.nan if col in USER_COLUMNS else None
    numeric = [c for c in PAIR_FEATURES]
    pairs[numeric] = pairs[numeric].astype(np.float32)
    return pairs[[*PAIR_KEYS, *PAIR_FEATURES, *PAIR_CATEGORICAL]]
