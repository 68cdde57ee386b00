"""As-of dates: default from the data, training snapshots with observable labels."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from configs import columns as C
from features.io import write_parquet_atomic
from features.snapshots import default_as_of, newest_from_stats, training_snapshot_dates
from tests.features.feature_data import orders_frame


def test_default_as_of_is_day_after_last_order(tmp_path: Path) -> None:
    orders = orders_frame(
        [("u1", "p1", "2025-03-01T10:00", 1, 1), ("u1", "p1", "2025-03-09T23:59", 1, 1)]
    )
    write_parquet_atomic(orders, tmp_path / "orders.parquet")
    assert default_as_of(tmp_path) == date(2025, 3, 10)


def _orders_file(tmp_path: Path, statistics: bool) -> None:
    """Three row groups (one all-null ordered_at), the newest order in the middle group."""
    rows = [
        ("u1", "p1", "2025-03-01T10:00", 1, 1),
        ("u2", "p1", "2025-03-02T10:00", 1, 1),
        ("u1", "p2", "2025-04-09T23:30", 1, 1),
        ("u2", "p2", "2025-03-20T08:00", 1, 1),
    ]
    table = pa.Table.from_pandas(orders_frame(rows), preserve_index=False)
    nulls = pa.nulls(2, table.schema.field(C.ORDERED_AT).type)
    table = pa.concat_tables([table, table.slice(0, 2).set_column(2, C.ORDERED_AT, nulls)])
    path = tmp_path / "orders.parquet"
    pq.write_table(table, path, row_group_size=2, write_statistics=statistics)


def test_default_as_of_from_row_group_statistics(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _orders_file(tmp_path, statistics=True)
    newest = newest_from_stats(tmp_path / "orders.parquet", C.ORDERED_AT)
    assert newest.isoformat() == "2025-04-09T23:30:00+00:00"

    def no_full_read(*args: object, **kwargs: object) -> None:
        raise AssertionError("statistics present: the column must not be read")

    monkeypatch.setattr(pq, "read_table", no_full_read)
    assert default_as_of(tmp_path) == date(2025, 4, 10)


def test_default_as_of_reads_the_column_without_statistics(tmp_path: Path) -> None:
    _orders_file(tmp_path, statistics=False)
    assert newest_from_stats(tmp_path / "orders.parquet", C.ORDERED_AT) is None
    assert default_as_of(tmp_path) == date(2025, 4, 10)


def test_default_as_of_needs_orders(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="orders"):
        default_as_of(tmp_path)


def test_training_snapshots_keep_labels_before_as_of() -> None:
    as_of = date(2025, 12, 31)
    dates = training_snapshot_dates(as_of, horizon_days=30, n_snapshots=3, spacing_days=14)
    assert dates == [date(2025, 11, 3), date(2025, 11, 17), date(2025, 12, 1)]
    assert all(d + timedelta(days=30) <= as_of for d in dates)


def test_anchored_snapshots_stay_put_as_as_of_moves() -> None:
    anchor = date(2025, 1, 1)
    first = training_snapshot_dates(date(2025, 12, 31), 30, 3, 14, anchor)
    assert all((d - anchor).days % 14 == 0 for d in first)
    assert all(d + timedelta(days=30) <= date(2025, 12, 31) for d in first)
    assert first[-1] + timedelta(days=30 + 14) > date(2025, 12, 31)  # the newest that fits
    assert training_snapshot_dates(date(2026, 1, 1), 30, 3, 14, anchor) == first
    moved = training_snapshot_dates(date(2026, 1, 15), 30, 3, 14, anchor)
    assert moved == [*first[1:], first[-1] + timedelta(days=14)]
