"""The interest model's pair features as numpy arrays on integer positions, straight from Arrow.

Why: `modelinput.pairs.build_pairs` (pandas, string keys) is what training uses, but serving
scores every user x candidate category (large preset: ~28M pairs), and there the frame
copies, string joins and per-chunk `isin` over all users cost about a third of the
scoring time next to LightGBM. This computes the same values (same row order, float64
arithmetic, float32 result) with positions into category_stats and user_activity, looked up
once per load. `prepare` returns None when the inputs need the general path (duplicate ids).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from configs import columns as C
from modelinput.pairs import CATEGORY_COLUMNS, PAIR_FEATURES, USER_COLUMNS, popular_categories

EXTRA_RANK = 999.0  # interest_rank of an added popular candidate (as build_pairs)


@dataclass(frozen=True)
class PairInputs:
    """Per-category and per-user columns, each with a trailing NaN row for unknown ids."""

    cat_ids: pa.Array  # category_stats' ids, in its row order
    cats: dict[str, np.ndarray]  # pair feature name -> float64 (n_cats + 1)
    popular: np.ndarray  # int64 positions of the popular candidates, most popular first
    user_index: pd.Index  # user_activity's ids, in its row order
    users: dict[str, np.ndarray]  # USER_COLUMNS -> float32 (n_users + 1)


@dataclass(frozen=True)
class PairChunk:
    """One chunk's pairs: positions (-1: unknown id) and every PAIR_FEATURES column."""

    user: np.ndarray  # int64 row in user_activity
    cat: np.ndarray  # int64 row in category_stats
    features: dict[str, np.ndarray]  # float32, in pair order
    interest_score: np.ndarray  # float32, 0 for added candidates
    last_days: np.ndarray  # float32, -1 when never bought
    counts_30d: np.ndarray  # float32


def _with_nan_row(values: np.ndarray, dtype: type) -> np.ndarray:
    return np.concatenate([values.astype(dtype), np.full(1, np.nan, dtype=dtype)])


def prepare(
    category_stats: pd.DataFrame, activity: pd.DataFrame, n_popular: int
) -> PairInputs | None:
    """The lookups every chunk shares; None when ids repeat (build_pairs then merges)."""
    cat_ids = category_stats[C.CATEGORY_ID].astype(str)
    user_ids = activity[C.USER_ID].astype(str)
    if not cat_ids.is_unique or not user_ids.is_unique:
        return None
    cats = category_stats[list(CATEGORY_COLUMNS)].rename(columns=CATEGORY_COLUMNS)
    cats["cat_popularity_rank"] = cats["cat_popularity"].rank(ascending=False, method="min")
    cat_values = {
        name: _with_nan_row(pd.to_numeric(cats[name]).to_numpy(np.float64), np.float64)
        for name in cats.columns
    }
    users = {
        col: _with_nan_row(
            pd.to_numeric(activity[col]).to_numpy(np.float64, na_value=np.nan), np.float32
        )
        if col in activity.columns
        else np.full(len(activity) + 1, np.nan, dtype=np.float32)
        for col in USER_COLUMNS
    }
    popular = popular_categories(category_stats, n_popular).astype(str)
    return PairInputs(
        cat_ids=pa.array(cat_ids.to_numpy(dtype=object), type=pa.string()),
        cats=cat_values,
        popular=pd.Index(cat_ids).get_indexer(popular).astype(np.int64),
        user_index=pd.Index(user_ids.to_numpy(dtype=object)),
        users=users,
    )


def _flat(block: pa.Table, name: str) -> np.ndarray:
    values = pc.list_flatten(block.column(name)).cast(pa.float64())
    return values.to_numpy(zero_copy_only=False)


def chunk_pairs(block: pa.Table, inputs: PairInputs) -> PairChunk | None:
    """build_pairs(block, ...) as arrays; None when user ids repeat within the block."""
    ids = block.column(C.USER_ID).to_numpy(zero_copy_only=False)
    n_users = len(ids)
    if n_users and pd.Series(ids).duplicated().any():
        return None
    lists = block.column("interest_categories")
    lengths = pc.list_value_length(lists).fill_null(0).to_numpy(zero_copy_only=False)
    lengths = lengths.astype(np.int64)
    n_long = int(lengths.sum())
    local = np.repeat(np.arange(n_users, dtype=np.int64), lengths)
    flat_cats = pc.list_flatten(lists).cast(pa.string())
    long_cat = pc.index_in(flat_cats, value_set=inputs.cat_ids).fill_null(-1)
    long_cat = long_cat.to_numpy(zero_copy_only=False).astype(np.int64)
    first = np.repeat(np.cumsum(lengths) - lengths, lengths)
    long_rank = (np.arange(n_long, dtype=np.int64) - first + 1).astype(np.float64)

    pop = inputs.popular
    n_pop = len(pop)
    taken = np.zeros(n_users * n_pop, dtype=bool)
    slot = pd.Index(pop).get_indexer(long_cat) if n_pop else np.full(n_long, -1)
    hit = slot >= 0
    taken[local[hit] * n_pop + slot[hit]] = True
    keep = np.flatnonzero(~taken)
    local = np.concatenate([local, keep // n_pop if n_pop else keep])
    cat = np.concatenate([long_cat, pop[keep % n_pop] if n_pop else keep])
    n_extra = len(keep)

    def full(name: str, extra: float) -> np.ndarray:
        values = _flat(block, name)
        if len(values) != n_long:
            raise ValueError(f"user_interest: array {name!r} is not aligned with categories")
        return np.concatenate([values, np.full(n_extra, extra)])

    interest = full("interest_scores", 0.0)
    decayed = full("decayed_scores", 0.0)
    raw_last = full("last_days", -1.0)
    c30, c180 = full("counts_30d", 0.0), full("counts_180d", 0.0)
    rank = np.concatenate([long_rank, np.full(n_extra, EXTRA_RANK)])
    # pandas' grouped sum (compensated), exactly as build_pairs' transform("sum")
    total = pd.Series(decayed).groupby(local, sort=False).transform("sum").to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        share = decayed / np.where(total > 0, total, np.nan)
    bought = raw_last >= 0
    last = np.where(bought, raw_last, np.nan)
    cat_row = np.where(cat >= 0, cat, len(inputs.cat_ids))
    cycle = inputs.cats["cat_cycle_days"][cat_row]
    with np.errstate(divide="ignore", invalid="ignore"):
        readiness = last / np.where(cycle > 0, cycle, np.nan)
    user = inputs.user_index.get_indexer(ids)[local]
    user_row = np.where(user >= 0, user, len(inputs.user_index))
    pair = {
        "interest_score": interest,
        "decayed_score": decayed,
        "decayed_share": np.nan_to_num(share, nan=0.0, posinf=np.inf, neginf=-np.inf),
        "last_days": last,
        "counts_30d": c30,
        "counts_180d": c180,
        "interest_rank": rank,
        "is_bought": bought.astype(np.float64),
        "readiness": readiness,
        "cycles_missed": np.floor(readiness),
        **{name: values[cat_row] for name, values in inputs.cats.items()},
    }
    features = {name: pair[name].astype(np.float32) for name in pair}
    features.update({col: inputs.users[col][user_row] for col in USER_COLUMNS})
    assert set(features) == set(PAIR_FEATURES)
    return PairChunk(
        user=user.astype(np.int64),
        cat=cat,
        features=features,
        interest_score=np.nan_to_num(features["interest_score"], nan=0.0),
        last_days=np.nan_to_num(features["last_days"], nan=-1.0),
        counts_30d=np.nan_to_num(features["counts_30d"], nan=0.0),
    )
