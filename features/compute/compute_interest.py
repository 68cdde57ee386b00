"""Time-decayed category interest, co-purchase similarity and spreading (table user_interest).

Decay weights each order line by its quantity: interest(u, c) = sum quantity *
exp(-ln2 * age_days / half_life) (age in fractional days to t). Quantity, not line count, so a
household buying 6 cartons of milk shows more milk interest than one buying 1; per-user
normalisation keeps bulk (B2B) buyers comparable with households.

Similarity: cosine over the binary user x category matrix of the last 180 days, top-k
neighbours per category, co-bought by at least `similarity_min_users` users. Spreading uses
the row-normalised neighbour matrix S (each category passes its mass to its neighbours in
proportion to similarity): interest' = (1 - w) * I + w * I @ S with I normalised per user,
then renormalised to sum 1. Users are processed in blocks of at most BLOCK_CELLS users x
categories: each block is laid out as a small dense grid (a few MiB), so the (row, column)
order of the sparse result comes from one flatnonzero instead of sparse clean-ups, with the
same float operations as the sparse formulation (see _spread_block); no dense matrix of all
users is ever built. The per-date inputs come from one pass over the orders
(interest_inputs.py); ordering within a user sorts packed integer keys (see
_row_order and _row_grid) instead of a three-key lexsort.
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
from features.compute.interest_inputs import PurchaseDays, RunStats, load_purchase_days, run_stats

USER_BLOCK = 65_536  # most users per spreading block: local row numbers fit in uint16
BLOCK_CELLS = 1 << 19  # users x categories per block: dense float64 grids of 4 MiB (cache)
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


def _co_buyers(users: np.ndarray, cats: np.ndarray, n_users: int, n_cat: int) -> np.ndarray:
    """Dense categories x categories counts of users who bought both (diagonal: buyers) of
    the distinct (user, category) pairs. Few categories: popcounts of per-category user
    bitsets (~8x faster than the sparse X^T X); many: the sparse product. Both are exact."""
    words = (n_users + 63) // 64
    per_user = np.bincount(users, minlength=n_users).astype(np.int64)
    if n_cat * (n_cat + 1) // 2 * words > 8 * int((per_user**2).sum()):
        x = sp.csr_matrix((np.ones(len(users)), (users, cats)), shape=(n_users, n_cat))
        return np.asarray((x.T @ x).toarray(), dtype=np.float64)
    # 32-bit halves built by one bincount of distinct powers of two (exact in float64)
    halves = np.bincount(
        cats * 2 * words + (users >> 5),
        weights=np.ldexp(1.0, (users & 31).astype(np.int32)),
        minlength=n_cat * 2 * words,
    )
    bits = halves.astype(np.uint32).view(np.uint64).reshape(n_cat, words)
    gram = np.empty((n_cat, n_cat))
    for a in range(n_cat):
        gram[a, a:] = np.bitwise_count(bits[a] & bits[a:]).sum(axis=1)
        gram[a:, a] = gram[a, a:]
    return gram


def co_buyer_gram(stats: RunStats, log: PurchaseDays) -> np.ndarray:
    """Categories x categories counts of LOG's users who bought both in the last 180 days:
    exact integers, so the grams of disjoint sets of users add up to the grams of their union
    (the Spark engine sums one per user partition)."""
    recent = stats.runs[stats.counts_180d > 0]
    n_cat = len(log.categories)
    return _co_buyers(log.run_user[recent], log.run_cat[recent], len(log.users), n_cat)


def category_similarity(stats: RunStats, log: PurchaseDays, cfg: FeatureSettings) -> Similarity:
    """Cosine similarity of categories over who bought them in the last 180 days."""
    return similarity_from_gram(co_buyer_gram(stats, log), log.categories, cfg)


def similarity_from_gram(
    gram: np.ndarray, categories: np.ndarray, cfg: FeatureSettings
) -> Similarity:
    """Top-k cosine neighbours from the co-buyer counts (diagonal: buyers per category)."""
    n_cat = len(categories)
    buyers = np.diag(gram).copy()
    linked = gram >= cfg.similarity_min_users
    np.fill_diagonal(linked, False)
    rows, cols = np.nonzero(linked)  # (row, col) order, as the canonical sparse gram's
    cos = gram[rows, cols] / np.sqrt(buyers[rows] * buyers[cols])
    raw = _canonical(sp.coo_matrix((cos, (rows, cols)), shape=(n_cat, n_cat)))
    raw.data[~_top_k_mask(raw, cfg.similarity_top_k)] = 0.0
    raw.eliminate_zeros()
    return Similarity(categories, raw, _scale_rows(raw.copy()))


def _inverse_row_sums(data: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """1 / row sum (0 for empty rows) of CSR-ordered DATA with COUNTS entries per row, summed
    as scipy's csr sum(axis=1) does (add.reduceat), so scaled values match _scale_rows."""
    sums = np.zeros(len(counts))
    nonempty = np.flatnonzero(counts)
    if len(nonempty):
        starts = (np.cumsum(counts) - counts)[nonempty]
        sums[nonempty] = np.add.reduceat(data, starts)
    return np.divide(1.0, sums, out=np.zeros_like(sums), where=sums > 0)


