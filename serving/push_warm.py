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

from modelinput import push_pairs as pp

CHUNK_PAIRS = 200_000  # warm pairs per feature frame (whole members)
SUB_ROWS = 4_000_000  # substitute expansion rows per block of members
INFO = ("p_days", "p_last_days", "p_gap_days", "g_buyers", "g_size")
SUB_COLUMNS = ("u", "p", "sub_score", "sub_max", "sub_n", "sub_q")


@dataclass(frozen=True)
class WarmCodes:
    """Kept warm entries in history codes (h.users / h.products), sorted by (u, p)."""

    u: np.ndarray  # int64
    p: np.ndarray  # int64
    prob: np.ndarray  # float32 push champion probability
    info: np.ndarray  # float32 (entries, len(INFO))
    sub: np.ndarray  # int64 product code of the top substitute (-1: none)


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


class _Buyers:
    """The history's (u, p, d56) rows sorted by (p, u): each product's buyers, for the
    substitute expansion of any range of members."""

    def __init__(self, h: pp.PushHistory) -> None:
        u, p = h.up.u.to_numpy(np.int64), h.up.p.to_numpy(np.int64)
        order = np.lexsort((u, p))
        self.n_u = max(len(h.users), 1)
        self.key = p[order] * self.n_u + u[order]
        self.u, self.d56 = u[order], h.up["d56"].to_numpy(np.float64)[order]

    def ranges(self, q: np.ndarray, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
        """[start, stop) rows of the buyers of each product Q with codes in [LO, HI)."""
        return (
            np.searchsorted(self.key, q * self.n_u + lo),
            np.searchsorted(self.key, q * self.n_u + hi),
        )


def substitute_block(
    buyers: _Buyers, edges: pd.DataFrame, lo: int, hi: int, n_p: int
) -> pd.DataFrame:
    """pp.substitute_scores(h, edges) for the members with codes in [LO, HI): per (u, p) the
    sum and max of sim x the member's d56 purchases of p's neighbours, their count, and the
    neighbour with the largest contribution (ties: smallest code); rows sorted by (u, p)."""
    ep, eq = edges.p.to_numpy(np.int64), edges.q.to_numpy(np.int64)
    start, stop = buyers.ranges(eq, lo, hi)
    count = stop - start
    total = int(count.sum())
    edge = np.repeat(np.arange(len(ep)), count)
    pos = np.repeat(start - np.cumsum(count) + count, count) + np.arange(total)
    u, p, q = buyers.u[pos], ep[edge], eq[edge]
    contrib = edges.sim.to_numpy(np.float64)[edge] * buyers.d56[pos]
    key = u * n_p + p
    order = np.argsort(key, kind="stable")
    key, contrib, q = key[order], contrib[order], q[order]
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]]) if total else np.zeros(0, int)
    sizes = np.diff(np.r_[starts, total])
    top = np.maximum.reduceat(contrib, starts) if total else contrib
    at_top = np.where(contrib == np.repeat(top, sizes), q, np.iinfo(np.int64).max)
    out = {
        "u": key[starts] // n_p,
        "p": key[starts] % n_p,
        "sub_score": np.add.reduceat(contrib, starts) if total else contrib,
        "sub_max": top,
        "sub_n": sizes.astype(np.int64),
        "sub_q": np.minimum.reduceat(at_top, starts) if total else q,
    }
    return pd.DataFrame(out)


def _member_blocks(buyers: _Buyers, edges: pd.DataFrame, n_u: int) -> Iterator[tuple[int, int]]:
    """[lo, hi) member code ranges whose substitute expansion is about SUB_ROWS rows."""
    start, stop = buyers.ranges(edges.q.to_numpy(np.int64), 0, n_u)
    total = int((stop - start).sum())
    n_blocks = max(1, -(-total // SUB_ROWS))
    step = -(-n_u // n_blocks) if n_u else 1
    for lo in range(0, n_u, step):
        yield lo, min(lo + step, n_u)


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
    buyers = _Buyers(h)
    parts: list[WarmCodes] = []
    for lo, hi in _member_blocks(buyers, edges, n_u):
        sub = substitute_block(buyers, edges, lo, hi, n_p)
        a, b = np.searchsorted(own_key, [lo * n_p, hi * n_p])
        own = own_key[a:b]
        via = _via_pairs(sub[target[sub.p.to_numpy()]], own, n_p, per_member)
        keys = np.r_[own, via]  # own pairs first, then substitute-only ones best first
        warm_u, warm_p = keys // n_p, keys % n_p
        keep = group_of[warm_u] >= 0
        warm_u, warm_p = warm_u[keep], warm_p[keep]
        is_own = np.arange(len(keys))[keep] < len(own)
        order = np.argsort(warm_u, kind="stable")
        warm = pd.DataFrame({"u": warm_u[order], "p": warm_p[order]})
        warm["g"] = group_of[warm.u.to_numpy()]
        is_own = is_own[order]
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


def _via_pairs(sub: pd.DataFrame, own: np.ndarray, n_p: int, per_member: int) -> np.ndarray:
    """Keys of each member's PER_MEMBER strongest substitute-only pairs (not in OWN, sorted
    keys), strongest first within a member (ties: product code)."""
    u, p = sub.u.to_numpy(np.int64), sub.p.to_numpy(np.int64)
    key = u * n_p + p
    cand = ~_in_sorted(own, key)
    u, p, key = u[cand], p[cand], key[cand]
    order = np.lexsort((p, -sub["sub_score"].to_numpy(np.float64)[cand], u))
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
    """A frame's entries to keep: every own pair, and each member's PER_MEMBER most probable
    substitute-only pairs (ties: the earlier row, i.e. the stronger substitute score)."""
    u = f.u.to_numpy(np.int64)
    rest = np.flatnonzero(~is_own)
    order = rest[np.lexsort((rest, -prob[rest], u[rest]))]
    keep = np.sort(np.r_[np.flatnonzero(is_own), order[_rank_in_runs(u[order]) < per_member]])
    sub = f["sub_q"].to_numpy(np.float64)[keep]
    return WarmCodes(
        u[keep],
        f.p.to_numpy(np.int64)[keep],
        prob[keep],
        f[list(INFO)].to_numpy(np.float32)[keep],
        np.where(np.isfinite(sub), sub, -1).astype(np.int64),
    )


def _joined(parts: list[WarmCodes]) -> WarmCodes:
    if not parts:
        e = np.zeros(0, np.int64)
        return WarmCodes(e, e, e.astype(np.float32), np.zeros((0, len(INFO)), np.float32), e)
    u = np.concatenate([w.u for w in parts])
    p = np.concatenate([w.p for w in parts])
    order = np.lexsort((p, u))
    return WarmCodes(
        u[order],
        p[order],
        np.concatenate([w.prob for w in parts])[order],
        np.concatenate([w.info for w in parts])[order],
        np.concatenate([w.sub for w in parts])[order],
    )
