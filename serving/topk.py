"""The k largest values of each score row, sorting only the members that can be among them.

Sorting every (category, price band) row of a 500-member group was the largest single cost of
a push-list request. A row's scores are `lower + extra * fit` with 0 <= fit <= 1, so each
member's score lies in [lower, upper] of its category (upper = lower + extra, both in float32,
where rounding keeps the order). If k members of a category have lower >= theta, every row of
that category has its k-th best >= theta, so members with upper < theta cannot be among its k
best; members with upper == 0 score 0 and only pad. Typically ~60 of ~500 columns remain.
"""

from __future__ import annotations

import numpy as np

# below this share of kept columns the gather + smaller sort beats sorting whole rows
MAX_KEPT_SHARE = 0.5


def _sorted_top(rows: np.ndarray, k: int) -> np.ndarray:
    """The k largest of each row, descending, zero-padded when a row is shorter than k."""
    top = np.sort(rows, axis=1)[:, ::-1][:, :k]
    if top.shape[1] < k:
        top = np.pad(top, ((0, 0), (0, k - top.shape[1])))
    return top


def top_k_rows(
    scores: np.ndarray,
    row_group: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    k: int,
) -> np.ndarray:
    """The k largest values of each row of SCORES (rows x members), descending.

    ROW_GROUP maps each row to a row of LOWER / UPPER (groups x members): per-member bounds
    that hold for every row of the group. Scores must be >= 0. Equal to sorting whole rows.
    """
    m = scores.shape[1]
    if k >= m or not (np.isfinite(lower).all() and np.isfinite(upper).all()):
        return _sorted_top(scores, k)
    theta = -np.partition(-lower, k - 1, axis=1)[:, k - 1]  # k-th best lower bound per group
    keep = (upper >= theta[:, None]) & (upper > 0)
    width = int(keep.sum(axis=1).max())
    if width > MAX_KEPT_SHARE * m:
        return _sorted_top(scores, k)
    # kept members first in each group (a permutation: no member counted twice); the few
    # unkept ones that fill short groups are real scores of the row, which cannot change its
    # k best (a superset of the kept members)
    order = np.argsort(~keep, axis=1, kind="stable")[:, :width]
    return _sorted_top(np.take_along_axis(scores, order[row_group], axis=1), k)
