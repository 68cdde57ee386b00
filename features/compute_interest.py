"""Time-decayed category interest, co-purchase similarity and spreading (table user_interest).

Decay weights each order line by its quantity: interest(u, c) = sum quantity *
exp(-ln2 * age_days / half_life) (age in fractional days to t). Quantity, not line count, so a
household buying 6 cartons of milk shows more milk interest than one buying 1; per-user
normalisation keeps bulk (B2B) buyers comparable with households.

Similarity: cosine over the binary user x category matrix of the last 180 days, top-k
neighbours per category, co-bought by at least `similarity_min_users` users. Spreading uses
the row-normalised neighbour matrix S (each category passes its mass to its neighbours in
proportion to similarity): interest' = (1 - w) * I + w * I @ S with I normalised per user,
then renormalised to sum 1. Everything is scipy.sparse, processed in user blocks, so nothing
dense of users x categories is ever built. The per-date inputs come from one pass over the
orders (features/interest_inputs.py); ordering within a user sorts one packed integer key
(see _row_order) instead of a three-key lexsort.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import scipy.sparse as sp

from configs import columns as C
from configs.settings import FeatureSettings
from features.interest_inputs import PurchaseDays, RunStats, load_purchase_days, run_stats

USER_BLOCK = 65_536  # users per spreading block: local row numbers fit in uint16
NEIGHBOR_ID = "neighbor_id"
SIMILARITY = "similarity"


@dataclass(frozen=True)
class Similarity:
    """Top-k cosine neighbours: `raw` keeps cosine values, `spread` is row-normalised."""

    categories: np.ndarray  # category ids, index = matrix position
    raw: sp.csr_matrix
    spread: sp.csr_matrix

    def to_frame(self) -> pd.DataFrame:
        coo = self.raw.tocoo()
        return pd.DataFrame(
            {
                C.CATEGORY_ID: self.categories[coo.row],
                NEIGHBOR_ID: self.categories[coo.col],
                SIMILARITY: coo.data.astype("float64"),
            }
        ).sort_values([C.CATEGORY_ID, SIMILARITY], ascending=[True, False], ignore_index=True)


def _row_order(rows: np.ndarray, data: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Permutation to (row, data descending, column) order. Entries must come in (row, column)
    order. Usually one sort of a packed uint64 key (row | inverted float32 bits of the
    non-negative data | column): already ordered by row, so the stable sort finds long runs
    (~10x faster than two sorts); ties in float32 fall back to column order, which is the
    precision the scores are stored in. Wide inputs take two stable sorts."""
    if len(rows) and rows.max() < 2**16 and cols.max() < 2**16 and data.min() >= 0:
        bits = (data + 0.0).astype(np.float32).view(np.uint32)  # (+0.0: no negative zero)
        key = (
            (rows.astype(np.uint64) << np.uint64(48))
            | ((~bits).astype(np.uint64) << np.uint64(16))
            | cols.astype(np.uint64)
        )
        return np.argsort(key, kind="stable")
    by_value = np.argsort(-data, kind="stable")
    r = rows[by_value]
    if len(r) and r.max() < 2**16:
        r = r.astype(np.uint16)  # numpy sorts 16-bit integers with a radix sort
    return by_value[np.argsort(r, kind="stable")]


def _csr_rows(m: sp.csr_matrix) -> np.ndarray:
    return np.repeat(np.arange(m.shape[0], dtype=np.int64), np.diff(m.indptr))


def _top_k_mask(m: sp.csr_matrix, k: int) -> np.ndarray:
    """Mask over m.data (canonical CSR) of the entries among the k largest of their row, ties
    by column."""
    rows = _csr_rows(m)
    order = _row_order(rows, m.data, m.indices)
    rank = np.arange(len(order)) - m.indptr[rows[order]]
    keep = np.zeros(len(order), dtype=bool)
    keep[order[rank < k]] = True
    return keep


def _canonical(m: sp.spmatrix) -> sp.csr_matrix:
    out = sp.csr_matrix(m)
    out.sum_duplicates()  # sorts the column indices of every row
    return out


def _scale_rows(m: sp.csr_matrix) -> sp.csr_matrix:
    """Rows divided by their sums (empty rows stay empty)."""
    sums = np.asarray(m.sum(axis=1)).ravel()
    inv = np.divide(1.0, sums, out=np.zeros_like(sums), where=sums > 0)
    m.data = m.data * np.repeat(inv, np.diff(m.indptr))
    return m


def category_similarity(stats: RunStats, log: PurchaseDays, cfg: FeatureSettings) -> Similarity:
    """Cosine similarity of categories over who bought them in the last 180 days."""
    n_cat = len(log.categories)
    recent = stats.runs[stats.counts_180d > 0]
    u, c = log.run_user[recent], log.run_cat[recent]
    x = sp.csr_matrix((np.ones(len(u)), (u, c)), shape=(len(log.users), n_cat))
    gram = _canonical(x.T @ x).tocoo()
    buyers = np.asarray(x.sum(axis=0)).ravel()
    off_diag = (gram.row != gram.col) & (gram.data >= cfg.similarity_min_users)
    rows, cols = gram.row[off_diag], gram.col[off_diag]
    cos = gram.data[off_diag] / np.sqrt(buyers[rows] * buyers[cols])
    raw = _canonical(sp.coo_matrix((cos, (rows, cols)), shape=(n_cat, n_cat)))
    raw.data[~_top_k_mask(raw, cfg.similarity_top_k)] = 0.0
    raw.eliminate_zeros()
    return Similarity(log.categories, raw, _scale_rows(raw.copy()))


