"""Merge the push champion's warm entries into one request's per-product member rankings.

A request's candidates share category-level score rows; a candidate with warm members (they
bought it or a close substitute) gets their push-model probabilities instead, and the cold
members keep the category-level score scaled by the champion's cold rate, so both rank on one
probability scale. Pure numpy on the snapshot's per-user CSR (serving.push_scores).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from serving.csr import row_entries
from serving.names import product_labels
from serving.push_scores import push_reason_texts
from serving.snapshot import Snapshot
from serving.suppression import Blocked

EPS = 1e-6
PROB_STEPS = 1 << 30  # probability resolution of the within-candidate order


@dataclass(frozen=True)
class Warm:
    """Warm entries of one request, grouped by candidate, best first within a candidate."""

    ptr: np.ndarray  # int64 (n_candidates + 1)
    cand: np.ndarray  # int64 candidate position of each entry (ascending)
    member: np.ndarray  # int64 member position
    prob: np.ndarray  # float32
    entry: np.ndarray  # int64 entry of the snapshot's push CSR
    scale: float  # cold rate: category-level scores x this (1.0 without a push champion)


def no_warm(cand: np.ndarray) -> Warm:
    empty = np.zeros(0, np.int64)
    ptr = np.zeros(len(cand) + 1, np.int64)
    return Warm(ptr, empty, empty, empty.astype(np.float32), empty, 1.0)


def warm_entries(
    snap: Snapshot, members: np.ndarray, cand: np.ndarray, blocked: Blocked | None = None
) -> Warm:
    """The push entries of MEMBERS whose product is among CAND (assumes snap.push_* set),
    without the (candidate, member) pairs BLOCKED by product-level rule 1 (dropped before the
    sort, not after)."""
    assert snap.push_indptr is not None and snap.push_indices is not None
    assert snap.push_prob is not None
    indptr = snap.push_indptr
    row, e, _ = row_entries(indptr, members)
    pos = np.full(len(snap.prod_ids), -1, dtype=np.int64)
    pos[cand] = np.arange(len(cand))
    cp = pos[snap.push_indices[e]]
    keep = cp >= 0
    row, e, cp = row[keep], e[keep], cp[keep]
    if blocked is not None and len(blocked.member) and len(cp):
        keep = ~blocked_mask(blocked, len(members))[cp, row]
        row, e, cp = row[keep], e[keep], cp[keep]
    prob = snap.push_prob[e]
    rank = np.rint((1.0 - prob.astype(np.float64)) * PROB_STEPS).astype(np.int64)
    order = by_candidate_then_rank(cp, rank, len(cand))
    ptr = np.zeros(len(cand) + 1, np.int64)
    np.cumsum(np.bincount(cp, minlength=len(cand)), out=ptr[1:])
    return Warm(ptr, cp[order], row[order], prob[order], e[order], float(snap.push_cold_rate))


def by_candidate_then_rank(cp: np.ndarray, rank: np.ndarray, n_cand: int) -> np.ndarray:
    """The order of entries by candidate CP (< N_CAND), then RANK (0..PROB_STEPS), ties by
    position. Sorting values is ~2.5x faster than argsort in numpy (SIMD), so the position
    rides in the key's low bits and comes back out of the sorted values; np.lexsort of the
    two keys was ~80 ms for 50k entries. Falls back to it when the key needs > 63 bits."""
    n = len(cp)
    pos_bits = max(int(n - 1).bit_length(), 1)
    cand_bits = max(int(n_cand - 1).bit_length(), 1)
    rank_bits = PROB_STEPS.bit_length()  # rank is at most PROB_STEPS itself
    if not n:
        return np.zeros(0, np.int64)
    if pos_bits + rank_bits + cand_bits > 63 or rank.min() < 0 or rank.max() > PROB_STEPS:
        return np.lexsort((np.arange(n), rank, cp))
    key = (cp.astype(np.int64) << (rank_bits + pos_bits)) | (rank << pos_bits)
    key |= np.arange(n, dtype=np.int64)
    key.sort()
    return key & ((1 << pos_bits) - 1)


def merge_expected(
    out: np.ndarray, warm: Warm, top: np.ndarray, combo: np.ndarray, stock: np.ndarray, k: int
) -> None:
    """Expected buyers (in place in OUT) of the candidates with warm members: the sum of the
    k best of their warm probabilities and their score row's cold top k (TOP: rows x k,
    descending, scaled; COMBO: candidate -> row), capped by the candidate's stock. Both lists
    are sorted, so the k best of their union is the best split j + (k - j) of the two prefix
    sums: no sort. A warm member also in the cold top k may count twice here (an estimate
    for ordering products; the member pick itself is exact)."""
    counts = np.diff(warm.ptr)
    wc = np.flatnonzero(counts > 0)
    width = int(min(counts.max(), k))
    rank = np.arange(len(warm.member)) - warm.ptr[warm.cand]
    slot = np.full(len(out), -1, np.int64)
    slot[wc] = np.arange(len(wc))
    ok = rank < width
    w_sum = np.zeros((len(wc), width + 1), np.float32)  # prefix sums, column j: j best
    w_sum[slot[warm.cand[ok]], rank[ok] + 1] = warm.prob[ok]
    np.cumsum(w_sum, axis=1, out=w_sum)
    c_sum = np.zeros((len(wc), k + 1), np.float32)
    np.cumsum(top[combo[wc]], axis=1, out=c_sum[:, 1:])
    # column j of the reversed view is c_sum[:, k - j]: the k - j best cold scores
    best = (w_sum + c_sum[:, k - width :][:, ::-1]).max(axis=1)
    out[wc] = np.minimum(best, stock[wc])


def overlay(row: np.ndarray, warm: Warm, p: int) -> np.ndarray:
    """ROW (one candidate's cold member scores) with its warm members' probabilities."""
    if not len(warm.member):
        return row
    start, stop = warm.ptr[p], warm.ptr[p + 1]
    if stop > start:
        row = row.copy() if not row.flags.writeable else row
        row[warm.member[start:stop]] = warm.prob[start:stop]
    return row


def pair_entries(warm: Warm, cand_pos: np.ndarray, member_pos: np.ndarray) -> np.ndarray:
    """The push CSR entry of each (CAND_POS[i], MEMBER_POS[i]) pair that is warm, -1 when it
    is not: a small (picked candidates x members) table filled from those candidates' warm
    slices, then read once (the first entry wins if a pair repeats). A sort-and-search over
    the entries cost ~1 ms a request on large."""
    cand_pos = np.asarray(cand_pos, dtype=np.int64)
    member_pos = np.asarray(member_pos, dtype=np.int64)
    out = np.full(len(cand_pos), -1, np.int64)
    if not len(cand_pos) or not len(warm.member):
        return out
    picked = np.unique(cand_pos)
    slot = np.full(len(warm.ptr) - 1, -1, np.int64)
    slot[picked] = np.arange(len(picked))
    _, e, _ = row_entries(warm.ptr, picked)
    width = int(max(warm.member[e].max(initial=0), member_pos.max(initial=0))) + 1
    table = np.full((len(picked), width), -1, np.int64)
    e = e[::-1]  # numpy's repeated-index assignment keeps the last write: the first entry
    table[slot[warm.cand[e]], warm.member[e]] = warm.entry[e]
    return table[slot[cand_pos], member_pos]


def warm_reasons(
    snap: Snapshot,
    warm: Warm,
    cand_pos: np.ndarray,
    member_pos: np.ndarray,
    reasons: list[list[str]],
) -> list[list[str]]:
    """REASONS with the push signals first for the (candidate, member) pairs that are warm;
    duplicates dropped, order kept."""
    assert snap.push_info is not None and snap.push_sub is not None
    entries = pair_entries(warm, cand_pos, member_pos)
    found = np.flatnonzero(entries >= 0)
    if not len(found):
        return reasons
    hit = entries[found]
    subs = snap.push_sub[hit]
    names = product_labels(snap, np.maximum(subs, 0))
    texts = push_reason_texts(
        snap.push_info[hit].tolist(),
        [name if sub >= 0 else None for sub, name in zip(subs.tolist(), names, strict=True)],
    )
    out = list(reasons)
    for i, why in zip(found.tolist(), texts, strict=True):
        out[i] = list(dict.fromkeys([*why, *out[i]]))
    return out


def blocked_mask(blocked: Blocked, n_members: int) -> np.ndarray:
    """BLOCKED as a candidates x members mask (~1 MB for 2,000 x 500: cheaper than np.isin
    of the pair keys)."""
    n_cand = len(blocked.ptr) - 1
    cand = np.repeat(np.arange(n_cand, dtype=np.int64), np.diff(blocked.ptr))
    mask = np.zeros((n_cand, n_members), dtype=bool)
    mask[cand, blocked.member] = True
    return mask


def _kept(warm: Warm, keep: np.ndarray) -> Warm:
    if keep.all():
        return warm
    ptr = np.zeros_like(warm.ptr)
    np.cumsum(np.bincount(warm.cand[keep], minlength=len(ptr) - 1), out=ptr[1:])
    return Warm(
        ptr, warm.cand[keep], warm.member[keep], warm.prob[keep], warm.entry[keep], warm.scale
    )


def drop_suppressed(warm: Warm, snap: Snapshot, cats: np.ndarray) -> Warm:
    """WARM without the entries rule 1 suppresses, at the product level (DESIGN: nothing pushed
    to a member who bought that non-high-frequency product within its cycle): the member
    bought this very product fewer than its category's cycle days ago. CATS: category index of
    each candidate. (A warm member who bought another product of the category recently is
    kept: their own history with this product or its substitutes is the signal.)"""
    assert snap.push_info is not None
    cat = cats[warm.cand]
    last = snap.push_info[warm.entry, 1]  # days since they last bought this product (NaN: never)
    cycle = snap.cat_cycle[cat]
    with np.errstate(invalid="ignore"):
        recent = (last >= 0) & (last < cycle) & ~snap.cat_high_freq[cat]
    return _kept(warm, ~recent)
