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
    as_of: date, horizon_days: int, n_snapshots: int, spacing_days: int
) -> list[date]:
    """Snapshots whose label window [s, s + horizon) ends by AS_OF, oldest first."""
    dates = [as_of - timedelta(days=horizon_days + i * spacing_days) for i in range(n_snapshots)]
    return sorted(dates)
