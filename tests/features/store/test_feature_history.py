"""Offline history writes: a killed build leaves the live tables whole, a build writes only the
dates it computes (one file per date), old single-file histories are read and then split, and
incremental builds (build_plan) keep exactly the dates whose inputs are unchanged."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from configs import columns as C
from configs.settings import Settings
from configs.workspace import Workspace, resolve_workspace
from features.compute.build import run_snapshots
from features.store import offline_tables
from features.store.catalog import TABLES
from features.store.feast_store import latest_snapshot
from features.store.offline_tables import (
    offline_files,
    offline_path,
    read_date,
    table_dir,
    table_files,
)
from tests.features.feature_data import AS_OF, build_offline, random_tables, rows_at, write_tables

DATES = [date(2025, 5, 1), AS_OF]


def _fail_after_first(real: Callable[..., object]) -> Callable[..., object]:
    calls = {"n": 0}

    def wrapper(*args: object, **kwargs: object) -> object:
        calls["n"] += 1
        if calls["n"] > 1:
            raise RuntimeError("killed mid-build")
        return real(*args, **kwargs)

    return wrapper


@pytest.mark.parametrize("method", ["write", "close"])
def test_killed_build_rerun_equals_uninterrupted(
    tmp_path: Path, tiny_settings: Settings, monkeypatch: pytest.MonkeyPatch, method: str
) -> None:
    tables = random_tables()
    clean = build_offline(tmp_path / "clean", tables, DATES, tiny_settings)
    old = build_offline(tmp_path / "killed", random_tables(seed=3), DATES, tiny_settings)
    writer = offline_tables.HistoryWriter
    with monkeypatch.context() as m:
        m.setattr(writer, method, _fail_after_first(getattr(writer, method)))
        with pytest.raises(RuntimeError, match="killed"):
            build_offline(tmp_path / "killed", tables, DATES, tiny_settings)
    offline = resolve_workspace(tmp_path / "killed").offline
    for name in TABLES:  # the live tables still hold the previous build, whole
        now = pd.read_parquet(offline_path(offline, name))
        pd.testing.assert_frame_equal(now, old[name], obj=name)
        assert [f.name for f in table_files(offline, name)] == [f"{d}.parquet" for d in DATES]
    rerun = build_offline(tmp_path / "killed", tables, DATES, tiny_settings)
    for name in TABLES:
        pd.testing.assert_frame_equal(rerun[name], clean[name], obj=name)
        assert len(rows_at(rerun[name], AS_OF, TABLES[name].entity)) > 0


def test_history_keeps_other_dates_in_order(tmp_path: Path, tiny_settings: Settings) -> None:
    """Building a date between two stored ones slots it in; the others are untouched."""
    tables = random_tables()
    ws = resolve_workspace(tmp_path / "ws")
    write_tables(ws, tables)
    middle = date(2025, 5, 20)
    run_snapshots(tiny_settings, ws, DATES, show_progress=False)
    before = pd.read_parquet(offline_path(ws.offline, "user_activity"))
    kept = {f.name: f.stat() for f in table_files(ws.offline, "user_activity")}
    marker = max(f.stat().st_mtime_ns for f in offline_files(ws.offline))
    run_snapshots(tiny_settings, ws, [middle], show_progress=False)
    assert max(f.stat().st_mtime_ns for f in offline_files(ws.offline)) > marker  # serving reloads
    assert read_date(ws.offline, "user_activity", date(2025, 5, 21)).num_rows == 0
    after = pd.read_parquet(offline_path(ws.offline, "user_activity"))
    for f in table_files(ws.offline, "user_activity"):  # the other dates' files: not rewritten
        if f.name in kept:
            assert (f.stat().st_ino, f.stat().st_mtime_ns) == (
                kept[f.name].st_ino,
                kept[f.name].st_mtime_ns,
            ), f.name
    assert len(table_files(ws.offline, "user_activity")) == len(kept) + 1
    stamps = after[C.EVENT_TIMESTAMP]
    assert stamps.is_monotonic_increasing
    assert sorted(stamps.dt.date.unique()) == sorted([*DATES, middle])
    for d in DATES:
        pd.testing.assert_frame_equal(
            rows_at(after, d, C.USER_ID), rows_at(before, d, C.USER_ID), obj=str(d)
        )


def _incremental(ws_root: Path, settings: Settings, dates: list[date]) -> list[str]:
    ws = resolve_workspace(ws_root)
    return run_snapshots(settings, ws, dates, show_progress=False, full=False)["computed"]


def test_incremental_build_computes_only_new_or_changed_dates(
    tmp_path: Path, tiny_settings: Settings
) -> None:
    tables = random_tables()
    ws = resolve_workspace(tmp_path / "ws")
    write_tables(ws, tables)
    assert _incremental(ws.root, tiny_settings, DATES) == [d.isoformat() for d in DATES]
    assert _incremental(ws.root, tiny_settings, DATES) == []  # nothing changed
    later = date(2025, 7, 20)
    assert _incremental(ws.root, tiny_settings, [*DATES, later]) == [later.isoformat()]

    # an order after AS_OF changes only the dates after it
    orders = tables["orders"].copy()
    extra = orders.iloc[[0]].copy()
    extra[C.ORDERED_AT] = pd.Timestamp("2025-07-10 09:00", tz="UTC")
    write_tables(ws, {**tables, "orders": pd.concat([orders, extra], ignore_index=True)})
    assert _incremental(ws.root, tiny_settings, [*DATES, later]) == [later.isoformat()]

    # a corrected old order (before the first date) changes every date
    fixed = pd.concat([orders, extra], ignore_index=True)
    first = fixed[C.ORDERED_AT].idxmin()
    fixed.loc[first, C.AMOUNT] = fixed.loc[first, C.AMOUNT] + 1.0
    write_tables(ws, {**tables, "orders": fixed})
    assert len(_incremental(ws.root, tiny_settings, [*DATES, later])) == 3
    write_tables(ws, {**tables, "orders": pd.concat([orders, extra], ignore_index=True)})

    # a changed setting invalidates every date; the result equals a full rebuild
    changed = tiny_settings.model_copy(
        update={"features": tiny_settings.features.model_copy(update={"half_life_days": 9.0})}
    )
    assert len(_incremental(ws.root, changed, [*DATES, later])) == 3
    inc = pd.read_parquet(offline_path(ws.offline, "user_interest"))
    full = resolve_workspace(tmp_path / "full")
    write_tables(full, {**tables, "orders": pd.concat([orders, extra], ignore_index=True)})
    run_snapshots(changed, full, [*DATES, later], show_progress=False)
    pd.testing.assert_frame_equal(inc, pd.read_parquet(offline_path(full.offline, "user_interest")))


def test_incremental_rebuilds_after_a_killed_commit(
    tmp_path: Path, tiny_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = resolve_workspace(tmp_path / "ws")
    write_tables(ws, random_tables())
    _incremental(ws.root, tiny_settings, DATES)
    with monkeypatch.context() as m:
        m.setattr(offline_tables.os, "replace", _fail_after_first(offline_tables.os.replace))
        with pytest.raises(RuntimeError, match="killed"):
            run_snapshots(tiny_settings, ws, DATES, show_progress=False, full=True)
    # some tables were replaced, others not: nothing may be trusted, everything is rebuilt
    assert _incremental(ws.root, tiny_settings, DATES) == [d.isoformat() for d in DATES]


def _to_single_files(offline: Path) -> dict[str, pd.DataFrame]:
    """Turn a built history into the layout before per-date files: one file per table."""
    import shutil

    histories = {}
    for name in TABLES:
        histories[name] = pq.read_table(offline_path(offline, name))
        shutil.rmtree(table_dir(offline, name))
        pq.write_table(histories[name], offline / f"{name}.parquet")
    return {name: t.to_pandas() for name, t in histories.items()}


def test_old_single_file_history_is_read_then_split(
    tmp_path: Path, tiny_settings: Settings
) -> None:
    ws = resolve_workspace(tmp_path / "ws")
    write_tables(ws, random_tables())
    _incremental(ws.root, tiny_settings, DATES)
    latest = latest_snapshot(ws, "user_activity")
    old = _to_single_files(ws.offline)
    assert offline_path(ws.offline, "user_activity").is_file()
    pd.testing.assert_frame_equal(latest_snapshot(ws, "user_activity"), latest)
    later = date(2025, 7, 20)
    # the stored dates are recognised in the single files: only the new date is computed
    assert _incremental(ws.root, tiny_settings, [*DATES, later]) == [later.isoformat()]
    for name in TABLES:
        assert not (ws.offline / f"{name}.parquet").exists()
        files = table_files(ws.offline, name)
        assert [f.name for f in files] == [f"{d}.parquet" for d in [*DATES, later]]
        now = pd.read_parquet(offline_path(ws.offline, name))
        kept = now[now[C.EVENT_TIMESTAMP] < pd.Timestamp(later, tz="UTC")]
        pd.testing.assert_frame_equal(kept.reset_index(drop=True), old[name], obj=name)


def test_code_digest_covers_feature_code_only() -> None:
    from features.compute import build_plan

    root = build_plan.FEATURE_CODE_DIR
    names = {p.relative_to(root).as_posix() for p in root.rglob("*.py")}
    assert set(build_plan.FEATURE_CODE) <= names  # a renamed module must be renamed here too
    assert "compute/compute_user.py" in names and "store/online.py" not in build_plan.FEATURE_CODE


def test_order_sums_equal_the_per_date_query(tiny_ws: Workspace) -> None:
    """The one-scan digest input equals what a scan per date returns (so digests are stable)."""
    from features.compute.build_plan import _order_sums
    from features.compute.compute_inputs import connect, load_inputs, ts_literal

    con = connect(1, "1GB", tiny_ws.offline / ".staging" / "duckdb")
    load_inputs(con, tiny_ws.data)
    dates = [date(2000, 1, 1), *DATES, date(2030, 1, 1)]
    sums = _order_sums(con, dates)
    for d in dates:
        sql = f"SELECT count(*), sum(hash(o)) FROM orders o WHERE ts < {ts_literal(d)}"
        assert repr(con.execute(sql).fetchone()) == repr(sums[d]), d
    assert sums[dates[0]] == (0, None) and sums[dates[-1]][0] > 0
