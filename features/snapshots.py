"""As-of dates: the default build date and the past snapshot dates training learns from."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pyarrow.parquet as pq

from configs import columns as C
from features.contract.io import table_path


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


def snapshot_gap(horizon_days: int, spacing_days: int) -> int:
    """Days between the newest training, the validation and the held-out snapshot: the
    horizon rounded up to a whole number of spacings, so each label window ends by the next
    snapshot (no label leaks into a later snapshot's features) and every date stays on one
    spacing grid (horizons and daily builds share snapshots)."""
    return spacing_days * -(-horizon_days // spacing_days)


def training_snapshot_dates(
    as_of: date,
    horizon_days: int,
    n_snapshots: int,
    spacing_days: int,
    anchor: date | None = None,
) -> list[date]:
    """Snapshots whose label window [s, s + horizon) ends by AS_OF, oldest first.

    The held-out snapshot is the newest, then the validation one and the newest training one
    each `snapshot_gap` earlier; older training snapshots follow every SPACING days (their
    windows may overlap each other, never the validation one). SPACING is a lower bound:
    with a horizon up to it, every date is SPACING apart.

    Without ANCHOR the newest is as_of - horizon (so every date moves with as_of); with one,
    dates lie on the grid anchor + k * spacing, the newest the last whose window ends by
    as_of: labels up to spacing - 1 days older, but a daily build keeps reusing them.
    """
    newest = as_of - timedelta(days=horizon_days)
    if anchor is not None:
        newest -= timedelta(days=(newest - anchor).days % spacing_days)
    gap = timedelta(days=snapshot_gap(horizon_days, spacing_days))
    dates = [newest - i * gap for i in range(min(n_snapshots, 3))]
    while len(dates) < n_snapshots:
        dates.append(dates[-1] - timedelta(days=spacing_days))
    return sorted(dates)


def first_order_day(data_dir: Path) -> date | None:
    """The oldest order date (UTC): reads the one timestamp column."""
    path = table_path(data_dir, "orders")
    if not path.exists():
        return None
    col = pq.read_table(path, columns=[C.ORDERED_AT]).column(C.ORDERED_AT)
    first = pc.min(col).as_py()
    if first is None:
        return None
    if getattr(first, "tzinfo", None) is not None:
        from datetime import UTC

        first = first.astimezone(UTC)
    return first.date() if hasattr(first, "date") else first


def check_history(dates: list[date], first_order: date | None, horizon_days: int) -> None:
    """One clear error when the oldest snapshot has no order before it (no rows to learn
    from): the dates needed, where the orders start, and what to change."""
    if first_order is None or first_order < dates[0]:
        return
    raise ValueError(
        f"horizon {horizon_days} days needs snapshots {dates[0]} .. {dates[-1]} "
        f"({len(dates)} of them: training, validation, holdout, each label window ending "
        f"before the next) but the orders start on {first_order}: use a shorter "
        "--horizon-days or fewer training.n_snapshots (3 at least)"
    )
