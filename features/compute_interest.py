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
dense of users x categories is ever built.
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
from features.compute_inputs import date_literal, ts_literal

SIMILARITY_WINDOW_DAYS = 180
USER_BLOCK = 100_000
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


def _top_k_per_row(m: sp.coo_matrix, k: int) -> np.ndarray:
    """Mask of the entries that are among the k largest of their row (ties by column)."""
    order = np.lexsort((m.col, -m.data, m.row))
    rows = m.row[order]
    starts = np.searchsorted(rows, rows, side="left")
    rank = np.arange(len(rows)) - starts
    keep = np.zeros(len(rows), dtype=bool)
    keep[order[rank < k]] = True
    return keep


def _index_tables(con: duckdb.DuckDBPyConnection) -> np.ndarray:
    """Temp tables `cat_idx` / `user_idx` (dense 0-based positions); returns category ids."""
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE cat_idx AS
        SELECT {C.CATEGORY_ID}, row_number() OVER (ORDER BY {C.CATEGORY_ID}) - 1 AS idx
        FROM cat_stats;
        CREATE OR REPLACE TEMP TABLE user_idx AS
        SELECT {C.USER_ID}, row_number() OVER (ORDER BY {C.USER_ID}) - 1 AS idx
        FROM (SELECT DISTINCT {C.USER_ID} FROM ob)""")
    got = con.execute(f"SELECT {C.CATEGORY_ID} FROM cat_idx ORDER BY idx").fetchnumpy()
    return np.asarray(got[C.CATEGORY_ID], dtype=object)


def category_similarity(
    con: duckdb.DuckDBPyConnection, as_of: date, categories: np.ndarray, cfg: FeatureSettings
) -> Similarity:
    """Cosine similarity of categories over who bought them in the last 180 days."""
    n_cat = len(categories)
    pairs = con.execute(f"""
        SELECT DISTINCT u.idx AS u, c.idx AS c
        FROM ob o JOIN user_idx u USING ({C.USER_ID}) JOIN cat_idx c USING ({C.CATEGORY_ID})
        WHERE o.day >= {date_literal(as_of)} - {SIMILARITY_WINDOW_DAYS}""").fetchnumpy()
    u, c = np.asarray(pairs["u"], np.int64), np.asarray(pairs["c"], np.int64)
    empty = sp.csr_matrix((n_cat, n_cat), dtype=np.float64)
    if len(u) == 0:
        return Similarity(categories, empty, empty)
    x = sp.csr_matrix((np.ones(len(u)), (u, c)), shape=(int(u.max()) + 1, n_cat))
    gram = (x.T @ x).tocoo()
    buyers = np.asarray(x.sum(axis=0)).ravel()
    off_diag = (gram.row != gram.col) & (gram.data >= cfg.similarity_min_users)
    rows, cols = gram.row[off_diag], gram.col[off_diag]
    cos = gram.data[off_diag] / np.sqrt(buyers[rows] * buyers[cols])
    m = sp.coo_matrix((cos, (rows, cols)), shape=(n_cat, n_cat))
    keep = _top_k_per_row(m, cfg.similarity_top_k)
    raw = sp.csr_matrix((m.data[keep], (m.row[keep], m.col[keep])), shape=(n_cat, n_cat))
    row_sum = np.asarray(raw.sum(axis=1)).ravel()
    spread = sp.diags(np.divide(1.0, row_sum, out=np.zeros_like(row_sum), where=row_sum > 0))
    return Similarity(categories, raw, sp.csr_matrix(spread @ raw))


def decayed_interest(
    con: duckdb.DuckDBPyConnection, as_of: date, cfg: FeatureSettings
) -> dict[str, np.ndarray]:
    """Per user x category bought before t (as positions u, c): decayed units, days since the
    last purchase, order days in 30 / 180 days; sorted by (u, c)."""
    t, d = ts_literal(as_of), date_literal(as_of)
    got = con.execute(f"""
        SELECT u.idx AS u, c.idx AS c,
            sum(quantity * exp(-ln(2) * (epoch({t}) - epoch(ts)) / 86400.0
                / {float(cfg.half_life_days)})) AS decayed,
            CAST(date_diff('day', max(day), {d}) AS DOUBLE) AS last_days,
            CAST(count(DISTINCT day) FILTER (WHERE day >= {d} - 30) AS DOUBLE) AS counts_30d,
            CAST(count(DISTINCT day) FILTER (WHERE day >= {d} - 180) AS DOUBLE) AS counts_180d
        FROM ob o JOIN user_idx u USING ({C.USER_ID}) JOIN cat_idx c USING ({C.CATEGORY_ID})
        GROUP BY 1, 2 ORDER BY 1, 2""").fetchnumpy()
    return {k: np.asarray(v) for k, v in got.items()}


def _spread_block(
    ints: sp.csr_matrix, sim: sp.csr_matrix, w: float, top_n: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(row, col, score) of every bought entry plus the top_n spread-only ones per row,
    scores summing to 1 per row over the kept entries."""
    total = sp.csr_matrix((1.0 - w) * ints + w * (ints @ sim))
    sums = np.asarray(total.sum(axis=1)).ravel()
    total = sp.csr_matrix(
        sp.diags(np.divide(1.0, sums, out=np.zeros_like(sums), where=sums > 0)) @ total
    ).tocoo()
    n_cols = ints.shape[1]
    bought_keys = np.sort(ints.tocoo().row.astype(np.int64) * n_cols + ints.tocoo().col)
    keys = total.row.astype(np.int64) * n_cols + total.col
    pos = np.searchsorted(bought_keys, keys).clip(max=max(len(bought_keys) - 1, 0))
    bought = bought_keys[pos] == keys if len(bought_keys) else np.zeros(len(keys), bool)
    spread_only = ~bought & (total.data > 0)
    extra = sp.coo_matrix(
        (total.data[spread_only], (total.row[spread_only], total.col[spread_only])),
        shape=total.shape,
    )
    keep_extra = _top_k_per_row(extra, top_n)
    rows = np.concatenate([total.row[bought], extra.row[keep_extra]])
    cols = np.concatenate([total.col[bought], extra.col[keep_extra]])
    scores = np.concatenate([total.data[bought], extra.data[keep_extra]])
    kept = np.bincount(rows, weights=scores, minlength=ints.shape[0])  # renormalise what's kept
    return rows, cols, scores / np.where(kept > 0, kept, 1.0)[rows]


