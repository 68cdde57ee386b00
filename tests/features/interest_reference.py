"""Reference copies of compute_user_interest and run_stats as they were before the dense
block rewrite (HEAD 5323e69), for tests/features/compute/test_interest_fast_paths.py: the
current code must produce the same tables bit for bit. Not used by the package."""

from __future__ import annotations

from datetime import date

import numpy as np
import pyarrow as pa
import scipy.sparse as sp

from configs import columns as C
from configs.settings import FeatureSettings
from features.compute.compute_interest import (  # unchanged helpers
    Similarity,
    _canonical,
    _csr_rows,
    _row_order,
    _scale_rows,
    _top_k_mask,
)
from features.compute.interest_inputs import EPOCH, PurchaseDays, RunStats

USER_BLOCK = 65_536  # users per spreading block: local row numbers fit in uint16


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
    cfg: FeatureSettings, log: PurchaseDays, stats: RunStats
) -> tuple[pa.Table, Similarity]:
    """The user_interest table (one row per user who ordered before t) and the similarity.
    LOG: the build's purchase days (read from CON's `orders` when not given); STATS: LOG's
    run_stats as of t, when the caller already has them."""
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


def run_stats(log: PurchaseDays, as_of: date, half_life_days: float) -> RunStats:
    """Decayed units, days since the last order day, order days in 30 / 180 days, per run
    with an order before AS_OF; runs in (user, category) order."""
    t = (as_of - EPOCH).days
    before = log.day < t  # within each run a prefix: its days are sorted
    run, day = log.run[before], log.day[before]
    n_runs = len(log.run_start)
    n = np.bincount(run, minlength=n_runs)
    runs = np.flatnonzero(n)
    decay = np.exp2(-(t - day) / float(half_life_days))

    def total(weights: np.ndarray) -> np.ndarray:
        return np.bincount(run, weights=weights, minlength=n_runs)[runs]

    last_day = log.day[log.run_start[runs] + n[runs] - 1]
    return RunStats(
        runs=runs,
        decayed=total(log.w[before] * decay),
        last_days=(t - last_day).astype(np.float64),
        counts_30d=total((day >= t - 30).astype(np.float64)),
        counts_180d=total((day >= t - 180).astype(np.float64)),
    )
