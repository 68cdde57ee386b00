"""Push lists for one group: score member x product on snapshot arrays, then apply the rules.

Pure numpy on integer indices (no web imports, no pandas in the request path). Scores are built
at the category level (dense categories x members, from the members' sparse interest rows), then
per (category, price band) combination, so a 500-member x 2,000-product request touches a few
small matrices. Rules: (1) no non-high-frequency product to a member who bought it within its
repurchase cycle (serving.suppression: at the product level when the service reads the order
log, as it does with a push champion; else the whole category is the proxy); (2) a per-member
push cap over a rolling window (logged pushes, group-wide pushes and this response's own
assignments); (3) expected buyers never exceed stock; (4) at most `max_per_category` products
of one category; (5) zombie groups get the members to move instead.
With a push champion, members with a product-level signal ("warm": serving.push_merge) rank by
its probability and the others by their category-level score x its cold rate; the rules
apply after the ranking.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

from configs.settings import ServingSettings
from serving.csr import row_entries
from serving.explain import Explainer, zombie_list
from serving.names import category_names, product_names
from serving.push_merge import (
    Warm,
    drop_suppressed,
    merge_expected,
    no_warm,
    overlay,
    warm_entries,
    warm_reasons,
)
from serving.results import GroupPushList, Item, Member
from serving.snapshot import N_BANDS, Snapshot
from serving.suppression import Blocked, blocked_pairs, no_blocks, unblocked
from serving.topk import top_k_rows
from serving.why import short_list_reasons

EPS = 1e-6
TIE = np.float32(1e-3)  # weight of the interest-based score under the push model's cold score
NO_WARM = no_warm(np.zeros(0, np.int64))  # requests without a push champion


@dataclass(frozen=True)
class _Dense:
    """Category x member matrices for the candidate categories of one request."""

    base: np.ndarray  # interest + repurchase terms (0 where suppressed)
    extra: np.ndarray  # affinity weight x relative interest (0 where suppressed)
    entry: np.ndarray  # int64 CSR entry of (category, member), -1 when absent (for reasons)


def weights(cfg: ServingSettings) -> tuple[float, float, float]:
    """(interest, affinity, repurchase) weights normalised to sum 1."""
    w = [
        max(cfg.interest_weight, 0.0),
        max(cfg.affinity_weight, 0.0),
        max(cfg.repurchase_weight, 0.0),
    ]
    total = sum(w) or 1.0
    return w[0] / total, w[1] / total, w[2] / total


def _unique_small(keys: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """np.unique(keys, return_inverse=True) for keys in [0, size): a mask, not a sort."""
    seen = np.zeros(size, dtype=bool)
    seen[keys] = True
    uniq = np.flatnonzero(seen)
    pos = np.zeros(size, dtype=np.int64)
    pos[uniq] = np.arange(len(uniq))
    return uniq, pos[keys]


def _dense(snap: Snapshot, members: np.ndarray, ucat: np.ndarray, cfg: ServingSettings) -> _Dense:
    w_i, w_a, w_r = weights(cfg)
    csr = snap.interest
    pos = np.full(len(snap.cat_ids), -1, dtype=np.int64)
    pos[ucat] = np.arange(len(ucat))
    row, e, lens = row_entries(csr.indptr, members)
    rep = np.repeat(snap.user_rep[members], lens)  # (a gather per entry costs more)
    col = pos[csr.indices[e]]
    keep = col >= 0
    if not keep.all():
        row, col, e, rep = row[keep], col[keep], e[keep], rep[keep]
    # product-level rule 1 (serving.suppression) replaces the category-level flag
    live = csr.live[e] if snap.block_indptr is None else np.float32(1.0)
    model, rel_e, due = np.take(csr.scoring, e, axis=0).T  # one read per entry, not three
    shape = (len(ucat), len(members))
    flat = col * len(members) + row  # scatter into raveled matrices: cheaper than 2-D indexing
    base, extra = np.zeros(shape, np.float32), np.zeros(shape, np.float32)
    base.ravel()[flat] = live * (w_i * model + w_r * rep * due)
    extra.ravel()[flat] = w_a * (live * rel_e)
    entry = np.full(shape, -1, np.int64)
    entry.ravel()[flat] = e
    if snap.cold_indptr is not None and snap.cold_indices is not None:
        base, extra = _cold_scale(snap, members, pos, base, extra)
    return _Dense(base, extra, entry)


def _cold_scale(
    snap: Snapshot, members: np.ndarray, pos: np.ndarray, base: np.ndarray, extra: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """With a push champion: the members' category scores on the scale its cold rate was
    fitted on (serving.push_scores.category_scores), the interest-based score kept only as a
    tie-break (x TIE) for members without category purchases."""
    assert snap.cold_indptr is not None and snap.cold_indices is not None
    assert snap.cold_score is not None
    row, e, _ = row_entries(snap.cold_indptr, members)
    col = pos[snap.cold_indices[e]]
    keep = col >= 0
    cold = np.zeros_like(base)
    cold.ravel()[col[keep] * len(members) + row[keep]] = snap.cold_score[e[keep]]
    return cold + TIE * base, TIE * extra


def _take_within_stock(scores: np.ndarray, stock: float) -> int:
    """How many of the (descending) member scores fit under the product's stock."""
    csum = np.cumsum(scores, dtype=np.float64)
    return int(np.searchsorted(csum, stock + EPS, side="right"))


