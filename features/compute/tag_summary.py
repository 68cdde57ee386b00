"""Each tag's share of the users at t, and warnings for tags that tell an operator nothing.

A tag almost everyone carries (more than MAX_SHARE of the users) does not single anybody out;
a tag nobody carries is either a rule that does not fit the shop or data the shop lacks. The
feature build reports both for the latest as-of date, so an operator sees them before using
the tags. A tag that cannot fire because its profile column is unknown for every user (a log
without a users table has no channel) is reported once per column, not as a zero per tag.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from features.compute.tags import EXPAND_SEPARATOR, PROFILE_COLUMNS, TagDef, is_unknown

MAX_SHARE = 0.5


def tag_counts(tags: pd.Series) -> dict[str, int]:
    """Users per tag id from the comma-joined tags column (few distinct combinations)."""
    return combination_counts(tags.fillna("").value_counts())


def combination_counts(combos: pd.Series) -> dict[str, int]:
    """Users per tag id from the users per comma-joined combination (COMBOS' index)."""
    counts: dict[str, int] = {}
    for combo, n in combos.items():
        for tag_id in filter(None, str(combo).split(",")):
            counts[tag_id] = counts.get(tag_id, 0) + int(n)
    return counts


def known_columns(users: pd.DataFrame) -> set[str]:
    """Profile (string) columns with a known value for some user (a user partition's add up)."""
    out = set()
    for name in PROFILE_COLUMNS:
        if name in users:
            values = users[name].dropna().astype(str).unique()
            if not all(is_unknown(v) for v in values):
                out.add(name)
    return out


def tag_summary(users: pd.DataFrame, taxonomy: list[TagDef]) -> dict[str, Any]:
    """{"users": n, "shares": {tag id: share}, "warnings": [...]} over USERS' `tags` column.

    Every rule tag is listed (0.0 when it never fires); expanding tags list each value seen.
    """
    n = len(users)
    return summary_of_counts(
        n, tag_counts(users["tags"]) if n else {}, known_columns(users), taxonomy
    )


def summary_of_counts(
    n: int, counts: dict[str, int], known: set[str], taxonomy: list[TagDef]
) -> dict[str, Any]:
    """tag_summary from N users' COUNTS per tag id and the profile columns KNOWN for some."""
    shares: dict[str, float] = {}
    for tag in taxonomy:
        if tag.expand is None:
            shares[tag.id] = counts.get(tag.id, 0) / n if n else 0.0
        else:
            prefix = tag.id + EXPAND_SEPARATOR
            for tag_id in sorted(t for t in counts if t.startswith(prefix)):
                shares[tag_id] = counts[tag_id] / n
    missing = set(PROFILE_COLUMNS) - known
    blind: dict[str, list[str]] = {}  # column -> tags that cannot fire without it
    for tag in taxonomy:
        lacking = sorted(tag.names_used() & missing)
        fired = shares.get(tag.id, 0) > 0 or any(
            s.startswith(tag.id + EXPAND_SEPARATOR) for s in shares
        )
        if lacking and not fired:
            blind.setdefault(lacking[0], []).append(tag.id)
    warnings = [
        f"no {col} known for any user: {', '.join(ids)} cannot fire"
        for col, ids in sorted(blind.items())
    ]
    explained = {i for ids in blind.values() for i in ids}
    for tag_id, share in shares.items():
        if share > MAX_SHARE:
            warnings.append(
                f"{tag_id} fires for {share:.0%} of {n} users (more than {MAX_SHARE:.0%}): "
                "it singles nobody out"
            )
        elif share == 0 and tag_id not in explained and n:
            warnings.append(f"{tag_id} fires for no user")
    return {"users": n, "shares": shares, "warnings": warnings}


def summary_lines(summary: dict[str, Any], as_of: str = "") -> list[str]:
    """The tag summary as text: one line of shares (largest first), one line per warning."""
    shares = summary["shares"]
    order = sorted(shares, key=lambda k: (-shares[k], k))
    head = f"tags{' as of ' + as_of if as_of else ''} ({summary['users']} users): "
    text = ", ".join(f"{k} {shares[k]:.1%}" for k in order if shares[k] > 0) or "none fired"
    return [head + text, *(f"warning: {w}" for w in summary["warnings"])]
