"""The snapshot's per-user interest CSR (InterestCsr), built from a stream of (user, category)
pair chunks; InterestSource names where the pairs come from (build_interest).

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

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from configs import columns as C
from modelinput.pairs import explode_interest

# (user row, category, interest score, last days, 30-day count, model probability or None):
# known ids only, equal lengths; the probability is float32 when present
LongChunk = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]
# called once per pass; each call yields the same chunks in the same order
ChunkSource = Callable[[], Iterable[LongChunk]]

ROW_BLOCK = 16_384  # users sorted and finished at a time (~0.6M entries: tens of MB of temporaries)


@dataclass(frozen=True)
class InterestCsr:
    """Per-user sparse category vectors; every data array is aligned with `indices`."""

    indptr: np.ndarray  # int64 (n_users + 1)
    indices: np.ndarray  # int32 category index, sorted within each row
    model: np.ndarray  # float32 champion interest probability (fallback: relative interest)
    rel: np.ndarray  # float32 spread interest share / the user's largest share, in [0, 1]
    last_days: np.ndarray  # float32 days since the last purchase (-1: never bought)
    counts_30d: np.ndarray  # float32 order days with the category in 30 days
    live: np.ndarray  # bool: not suppressed (rule 1: slow-cycle category bought within cycle)
    due: np.ndarray  # float32 min(1, last_days / cycle) for bought categories, else 0
    # (entries, 3) float32 [model, rel, due]: `model`, `rel` and `due` are column views of it,
    # so scoring gathers a member's entries in one contiguous read (random reads dominate)
    scoring: np.ndarray


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


Long = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def long_from_pairs(
    pairs: pd.DataFrame,
    user_index: Mapping[str, int] | pd.Series,
    cat_index: Mapping[str, int] | pd.Series,
) -> Long:
    """(known mask, user row, category, score, last days, 30-day count) of long pairs."""
    users = pairs[C.USER_ID].astype(str).map(user_index).to_numpy()
    cats = pairs[C.CATEGORY_ID].astype(str).map(cat_index).to_numpy()
    known = ~(pd.isna(users) | pd.isna(cats))
    row, col = users[known].astype(np.int64), cats[known].astype(np.int32)
    scores = pd.to_numeric(pairs["interest_score"]).fillna(0).to_numpy(np.float32)[known]
    last = pd.to_numeric(pairs["last_days"]).fillna(-1).to_numpy(np.float32)[known]
    c30 = pd.to_numeric(pairs["counts_30d"]).fillna(0).to_numpy(np.float32)[known]
    return known, row, col, scores, last, c30


def _flat(lists: pa.ChunkedArray, fill: float) -> np.ndarray:
    values = lists.combine_chunks().flatten().to_numpy(zero_copy_only=False)
    return np.nan_to_num(values.astype(np.float32), nan=fill)


def _long_from_lists(
    interest: pa.Table, user_index: Mapping[str, int] | pd.Series, cat_ids: np.ndarray
) -> Long:
    """long_from_pairs straight from user_interest's list columns (what explode_interest
    yields), in Arrow buffers: no per-user numpy arrays or long string columns, which cost
    several GB for 1M users."""
    cats = interest.column("interest_categories").combine_chunks()
    lengths = pc.list_value_length(cats).fill_null(0).to_numpy(zero_copy_only=False)
    ids = pd.Series(interest.column(C.USER_ID).to_numpy(zero_copy_only=False), dtype=object)
    users = np.repeat(ids.map(user_index).fillna(-1).to_numpy(np.int64), lengths)
    cat = pc.index_in(cats.flatten(), value_set=pa.array(cat_ids, type=pa.string()))
    cat_np = cat.fill_null(-1).to_numpy(zero_copy_only=False)
    known = (users >= 0) & (cat_np >= 0)
    parts = [
        _flat(interest.column(name), fill)
        for name, fill in (("interest_scores", 0.0), ("last_days", -1.0), ("counts_30d", 0.0))
    ]
    if any(len(a) != len(users) for a in parts):
        raise ValueError("user_interest: arrays are not aligned with interest_categories")
    row, col = users[known].astype(np.int64), cat_np[known].astype(np.int32)
    return known, row, col, *(a[known] for a in parts)  # type: ignore[return-value]


def _list_chunks(
    blocks: Callable[[], Iterable[pa.Table]], user_index: Mapping[str, int], cat_ids: np.ndarray
) -> ChunkSource:
    """_long_from_lists per block of user_interest rows, as a chunk source."""
    positions = pd.Series(user_index, dtype=np.int64)  # mapped once per block: no dict copies

    def chunks() -> Iterator[LongChunk]:
        for block in blocks():
            _, row, col, scores, last, c30 = _long_from_lists(block, positions, cat_ids)
            yield row, col, scores, last, c30, None

    return chunks


@dataclass(frozen=True)
class InterestSource:
    """Where the interest CSR's (user, category) pairs come from; the first one set wins.

    `chunks`: (chunk source, with probabilities), pairs as a stream read twice, so that they
    are never held whole (large preset). `lists`: user_interest as Arrow (the lean way for 1M
    users), or a callable yielding it in blocks of users, read once per CSR pass. `long`: (long
    pairs, interest probabilities) already numbered by row of user_activity and category_stats
    (serving.interest_scoring, the lean champion path). `pairs`: long (user_id, category_id,
    interest_score, last_days, counts_30d) rows, with `prob` the champion's scores aligned with
    them. None set: exploded from the feature table user_interest.
    """

    chunks: tuple[ChunkSource, bool] | None = None
    lists: pa.Table | Callable[[], Iterable[pa.Table]] | None = None
    long: tuple[Long, np.ndarray] | None = None
    pairs: pd.DataFrame | None = None
    prob: np.ndarray | None = None


@dataclass(frozen=True)
class CsrAxes:
    """The snapshot's user and category numbering the CSR is built on."""

    n_users: int
    user_index: Mapping[str, int]
    cat_index: Mapping[str, int]
    cat_ids: np.ndarray
    cat_cycle: np.ndarray
    cat_high_freq: np.ndarray