@dataclass(frozen=True)
class _Request:
    """One group's scoring state: members (with cap left), candidates, and the score of
    every (category, price band) row as `base + extra * fit`, computed only where needed."""

    members: np.ndarray
    cap_left: np.ndarray
    cand: np.ndarray
    stock: np.ndarray
    cats: np.ndarray
    cand_u: np.ndarray  # candidate -> row of the category arrays
    cand_combo: np.ndarray  # candidate -> score row
    base: np.ndarray  # (categories, members) interest + repurchase terms (0 where suppressed)
    extra: np.ndarray  # (categories, members) affinity weight x relative interest
    fit: np.ndarray  # (bands, members) price fit, in [0, 1]
    row_cat: np.ndarray  # score row -> category row
    row_band: np.ndarray  # score row -> price band
    entry: np.ndarray
    # push champion's entries of these members and candidates (serving.push_merge)
    warm: Warm = NO_WARM
    # (candidate, member) pairs rule 1 blocks at the product level (serving.suppression)
    blocked: Blocked = no_blocks(0)

    @property
    def eps(self) -> float:
        """The "positive score" threshold: EPS on the unscaled category scale (a cold rate
        of ~1e-3 would otherwise drop every member whose category score is under ~1e-3)."""
        return EPS * min(self.warm.scale, 1.0)

    def row(self, r: int) -> np.ndarray:
        """The members' category-level scores of score row r (x the push model's cold rate)."""
        c = self.row_cat[r]
        row = self.base[c] + self.extra[c] * self.fit[self.row_band[r]]
        return row * self.warm.scale if self.warm.scale != 1.0 else row


