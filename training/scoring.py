"""Batch scoring with the champion models on the feature tables of one as-of date."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from configs import columns as C
from modelinput.pairs import build_pairs

USER_CHUNK = 100_000  # users per pair-building chunk: bounds memory on the large preset


def repurchase_scores(model: Any, activity: pd.DataFrame) -> pd.DataFrame:
    """user_id, repurchase_prob for every row of the user_activity snapshot."""
    probs = model.predict_proba(activity)[:, 1]
    return pd.DataFrame({C.USER_ID: activity[C.USER_ID].to_numpy(), C.REPURCHASE_PROB: probs})


def interest_scores(
    model: Any,
    interest: pd.DataFrame,
    activity: pd.DataFrame,
    stats: pd.DataFrame,
    n_popular: int,
    top_k: int | None = None,
) -> pd.DataFrame:
    """user_id, category_id, score (+ rank 1..k when top_k) over each user's candidates."""
    parts = []
    for start in range(0, len(interest), USER_CHUNK):
        block = interest.iloc[start : start + USER_CHUNK]
        acts = activity[activity[C.USER_ID].isin(block[C.USER_ID])]
        pairs = build_pairs(block, stats, acts, n_popular)
        scored = pairs[[C.USER_ID, C.CATEGORY_ID]].assign(
            **{C.SCORE: model.predict_proba(pairs)[:, 1]}
        )
        parts.append(top_per_user(scored, top_k) if top_k else scored)
    if not parts:
        return pd.DataFrame(columns=[C.USER_ID, C.CATEGORY_ID, C.SCORE, C.RANK])
    return pd.concat(parts, ignore_index=True)


def top_per_user(scored: pd.DataFrame, k: int) -> pd.DataFrame:
    """The k best categories per user, rank 1..k without gaps (ties by category id)."""
    ordered = scored.sort_values([C.USER_ID, C.SCORE, C.CATEGORY_ID], ascending=[True, False, True])
    rank = ordered.groupby(C.USER_ID, sort=False).cumcount().to_numpy() + 1
    ordered = ordered.assign(**{C.RANK: rank.astype(np.int32)})
    return ordered[ordered[C.RANK] <= k].reset_index(drop=True)
