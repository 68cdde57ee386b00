"""User x candidate-category pair features for the interest model.

Lives in modelinput/ because training builds its sets with it and serving scores with it, and
serving must not import training code. Candidates per user = every category in the user's
sparse interest vector (all categories bought before t + the top similarity-spread ones) plus
the top-N popular categories. One row per (user, category); vectorised through Arrow.
"""

from __future__ import annotations

from typing import TypeAlias

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

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


Interest: TypeAlias = pd.DataFrame | pa.Table


def _lists(interest: Interest, name: str, kind: pa.DataType) -> pa.Array | pa.ChunkedArray:
    """One list column as Arrow: an Arrow table's own buffers, or converted from pandas."""
    if isinstance(interest, pa.Table):
        return interest.column(name)
    return pa.array(interest[name], type=pa.list_(kind))


def _user_ids(interest: Interest) -> np.ndarray:
    if isinstance(interest, pa.Table):
        return interest.column(C.USER_ID).to_numpy(zero_copy_only=False)
    return interest[C.USER_ID].to_numpy()


def explode_interest(interest: Interest, arrays: tuple[str, ...] = tuple(ARRAYS)) -> pd.DataFrame:
    """Long (user, category) rows from the per-user aligned arrays of the user_interest table
    (only the `arrays` asked for; interest_categories always). INTEREST may be pandas or
    Arrow (flat buffers: no numpy array per user and list); both give the same frame."""
    lengths = pc.list_value_length(_lists(interest, "interest_categories", pa.string()))
    lengths_np = lengths.fill_null(0).to_numpy(zero_copy_only=False)
    out = {C.USER_ID: np.repeat(_user_ids(interest), lengths_np)}
    for source, target in ARRAYS.items():
        if source not in arrays and source != "interest_categories":
            continue
        kind = pa.string() if source == "interest_categories" else pa.float64()
        flat = pc.list_flatten(_lists(interest, source, kind)).cast(kind)
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


def _missing_popular(long: pd.DataFrame, users: np.ndarray, popular: pd.Series) -> pd.DataFrame:
    """The (user, popular category) pairs not already in LONG, users outer and popular inner
    (the rows of a cross merge anti-joined with LONG, without the two hash joins)."""
    n_pop = len(popular)
    if n_pop == 0 or not popular.is_unique:
        cross = pd.DataFrame({C.USER_ID: users}).merge(popular.to_frame(C.CATEGORY_ID), how="cross")
        keys = list(PAIR_KEYS)
        cross = cross.merge(long[keys], on=keys, how="left", indicator=True)
        return cross.loc[cross["_merge"] == "left_only", keys]
    user_pos = pd.Index(users).get_indexer(long[C.USER_ID])
    pop_pos = pd.Index(popular).get_indexer(long[C.CATEGORY_ID])
    hit = (user_pos >= 0) & (pop_pos >= 0)
    taken = np.zeros(len(users) * n_pop, dtype=bool)
    taken[user_pos[hit] * n_pop + pop_pos[hit]] = True
    keep = np.flatnonzero(~taken)
    cats = popular.to_numpy()
    return pd.DataFrame({C.USER_ID: users[keep // n_pop], C.CATEGORY_ID: cats[keep % n_pop]})


def _left_join(left: pd.DataFrame, right: pd.DataFrame, key: str) -> pd.DataFrame:
    """left.merge(right, on=key, how="left") when RIGHT's keys are unique: one index lookup
    of LEFT's keys (same rows, order and dtypes) instead of a hash join of both sides."""
    clash = set(right.columns) & set(left.columns) - {key}
    if clash or not right[key].is_unique:
        return left.merge(right, on=key, how="left")
    looked = right.set_index(key).reindex(left[key].to_numpy())
    for col in looked.columns:
        left[col] = looked[col].to_numpy()
    return left


def build_pairs(
    interest: Interest,
    category_stats: pd.DataFrame,
    activity: pd.DataFrame | None = None,
    n_popular: int = 10,
) -> pd.DataFrame:
    """Candidate pairs with PAIR_FEATURES (+ identity_type) for every user in `interest`.

    interest: user_id + the user_interest arrays (pandas or Arrow); category_stats:
    category_id + its table's columns; activity: user_id + user_activity columns (missing
    ones become NaN).
    """
    long = explode_interest(interest)
    users = pd.unique(_user_ids(interest))
    extra = _missing_popular(long, users, popular_categories(category_stats, n_popular))
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
    pairs = _left_join(pairs, cats, C.CATEGORY_ID)
    cycle = pairs["cat_cycle_days"].where(pairs["cat_cycle_days"] > 0)
    pairs["readiness"] = pairs["last_days"] / cycle
    pairs["cycles_missed"] = np.floor(pairs["readiness"])

    wanted = [c for c in (*USER_COLUMNS, *PAIR_CATEGORICAL)]
    if activity is not None:
        present = [c for c in wanted if c in activity.columns]
        pairs = _left_join(pairs, activity[[C.USER_ID, *present]], C.USER_ID)
    for col in wanted:
        if col not in pairs.columns:
            pairs[col] = np.nan if col in USER_COLUMNS else None
    numeric = [c for c in PAIR_FEATURES]
    pairs[numeric] = pairs[numeric].astype(np.float32)
    return pairs[[*PAIR_KEYS, *PAIR_FEATURES, *PAIR_CATEGORICAL]]