def _row_grid(
    values: np.ndarray, cells: np.ndarray, shape: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(grid, keys, entries per row) for ordering the entries at flat CELLS (row-major) of a
    SHAPE grid by (value desc, column) in _row_order's float32 precision: each row's keys
    (inverted float32 bits | position in the row, which orders as the column does) packed
    left in a dense row as wide as the widest, the largest key after them. None where
    _row_order takes its float64 path (negative values, wide)."""
    n_rows, n_cat = shape
    if n_cat >= 2**16 or (len(values) and values.min() < 0):
        return None
    rows = cells // n_cat
    counts = np.bincount(rows, minlength=n_rows)
    pos = np.arange(len(rows)) - (np.cumsum(counts) - counts)[rows]
    bits = (values + 0.0).astype(np.float32).view(np.uint32)
    keys = ((~bits).astype(np.uint64) << np.uint64(16)) | pos.astype(np.uint64)
    width = int(counts.max()) if len(counts) else 0
    grid = np.full((n_rows, width), np.iinfo(np.uint64).max, dtype=np.uint64)
    grid[rows, pos] = keys
    return grid, keys, counts


def _canonical_rows(cells: np.ndarray, values: np.ndarray, shape: tuple[int, int]) -> sp.csr_matrix:
    rows, cols = np.divmod(cells, shape[1])
    indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=shape[0]))])
    return sp.csr_matrix((values, cols, indptr), shape=shape)


def _top_n_mask(
    cells: np.ndarray, values: np.ndarray, shape: tuple[int, int], top_n: int
) -> np.ndarray:
    """_top_k_mask over the entries at flat CELLS (row-major order) of a SHAPE grid: one
    partition of each dense row instead of a sort of all entries."""
    got = _row_grid(values, cells, shape)
    if got is None:
        return _top_k_mask(_canonical_rows(cells, values, shape), top_n)
    grid, keys, _ = got
    if grid.shape[1] <= top_n:
        return np.ones(len(cells), dtype=bool)
    nth = np.partition(grid, top_n - 1, axis=1)[:, top_n - 1]
    return keys <= nth[cells // shape[1]]


def _sorted_rows(
    cells: np.ndarray, scores: np.ndarray, shape: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """(entry order, float32 scores in that order) of the entries at flat CELLS (row-major)
    in _row_order's output order: a sort of each dense row of keys."""
    got = _row_grid(scores, cells, shape)
    if got is None:
        m = _canonical_rows(cells, scores, shape)
        final = _row_order(_csr_rows(m), scores, m.indices)
        return final, scores[final].astype(np.float32)
    grid, _, counts = got
    ranked = np.sort(grid, axis=1)[np.arange(grid.shape[1]) < counts[:, None]]
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    final = starts + (ranked & np.uint64(0xFFFF)).astype(np.int64)
    return final, (~(ranked >> np.uint64(16))).astype(np.uint32).view(np.float32)


def _spread_block(
    ints: sp.csr_matrix, first_run: int, sim: sp.csr_matrix, w: float, top_n: int
) -> tuple[np.ndarray, ...]:
    """(col, float32 score, run position or -1) of every bought entry plus the top_n
    spread-only ones per row, scores summing to 1 per row, in output order (row, score desc,
    col), and the entries per row. INTS (canonical) holds runs first_run, first_run + 1, ...

    The block is laid out densely (rows x categories, a few MiB) so the (row, column) order
    of the sparse result comes from one flatnonzero instead of sorting sparse sums; every
    value goes through the same float operations as the sparse formulation
    (((1 - w) I + w I @ S) row-normalised; bought = the pattern of I; the top_n spread-only
    entries; renormalised), so the output is bit-identical to it."""
    n_rows, n_cat = ints.shape
    own = _csr_rows(ints) * n_cat + ints.indices
    spread = ints @ sim  # scipy's product: the same sums in the same order
    total = np.zeros(n_rows * n_cat)
    total[_csr_rows(spread) * n_cat + spread.indices] = spread.data * w
    total[own] += ints.data * (1.0 - w)  # (1 - w) I + w I @ S, 0 where neither has an entry
    cells = np.flatnonzero(total != 0)  # (row, col) order
    rows = cells // n_cat
    values = total[cells]
    del total
    values *= _inverse_row_sums(values, np.bincount(rows, minlength=n_rows))[rows]
    mark = np.zeros(n_rows * n_cat, dtype=bool)
    mark[own] = True
    bought = mark[cells]
    live = values != 0
    extra = np.flatnonzero(~bought & live)
    bought &= live
    keep = bought.copy()
    keep[extra[_top_n_mask(cells[extra], values[extra], (n_rows, n_cat), top_n)]] = True
    run = np.full(len(cells), -1, dtype=np.int32)
    if bought.sum() == len(own):  # every entry of ints survives (w < 1): entry order
        run[bought] = np.arange(first_run, first_run + len(own))
    else:
        run[bought] = first_run + np.searchsorted(own, cells[bought])
    cells, rows, scores, run = cells[keep], rows[keep], values[keep], run[keep]
    kept = np.bincount(rows, weights=scores, minlength=n_rows)  # renormalise what's kept
    scores = scores / np.where(kept > 0, kept, 1.0)[rows]
    final, scores32 = _sorted_rows(cells, scores, (n_rows, n_cat))
    return (
        cells[final] - rows[final] * n_cat,
        scores32,
        run[final],
        np.bincount(rows, minlength=n_rows),
    )


STAT_COLUMNS = {  # user_interest column: (RunStats field, value at spread-only entries)
    "decayed_scores": ("decayed", 0.0),
    "last_days": ("last_days", -1.0),
    "counts_30d": ("counts_30d", 0.0),
    "counts_180d": ("counts_180d", 0.0),
}


def compute_user_interest(
    con: duckdb.DuckDBPyConnection,
    as_of: date,
    cfg: FeatureSettings,
    log: PurchaseDays | None = None,
    stats: RunStats | None = None,
    sim: Similarity | None = None,
) -> tuple[pa.Table, Similarity]:
    """The user_interest table (one row per user who ordered before t) and the similarity.
    LOG: the build's purchase days (read from CON's `orders` when not given); STATS: LOG's
    run_stats as of t, when the caller already has them; SIM: the similarity of all users,
    when LOG holds only some of them (a Spark executor's user partition)."""
    if log is None or log.half_life_days != cfg.half_life_days:
        log, stats = load_purchase_days(con, cfg.half_life_days), None
    if stats is None:
        stats = run_stats(log, as_of, cfg.half_life_days)
    if sim is None:
        sim = category_similarity(stats, log, cfg)
    n_users, n_cat = len(log.users), len(log.categories)
    per_user = np.bincount(log.run_user[stats.runs], minlength=n_users)
    indptr = np.concatenate([[0], np.cumsum(per_user)])
    cats = log.run_cat[stats.runs]
    ints = _scale_rows(sp.csr_matrix((stats.decayed, cats, indptr), shape=(n_users, n_cat)))
    present = np.flatnonzero(per_user)
    # output columns filled block by block; the bound is never exceeded and pages past
    # the entries written are never touched
    bound = len(cats) + min(cfg.interest_top_n, n_cat) * len(present)
    cols = np.empty(bound, dtype=np.int32)
    scores = np.empty(bound, dtype=np.float32)
    aligned = {name: np.empty(bound, dtype=np.float32) for name in STAT_COLUMNS}
    # each run's value as float32 (the same as casting per entry)
    by_run = {name: getattr(stats, f).astype(np.float32) for name, (f, _) in STAT_COLUMNS.items()}
    counts = np.zeros(n_users, dtype=np.int64)
    step = max(1, min(USER_BLOCK, BLOCK_CELLS // max(n_cat, 1)))
    end = 0
    for start in range(0, n_users, step):
        stop = min(start + step, n_users)
        lo, hi = indptr[start], indptr[stop]
        block = sp.csr_matrix(
            (ints.data[lo:hi], ints.indices[lo:hi], indptr[start : stop + 1] - lo),
            shape=(stop - start, n_cat),
        )
        c, s, run, counts[start:stop] = _spread_block(
            block, lo, sim.spread, cfg.spread_weight, cfg.interest_top_n
        )
        at = slice(end, end + len(c))
        end += len(c)
        cols[at], scores[at] = c, s
        local = np.where(run >= 0, run - lo, hi - lo)  # the block's runs, then MISSING
        for name, values in by_run.items():
            block_values = np.append(values[lo:hi], np.float32(STAT_COLUMNS[name][1]))
            np.take(block_values, local, out=aligned[name][at], mode="clip")  # (unbuffered)
    entries = {name: values[:end] for name, values in aligned.items()}
    return _to_arrow(log, present, counts[present], cols[:end], scores[:end], entries), sim


def _to_arrow(
    log: PurchaseDays,
    present: np.ndarray,
    counts: np.ndarray,
    cols: np.ndarray,
    scores: np.ndarray,
    aligned: dict[str, np.ndarray],
) -> pa.Table:
    """One list row per user in PRESENT (COUNTS entries each) from entries in output order."""
    offsets = pa.array(np.concatenate([[0], np.cumsum(counts)]).astype(np.int32))

    def lists(values: np.ndarray | pa.Array) -> pa.ListArray:
        return pa.ListArray.from_arrays(offsets, values)

    return pa.table(
        {
            C.USER_ID: log.users.take(pa.array(present)),
            "interest_categories": lists(
                pa.array(log.categories, pa.string()).take(pa.array(cols))
            ),
            "interest_scores": lists(pa.array(scores)),
            **{name: lists(pa.array(values)) for name, values in aligned.items()},
        }
    )