def _from_long(long: Long, prob: np.ndarray | None, axes: CsrAxes) -> InterestCsr:
    """Long (user, category) pairs -> CSR sorted by (user, category), unknown ids dropped."""
    known, row, col, scores, last, c30 = long
    p = None if prob is None else np.asarray(prob, dtype=np.float32)[known]
    chunk = [(row, col, scores, last, c30, p)]
    return build_csr(
        lambda: chunk, axes.n_users, axes.cat_cycle, axes.cat_high_freq, with_prob=p is not None
    )


def build_interest(
    source: InterestSource, tables: Mapping[str, pd.DataFrame], axes: CsrAxes
) -> InterestCsr:
    """The snapshot's interest CSR from SOURCE (else tables["user_interest"])."""
    n, cycle, high_freq = axes.n_users, axes.cat_cycle, axes.cat_high_freq
    if source.chunks is not None:
        chunks, with_prob = source.chunks
        return build_csr(chunks, n, cycle, high_freq, with_prob=with_prob)
    if callable(source.lists):
        blocks = _list_chunks(source.lists, axes.user_index, axes.cat_ids)
        return build_csr(blocks, n, cycle, high_freq, with_prob=False)
    prob = source.prob
    if source.long is not None:
        long, prob = source.long
    elif source.pairs is not None:
        long = long_from_pairs(source.pairs, axes.user_index, axes.cat_index)
    elif source.lists is not None:
        long = _long_from_lists(source.lists, axes.user_index, axes.cat_ids)
    else:
        arrays = ("interest_scores", "last_days", "counts_30d")
        pairs = explode_interest(tables["user_interest"], arrays)
        long = long_from_pairs(pairs, axes.user_index, axes.cat_index)
        del pairs
    return _from_long(long, prob, axes)
