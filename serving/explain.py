"""Human-readable reasons for a targeted member, and the zombie-group answer.

Built only for the members a response returns; the per-user part (repurchase, tags) is
computed once per request even when a member is targeted for several products.
"""

from __future__ import annotations

import numpy as np

from serving.names import category_labels
from serving.results import GroupPushList, Member
from serving.snapshot import NO_GROUP, Snapshot

MAX_TAG_REASONS = 3
LIKELY_REORDER = 0.6


class Explainer:
    """Reasons from the snapshot's interest entry of (user, category) and the user's profile;
    categories are named by their names when the products table gives them, else by id."""

    def __init__(self, snap: Snapshot) -> None:
        self.snap = snap

    def reasons(self, users: np.ndarray, cats: np.ndarray, entries: np.ndarray) -> list[list[str]]:
        """Reasons for targeting each USERS[i] with a product of category CATS[i]; ENTRIES are
        their CSR entries for that category (-1: none), gathered in one go. One loop over
        plain lists (the per-user part, repurchase and tags, read by array, not per call)."""
        snap, csr = self.snap, self.snap.interest
        found = entries >= 0
        e = np.where(found, entries, 0)
        n30 = np.where(found, csr.counts_30d[e], 0)
        bought = (n30 > 0).tolist()
        last = np.where(found, csr.last_days[e], -1)
        model = np.where(found, csr.model[e], 0)
        cycle = snap.cat_cycle[cats]
        with np.errstate(invalid="ignore"):
            due = (last >= 0) & np.isfinite(cycle) & (last >= cycle)
        related = (last < 0) & (model > 0)
        names = category_labels(snap, cats)
        rep = snap.user_rep[users]
        rows = zip(
            names,
            bought,
            n30.astype(np.int64).tolist(),
            due.tolist(),
            related.tolist(),
            cycle.tolist(),
            last.tolist(),
            (rep.astype(np.float64) >= LIKELY_REORDER).tolist(),
            rep.tolist(),
            snap.user_tag_set[users].tolist(),
            strict=True,
        )
        tag_sets = snap.tag_sets
        out = []
        for name, any_30d, n, is_due, is_related, cyc, ld, likely, r, tags in rows:
            times = "once" if n == 1 else f"{n} times"
            why = [f"bought {name} {times} in 30 days"] if any_30d else []
            if is_due:
                why.append(
                    f"replenishment due: {name} every {cyc:.0f} days, last {ld:.0f} days ago"
                )
            elif is_related:
                why.append(f"interested in categories related to {name}")
            if likely:
                why.append(f"likely to order again soon ({r:.0%})")
            why += tag_sets[tags][:MAX_TAG_REASONS]
            out.append(why)
        return out


def zombie_list(snap: Snapshot, g: int) -> GroupPushList:
    """Instead of pushes: the still-active members and the group to move them to."""
    members = snap.group_members(g)
    active = members[snap.user_days30[members] > 0]
    order = np.lexsort((-snap.user_rep[active], -snap.user_days30[active]))
    target = int(snap.group_target[g])
    suggested = str(snap.group_ids[target]) if target != NO_GROUP else None
    moves = [
        Member(
            str(snap.user_ids[u]),
            round(float(snap.user_rep[u]), 4),
            [f"ordered on {int(snap.user_days30[u])} days in 30 days", *snap.tags_of(int(u))[:2]],
        )
        for u in active[order]
    ]
    where = f"to group {suggested}" if suggested else "to an active group of the same store"
    warning = f"zombie group: no pushes; move the {len(moves)} still-active members {where}"
    if not moves:
        why = "no member ordered in 30 days" if len(members) else "the group has no members"
        warning = f"zombie group: no pushes, and {why}"
    return GroupPushList(str(snap.group_ids[g]), "zombie", [warning], [], suggested, moves)
