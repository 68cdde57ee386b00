"""The read-only, in-process serving snapshot: every array a request needs, indexed by integer id.

Built once (at startup or reload) from the latest feature tables, the contract tables for
memberships and pushes, and the champion models' scores; then never mutated, so the service can
swap a fresh one in atomically while requests are still reading the old one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from configs import columns as C
from serving.interest_csr import CsrAxes, InterestCsr, InterestSource, build_interest
from serving.memory import release_memory

N_BANDS = 5
NO_GROUP = -1


@dataclass(frozen=True)
class Snapshot:
    as_of: date
    model_versions: Mapping[str, str]
    user_ids: np.ndarray
    user_index: Mapping[str, int]
    user_rep: np.ndarray  # float32 repurchase probability
    user_fit: np.ndarray  # float32 (n_users, N_BANDS) price fit of each price band
    user_days30: np.ndarray  # int32 order days in 30 days (> 0: active)
    user_tag_set: np.ndarray  # int32 row of `tag_sets` holding the user's tags
    tag_sets: tuple[tuple[str, ...], ...]  # readable tag names of each distinct tag combination
    push_counts: np.ndarray  # int32 logged pushes in the rolling window (group-wide included)
    interest: InterestCsr
    cat_ids: np.ndarray
    cat_index: Mapping[str, int]
    cat_cycle: np.ndarray  # float32 repurchase cycle days (NaN: unknown)
    cat_high_freq: np.ndarray  # bool
    prod_ids: np.ndarray
    prod_index: Mapping[str, int]
    prod_cat: np.ndarray  # int32
    prod_band: np.ndarray  # int8 0..4
    prod_stock: np.ndarray  # float32 (NaN: unknown)
    default_candidates: np.ndarray  # int32 slow-moving products in stock (or without a stock row)
    group_ids: np.ndarray
    group_index: Mapping[str, int]
    group_stage: np.ndarray  # object
    member_indptr: np.ndarray  # int64 (n_groups + 1)
    members: np.ndarray  # int32 user index, members of group g in indptr[g]:indptr[g+1]
    group_target: np.ndarray  # int32 suggested active group for zombie groups (-1: none)
    data_as_of: date | None = None  # newest order date seen (for staleness), when known
    stock_feed: bool = True  # some product has a stock row as of t (else: velocity only)
    # push champion's warm (member, product) entries, a per-user CSR (serving.push_scores)
    push_indptr: np.ndarray | None = None  # int64 (n_users + 1)
    push_indices: np.ndarray | None = None  # int32 product index
    push_prob: np.ndarray | None = None  # float32 P(buys the product within the horizon)
    push_info: np.ndarray | None = None  # float32 (entries, len(push_scores.INFO))
    push_sub: np.ndarray | None = None  # int32 top substitute's product index (-1: none)
    push_cold_rate: float = 1.0  # scales cold members' category-level scores (1: no push model)
    # rule 1 at the product level (serving.suppression): per user, the products bought within
    # their cycle; None: only the category-level flag (interest rows' `live`) holds
    block_indptr: np.ndarray | None = None  # int64 (n_users + 1)
    block_indices: np.ndarray | None = None  # int32 product index
    # cold members' category scores on the push model's scale (serving.push_scores
    # .category_scores), per user CSR; None: the interest rows' scores
    cold_indptr: np.ndarray | None = None  # int64 (n_users + 1)
    cold_indices: np.ndarray | None = None  # int32 category index
    cold_score: np.ndarray | None = None  # float32
    # display names aligned with prod_ids / cat_ids (object, None: no name; serving.names)
    prod_names: np.ndarray | None = None
    cat_names: np.ndarray | None = None
    extra: Mapping[str, object] = field(default_factory=dict)
    # folder whose files back the numeric arrays (serving.snapshot_store; None: in memory)
    storage: Path | None = field(default=None, compare=False)

    @property
    def fingerprint(self) -> str:
        """Changes when a champion moves or features are rebuilt: the reload trigger."""
        models = ",".join(f"{k}={v}" for k, v in sorted(self.model_versions.items()))
        return f"{models}|as_of={self.as_of.isoformat()}"

    @property
    def model_version(self) -> str:
        return ",".join(f"{k}:{v}" for k, v in sorted(self.model_versions.items()))

    def tags_of(self, u: int) -> list[str]:
        """Readable tag names of user index u."""
        return list(self.tag_sets[self.user_tag_set[u]])

    def group_members(self, g: int) -> np.ndarray:
        return self.members[self.member_indptr[g] : self.member_indptr[g + 1]]


def _index(ids: pd.Series) -> tuple[np.ndarray, dict[str, int]]:
    arr = ids.astype(str).to_numpy(dtype=object)
    return arr, {k: i for i, k in enumerate(arr)}


def _tag_sets(
    tags: pd.Series, names: Mapping[str, str]
) -> tuple[np.ndarray, tuple[tuple[str, ...], ...]]:
    """(per-user code, readable names per distinct comma-joined tag string): users share a
    few thousand combinations, so this is smaller than a string per user and needs no
    splitting per request."""
    codes, uniq = pd.factorize(tags.fillna("").astype(str), sort=False)
    sets = tuple(tuple(names.get(t, t) for t in str(v).split(",") if t) for v in uniq)
    return codes.astype(np.int32), sets


def _col(df: pd.DataFrame, name: str, default: float) -> np.ndarray:
    if name not in df.columns:
        return np.full(len(df), default, dtype=np.float32)
    return pd.to_numeric(df[name], errors="coerce").fillna(default).to_numpy(np.float32)


def price_fit(price_ratio: np.ndarray) -> np.ndarray:
    """Fit of each price band (0 cheapest .. 4) for members paying `price_ratio` x the median.

    A ratio of 1 prefers band 2; each doubling moves the preference two bands up. Unknown
    ratios fit every band.
    """
    ratio = np.asarray(price_ratio, dtype=np.float64)
    pref = np.clip(2.0 + 2.0 * np.log2(np.where(ratio > 0, ratio, 1.0)), 0, N_BANDS - 1)
    bands = np.arange(N_BANDS, dtype=np.float64)
    fit = 1.0 - np.abs(bands[None, :] - pref[:, None]) / (N_BANDS - 1)
    fit[~np.isfinite(ratio) | (ratio <= 0)] = 1.0
    return fit.astype(np.float32)


def _members(
    groups: pd.DataFrame,
    memberships: pd.DataFrame | None,
    activity: pd.DataFrame,
    user_index: Mapping[str, int],
    group_index: Mapping[str, int],
    as_of: date,
) -> tuple[np.ndarray, np.ndarray]:
    """Group -> member CSR from memberships (current at as_of), else each user's primary group."""
    if memberships is not None and len(memberships):
        m = memberships
        cutoff = pd.Timestamp(as_of, tz="UTC")
        if C.JOINED_AT in m.columns:
            joined = pd.to_datetime(m[C.JOINED_AT], utc=True)
            m = m[joined.isna() | (joined < cutoff)]
        if C.LEFT_AT in m.columns:
            left = pd.to_datetime(m[C.LEFT_AT], utc=True)
            m = m[left.isna() | (left >= cutoff)]
        pairs = m[[C.GROUP_ID, C.USER_ID]]
    else:
        pairs = activity[[C.GROUP_ID, C.USER_ID]]
    g = pairs[C.GROUP_ID].astype(str).map(group_index)
    u = pairs[C.USER_ID].astype(str).map(user_index)
    ok = g.notna() & u.notna()
    gi, ui = g[ok].to_numpy(np.int64), u[ok].to_numpy(np.int64)
    key = np.unique(gi * (len(user_index) + 1) + ui)
    gi, ui = key // (len(user_index) + 1), key % (len(user_index) + 1)
    indptr = np.zeros(len(group_index) + 1, dtype=np.int64)
    np.cumsum(np.bincount(gi, minlength=len(group_index)), out=indptr[1:])
    return indptr, ui.astype(np.int32)


