"""The offline feature history: one Parquet file per catalog table, rows keyed by entity and
event_timestamp. Feast-free, so the serving snapshot can read it without importing Feast.

Writes are two-phase: each as-of date's rows are staged to their own file, then every table is
merged (old rows of other dates + the staged ones) into a temp file, and only when all temp
files exist are they renamed over the live ones. A build killed before that point leaves the
live tables untouched; re-running replaces each date's rows, so a re-run is idempotent.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from configs import columns as C
from features.catalog import TABLES, FeatureTable

STAGING = ".staging"
BATCH_ROWS = 256_000
_ARROW_TYPES = {
    "float": pa.float64(),
    "int": pa.int64(),
    "str": pa.string(),
    "float_array": pa.list_(pa.float32()),
    "str_array": pa.list_(pa.string()),
}
TIMESTAMP_TYPE = pa.timestamp("us", tz="UTC")


def arrow_schema(table: FeatureTable) -> pa.Schema:
    """Entity key, event_timestamp, then the catalog features with their Arrow types."""
    fields = [pa.field(table.entity, pa.string()), pa.field(C.EVENT_TIMESTAMP, TIMESTAMP_TYPE)]
    fields += [pa.field(f.name, _ARROW_TYPES[f.dtype]) for f in table.features]
    return pa.schema(fields)


def offline_path(offline_dir: Path, table: str) -> Path:
    """Where a catalog table's history lives (also the path of its Feast FileSource)."""
    return Path(offline_dir).resolve() / f"{table}.parquet"


def as_of_timestamp(as_of: date) -> datetime:
    return datetime(as_of.year, as_of.month, as_of.day, tzinfo=UTC)


def to_arrow(df: pd.DataFrame | pa.Table, table: FeatureTable, as_of: date) -> pa.Table:
    """Cast one date's rows to the catalog schema, adding event_timestamp = the as-of instant."""
    data = df if isinstance(df, pa.Table) else pa.Table.from_pandas(df, preserve_index=False)
    n = data.num_rows
    ts = (
        pa.array([as_of_timestamp(as_of)] * n, TIMESTAMP_TYPE)
        if n
        else pa.array([], TIMESTAMP_TYPE)
    )
    schema = arrow_schema(table)
    missing = [
        f.name for f in schema if f.name != C.EVENT_TIMESTAMP and f.name not in data.column_names
    ]
    if missing:
        raise ValueError(f"{table.name}: computed rows lack column(s) {', '.join(missing)}")
    cols = [ts if f.name == C.EVENT_TIMESTAMP else data.column(f.name).cast(f.type) for f in schema]
    return pa.Table.from_arrays(cols, schema=schema)


def staging_dir(offline_dir: Path) -> Path:
    return Path(offline_dir) / STAGING


def reset_staging(offline_dir: Path) -> None:
    """Drop what a killed build staged; nothing there is live."""
    shutil.rmtree(staging_dir(offline_dir), ignore_errors=True)


def stage(offline_dir: Path, table: FeatureTable, as_of: date, rows: pa.Table) -> Path:
    path = staging_dir(offline_dir) / table.name / f"{as_of.isoformat()}.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(rows, path, compression="lz4")  # read back once by commit: fast over small
    return path


def _merge_to_temp(offline_dir: Path, table: FeatureTable, dates: Sequence[date]) -> Path:
    """Stream old rows of other dates + staged rows, date by date, into a temp file beside the
    live one (bounded memory: one batch at a time; staged rows come sorted by entity)."""
    live = offline_path(offline_dir, table.name)
    tmp = live.with_name(f".{live.name}.tmp")
    schema = arrow_schema(table)
    staged = {
        as_of_timestamp(date.fromisoformat(p.stem)): p
        for p in (staging_dir(offline_dir) / table.name).glob("*.parquet")
    }
    replaced = {as_of_timestamp(d) for d in dates} | set(staged)
    old = None
    old_stamps: set[datetime] = set()
    if live.exists() and pq.read_schema(live).equals(schema):
        old = ds.dataset(live, format="parquet")
        col = pq.read_table(live, columns=[C.EVENT_TIMESTAMP]).column(C.EVENT_TIMESTAMP)
        old_stamps = {v for v in pc.unique(col).to_pylist() if v is not None} - replaced
    with pq.ParquetWriter(tmp, schema, compression="zstd") as writer:
        for stamp in sorted(old_stamps | set(staged)):
            if stamp in staged:
                batches = pq.ParquetFile(staged[stamp]).iter_batches(batch_size=BATCH_ROWS)
            else:
                assert old is not None
                batches = old.to_batches(
                    filter=pc.field(C.EVENT_TIMESTAMP) == pa.scalar(stamp, TIMESTAMP_TYPE),
                    batch_size=BATCH_ROWS,
                )
            for batch in batches:
                writer.write_table(
                    pa.Table.from_batches([batch]).cast(schema), row_group_size=BATCH_ROWS
                )
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    return tmp


def commit(offline_dir: Path, dates: Sequence[date], tables: Sequence[str] | None = None) -> dict:
    """Merge every staged table, then rename all temp files over the live ones; row counts."""
    names = list(tables or TABLES)
    temps = {name: _merge_to_temp(offline_dir, TABLES[name], dates) for name in names}
    counts = {}
    for name, tmp in temps.items():
        os.replace(tmp, offline_path(offline_dir, name))
        counts[name] = pq.ParquetFile(offline_path(offline_dir, name)).metadata.num_rows
    reset_staging(offline_dir)
    return counts


def read_latest_arrow(path: Path) -> pa.Table:
    """The rows of the newest event_timestamp in one offline table (row-group pushdown)."""
    stamps = pq.read_table(path, columns=[C.EVENT_TIMESTAMP]).column(C.EVENT_TIMESTAMP)
    if len(stamps) == 0:
        return pq.read_table(path)
    return pq.read_table(path, filters=[(C.EVENT_TIMESTAMP, "=", pc.max(stamps))])


def read_latest(path: Path) -> pd.DataFrame:
    """read_latest_arrow as pandas (list features become numpy arrays: ~1 s per 50k rows)."""
    return read_latest_arrow(path).to_pandas()
