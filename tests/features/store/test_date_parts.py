"""A date stored as the Spark executors' parts directory reads as that date, whole, everywhere.

No Spark here: the parts are written the way the executors write them (spark_interest.
write_part into HistoryWriter.parts_dir), so these run in the default suite.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from configs import columns as C
from configs.settings import Settings
from configs.workspace import resolve_workspace
from features.compute.spark_interest import write_part
from features.store import offline_tables as ot
from features.store.catalog import TABLES, USER_ACTIVITY, USER_INTEREST
from tests.features.feature_data import AS_OF, build_offline, random_tables

TABLE = USER_INTEREST
D1, D2 = date(2026, 1, 1), date(2026, 1, 8)


def _rows(as_of: date, users: range) -> pa.Table:
    """USER_INTEREST rows for USERS, cast like every writer casts them (to_arrow)."""
    data: dict[str, list] = {TABLE.entity: [f"u{i:03d}" for i in users]}  # type: ignore[type-arg]
    for f in TABLE.features:
        fill = {
            "float": 0.5,
            "int": 3,
            "str": "x",
            "float_array": [0.25, 0.75],
            "str_array": ["a", "b"],
        }[f.dtype]
        data[f.name] = [fill] * len(users)
    return ot.to_arrow(pa.table(data), TABLE, as_of)


def _stage_parts(
    writers: dict[str, ot.HistoryWriter], as_of: date, chunks: list[range], stray: bool = False
) -> None:
    """What build_spark does: executors write parts, the driver adopts the reported ones."""
    w = writers[TABLE.name]
    folder = w.parts_dir(as_of)
    parts = [Path(write_part(_rows(as_of, users), str(folder))) for users in chunks]
    if stray:  # a failed task attempt's part, never reported
        write_part(_rows(as_of, range(900, 905)), str(folder))
    w.adopt_parts(as_of, parts, sum(len(users) for users in chunks))


def _build(offline: Path, as_of: date, chunks: list[range] | None, users: range) -> int:
    """One build of AS_OF for TABLE: parts (CHUNKS) or one file (USERS); returns its rows."""
    writers = ot.open_histories(offline, [as_of], [TABLE.name])
    if chunks is None:
        writers[TABLE.name].write(as_of, _rows(as_of, users))
    else:
        _stage_parts(writers, as_of, chunks, stray=True)
    return ot.commit_histories(offline, writers)[TABLE.name]


def test_parts_directory_is_the_date_for_every_reader(tmp_path: Path) -> None:
    offline = tmp_path / "offline"
    assert _build(offline, D1, None, range(0, 10)) == 10  # a DuckDB-built date file
    assert _build(offline, D2, [range(0, 7), range(7, 12), range(12, 12)], range(0)) == 12
    entry = ot.date_file(offline, TABLE.name, D2)
    assert entry.is_dir() and len(ot.date_parts(entry)) == 3  # the stray part is gone
    assert ot.date_rows(entry) == 12
    assert ot.date_schema(entry).equals(ot.arrow_schema(TABLE))
    assert ot.stored_dates(offline, TABLE.name) == {D1, D2}
    assert not ot.staging_dir(offline).exists()

    def users(table: pa.Table) -> list[str]:
        return sorted(table.column(C.USER_ID).to_pylist())

    want = [f"u{i:03d}" for i in range(12)]
    assert users(ot.read_date(offline, TABLE.name, D2)) == want
    latest = ot.read_latest_arrow(ot.offline_path(offline, TABLE.name))
    assert users(latest) == want
    batches = list(ot.iter_date_batches(entry, 4, [C.USER_ID]))
    assert sorted(v for b in batches for v in b.column(0).to_pylist()) == want
    # whole-history readers: pyarrow / pandas (training sets) and DuckDB (Feast's store)
    folder = ot.offline_path(offline, TABLE.name)
    whole = pq.read_table(folder, columns=[C.USER_ID, C.EVENT_TIMESTAMP])
    assert whole.num_rows == 22
    sql = f"SELECT count(*) FROM read_parquet('{folder}')"
    assert duckdb.sql(sql).fetchall() == [(22,)]
    assert ot.spark_glob(folder) == f"{folder}/*.parquet"
    merged = tmp_path / "merged.parquet"  # what the Redis snapshot publishes
    assert ot.merge_parts(entry, merged) == 12
    assert users(pq.read_table(merged)) == want


def test_rebuilding_a_date_swaps_file_and_parts_whole(tmp_path: Path) -> None:
    offline = tmp_path / "offline"
    _build(offline, D1, None, range(0, 5))
    _build(offline, D1, [range(0, 3), range(3, 8)], range(0))  # file -> parts
    assert ot.date_file(offline, TABLE.name, D1).is_dir()
    assert ot.read_date(offline, TABLE.name, D1).num_rows == 8
    _build(offline, D1, [range(0, 2)], range(0))  # parts -> other parts: nothing of the old
    assert ot.read_date(offline, TABLE.name, D1).num_rows == 2
    _build(offline, D1, None, range(0, 4))  # parts -> file
    assert ot.date_file(offline, TABLE.name, D1).is_file()
    assert ot.read_date(offline, TABLE.name, D1).num_rows == 4
    assert sorted(p.name for p in ot.table_dir(offline, TABLE.name).iterdir()) == [
        f"{D1.isoformat()}.parquet"
    ]


def test_a_date_without_parts_is_an_empty_readable_date(tmp_path: Path) -> None:
    offline = tmp_path / "offline"
    writers = ot.open_histories(offline, [D1], [TABLE.name])
    _stage_parts(writers, D1, [])
    assert ot.commit_histories(offline, writers)[TABLE.name] == 0
    got = ot.read_date(offline, TABLE.name, D1)
    assert got.num_rows == 0 and got.schema.equals(ot.arrow_schema(TABLE))
    assert ot.stored_dates(offline, TABLE.name) == {D1}


def test_an_old_schema_parts_directory_is_dropped_at_commit(tmp_path: Path) -> None:
    offline = tmp_path / "offline"
    old = ot.table_dir(offline, TABLE.name) / f"{D1.isoformat()}.parquet"
    old.mkdir(parents=True)
    pq.write_table(pa.table({C.USER_ID: ["u1"]}), old / "part-0.parquet")
    assert ot.stored_dates(offline, TABLE.name) == set()
    _build(offline, D2, [range(0, 3)], range(0))
    assert not old.exists()
    assert pq.read_table(ot.offline_path(offline, TABLE.name)).num_rows == 3


@pytest.mark.parametrize("name", sorted(TABLES))
def test_spark_glob_keeps_an_old_single_file(tmp_path: Path, name: str) -> None:
    legacy = ot.legacy_path(tmp_path, name)
    legacy.parent.mkdir(parents=True, exist_ok=True)
    legacy.write_bytes(b"")
    assert ot.spark_glob(ot.offline_path(tmp_path, name)) == str(legacy)


def _split_into_parts(entry: Path) -> None:
    """Turn a date file into a parts directory of the same rows (what a Spark build leaves)."""
    table = pq.read_table(entry)
    entry.unlink()
    entry.mkdir()
    half = table.num_rows // 2
    write_part(table.slice(0, half), str(entry))
    write_part(table.slice(half), str(entry))


def test_serving_readers_take_a_parts_directory(tmp_path: Path, tiny_settings: Settings) -> None:
    """The serving snapshot's loader and the operator page read a Spark-built date (parts) as
    they read the DuckDB build's file: same rows."""
    from serving.loader import read_feature_tables
    from serving.ui.sources import feature_rows

    build_offline(tmp_path, random_tables(), [AS_OF], tiny_settings)
    ws = resolve_workspace(tmp_path)
    names = (USER_ACTIVITY.name, USER_INTEREST.name)
    want = read_feature_tables(ws, None, names=names)
    rows = feature_rows(ws)
    for name in names:
        _split_into_parts(ot.date_file(ws.offline, name, AS_OF))
        assert ot.date_file(ws.offline, name, AS_OF).is_dir()
    got = read_feature_tables(ws, None, names=names)
    dated = read_feature_tables(ws, AS_OF, names=names)
    assert feature_rows(ws) == rows
    for name in names:
        key = TABLES[name].entity
        for frame in (got[name], dated[name]):
            a = want[name].sort_values(key).reset_index(drop=True)
            b = frame.sort_values(key).reset_index(drop=True)
            assert a[key].tolist() == b[key].tolist()
            assert a.drop(columns=[c for c in a if a[c].dtype == object]).equals(
                b.drop(columns=[c for c in b if b[c].dtype == object])
            )