def _prepare(
    snap: Snapshot,
    g: int,
    cfg: ServingSettings,
    candidates: np.ndarray | None,
    used: np.ndarray | None,
    out: GroupPushList,
) -> _Request | None:
    members = snap.group_members(g)
    cap_left = cfg.push_cap - snap.push_counts[members]
    if used is not None:
        cap_left = cap_left - used[members]
    keep = cap_left > 0  # a short list says why afterwards (serving.why), not here
    members, cap_left = members[keep], cap_left[keep].astype(np.int32)
    cand = snap.default_candidates if candidates is None else np.asarray(candidates, np.int64)
    stock = snap.prod_stock[cand]
    in_stock = (np.isnan(stock) | (stock > 0)) & (snap.prod_cat[cand] >= 0)
    cand, stock = cand[in_stock], np.where(np.isnan(stock[in_stock]), np.inf, stock[in_stock])
    if not len(cand) or not len(members):
        return None
    cats = snap.prod_cat[cand]
    ucat, cand_u = _unique_small(cats, len(snap.cat_ids))
    dense = _dense(snap, members, ucat, cfg)
    combo_key = cand_u * N_BANDS + snap.prod_band[cand]
    ucombo, cand_combo = _unique_small(combo_key, len(ucat) * N_BANDS)
    fit_t = np.ascontiguousarray(snap.user_fit[members].T)  # (bands, members): row reads
    row_cat, row_band = ucombo // N_BANDS, ucombo % N_BANDS
    warm, blocked = no_warm(cand), no_blocks(len(cand))
    if snap.block_indptr is not None and snap.block_indices is not None:
        blocked = blocked_pairs(
            snap.block_indptr, snap.block_indices, members, cand, len(snap.prod_ids)
        )
    if snap.push_indptr is not None:  # rule 1 for warm members: at the product level
        if snap.block_indptr is not None:
            warm = warm_entries(snap, members, cand, blocked)
        else:
            warm = drop_suppressed(warm_entries(snap, members, cand), snap, cats)
    return _Request(
        members,
        cap_left,
        cand,
        stock,
        cats,
        cand_u,
        cand_combo,
        dense.base,
        dense.extra,
        fit_t,
        row_cat,
        row_band,
        dense.entry,
        warm,
        blocked,
    )


def _expected(req: _Request, k: int) -> np.ndarray:
    """Expected buyers per candidate: its k best member scores that fit under its stock.

    Caps are ignored here (they only lower the value). The top-k values come from sorting
    (the bounded few members of) each (category, band) row: np.partition degrades badly
    (5-10x slower than sorting) on rows where most members score exactly 0, the common case.
    """
    top = top_k_rows(req.base, req.extra, req.fit, req.row_cat, req.row_band, k)
    if req.warm.scale != 1.0:
        top = top * np.float32(req.warm.scale)
    csum = np.cumsum(top, axis=1, dtype=np.float64)  # per score row, not per candidate
    positive = (top > req.eps).sum(axis=1)
    whole = np.where(positive > 0, csum[np.arange(len(top)), np.maximum(positive - 1, 0)], 0.0)
    out = whole[req.cand_combo]  # stock above the row's k best: all its positive members
    short = np.flatnonzero(req.stock + EPS < csum[req.cand_combo, -1])
    if len(short):  # the few candidates whose stock binds: count what fits
        rows = req.cand_combo[short]
        fits = (csum[rows] <= req.stock[short, None] + EPS).sum(axis=1)
        n_take = np.minimum(fits, positive[rows])
        out[short] = np.where(n_take > 0, csum[rows, np.maximum(n_take - 1, 0)], 0.0)
    if len(req.warm.member):  # candidates with warm members: their own top k
        merge_expected(out, req.warm, top, req.cand_combo, req.stock, k)
    return out


