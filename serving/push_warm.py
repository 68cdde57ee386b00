"""The push champion's warm (member, product) pairs, scored a block of members at a time.

Why blocks and integer keys: on demo (50k members, 1.9k products) the frame-wide pandas path
took 526 s of a 560 s push snapshot step under load: the substitute expansion over every
member (8.2M rows sorted on four keys) 191 s, sorts and merges of every warm pair ~200 s, the
pair-feature merges against the whole order history per 200k-pair frame 49 s, LightGBM 78 s.
On the large preset the expansion is hundreds of millions of rows (the snapshot build was
OOM-killed at 8.8 GB). Here each block of members expands, selects and scores its own pairs on
int64 keys (u * n_products + p) with numpy sorts, the feature frames merge against that
block's history rows only, and only the kept entries, as codes, leave the block.

Same selection as before: every own pair (the member bought a target, or one of their
`recent_per_member` latest products) is kept; of the substitute-only pairs of the targets,
each member's `per_member` strongest by substitute score are scored and the `per_member` most
probable kept.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import scipy.sparse as sp

from modelinput import push_pairs as pp

CHUNK_PAIRS = 200_000  # warm pairs per feature frame (whole members)
SUB_ROWS = 4_000_000  # substitute expansion rows per block of members
INFO = ("p_days", "p_last_days", "p_gap_days", "g_buyers", "g_size")


@dataclass(frozen=True)
class WarmCodes:
    """Kept warm entries in history codes (h.users / h.products), sorted by (u, p)."""

    u: np.ndarray  # int32
    p: np.ndarray  # int32
    prob: np.ndarray  # float32 push champion probability
    info: np.ndarray  # float32 (entries, len(INFO))
    sub: np.ndarray  # int32 product code of the top substitute (-1: none)


def recent_own(up: pd.DataFrame, n: int) -> pd.DataFrame:
    """(u, p) of each member's N most recently bought products (ties: more decayed
    purchases first, then product code): bounded per member, whatever the catalog size."""
    if n <= 0 or not len(up):
        return up.loc[[], ["u", "p"]].reset_index(drop=True)
    u, p = up.u.to_numpy(np.int64), up.p.to_numpy(np.int64)
    order = np.lexsort((p, -up["d56"].to_numpy(np.float64), up["last"].to_numpy(), u))
    keep = order[_rank_in_runs(u[order]) < n]
    return pd.DataFrame({"u": u[keep], "p": p[keep]})


def _rank_in_runs(sorted_keys: np.ndarray) -> np.ndarray:
    """0, 1, 2, ... within each run of equal values of SORTED_KEYS."""
    n = len(sorted_keys)
    if not n:
        return np.zeros(0, np.int64)
    starts = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])
    return np.arange(n) - np.repeat(starts, np.diff(np.r_[starts, n]))


def _in_sorted(keys: np.ndarray, x: np.ndarray) -> np.ndarray:
    if not len(keys):
        return np.zeros(len(x), bool)
    pos = np.minimum(np.searchsorted(keys, x), len(keys) - 1)
    return keys[pos] == x


class _Subs:
    """Substitute scores of a block of members by sparse products: their decayed purchases
    (members x products, d56) times the neighbour matrix S[q, p] = sim(p, q) gives every
    (u, p) sub_score at once, and the 0/1 patterns their count; the neighbour that
    contributed most is walked from the pairs' side (<= N_NEIGHBOURS lookups each), for the
    pairs that are kept only."""

    def __init__(self, edges: pd.DataFrame, n_p: int) -> None:
        e = edges.sort_values(["p", "sim", "q"], ascending=[True, False, True], kind="stable")
        self.p, self.q = e.p.to_numpy(np.int64), e.q.to_numpy(np.int64)
        self.sim = e.sim.to_numpy(np.float64)
        self.n_p = n_p
        self.s = sp.csr_matrix((self.sim, (self.q, self.p)), shape=(n_p, n_p))
        self.s_bin = sp.csr_matrix((np.ones(len(self.p)), (self.q, self.p)), shape=(n_p, n_p))
        self.degree = np.bincount(self.p, minlength=n_p)
        self.start = np.r_[0, np.cumsum(self.degree)[:-1]]

    def scores(self, up: pd.DataFrame, lo: int, hi: int) -> tuple[np.ndarray, ...]:
        """(keys u * n_p + p sorted, sub_score, sub_n) of the members [LO, HI) whose
        history rows are UP."""
        rows = up.u.to_numpy(np.int64) - lo
        cols = up.p.to_numpy(np.int64)
        shape = (hi - lo, self.n_p)
        bought = sp.csr_matrix((up["d56"].to_numpy(np.float64), (rows, cols)), shape=shape)
        total = (bought @ self.s).tocsr()
        total.sort_indices()
        bought.data[:] = 1.0
        count = (bought @ self.s_bin).tocsr()
        count.sort_indices()
        row = np.repeat(np.arange(hi - lo, dtype=np.int64), np.diff(total.indptr))
        keys = (row + lo) * self.n_p + total.indices.astype(np.int64)
        if not np.array_equal(total.indptr, count.indptr):  # same pattern: positive products
            raise ValueError("substitute score and count patterns differ")
        return keys, total.data, np.rint(count.data).astype(np.int64)

    def frame(
        self, keys: np.ndarray, scores: tuple[np.ndarray, ...], up_keys: np.ndarray, d56: np.ndarray
    ) -> pd.DataFrame:
        """SUB_COLUMNS of the pairs KEYS (sorted) that have a substitute purchase, given the
        block's SCORES and its history rows' sorted UP_KEYS and their D56."""
        all_keys, score, count = scores
        at = np.searchsorted(all_keys, keys)
        found = at < len(all_keys)
        found[found] = all_keys[at[found]] == keys[found]
        keys, at = keys[found], at[found]
        u, p = keys // self.n_p, keys % self.n_p
        best = np.full(len(keys), -np.inf)
        best_q = np.full(len(keys), -1, np.int64)
        for j in range(int(self.degree.max(initial=0))):
            has = np.flatnonzero(self.degree[p] > j)
            edge = self.start[p[has]] + j
            q = self.q[edge]
            pos = np.minimum(np.searchsorted(up_keys, u[has] * self.n_p + q), len(up_keys) - 1)
            hit = up_keys[pos] == u[has] * self.n_p + q
            has, q, contrib = has[hit], q[hit], self.sim[edge[hit]] * d56[pos[hit]]
            better = (contrib > best[has]) | ((contrib == best[has]) & (q < best_q[has]))
            best[has[better]], best_q[has[better]] = contrib[better], q[better]
        out = {"u": u, "p": p, "sub_score": score[at], "sub_max": best, "sub_n": count[at]}
        return pd.DataFrame(out | {"sub_q": best_q})


def _member_blocks(up_u: np.ndarray, expansion: np.ndarray, n_u: int) -> Iterator[tuple[int, int]]:
    """[lo, hi) member code ranges whose substitute expansion (EXPANSION per history row of
    sorted UP_U: how many products list the row's product as a neighbour) is about SUB_ROWS."""
    per_member = np.cumsum(np.bincount(up_u, weights=expansion, minlength=n_u))
    total = float(per_member[-1]) if n_u else 0.0
    cuts = np.searchsorted(per_member, np.arange(SUB_ROWS, total, SUB_ROWS), side="right")
    bounds = np.unique(np.r_[0, cuts, n_u])
    yield from ((int(lo), int(hi)) for lo, hi in zip(bounds[:-1], bounds[1:], strict=True))


def _rows_of(frame: pd.DataFrame, u_sorted: np.ndarray, lo: int, hi: int) -> pd.DataFrame:
    a, b = np.searchsorted(u_sorted, [lo, hi])
    return frame.iloc[a:b]


def score_warm_codes(
    h: pp.PushHistory,
    memberships: pd.DataFrame,
    predict: Callable[[pd.DataFrame], np.ndarray],
    eligible: np.ndarray,
    per_member: int,
    max_neighbour_buyers: int | None = None,
    recent_per_member: int = 0,
) -> WarmCodes:
    """Warm pairs of the ELIGIBLE product codes as of h.day, scored by PREDICT (frame of
    PUSH_FEATURES -> probabilities) with their reason columns. Group features use each
    member's first group (by group id)."""
    members, _, sizes = pp.member_groups(memberships, h, h.day)
    n_u, n_p = len(h.users), len(h.products)
    mu, mg = members.u.to_numpy(np.int64), members.g.to_numpy(np.int64)
    order = np.lexsort((mg, mu))
    first = order[_rank_in_runs(mu[order]) == 0]
    primary = pd.DataFrame({"u": mu[first], "g": mg[first]})
    group_of = np.full(n_u, -1, np.int64)
    group_of[primary.u.to_numpy()] = primary.g.to_numpy()
    target = np.zeros(n_p, bool)
    target[eligible] = True
    recent = recent_own(h.up, recent_per_member)
    edges = pp.substitutes(
        h, np.union1d(eligible, recent.p.to_numpy()), max_buyers=max_neighbour_buyers
    )
    gb = pp.group_buyers(h, primary, eligible)
    up = h.up.iloc[np.argsort(h.up.u.to_numpy(), kind="stable")]
    uc = h.uc.iloc[np.argsort(h.uc.u.to_numpy(), kind="stable")]
    up_u, uc_u = up.u.to_numpy(np.int64), uc.u.to_numpy(np.int64)
    # own pairs: bought a target, or one of the member's latest products; keys sorted
    own_key = np.union1d(
        up_u[target[up.p.to_numpy()]] * n_p + up.p.to_numpy(np.int64)[target[up.p.to_numpy()]],
        recent.u.to_numpy(np.int64) * n_p + recent.p.to_numpy(np.int64),
    )
    subs = _Subs(edges, n_p)
    expansion = np.bincount(edges.q.to_numpy(np.int64), minlength=n_p)[up.p.to_numpy(np.int64)]
    parts: list[WarmCodes] = []
    for lo, hi in _member_blocks(up_u, expansion, n_u):
        up_b = _rows_of(up, up_u, lo, hi)
        b_keys = up_b.u.to_numpy(np.int64) * n_p + up_b.p.to_numpy(np.int64)
        b_order = np.argsort(b_keys)
        scores = subs.scores(up_b, lo, hi)
        a, b = np.searchsorted(own_key, [lo * n_p, hi * n_p])
        own = own_key[a:b]
        via = _via_pairs(scores, target, own, n_p, per_member)
        keys = np.r_[own, via]  # own pairs first, then substitute-only ones best first
        warm_u, warm_p = keys // n_p, keys % n_p
        keep = group_of[warm_u] >= 0
        warm_u, warm_p = warm_u[keep], warm_p[keep]
        is_own = np.arange(len(keys))[keep] < len(own)
        order = np.argsort(warm_u, kind="stable")
        warm = pd.DataFrame({"u": warm_u[order], "p": warm_p[order]})
        warm["g"] = group_of[warm.u.to_numpy()]
        is_own = is_own[order]
        d56 = up_b["d56"].to_numpy(np.float64)[b_order]
        sub = subs.frame(np.sort(keys[keep]), scores, b_keys[b_order], d56)
        for c_lo, c_hi in _user_chunks(warm.u.to_numpy(), CHUNK_PAIRS):
            rows = warm.iloc[c_lo:c_hi]
            first_u, last_u = int(rows.u.iloc[0]), int(rows.u.iloc[-1]) + 1
            hc = replace(
                h,
                up=_rows_of(up, up_u, first_u, last_u),
                uc=_rows_of(uc, uc_u, first_u, last_u),
            )
            sub_c = _rows_of(sub, sub.u.to_numpy(), first_u, last_u)
            f = pp.pair_features(hc, rows, edges, gb, sizes, sub_c)
            prob = np.asarray(predict(f[list(pp.PUSH_FEATURES)]), dtype=np.float32)
            parts.append(_kept(f, prob, is_own[c_lo:c_hi], per_member))
    return _joined(parts)


def _via_pairs(
    scores: tuple[np.ndarray, ...], target: np.ndarray, own: np.ndarray, n_p: int, per_member: int
) -> np.ndarray:
    """Keys of each member's PER_MEMBER strongest substitute-only pairs of TARGET products
    (not in OWN, sorted keys), strongest first within a member (ties: product code)."""
    key, score = scores[0], scores[1]
    u, p = key // n_p, key % n_p
    cand = target[p] & ~_in_sorted(own, key)
    u, key, score = u[cand], key[cand], score[cand]
    order = np.lexsort((-score, u))  # stable: ties keep the key order, i.e. product code
    return key[order[_rank_in_runs(u[order]) < per_member]]


def _user_chunks(users: np.ndarray, size: int) -> list[tuple[int, int]]:
    """[lo, hi) row ranges of about SIZE rows of sorted USERS, never splitting a user."""
    out, lo = [], 0
    while lo < len(users):
        hi = min(lo + size, len(users))
        hi = int(np.searchsorted(users, users[hi - 1], side="right"))
        out.append((lo, hi))
        lo = hi
    return out


def _kept(f: pd.DataFrame, prob: np.ndarray, is_own: np.ndarray, per_member: int) -> WarmCodes:
    """A frame's entries to keep, sorted by (u, p): every own pair, and each member's
    PER_MEMBER most probable substitute-only pairs (ties: the earlier row, i.e. the stronger
    substitute score). Codes as int32 (the large preset keeps tens of millions of entries)."""
    u, p = f.u.to_numpy(np.int64), f.p.to_numpy(np.int64)
    rest = np.flatnonzero(~is_own)
    order = rest[np.lexsort((rest, -prob[rest], u[rest]))]
    keep = np.r_[np.flatnonzero(is_own), order[_rank_in_runs(u[order]) < per_member]]
    keep = keep[np.lexsort((p[keep], u[keep]))]
    sub = f["sub_q"].to_numpy(np.float64)[keep]
    return WarmCodes(
        u[keep].astype(np.int32),
        p[keep].astype(np.int32),
        prob[keep],
        f[list(INFO)].to_numpy(np.float32)[keep],
        np.where(np.isfinite(sub), sub, -1).astype(np.int32),
    )


def _joined(parts: list[WarmCodes]) -> WarmCodes:
    """The frames' entries in order: frames cover increasing, disjoint member ranges."""
    if not parts:
        e = np.zeros(0, np.int32)
        return WarmCodes(e, e, e.astype(np.float32), np.zeros((0, len(INFO)), np.float32), e)

    def joined(name: str) -> np.ndarray:
        return np.concatenate([getattr(w, name) for w in parts])

    return WarmCodes(joined("u"), joined("p"), joined("prob"), joined("info"), joined("sub"))
