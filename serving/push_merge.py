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
from serving.push_scores import push_reasons
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


def warm_entries(snap: Snapshot, members: np.ndarray, cand: np.ndarray) -> Warm:
    """The push entries of MEMBERS whose product is among CAND (assumes snap.push_* set)."""
    assert snap.push_indptr is not None and snap.push_indices is not None
    assert snap.push_prob is not None
    indptr = snap.push_indptr
    row, e, _ = row_entries(indptr, members)
    pos = np.full(len(snap.prod_ids), -1, dtype=np.int64)
    pos[cand] = np.arange(len(cand))
    cp = pos[snap.push_indices[e]]
    keep = cp >= 0
    row, e, cp = row[keep], e[keep], cp[keep]
    prob = snap.push_prob[e]
    # one argsort of an int64 key (candidate, then probability descending): np.lexsort of
    # the two keys took ~80 ms for 50k entries
    rank = np.rint((1.0 - prob.astype(np.float64)) * PROB_STEPS).astype(np.int64)
    order = np.argsort(cp * (PROB_STEPS + 1) + rank)
    ptr = np.zeros(len(cand) + 1, np.int64)
    np.cumsum(np.bincount(cp, minlength=len(cand)), out=ptr[1:])
    return Warm(ptr, cp[order], row[order], prob[order], e[order], float(snap.push_cold_rate))


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


def warm_reasons(
    snap: Snapshot,
    warm: Warm,
    cand_pos: np.ndarray,
    member_pos: np.ndarray,
    reasons: list[list[str]],
) -> list[list[str]]:
    """REASONS with the push signals first for the (candidate, member) pairs that are warm;
    duplicates dropped, order kept. The pairs are found by one sorted-key search over the
    picked candidates' warm entries (a Python dict of them was ~7 ms a request on large)."""
    assert snap.push_info is not None and snap.push_sub is not None
    cand_pos = np.asarray(cand_pos, dtype=np.int64)
    member_pos = np.asarray(member_pos, dtype=np.int64)
    if not len(cand_pos) or not len(warm.member):
        return reasons
    _, e, _ = row_entries(warm.ptr, np.unique(cand_pos))  # the picked products' warm members
    width = int(max(warm.member.max(initial=0), member_pos.max(initial=0))) + 1
    keys = warm.cand[e] * width + warm.member[e]
    order = np.argsort(keys, kind="stable")
    keys, entries = keys[order], warm.entry[e][order]
    asked = cand_pos * width + member_pos
    at = np.minimum(np.searchsorted(keys, asked), max(len(keys) - 1, 0))
    found = np.flatnonzero(keys[at] == asked) if len(keys) else np.zeros(0, np.int64)
    if not len(found):
        return reasons
    hit = entries[at[found]]
    subs = snap.push_sub[hit]
    names = product_labels(snap, np.maximum(subs, 0))
    out = list(reasons)
    for i, entry, sub, name in zip(found.tolist(), hit.tolist(), subs.tolist(), names, strict=True):
        why = [*push_reasons(snap.push_info[entry], name if sub >= 0 else None), *out[i]]
        out[i] = list(dict.fromkeys(why))
    return out


def drop_blocked(warm: Warm, blocked: Blocked, n_members: int) -> Warm:
    """WARM without the (candidate, member) pairs product-level rule 1 blocks."""
    if not len(blocked.member) or not len(warm.member):
        return warm
    cand = np.repeat(np.arange(len(blocked.ptr) - 1, dtype=np.int64), np.diff(blocked.ptr))
    gone = np.isin(warm.cand * n_members + warm.member, cand * n_members + blocked.member)
    return _kept(warm, ~gone)


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
