"""What `features build` says about slow movers: per as-of date, which definition judged the
products (catalog: product_stats.slow_moving_basis) and how many slow movers each found.

An operator whose shop has no stock feed sees at once that slow movers come from sales
velocity (and how many), instead of finding empty push lists later.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path

import pyarrow.compute as pc

from features.store.catalog import BASIS_NONE, BASIS_STOCK, BASIS_VELOCITY, PRODUCT_STATS
from features.store.offline_tables import read_date

BASES = (BASIS_STOCK, BASIS_VELOCITY, BASIS_NONE)


def slow_mover_counts(offline_dir: Path, dates: Sequence[date]) -> dict[str, dict[str, int]]:
    """{as-of ISO date: {"<basis>_products": n, "<basis>_slow": m, ...}} from the stored
    product_stats rows (dates not stored are left out)."""
    out: dict[str, dict[str, int]] = {}
    for as_of in dates:
        rows = read_date(
            offline_dir, PRODUCT_STATS.name, as_of, ["slow_moving_basis", "is_slow_moving"]
        )
        if not rows.num_rows:
            continue
        basis, slow = rows.column("slow_moving_basis"), rows.column("is_slow_moving")
        counts: dict[str, int] = {}
        for b in BASES:
            mine = pc.fill_null(pc.equal(basis, b), False)
            counts[f"{b}_products"] = int(pc.sum(mine).as_py() or 0)
            counts[f"{b}_slow"] = int(pc.sum(pc.filter(slow, mine)).as_py() or 0)
        out[as_of.isoformat()] = counts
    return out


def describe(counts: dict[str, dict[str, int]]) -> list[str]:
    """One line per as-of date: the definitions used and the slow movers they found."""
    lines = []
    for day, c in sorted(counts.items()):
        parts = []
        if c[f"{BASIS_STOCK}_products"]:
            parts.append(
                f"{c[f'{BASIS_STOCK}_slow']:,} by stock (of {c[f'{BASIS_STOCK}_products']:,}"
                " products with a stock row)"
            )
        else:
            parts.append("no stock feed")
        parts.append(
            f"{c[f'{BASIS_VELOCITY}_slow']:,} by sales velocity (of"
            f" {c[f'{BASIS_VELOCITY}_products']:,} products with enough history)"
        )
        parts.append(f"{c[f'{BASIS_NONE}_products']:,} not judged (too little history)")
        total = c[f"{BASIS_STOCK}_slow"] + c[f"{BASIS_VELOCITY}_slow"]
        lines.append(f"slow movers as of {day}: {total:,}; " + "; ".join(parts))
    return lines
