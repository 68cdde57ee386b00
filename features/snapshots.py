"""As-of dates: the default build date and the past snapshot dates training learns from."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pyarrow.parquet as pq

from configs import columns as C
from features.io import table_path


def default_as_of(data_dir: Path) -> date:
    """The day after the last order date (UTC): every order in the data is then 'before t'.

    The newest order comes from the Parquet row groups' max statistics (metadata only: the
    large preset has 20M timestamps); files written without them are read in full."""
    path = table_path(data_dir, "orders")
    if not path.exists():
        raise FileNotFoundError(f"{path}: the orders table is required")
    last = newest_from_stats(path, C.ORDERED_AT)
    if last is None:
        col = pq.read_table(path, columns=[C.ORDERED_AT]).column(C.ORDERED_AT)
        last = pc.max(col).as_py()
    if last is None:
        raise ValueError(f"{path}: no orders, so there is no default as-of date")
    if getattr(last, "tzinfo", None) is not None:
        from datetime import UTC

        last = last.astimezone(UTC)
    last_day = last.date() if hasattr(last, "date") else last
    return last_day + timedelta(days=1)


def newest_from_stats(path: Path, column: str) -> Any:
    """Max of COLUMN over the row groups' statistics, or None when any non-empty row group
    lacks them (or the file has no such column / no non-null value)."""
    meta = pq.read_metadata(path)
    newest = None
    for i in range(meta.num_row_groups):
        group = meta.row_group(i)
        chunks = [group.column(j) for j in range(group.num_columns)]
        chunk = next((c for c in chunks if c.path_in_schema == column), None)
        if chunk is None:
            return None
        stats = chunk.statistics
        if stats is not None and stats.has_null_count and stats.null_count == group.num_rows:
            continue  # only nulls (or no rows): nothing to take the max of
        if stats is None or not stats.has_min_max:
            return None
        newest = stats.max if newest is None else max(newest, stats.max)
    return newest


def training_snapshot_dates(
    as_of: date,
    horizon_days: int,
    n_snapshots: int,
    spacing_days: int,
    anchor: date | None = None,
) -> list[date]:
    """Snapshots whose label window [s, s + horizon) ends by AS_OF, oldest first.

    Without ANCHOR the newest is as_of - horizon (so every date moves with as_of); with one,
    dates lie on the grid anchor + k * spacing, the newest the last whose window ends by
    as_of: labels up to spacing - 1 days older, but a daily build keeps reusing them.
    """
    newest = as_of - timedelta(days=horizon_days)
    if anchor is not None:
        newest -= timedelta(days=(newest - anchor).days % spacing_days)
    return sorted(newest - timedelta(days=i * spacing_days) for i in range(n_snapshots))
