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

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from modelinput import push_pairs as pp
from serving.snapshot import Snapshot

CHUNK_PAIRS = 200_000  # warm pairs per feature frame (whole users per block)
INFO = ("p_days", "p_last_days", "p_gap_days", "g_buyers", "g_size")


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
    probability (PREDICT: frame -> array) and reason columns; each member's PER_MEMBER best,
    plus (whatever TARGETS is) an own entry for each of the RECENT_PER_MEMBER products the
    member bought most recently (recent_own): campaign tooling may request any product, and a
    member's own recent purchase of it is the strongest signal there is. Group features use
    the member's first group (memberships sorted by group id)."""
    h = history if history is not None else pp.push_history(orders, day)
    members, _, sizes = pp.member_groups(memberships, h, day)
    primary = members.sort_values(["u", "g"]).drop_duplicates("u")
    eligible = np.arange(len(h.products))
    if targets is not None:
        eligible = np.flatnonzero(h.products.isin(targets))
    recent = recent_own(h.up, recent_per_member)
    own = h.up.loc[h.up.p.isin(eligible), ["u", "p"]]
    own = pd.concat([own, recent], ignore_index=True).drop_duplicates(ignore_index=True)
    edges = pp.substitutes(
        h, np.union1d(eligible, recent.p.to_numpy()), max_buyers=max_neighbour_buyers
    )
    sub = pp.substitute_scores(h, edges)
    # substitute-only pairs (of the targets only): each member's PER_MEMBER strongest, before
    # any model call
    via = sub[sub.p.isin(eligible)].merge(own.assign(own=1), on=["u", "p"], how="left")
    via = via[via["own"].isna()].sort_values(["u", "sub_score"], ascending=[True, False])
    via = via.groupby("u", sort=False).head(per_member)[["u", "p"]]
    warm = pd.concat([own, via], ignore_index=True).merge(primary, on="u")
    if not len(warm):
        return pd.DataFrame()
    gb = pp.group_buyers(h, primary, eligible)
    parts = []
    warm = warm.sort_values("u", kind="stable", ignore_index=True)
    sub = sub.sort_values("u", kind="stable", ignore_index=True)
    for lo, hi in _user_blocks(warm.u.to_numpy(), CHUNK_PAIRS):  # bounded frames on large logs
        rows = warm.iloc[lo:hi]
        a, b = np.searchsorted(sub.u.to_numpy(), [rows.u.iloc[0], rows.u.iloc[-1] + 1])
        f = pp.pair_features(h, rows, edges, gb, sizes, sub.iloc[a:b])
        f["prob"] = np.asarray(predict(f[list(pp.PUSH_FEATURES)]), dtype=np.float32)
        parts.append(f[["u", "p", "prob", "sub_q", *INFO]])
    scored = pd.concat(parts, ignore_index=True)
    scored = scored.sort_values(["u", "prob"], ascending=[True, False])
    # own entries (the member bought the product: recent ones, and every target) are all kept;
    # the PER_MEMBER cap bounds the substitute-only entries: a member's everyday products
    # must not push their slow-mover entries out, and an own purchase outranks any substitute
    kept = scored[["u", "p"]].merge(recent.assign(r=1), on=["u", "p"], how="left")["r"]
    is_own = kept.notna().to_numpy() | (scored["p_days"].to_numpy() > 0)
    rest = scored[~is_own]
    best = rest.groupby("u", sort=False).cumcount().to_numpy() < per_member
    scored = pd.concat([scored[is_own], rest[best]]).sort_values(
        ["u", "prob"], ascending=[True, False], kind="stable"
    )
    scored["user_id"] = h.users[scored.u.to_numpy()]
    scored["product_id"] = h.products[scored.p.to_numpy()]
    sub = scored["sub_q"].to_numpy()
    ok = np.isfinite(sub)
    ids = np.full(len(scored), None, dtype=object)
    ids[ok] = h.products[sub[ok].astype(np.int64)]
    scored["sub_product_id"] = ids
    return scored.reset_index(drop=True)


def recent_own(up: pd.DataFrame, n: int) -> pd.DataFrame:
    """(u, p) of each member's N most recently bought products (ties: more decayed
    purchases first, then product code): bounded per member, whatever the catalog size."""
    if n <= 0 or not len(up):
        return up.loc[[], ["u", "p"]].reset_index(drop=True)
    order = up.sort_values(["u", "last", "d56", "p"], ascending=[True, True, False, True])
    return order.groupby("u", sort=False).head(n)[["u", "p"]].reset_index(drop=True)


def _user_blocks(users: np.ndarray, size: int) -> list[tuple[int, int]]:
    """[lo, hi) row ranges of about SIZE rows of sorted USERS, never splitting a user."""
    out, lo = [], 0
    while lo < len(users):
        hi = min(lo + size, len(users))
        hi = int(np.searchsorted(users, users[hi - 1], side="right"))
        out.append((lo, hi))
        lo = hi
    return out


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
    n, last, gap, buyers, size = info.tolist()
    out = []
    if n > 0:
        times = "once" if n == 1 else f"{n:.0f} times"
        text = f"bought this {times}, last {last:.0f} days ago"
        if np.isfinite(gap) and gap > 0:
            text += f", usually every {gap:.0f} days"
        out.append(text)
    elif sub_name:
        out.append(f"buys similar product {sub_name}")
    if buyers > 0:
        out.append(f"the group's buyers of this product: {buyers:.0f} of {size:.0f}")
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