def _push_counts(
    pushes: pd.DataFrame | None,
    user_index: Mapping[str, int],
    group_index: Mapping[str, int],
    member_indptr: np.ndarray,
    members: np.ndarray,
    since: date,
) -> np.ndarray:
    """Logged pushes per user since `since`; a whole-group push counts for every member."""
    counts = np.zeros(len(user_index), dtype=np.int32)
    if pushes is None or not len(pushes):
        return counts
    at = pd.to_datetime(pushes[C.PUSHED_AT], utc=True)
    recent = pushes[at >= pd.Timestamp(since, tz="UTC")]
    user_col = (
        recent[C.USER_ID] if C.USER_ID in recent.columns else pd.Series(None, index=recent.index)
    )
    direct = user_col.dropna().astype(str).map(user_index).dropna().to_numpy(np.int64)
    np.add.at(counts, direct, 1)
    whole = recent.loc[user_col.isna(), C.GROUP_ID].astype(str).map(group_index).dropna()
    per_group = np.bincount(whole.to_numpy(np.int64), minlength=len(group_index))
    sizes = np.diff(member_indptr)
    np.add.at(counts, members, np.repeat(per_group, sizes).astype(np.int32))
    return counts


def _zombie_targets(gs: pd.DataFrame) -> np.ndarray:
    """For each zombie group: the most active non-zombie group of the same type and store."""
    stage = gs["stage"].astype(str)
    active = _col(gs, "n_active_30d", 0.0)
    key = gs["group_type"].astype(str) + "|" + gs[C.STORE_ID].astype(str)
    live = pd.DataFrame({"key": key, "active": active, "i": np.arange(len(gs))})[
        (stage != "zombie").to_numpy()
    ]
    best = live.sort_values(["active", "i"], ascending=[False, True]).drop_duplicates("key")
    target = key.map(best.set_index("key")["i"]).fillna(NO_GROUP).to_numpy(np.int32)
    target[(stage != "zombie").to_numpy()] = NO_GROUP
    return target


