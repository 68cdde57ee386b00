"""Merge the push champion's warm entries into one request's per-product member rankings.

A request's candidates share category-level score rows; a candidate with warm members (they
bought it or a close substitute) gets their push-model probabilities instead, and the cold
members keep the category-level score scaled by the champion's cold rate, so both rank on one
probability scale. Pure numpy on the snapshot's per-user CSR (serving.push_scores).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from serving.push_scores import push_reasons
from serving.snapshot import Snapshot

EPS = 1e-6


@dataclass(frozen=True)
class Warm:
    """Warm entries of one request, grouped by candidate, best first within a candidate."""

    ptr: np.ndarray  # int64 (n_candidates + 1)
    member: np.ndarray  # int64 member position
    prob: np.ndarray  # float32
    entry: np.ndarray  # int64 entry of the snapshot's push CSR
    scale: float  # cold rate: category-level scores x this (1.0 without a push champion)


def no_warm(cand: np.ndarray) -> Warm:
    empty = np.zeros(0, np.int64)
    return Warm(np.zeros(len(cand) + 1, np.int64), empty, empty.astype(np.float32), empty, 1.0)


def warm_entries(snap: Snapshot, members: np.ndarray, cand: np.ndarray) -> Warm:
    """The push entries of MEMBERS whose product is among CAND (assumes snap.push_* set)."""
    assert snap.push_indptr is not None and snap.push_indices is not None
    assert snap.push_prob is not None
    indptr = snap.push_indptr
    starts = indptr[members]
    lens = indptr[members + 1] - starts
    offsets = np.cumsum(lens) - lens
    e = np.arange(int(lens.sum()), dtype=np.int64) + np.repeat(starts - offsets, lens)
    row = np.repeat(np.arange(len(members), dtype=np.int64), lens)
    pos = np.full(len(snap.prod_ids), -1, dtype=np.int64)
    pos[cand] = np.arange(len(cand))
    cp = pos[snap.push_indices[e]]
    keep = cp >= 0
    row, e, cp = row[keep], e[keep], cp[keep]
    prob = snap.push_prob[e]
    order = np.lexsort((-prob, cp))
    ptr = np.zeros(len(cand) + 1, np.int64)
    np.cumsum(np.bincount(cp, minlength=len(cand)), out=ptr[1:])
    return Warm(ptr, row[order], prob[order], e[order], float(snap.push_cold_rate))


def merge_expected(
    out: np.ndarray, warm: Warm, cold_top: np.ndarray, stock: np.ndarray, k: int
) -> None:
    """Expected buyers (in place in OUT) of the candidates with warm members: the k best of
    their warm probabilities and their row's cold top k (COLD_TOP: candidates x k, scaled),
    under the candidate's stock. A warm member also in the cold top k may count twice here
    (an estimate for ordering products; the member pick itself is exact)."""
    counts = np.diff(warm.ptr)
    wc = np.flatnonzero(counts > 0)
    width = int(min(counts.max(), k))
    rank = np.arange(len(warm.member)) - np.repeat(warm.ptr[:-1], counts)
    slot = np.full(len(out), -1, np.int64)
    slot[wc] = np.arange(len(wc))
    cand_of = np.repeat(np.arange(len(out)), counts)
    ok = rank < width
    vals = np.zeros((len(wc), width), np.float32)
    vals[slot[cand_of[ok]], rank[ok]] = warm.prob[ok]
    both = np.concatenate([vals, cold_top[wc].astype(np.float32)], axis=1)
    best = -np.sort(-both, axis=1)[:, :k]
    csum = np.cumsum(best, axis=1, dtype=np.float64)
    fits = (csum <= stock[wc, None] + EPS) & (best > EPS)
    n_take = fits.sum(axis=1)
    out[wc] = np.where(n_take > 0, csum[np.arange(len(wc)), np.maximum(n_take - 1, 0)], 0.0)


def overlay(row: np.ndarray, warm: Warm, p: int) -> np.ndarray:
    """ROW (one candidate's cold member scores) with its warm members' probabilities."""
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
    duplicates dropped, order kept."""
    assert snap.push_info is not None and snap.push_sub is not None
    out = []
    for c, m, why in zip(cand_pos.tolist(), member_pos.tolist(), reasons, strict=True):
        start, stop = warm.ptr[c], warm.ptr[c + 1]
        hit = np.flatnonzero(warm.member[start:stop] == m)
        if len(hit):
            e = int(warm.entry[start + hit[0]])
            sub = int(snap.push_sub[e])
            name = str(snap.prod_ids[sub]) if sub >= 0 else None
            why = [*push_reasons(snap.push_info[e], name), *why]
        out.append(list(dict.fromkeys(why)))
    return out


def drop_suppressed(warm: Warm, entry: np.ndarray, cand_u: np.ndarray, live: np.ndarray) -> Warm:
    """WARM without the entries whose (member, category) the cycle rule suppresses: ENTRY is
    the request's (category row, member) interest CSR entry (-1: none), LIVE its flag."""
    counts = np.diff(warm.ptr)
    cand_of = np.repeat(np.arange(len(counts)), counts)
    e = entry[cand_u[cand_of], warm.member]
    keep = (e < 0) | live[np.maximum(e, 0)]
    if keep.all():
        return warm
    ptr = np.zeros_like(warm.ptr)
    np.cumsum(np.bincount(cand_of[keep], minlength=len(counts)), out=ptr[1:])
    return Warm(ptr, warm.member[keep], warm.prob[keep], warm.entry[keep], warm.scale)
