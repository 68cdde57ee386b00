"""Why a group's push list is empty or short: short sentences for its `warnings`.

Run only when a list has fewer items than it could (the request path stays as fast as
before for full lists). Each sentence starts with a fixed key before the first colon
("no slow movers: ...", "push cap: ..."), so the batch export can count reasons across
groups (`reason_key`). Signals are read from the members' category-interest rows: a member
without a row for a product's category has no signal for it; a member whose row is
suppressed bought that non-high-frequency category within its repurchase cycle.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from configs.settings import ServingSettings
from serving.names import category_labels, product_labels
from serving.results import Item
from serving.snapshot import Snapshot

MAX_IDS = 3  # products named in one sentence (by name, else id); the rest are counted

NO_MEMBERS = "no members"
NO_GROUPS = (
    "no groups: the data has no groups (give a groups or memberships table, or orders with"
    " group_id or store_id, and rebuild the features)"
)
NO_SLOW_MOVERS = "no slow movers"
NO_STOCK_FEED = "no inventory feed"
PUSH_CAP = "push cap"


def reason_key(warning: str) -> str:
    """The fixed part of a warning (before its first colon) that names the reason."""
    return warning.split(":", 1)[0].strip()


def id_list(ids: Sequence[str], limit: int = MAX_IDS, total: int | None = None) -> str:
    """'a, b, c and 4 more' (TOTAL: how many IDS stand for, when only the first few are
    given); a name given twice (two products may share one) is shown once."""
    total = len(ids) if total is None else total
    shown = list(dict.fromkeys(ids))[:limit]
    more = total - len(shown)
    return f"{', '.join(shown)} and {more} more" if more > 0 else ", ".join(shown)


def _products(snap: Snapshot, idx: np.ndarray) -> str:
    """The products at IDX as a sentence names them (names, else ids; the first few only)."""
    return id_list(product_labels(snap, idx[: MAX_IDS * 2]), total=len(idx))


def stock_feed_note() -> str:
    """The response-wide note when no product has a stock row (said once per answer)."""
    return (
        f"{NO_STOCK_FEED}: slow movers are products selling well below their usual pace,"
        " and no stock cap applies"
    )


def _entries(snap: Snapshot, members: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(category, live) of every interest entry of MEMBERS (a loop over at most a group)."""
    csr = snap.interest
    spans = [np.arange(csr.indptr[u], csr.indptr[u + 1]) for u in members.tolist()]
    e = np.concatenate(spans) if spans else np.zeros(0, dtype=np.int64)
    return csr.indices[e], csr.live[e]


def _candidates(snap: Snapshot, candidates: np.ndarray | None, out: list[str]) -> np.ndarray:
    """The candidates a list could use; the unusable ones explained into OUT."""
    if candidates is None:
        if not len(snap.default_candidates):
            why = (
                "no product is overstocked or selling below its usual pace"
                if snap.stock_feed
                else "no inventory feed, and no product sells below its usual pace"
            )
            out.append(f"{NO_SLOW_MOVERS}: {why} as of {snap.as_of.isoformat()}")
        return np.asarray(snap.default_candidates, dtype=np.int64)
    cand = np.asarray(candidates, dtype=np.int64)
    empty = snap.prod_stock[cand] <= 0
    if empty.any():
        out.append(f"out of stock: {_products(snap, cand[empty])}")
    no_cat = snap.prod_cat[cand] < 0
    if no_cat.any():
        out.append(f"no category features: {_products(snap, cand[no_cat])}")
    return cand[~empty & ~no_cat]


def short_list_reasons(
    snap: Snapshot,
    g: int,
    cfg: ServingSettings,
    candidates: np.ndarray | None,
    used: np.ndarray | None,
    items: Sequence[Item],
) -> list[str]:
    """Why group G's list is short: missing members or candidates, the push cap, products
    without any member signal, products suppressed for their recent buyers, and the
    category limit. ITEMS: the list as answered; USED: pushes of this answer per user (this
    group's included), None when the answer is this group's alone."""
    out: list[str] = []
    members = snap.group_members(g)
    if not len(members):
        return [f"{NO_MEMBERS}: the group has no memberships as of {snap.as_of.isoformat()}"]
    cand = _candidates(snap, candidates, out)
    if used is None:  # this list's own pushes count towards the cap
        used = np.zeros(len(snap.user_ids), dtype=np.int32)
        own = [snap.user_index[m.user_id] for it in items for m in it.members]
        np.add.at(used, np.asarray(own, dtype=np.int64), 1)
    capped = int((snap.push_counts[members] + used[members] >= cfg.push_cap).sum())
    if capped:
        out.append(
            f"{PUSH_CAP}: {capped} of {len(members)} members reached the cap of {cfg.push_cap}"
            f" pushes per {cfg.push_cap_window_days} days (this answer included)"
        )
    if not len(cand):
        return out
    cats, live = _entries(snap, members)
    n_cat = len(snap.cat_ids)
    any_row = np.bincount(cats, minlength=n_cat)[snap.prod_cat[cand]] > 0
    live_row = np.bincount(cats[live], minlength=n_cat)[snap.prod_cat[cand]] > 0
    if not any_row.any():
        of = "the category of" if len(cand) == 1 else "the categories of"
        out.append(
            f"no member signal: no member bought or showed interest in {of} {_products(snap, cand)}"
        )
    elif not any_row.all():
        n = int((~any_row).sum())
        out.append(
            f"no member signal: for {n} of {len(cand)} products, no member bought or showed"
            " interest in their category"
        )
    suppressed = any_row & ~live_row
    if suppressed.any():
        out.append(
            f"suppressed for recent buyers: {_products(snap, cand[suppressed])} (every"
            " interested member bought the category within its repurchase cycle)"
        )
    listed = np.array([it.category_id for it in items], dtype=object)
    full = {c for c in set(listed.tolist()) if (listed == c).sum() >= cfg.max_per_category}
    if full:
        cand_cats = snap.cat_ids[snap.prod_cat[cand]]
        left = live_row & np.isin(cand_cats, list(full))
        n_left = int(left.sum()) - sum(int((listed == c).sum()) for c in full)
        if n_left > 0:
            names = sorted(category_labels(snap, [snap.cat_index[c] for c in full]))
            out.append(
                f"category limit: {n_left} more products of {id_list(names)} left out"
                f" (at most {cfg.max_per_category} per category)"
            )
    return out


class ReasonTally:
    """Warnings of many groups counted by reason (key before the colon), one example each:
    what `export push-lists` prints when it writes no rows."""

    def __init__(self) -> None:
        self.groups = 0
        self.counts: dict[str, int] = {}
        self.example: dict[str, str] = {}

    def add(self, warnings: Sequence[str]) -> None:
        self.groups += 1
        for key in dict.fromkeys(reason_key(w) for w in warnings):
            self.counts[key] = self.counts.get(key, 0) + 1
        for w in warnings:
            self.example.setdefault(reason_key(w), w)

    def legitimate(self) -> bool:
        """An empty answer is legitimate when groups with members were judged (no slow
        movers, caps, suppression, zombies, no signal); not when the data has no groups or
        no group has a member (then nothing was judged: fix the input)."""
        return self.groups > 0 and self.counts.get(NO_MEMBERS, 0) < self.groups

    def lines(self) -> list[str]:
        """One line per distinct reason, most frequent first: 'N groups: <example>'."""
        if not self.groups:
            return [NO_GROUPS]
        order = sorted(self.counts, key=lambda k: (-self.counts[k], k))
        return [f"{self.counts[k]:,} of {self.groups:,} groups: {self.example[k]}" for k in order]