Contracts = Callable[[date], tuple[pd.DataFrame | None, pd.DataFrame | None]]


@dataclass(frozen=True)
class SnapshotInputs:
    """What a snapshot is built from besides the feature tables (all optional but the window).

    `memberships` / `pushes` are the contract tables, or `contracts(since)` reads them (the
    pushes since the push-cap window start) so that they are freed before the interest CSR,
    built last, is allocated. `interest` says where the interest pairs come from
    (serving.interest_csr.InterestSource). `repurchase_prob` (aligned with user_activity rows)
    is the champion's score, when any; `model_versions` name the champions. `as_of` defaults
    to the newest user_activity timestamp.
    """

    push_cap_window_days: int
    memberships: pd.DataFrame | None = None
    pushes: pd.DataFrame | None = None
    contracts: Contracts | None = None
    tag_names: Mapping[str, str] | None = None
    interest: InterestSource = field(default_factory=InterestSource)
    repurchase_prob: np.ndarray | None = None
    model_versions: Mapping[str, str] | None = None
    as_of: date | None = None
    data_as_of: date | None = None


def _repurchase(ua: pd.DataFrame, prob: np.ndarray | None) -> np.ndarray:
    """The champion's repurchase probability, else a heuristic: recent, frequent buyers return."""
    if prob is not None:
        return prob
    recency = _col(ua, "recency_days", 999.0)
    days90 = _col(ua, "order_days_90d", 0.0)
    return (1 - np.exp(-days90 / 3.0)) * np.exp(-recency / 60.0)


def _default_candidates(stock: np.ndarray, ps: pd.DataFrame, prod_cat: np.ndarray) -> np.ndarray:
    """Slow movers in stock; without a stock row (NaN) a slow mover is judged by sales
    velocity: no stock cap."""
    slow = _col(ps, "is_slow_moving", 0.0) > 0
    return np.flatnonzero(slow & ~(stock <= 0) & (prod_cat >= 0)).astype(np.int32)