def _pick(req: _Request, p: int, k: int, cap_left: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The members for product p: best first, with cap left and a positive score, in stock."""
    row = unblocked(overlay(req.row(int(req.cand_combo[p])), req.warm, p), req.blocked, p)
    m = min(len(row), 4 * k)  # enough unless many of the best are capped
    idx = np.argpartition(-row, m - 1)[:m] if m < len(row) else np.arange(len(row))
    while True:
        idx = idx[np.argsort(-row[idx], kind="stable")]
        ok = (cap_left[idx] > 0) & (row[idx] > req.eps)
        if ok.sum() >= k or len(idx) == len(row):
            break
        idx = np.arange(len(row))
    idx = idx[ok][:k]
    n = _take_within_stock(row[idx], float(req.stock[p]))
    return idx[:n], row[idx[:n]]


Pick = tuple[int, np.ndarray, np.ndarray]  # (candidate position, member positions, scores)


def _select(req: _Request, top_k: int, k: int, max_per_cat: int) -> list[Pick]:
    """Greedy over products by expected buyers, applying member caps and category diversity."""
    expected = _expected(req, k)
    cap_left = req.cap_left.copy()
    per_cat: dict[int, int] = {}
    picks: list[Pick] = []
    for p in np.argsort(-expected, kind="stable"):
        if len(picks) >= top_k or expected[p] <= req.eps:
            break
        c = int(req.cats[p])
        if per_cat.get(c, 0) >= max_per_cat:
            continue
        idx, sc = _pick(req, int(p), k, cap_left)
        if len(idx):
            cap_left[idx] -= 1
            per_cat[c] = per_cat.get(c, 0) + 1
            picks.append((int(p), idx, sc))
    return picks


def _items(snap: Snapshot, req: _Request, picks: list[Pick], used: np.ndarray | None) -> list[Item]:
    """The response items of the picks; every returned (member, product) pair's reason data
    is gathered in one go, and strings are built only for those pairs."""
    prods = np.array([p for p, _, _ in picks], dtype=np.int64)
    sizes = [len(idx) for _, idx, _ in picks]
    pos = np.concatenate([idx for _, idx, _ in picks])
    users = req.members[pos]
    if used is not None:
        np.add.at(used, users, 1)
    cats = np.repeat(req.cats[prods], sizes)
    entries = req.entry[np.repeat(req.cand_u[prods], sizes), pos]
    reasons = Explainer(snap).reasons(users, cats, entries)
    if len(req.warm.member):
        reasons = warm_reasons(snap, req.warm, np.repeat(prods, sizes), pos, reasons)
    user_ids = snap.user_ids[users].tolist()
    scores = np.concatenate([sc for _, _, sc in picks]).tolist()
    prod_ids = snap.prod_ids[req.cand[prods]].tolist()
    cat_ids = snap.cat_ids[req.cats[prods]].tolist()
    prod_names = product_names(snap, req.cand[prods])
    cat_names = category_names(snap, req.cats[prods])
    items, start = [], 0
    for i, (_, _, sc) in enumerate(picks):
        stop = start + sizes[i]
        members = [
            Member(u, round(s, 4), why)
            for u, s, why in zip(
                user_ids[start:stop], scores[start:stop], reasons[start:stop], strict=True
            )
        ]
        total = float(sc.sum(dtype=np.float64))
        items.append(
            Item(
                prod_ids[i],
                cat_ids[i],
                prod_names[i],
                cat_names[i],
                round(total / sizes[i], 4),
                round(total, 4),
                members,
            )
        )
        start = stop
    return items


def push_list(
    snap: Snapshot,
    g: int,
    cfg: ServingSettings,
    *,
    top_k: int = 10,
    members_per_product: int = 20,
    candidates: np.ndarray | None = None,
    used: np.ndarray | None = None,
) -> GroupPushList:
    """The ranked push list of group index g; `used` (per user) carries this response's pushes."""
    stage = str(snap.group_stage[g])
    if stage == "zombie":
        return zombie_list(snap, g)
    out = GroupPushList(str(snap.group_ids[g]), stage)
    req = _prepare(snap, g, cfg, candidates, used, out)
    if req is not None:
        k = min(members_per_product, len(req.members))
        picks = _select(req, top_k, k, cfg.max_per_category)
        if picks:
            out.items.extend(_items(snap, req, picks, used))
        out.items.sort(key=lambda it: -it.expected_buyers)
    n_cand = len(snap.default_candidates if candidates is None else candidates)
    if not out.items or len(out.items) < min(top_k, n_cand):  # only then: say why
        out.warnings.extend(short_list_reasons(snap, g, cfg, candidates, used, out.items))
        out.warnings = list(dict.fromkeys(out.warnings))
    return out


def staleness_warning(snap: Snapshot, stale_after_days: int, today: date) -> str | None:
    """A warning when the features' as-of lags the reference date by more than the limit.

    The reference is the newest order date in the workspace when known (features not rebuilt
    after new orders arrived), else `today` (wall clock).
    """
    reference = snap.data_as_of or today
    lag = (reference - snap.as_of).days
    if lag > stale_after_days:
        return f"features as of {snap.as_of.isoformat()} are {lag} days behind {reference}"
    return None