def _ones(m: sp.csr_matrix) -> sp.csr_matrix:
    return sp.csr_matrix((np.ones(len(m.data)), m.indices, m.indptr), shape=m.shape)


def _spread_block(
    ints: sp.csr_matrix, runs: sp.csr_matrix, sim: sp.csr_matrix, w: float, top_n: int
) -> tuple[np.ndarray, ...]:
    """(row, col, score, run position or -1) of every bought entry plus the top_n spread-only
    ones per row, scores summing to 1 per row, in output order (row, score desc, col).
    RUNS has the pattern of INTS with data = position in the RunStats + 1."""
    total = _scale_rows(_canonical((1.0 - w) * ints + w * (ints @ sim)))
    bought = _canonical(total.multiply(_ones(ints)))  # pattern: bought and in total
    bought_run = _canonical(runs.multiply(_ones(total)))  # same pattern, same entry order
    extra = _canonical(total - bought)  # spread-only entries (exact zeros dropped)
    extra.data[~_top_k_mask(extra, top_n)] = 0.0
    extra.eliminate_zeros()
    rows = np.concatenate([_csr_rows(bought), _csr_rows(extra)])
    cols = np.concatenate([bought.indices, extra.indices]).astype(np.int64)
    scores = np.concatenate([bought.data, extra.data])
    run = np.concatenate([bought_run.data - 1, np.full(len(extra.data), -1.0)]).astype(np.int64)
    by_key = np.argsort(rows * ints.shape[1] + cols, kind="stable")  # merges two sorted runs
    rows, cols, scores, run = rows[by_key], cols[by_key], scores[by_key], run[by_key]
    kept = np.bincount(rows, weights=scores, minlength=ints.shape[0])  # renormalise what's kept
    scores = scores / np.where(kept > 0, kept, 1.0)[rows]
    final = _row_order(rows, scores, cols)
    return rows[final], cols[final], scores[final], run[final]


def compute_user_interest(
    con: duckdb.DuckDBPyConnection,
    as_of: date,
    cfg: FeatureSettings,
    log: PurchaseDays | None = None,
    stats: RunStats | None = None,
) -> tuple[pa.Table, Similarity]:
    """The user_interest table (one row per user who ordered before t) and the similarity.
    LOG: the build's purchase days (read from CON's `orders` when not given); STATS: LOG's
    run_stats as of t, when the caller already has them."""
    if log is None or log.half_life_days != cfg.half_life_days:
        log, stats = load_purchase_days(con, cfg.half_life_days), None
    if stats is None:
        stats = run_stats(log, as_of, cfg.half_life_days)
    sim = category_similarity(stats, log, cfg)
    n_users, n_cat = len(log.users), len(log.categories)
    users = log.run_user[stats.runs]
    indptr = np.concatenate([[0], np.cumsum(np.bincount(users, minlength=n_users))])
    cats = log.run_cat[stats.runs]
    ints = _scale_rows(sp.csr_matrix((stats.decayed, cats, indptr), shape=(n_users, n_cat)))
    runs = sp.csr_matrix(
        (np.arange(1, len(users) + 1, dtype=np.float64), cats, indptr), shape=(n_users, n_cat)
    )
    parts = []
    for start in range(0, n_users, USER_BLOCK):
        block = slice(start, start + USER_BLOCK)
        r, c, s, run = _spread_block(
            ints[block], runs[block], sim.spread, cfg.spread_weight, cfg.interest_top_n
        )
        # compact dtypes while the blocks accumulate (half the memory of int64/float64); the
        # scores are final here and stored as float32
        parts.append(
            (
                (r + start).astype(np.int32),
                c.astype(np.int32),
                s.astype(np.float32),
                run.astype(np.int32),
            )
        )
    rows, cols, scores, run = (np.concatenate([p[i] for p in parts]) for i in range(4))
    present = np.flatnonzero(np.bincount(users, minlength=n_users))
    return _to_arrow(log, present, rows, cols, scores, run, stats), sim


def _to_arrow(
    log: PurchaseDays,
    present: np.ndarray,
    rows: np.ndarray,
    cols: np.ndarray,
    scores: np.ndarray,
    run: np.ndarray,
    stats: RunStats,
) -> pa.Table:
    """One list row per user in PRESENT from entries already in output order."""
    counts = np.bincount(rows, minlength=len(log.users))[present]
    offsets = pa.array(np.concatenate([[0], np.cumsum(counts)]).astype(np.int32))
    hit = np.flatnonzero(run >= 0)
    at = run[hit]

    def lists(values: np.ndarray | pa.Array) -> pa.ListArray:
        return pa.ListArray.from_arrays(offsets, values)

    def aligned(values: np.ndarray, missing: float) -> pa.ListArray:
        """The run's value at bought entries, MISSING at spread-only ones, as float32 (cast
        per run, then scattered: the same values as casting per entry, in a third the time)."""
        out = np.full(len(run), missing, dtype=np.float32)
        out[hit] = values.astype(np.float32)[at]
        return lists(pa.array(out))

    return pa.table(
        {
            C.USER_ID: log.users.take(pa.array(present)),
            "interest_categories": lists(
                pa.array(log.categories, pa.string()).take(pa.array(cols))
            ),
            "interest_scores": lists(pa.array(scores.astype(np.float32))),
            "decayed_scores": aligned(stats.decayed, 0.0),
            "last_days": aligned(stats.last_days, -1.0),
            "counts_30d": aligned(stats.counts_30d, 0.0),
            "counts_180d": aligned(stats.counts_180d, 0.0),
        }
    )
