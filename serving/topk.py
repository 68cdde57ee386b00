"""The k largest values of each score row, sorting only the members that can be among them.

Sorting every (category, price band) row of a 500-member group was the largest single cost of
a push-list request. A row's scores are `lower + extra * fit` with 0 <= fit <= 1 (computed
here only for the kept members, not materialised for whole rows), so each
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


def _rows(
    base: np.ndarray, extra: np.ndarray, fit: np.ndarray, cat: np.ndarray, band: np.ndarray
) -> np.ndarray:
    """Every member's score of every row (the fallback when the bounds keep too many)."""
    return base[cat] + extra[cat] * fit[band]


def top_k_rows(
    base: np.ndarray,
    extra: np.ndarray,
    fit: np.ndarray,
    row_cat: np.ndarray,
    row_band: np.ndarray,
    k: int,
) -> np.ndarray:
    """The k largest values of each score row, descending; row r scores the members
    `base[c] + extra[c] * fit[b]` (c, b = ROW_CAT[r], ROW_BAND[r]; BASE, EXTRA: categories x
    members, >= 0; FIT: bands x members, in [0, 1]). Equal to sorting whole rows, but only
    the kept members' scores are computed."""
    m = base.shape[1]
    if k >= m or not (np.isfinite(base).all() and np.isfinite(extra).all()):
        return _sorted_top(_rows(base, extra, fit, row_cat, row_band), k)
    upper = base + extra
    theta = -np.partition(-base, k - 1, axis=1)[:, k - 1]  # k-th best lower bound per category
    keep = (upper >= theta[:, None]) & (upper > 0)
    counts = keep.sum(axis=1)
    width = int(counts.max())
    if width > MAX_KEPT_SHARE * m:
        return _sorted_top(_rows(base, extra, fit, row_cat, row_band), k)
    # each category's kept columns packed to the left (a padded index matrix, pads zeroed):
    # a category keeps fewer than k members only when theta is 0, so its other members
    # score 0 and zero padding changes no row's k best
    cat, col = np.nonzero(keep)
    slot = np.arange(len(col)) - np.repeat(np.cumsum(counts) - counts, counts)
    cols = np.zeros((len(keep), max(width, 1)), dtype=np.intp)
    cols[cat, slot] = col
    sub_base = np.take_along_axis(base, cols, axis=1)[row_cat]
    sub_extra = np.take_along_axis(extra, cols, axis=1)[row_cat]
    sub = sub_base + sub_extra * fit[row_band[:, None], cols[row_cat]]
    if width == 0 or counts.min() < width:
        pad = np.ones(cols.shape, dtype=bool)
        pad[cat, slot] = False
        sub[pad[row_cat]] = 0
    return _sorted_top(sub, k)
