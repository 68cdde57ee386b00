"""The snapshot's per-user interest CSR, built from a stream of (user, category) pair chunks.

Why streamed: the large preset has ~35M pairs. Concatenating every scored chunk, lexsorting
and gathering each array made three to four copies of them (~3 GB on top of the tables: the
service's start-up peak). Here the chunks are read twice: once to count each user's entries
(the row pointers), once to write every entry straight into its final slot, in stream order
within the user; then each user's entries are stable-sorted by category, a block of users at
a time. That is exactly np.lexsort((category, user)) of the concatenated stream, and every
derived value (relative interest, dueness, suppression) is elementwise, so the arrays are
byte-identical to the one-shot build while only the final arrays and one chunk are held.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from serving.snapshot import InterestCsr

# (user row, category, interest score, last days, 30-day count, model probability or None):
# known ids only, equal lengths; the probability is float32 when present
LongChunk = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]
# called once per pass; each call yields the same chunks in the same order
ChunkSource = Callable[[], Iterable[LongChunk]]

ROW_BLOCK = 16_384  # users sorted and finished at a time (~0.6M entries: tens of MB of temporaries)


def _slots(row: np.ndarray, fill: np.ndarray) -> np.ndarray:
    """Final positions of one chunk's entries: each user's next free slots, in chunk order."""
    order = np.argsort(row, kind="stable")
    ranked = row[order]
    n = len(ranked)
    starts = np.flatnonzero(np.r_[True, ranked[1:] != ranked[:-1]]) if n else np.zeros(0, int)
    first = np.repeat(starts, np.diff(np.r_[starts, n]))
    dest = np.empty(n, dtype=np.int64)
    dest[order] = fill[ranked] + (np.arange(n) - first)
    return dest


def _suppression(last: np.ndarray, cycle: np.ndarray, high_freq: np.ndarray) -> tuple:
    """Rule 1 per entry (never push a slow-cycle category bought within its cycle) + dueness."""
    bought = last >= 0
    with np.errstate(invalid="ignore", divide="ignore"):
        live = ~(bought & ~high_freq & (last < cycle))
        due = np.where(bought & (cycle > 0), np.minimum(last / np.where(cycle > 0, cycle, 1), 1), 0)
    return live, due.astype(np.float32)


def build_csr(
    source: ChunkSource,
    n_users: int,
    cat_cycle: np.ndarray,
    cat_high_freq: np.ndarray,
    *,
    with_prob: bool,
) -> InterestCsr:
    """The CSR sorted by (user, category) of every chunk SOURCE yields (model column: the
    chunks' probabilities WITH_PROB, else the relative interest)."""
    from serving.snapshot import InterestCsr

    counts = np.zeros(n_users, dtype=np.int64)
    for row, *_ in source():
        counts += np.bincount(row, minlength=n_users)
    indptr = np.zeros(n_users + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    del counts
    total = int(indptr[-1])
    col = np.empty(total, dtype=np.int32)
    scoring = np.empty((total, 3), dtype=np.float32)  # [model, rel, due]
    last = np.empty(total, dtype=np.float32)
    c30 = np.empty(total, dtype=np.float32)
    live = np.empty(total, dtype=bool)
    row_max = np.zeros(n_users, dtype=np.float32)
    fill = indptr[:-1].copy()
    for row, cat, scores, last_days, counts_30d, prob in source():
        if with_prob and prob is None:
            raise ValueError("a chunk without model probabilities")
        dest = _slots(row, fill)
        fill += np.bincount(row, minlength=n_users)
        if (fill > indptr[1:]).any():
            raise ValueError("the interest chunks changed between passes")
        col[dest] = cat
        scoring[dest, 1] = scores
        last[dest] = last_days
        c30[dest] = counts_30d
        if with_prob:
            scoring[dest, 0] = prob
        np.maximum.at(row_max, row, scores)
        del dest
    if not np.array_equal(fill, indptr[1:]):
        raise ValueError("the interest chunks changed between passes")
    del fill
    for start in range(0, n_users, ROW_BLOCK):
        stop = min(start + ROW_BLOCK, n_users)
        lo, hi = int(indptr[start]), int(indptr[stop])
        users = np.repeat(np.arange(start, stop), np.diff(indptr[start : stop + 1]))
        order = np.lexsort((col[lo:hi], users))
        col[lo:hi], scoring[lo:hi], last[lo:hi], c30[lo:hi] = (
            a[lo:hi][order] for a in (col, scoring, last, c30)
        )
        rel = (scoring[lo:hi, 1] / np.maximum(row_max[users], 1e-12)).astype(np.float32)
        scoring[lo:hi, 1] = rel
        if not with_prob:
            scoring[lo:hi, 0] = rel
        block_last = np.where(last[lo:hi] < 0, -1.0, last[lo:hi]).astype(np.float32)
        last[lo:hi] = block_last
        cats = col[lo:hi]
        live[lo:hi], scoring[lo:hi, 2] = _suppression(
            block_last, cat_cycle[cats], cat_high_freq[cats]
        )
    model, rel_view, due = scoring[:, 0], scoring[:, 1], scoring[:, 2]
    return InterestCsr(indptr, col, model, rel_view, last, c30, live, due, scoring)