def _groups(
    gs: pd.DataFrame,
    ua: pd.DataFrame,
    user_index: Mapping[str, int],
    group_index: Mapping[str, int],
    inputs: SnapshotInputs,
    as_of: date,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(member indptr, members, push counts); contracts read here are freed on return."""
    since = as_of - timedelta(days=inputs.push_cap_window_days)
    memberships, pushes = inputs.memberships, inputs.pushes
    if inputs.contracts is not None:
        memberships, pushes = inputs.contracts(since)
    member_indptr, members = _members(gs, memberships, ua, user_index, group_index, as_of)
    push_counts = _push_counts(pushes, user_index, group_index, member_indptr, members, since)
    return member_indptr, members, push_counts


def build_snapshot(tables: Mapping[str, pd.DataFrame], inputs: SnapshotInputs) -> Snapshot:
    """Assemble the arrays from the latest feature tables (catalog names) and INPUTS."""
    ua = tables["user_activity"]
    cs, ps, gs = tables["category_stats"], tables["product_stats"], tables["group_stats"]
    as_of = inputs.as_of
    if as_of is None:
        as_of = pd.to_datetime(ua[C.EVENT_TIMESTAMP], utc=True).max().date()
    user_ids, user_index = _index(ua[C.USER_ID])
    cat_ids, cat_index = _index(cs[C.CATEGORY_ID])
    prod_ids, prod_index = _index(ps[C.PRODUCT_ID])
    group_ids, group_index = _index(gs[C.GROUP_ID])
    n = len(user_ids)

    repurchase_prob = _repurchase(ua, inputs.repurchase_prob)
    tags = ua["tags"] if "tags" in ua.columns else pd.Series([""] * n)
    user_tag_set, tag_sets = _tag_sets(tags, inputs.tag_names or {})

    cat_pos = pd.Series(cat_index)
    prod_cat = ps[C.CATEGORY_ID].astype(str).map(cat_pos).fillna(-1).to_numpy(np.int32)
    stock = _col(ps, C.STOCK_QTY, np.nan)
    default = _default_candidates(stock, ps, prod_cat)
    member_indptr, members, push_counts = _groups(gs, ua, user_index, group_index, inputs, as_of)
    cat_cycle = _col(cs, C.REPURCHASE_CYCLE_DAYS, np.nan)
    cat_high_freq = _col(cs, "is_high_frequency", 0.0) > 0
    axes = CsrAxes(n, user_index, cat_index, cat_ids, cat_cycle, cat_high_freq)

    release_memory()  # the interest CSR (most of the snapshot) is allocated last, into this
    versions = inputs.model_versions or {"repurchase": "heuristic", "interest": "heuristic"}
    return Snapshot(
        as_of=as_of,
        model_versions=dict(versions),
        user_ids=user_ids,
        user_index=user_index,
        user_rep=np.clip(np.asarray(repurchase_prob, dtype=np.float32), 0, 1),
        user_fit=price_fit(_col(ua, "price_ratio", np.nan)),
        user_days30=_col(ua, "order_days_30d", 0.0).astype(np.int32),
        user_tag_set=user_tag_set,
        tag_sets=tag_sets,
        push_counts=push_counts,
        interest=build_interest(inputs.interest, tables, axes),
        cat_ids=cat_ids,
        cat_index=cat_index,
        cat_cycle=cat_cycle,
        cat_high_freq=cat_high_freq,
        prod_ids=prod_ids,
        prod_index=prod_index,
        prod_cat=prod_cat,
        prod_band=np.clip(_col(ps, "price_band", 2.0), 0, N_BANDS - 1).astype(np.int8),
        prod_stock=stock,
        default_candidates=default,
        group_ids=group_ids,
        group_index=group_index,
        group_stage=gs["stage"].astype(str).to_numpy(dtype=object),
        member_indptr=member_indptr,
        members=members,
        group_target=_zombie_targets(gs),
        data_as_of=inputs.data_as_of,
        stock_feed=bool(np.isfinite(stock).any()),
    )
