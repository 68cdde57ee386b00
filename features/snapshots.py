"""As-of dates: the default build date and the past snapshot dates training learns from."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq

from configs import columns as C
from features.io import table_path


def default_as_of(data_dir: Path) -> date:
    """The day after the last order date (UTC): every order in the data is then 'before t'."""
    path = table_path(data_dir, "orders")
    if not path.exists():
        raise FileNotFoundError(f"{path}: the orders table is required")
    col = pq.read_table(path, columns=[C.ORDERED_AT]).column(C.ORDERED_AT)
    last = pc.max(col).as_py()
    if last is None:
        raise ValueError(f"{path}: no orders, so there is no default as-of date")
    if getattr(last, "tzinfo", None) is not None:
        from datetime import UTC

        last = last.astimezone(UTC)
    last_day = last.date() if hasattr(last, "date") else last
    return last_day + timedelta(days=1)


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
