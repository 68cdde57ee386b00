"""As-of dates: default from the data, training snapshots with observable labels."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from configs import columns as C
from features.contract.io import write_parquet_atomic
from features.snapshots import (
    check_history,
    default_as_of,
    newest_from_stats,
    snapshot_gap,
    training_snapshot_dates,
)
from tests.features.feature_data import orders_frame
from training.datasets import split_snapshots


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
    dates = training_snapshot_dates(as_of, horizon_days=14, n_snapshots=3, spacing_days=14)
    assert dates == [date(2025, 11, 19), date(2025, 12, 3), date(2025, 12, 17)]
    assert all(d + timedelta(days=14) <= as_of for d in dates)


@pytest.mark.parametrize("horizon", [7, 14, 30, 90, 180])
@pytest.mark.parametrize("n_snapshots", [3, 5])
def test_snapshot_dates_follow_the_horizon(horizon: int, n_snapshots: int) -> None:
    """Spacing (14) is a lower bound: the newest training, validation and held-out label
    windows never reach the next snapshot; older training snapshots stay SPACING apart."""
    as_of = date(2025, 12, 31)
    dates = training_snapshot_dates(as_of, horizon, n_snapshots, 14)
    assert len(set(dates)) == n_snapshots and dates == sorted(dates)
    assert dates[-1] == as_of - timedelta(days=horizon)
    gap = snapshot_gap(horizon, 14)
    assert gap >= horizon and gap >= 14 and gap % 14 == 0
    assert dates[-1] - dates[-2] == dates[-2] - dates[-3] == timedelta(days=gap)
    assert all(b - a == timedelta(days=14) for a, b in zip(dates[:-3], dates[1:-2], strict=True))
    split = split_snapshots(dates, horizon)  # never refuses: the spacing is no trap
    assert len(split.train) == n_snapshots - 2


def test_anchored_snapshots_stay_put_as_as_of_moves() -> None:
    anchor = date(2025, 1, 1)
    first = training_snapshot_dates(date(2025, 12, 31), 14, 3, 14, anchor)
    assert all((d - anchor).days % 14 == 0 for d in first)
    assert all(d + timedelta(days=14) <= date(2025, 12, 31) for d in first)
    assert first[-1] + timedelta(days=14 + 14) > date(2025, 12, 31)  # the newest that fits
    assert training_snapshot_dates(date(2026, 1, 1), 14, 3, 14, anchor) == first
    moved = training_snapshot_dates(date(2026, 1, 14), 14, 3, 14, anchor)
    assert moved == [*first[1:], first[-1] + timedelta(days=14)]
    long = training_snapshot_dates(date(2025, 12, 31), 90, 4, 14, anchor)
    assert all((d - anchor).days % 14 == 0 for d in long)  # a longer horizon: the same grid


def test_history_check_names_the_dates_and_the_fix() -> None:
    dates = training_snapshot_dates(date(2025, 12, 31), 180, 3, 30)
    check_history(dates, dates[0] - timedelta(days=1), 180)  # an order before: fine
    with pytest.raises(ValueError, match="shorter --horizon-days") as err:
        check_history(dates, date(2025, 1, 1), 180)
    assert str(dates[0]) in str(err.value) and "2025-01-01" in str(err.value)
