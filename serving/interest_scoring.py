"""The interest champion's scores for the serving snapshot, chunk by chunk from Arrow buffers.

Why chunks: `build_pairs` over every user at once (1M users on the large preset) makes a pair
frame of tens of millions of rows x 30 columns, on top of pandas' user_interest (a numpy array
per user and list): many GB. Per chunk of users the pair frame stays small; only the flat
arrays the snapshot keeps (user row, category, score, last days, 30-day count, probability)
are concatenated. Per-user features and per-row predictions make the result identical to
scoring one frame of all users.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa

from configs import columns as C
from features.pairs import ARRAYS, build_pairs
from serving.models import Champion, safe_predict
from serving.snapshot import Long, long_from_pairs

USER_CHUNK = 50_000  # users per pair frame: ~2M pairs, a few hundred MB
PAIR_INPUTS = (C.USER_ID, *ARRAYS)  # the user_interest columns build_pairs reads


def position_index(ids: Sequence[str] | np.ndarray | pd.Series) -> pd.Series:
    """id -> row position, as the snapshot numbers users and categories (built once, and
    Series.map on it is a hash lookup, not a dict converted per call)."""
    keys = pd.Series(ids).astype(str).to_numpy(dtype=object)
    return pd.Series(np.arange(len(keys), dtype=np.int64), index=pd.Index(keys))


def as_arrow(interest: pd.DataFrame | pa.Table) -> pa.Table:
    """user_interest's PAIR_INPUTS as Arrow (Redis snapshots arrive as pandas)."""
    if isinstance(interest, pa.Table):
        return interest.select(list(PAIR_INPUTS))
    return pa.Table.from_pandas(interest[list(PAIR_INPUTS)], preserve_index=False)


def score_interest(
    champion: Champion,
    interest: pa.Table,
    category_stats: pd.DataFrame,
    activity: pd.DataFrame,
    n_popular: int,
    chunk_users: int = USER_CHUNK,
) -> tuple[Long, np.ndarray] | None:
    """(long pairs, probability per pair) for every user of INTEREST, numbered like
    build_snapshot numbers activity's users and category_stats' categories; None when the
    model cannot score these features (the snapshot then serves heuristics)."""
    user_pos = position_index(activity[C.USER_ID])
    cat_pos = position_index(category_stats[C.CATEGORY_ID])
    user_col = activity[C.USER_ID]
    parts: list[tuple[np.ndarray, ...]] = []
    for start in range(0, max(interest.num_rows, 1), chunk_users):
        block = interest.slice(start, chunk_users)
        ids = block.column(C.USER_ID).to_numpy(zero_copy_only=False)
        acts = activity[user_col.isin(ids)]
        pairs = build_pairs(block, category_stats, acts, n_popular)
        prob = safe_predict(champion, pairs)
        if prob is None:
            if not len(pairs):
                continue
            return None
        known, *arrays = long_from_pairs(pairs, user_pos, cat_pos)
        parts.append((*(a for a in arrays), np.asarray(prob, dtype=np.float32)[known]))
        del pairs, acts
    if not parts:
        return None
    row, col, scores, last, c30, prob = (np.concatenate(p) for p in zip(*parts, strict=True))
    known = np.ones(len(row), dtype=bool)
    return (known, row, col, scores, last, c30), prob
