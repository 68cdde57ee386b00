"""Push-model scores in the snapshot: warm (member, product) entries as a per-user CSR.

Why precomputed: a request may rank 500 members x 2,000 products in ~10 ms, far too little for
LightGBM. The snapshot build scores the sparse warm pairs (the member bought the product or a
close substitute in the lookback; at most `push_warm_per_member` per member, best first) with
the push champion; the engine merges them into each candidate's member ranking, and scales the
category-level scores of the other (cold) members by the champion's `cold_rate` so both are
probabilities of buying that product. Reason data (own count, last purchase, usual gap, group
buyers, the substitute that contributed most) is stored per entry.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from math import isfinite
from typing import Any

import numpy as np
import pandas as pd

from modelinput import push_pairs as pp
from serving.push_warm import INFO as INFO  # re-exported: callers import it from here
from serving.push_warm import WarmCodes, score_warm_codes
from serving.push_warm import recent_own as recent_own
from serving.snapshot import Snapshot


@dataclass(frozen=True)
class PushArrays:
    """The snapshot's push fields (all aligned with `indices` but indptr)."""

    indptr: np.ndarray  # int64 (n_users + 1)
    indices: np.ndarray  # int32 product index, sorted within each user
    prob: np.ndarray  # float32 push champion probability
    info: np.ndarray  # float32 (entries, len(INFO))
    sub: np.ndarray  # int32 product index of the top substitute (-1: none)
    cold_rate: float


def score_warm_pairs(
    orders: pd.DataFrame,
    memberships: pd.DataFrame,
    day: date,
    predict: Any,
    targets: pd.Index | None,
    per_member: int,
    max_neighbour_buyers: int | None = None,
    recent_per_member: int = 0,
    history: pp.PushHistory | None = None,
) -> pd.DataFrame:
    """Warm pairs of the target products (all when None) as of DAY, with the champion's
    probability (PREDICT: frame -> array) and reason columns, as a frame of ids sorted by
    (user, probability descending): serving.push_warm.score_warm_codes, whose selection says
    which pairs are kept (every own pair, plus each member's PER_MEMBER best substitute-only
    pairs; RECENT_PER_MEMBER latest products are own pairs whatever TARGETS is)."""
    h = history if history is not None else pp.push_history(orders, day)
    codes = score_warm_codes(
        h,
        memberships,
        predict,
        target_codes(h, targets),
        per_member,
        max_neighbour_buyers,
        recent_per_member,
    )
    if not len(codes.u):
        return pd.DataFrame()
    scored = pd.DataFrame({"u": codes.u, "p": codes.p, "prob": codes.prob})
    scored[list(INFO)] = codes.info
    scored["user_id"] = h.users[codes.u]
    scored["product_id"] = h.products[codes.p]
    ids = np.full(len(scored), None, dtype=object)
    ok = codes.sub >= 0
    ids[ok] = h.products[codes.sub[ok]]
    scored["sub_product_id"] = ids
    order = np.lexsort((codes.p, -codes.prob, codes.u))
    return scored.iloc[order].reset_index(drop=True)


def target_codes(h: pp.PushHistory, targets: pd.Index | None) -> np.ndarray:
    """History product codes of TARGETS (every product when None)."""
    if targets is None:
        return np.arange(len(h.products))
    return np.flatnonzero(pd.Index(h.products).isin(targets))


def codes_to_arrays(
    codes: WarmCodes,
    h: pp.PushHistory,
    user_ids: np.ndarray,
    prod_ids: np.ndarray,
    cold_rate: float,
) -> PushArrays:
    """Scored warm codes -> per-user CSR over the snapshot's users and products (USER_IDS,
    PROD_IDS in index order): one index lookup per history user/product, not per entry."""
    user_at = pd.Index(user_ids).get_indexer(pd.Index(h.users))
    prod_at = pd.Index(prod_ids).get_indexer(pd.Index(h.products))
    u, p = user_at[codes.u], prod_at[codes.p]
    ok = (u >= 0) & (p >= 0)
    u, p = u[ok].astype(np.int64), p[ok].astype(np.int64)
    sub = np.where(codes.sub[ok] >= 0, prod_at[np.maximum(codes.sub[ok], 0)], -1)
    order = np.lexsort((p, u))
    n = len(user_ids)
    indptr = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(u, minlength=n), out=indptr[1:])
    return PushArrays(
        indptr,
        p[order].astype(np.int32),
        codes.prob[ok][order].astype(np.float32),
        codes.info[ok][order].astype(np.float32),
        sub[order].astype(np.int32),
        cold_rate,
    )