def compute_user_interest(
    con: duckdb.DuckDBPyConnection, as_of: date, cfg: FeatureSettings
) -> tuple[pa.Table, Similarity]:
    """The user_interest table (one row per user who ordered before t) and the similarity."""
    categories = _index_tables(con)
    users = np.asarray(
        con.execute(f"SELECT {C.USER_ID} FROM user_idx ORDER BY idx").fetchnumpy()[C.USER_ID],
        dtype=object,
    )
    sim = category_similarity(con, as_of, categories, cfg)
    dec = decayed_interest(con, as_of, cfg)
    u_idx, c_idx = dec["u"].astype(np.int64), dec["c"].astype(np.int64)
    ints = sp.csr_matrix(
        (dec["decayed"].astype(np.float64), (u_idx, c_idx)), shape=(len(users), len(categories))
    )
    sums = np.asarray(ints.sum(axis=1)).ravel()
    ints = sp.csr_matrix(
        sp.diags(np.divide(1.0, sums, out=np.zeros_like(sums), where=sums > 0)) @ ints
    )
    chunks: list[tuple[np.ndarray, ...]] = [
        (np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0))
    ]
    for start in range(0, len(users), USER_BLOCK):
        r, c, s = _spread_block(
            ints[start : start + USER_BLOCK], sim.spread, cfg.spread_weight, cfg.interest_top_n
        )
        chunks.append((r.astype(np.int64) + start, c.astype(np.int64), s))
    rows, cols, scores = (np.concatenate([ch[i] for ch in chunks]) for i in range(3))
    return _to_arrow(users, categories, rows, cols, scores, dec), sim


def _to_arrow(
    users: np.ndarray,
    categories: np.ndarray,
    rows: np.ndarray,
    cols: np.ndarray,
    scores: np.ndarray,
    dec: dict[str, np.ndarray],
) -> pa.Table:
    """Group the (user, category, score) entries into one list row per user, best first."""
    order = np.lexsort((cols, -scores, rows))
    rows, cols, scores = rows[order], cols[order], scores[order]
    n_cat = len(categories)
    dec_keys = dec["u"].astype(np.int64) * n_cat + dec["c"].astype(np.int64)  # sorted
    keys = rows.astype(np.int64) * n_cat + cols
    pos = np.searchsorted(dec_keys, keys).clip(max=max(len(dec_keys) - 1, 0))
    hit = dec_keys[pos] == keys if len(dec_keys) else np.zeros(len(keys), bool)

    def aligned(column: str, missing: float) -> np.ndarray:
        vals = dec[column].astype(np.float64)[pos]
        return np.where(hit, vals, missing).astype(np.float32)

    counts = np.bincount(rows, minlength=len(users))
    offsets = pa.array(np.concatenate([[0], np.cumsum(counts)]).astype(np.int32))

    def lists(values: np.ndarray | pa.Array) -> pa.ListArray:
        return pa.ListArray.from_arrays(offsets, values)

    return pa.table(
        {
            C.USER_ID: pa.array(users, pa.string()),
            "interest_categories": lists(pa.array(categories, pa.string()).take(pa.array(cols))),
            "interest_scores": lists(pa.array(scores.astype(np.float32))),
            "decayed_scores": lists(pa.array(aligned("decayed", 0.0))),
            "last_days": lists(pa.array(aligned("last_days", -1.0))),
            "counts_30d": lists(pa.array(aligned("counts_30d", 0.0))),
            "counts_180d": lists(pa.array(aligned("counts_180d", 0.0))),
        }
    )