def build_push_arrays(
    scored: pd.DataFrame,
    user_index: Mapping[str, int],
    prod_index: Mapping[str, int],
    cold_rate: float,
) -> PushArrays:
    """Scored warm pairs -> per-user CSR over the snapshot's user and product indices."""
    n = len(user_index)
    if not len(scored):
        empty = np.zeros(0, np.int32)
        return PushArrays(
            np.zeros(n + 1, np.int64),
            empty,
            empty.astype(np.float32),
            np.zeros((0, len(INFO)), np.float32),
            empty,
            cold_rate,
        )
    u = scored["user_id"].map(user_index).to_numpy()
    p = scored["product_id"].map(prod_index).to_numpy()
    ok = ~(pd.isna(u) | pd.isna(p))
    u, p = u[ok].astype(np.int64), p[ok].astype(np.int64)
    sub = scored["sub_product_id"][ok].map(prod_index).fillna(-1).to_numpy(np.int64)
    order = np.lexsort((p, u))
    info = scored.loc[ok, list(INFO)].to_numpy(np.float32)[order]
    indptr = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(u, minlength=n), out=indptr[1:])
    return PushArrays(
        indptr,
        p[order].astype(np.int32),
        scored.loc[ok, "prob"].to_numpy(np.float32)[order],
        info,
        sub[order].astype(np.int32),
        cold_rate,
    )


def category_scores(
    h: pp.PushHistory,
    user_index: Mapping[str, int],
    prod_index: Mapping[str, int],
    prod_cat: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(indptr, indices, score): per snapshot user, their categories' cold score, the one the
    push model's cold rate was fitted on (training.push.cold_score: 1 - exp(-decayed category
    purchase days at a 56-day half-life)), so cold and warm members rank on one scale."""
    n = len(user_index)
    uc = h.uc
    # history category code -> snapshot category index, through any product of the category
    first = pd.Series(np.arange(len(h.products))).groupby(h.prod_cat).first()
    at = h.products[first.to_numpy()].map(prod_index).to_numpy(np.float64, na_value=np.nan)
    cat_of = np.full(int(h.prod_cat.max(initial=-1)) + 1, -1, np.int64)
    ok = np.isfinite(at)
    cat_of[first.index.to_numpy()[ok]] = prod_cat[at[ok].astype(np.int64)]
    u = h.users[uc.u.to_numpy()].map(user_index).to_numpy(np.float64, na_value=np.nan)
    c = cat_of[uc.c.to_numpy()]
    keep = np.isfinite(u) & (c >= 0)
    u, c = u[keep].astype(np.int64), c[keep]
    score = (1.0 - np.exp(-uc["d56"].to_numpy(np.float64)[keep])).astype(np.float32)
    order = np.lexsort((c, u))
    indptr = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(u, minlength=n), out=indptr[1:])
    return indptr, c[order].astype(np.int32), score[order]


def push_reasons(info: np.ndarray, sub_name: str | None) -> list[str]:
    """The signals behind a warm entry's rank, in words."""
    return push_reason_texts([info.tolist()], [sub_name])[0]


def push_reason_texts(
    infos: Sequence[Sequence[float]], sub_names: Sequence[str | None]
) -> list[list[str]]:
    """push_reasons of many entries: INFOS as plain lists (one `.tolist()` of the gathered
    rows, not one per entry), SUB_NAMES the top substitute's name (None: none)."""
    out = []
    for (n, last, gap, buyers, size), sub_name in zip(infos, sub_names, strict=True):
        why = []
        if n > 0:
            times = "once" if n == 1 else f"{n:.0f} times"
            text = f"bought this {times}, last {last:.0f} days ago"
            if isfinite(gap) and gap > 0:
                text += f", usually every {gap:.0f} days"
            why.append(text)
        elif sub_name:
            why.append(f"buys similar product {sub_name}")
        if buyers > 0:
            why.append(f"the group's buyers of this product: {buyers:.0f} of {size:.0f}")
        out.append(why)
    return out


def with_push(snap: Snapshot, arrays: PushArrays, **changes: Any) -> Snapshot:
    """SNAP carrying the push champion's warm entries (and any other CHANGES)."""
    return replace(
        snap,
        push_indptr=arrays.indptr,
        push_indices=arrays.indices,
        push_prob=arrays.prob,
        push_info=arrays.info,
        push_sub=arrays.sub,
        push_cold_rate=arrays.cold_rate,
        **changes,
    )
