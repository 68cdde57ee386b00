"""The offline feature history: one Parquet file per catalog table, rows keyed by entity and
event_timestamp. Feast-free, so the serving snapshot can read it without importing Feast.

Writes are two-phase: each table's next history (the live file's rows of other dates + the
dates being built) is written to a temp file as the build goes (HistoryWriter), and only when
every temp file is complete are they renamed over the live ones. A build killed before that
point leaves the live tables untouched; re-running replaces each date's rows, so a re-run is
idempotent.
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
    """Drop what a killed build left (temp histories, DuckDB spill); nothing there is live."""
    shutil.rmtree(staging_dir(offline_dir), ignore_errors=True)
    for name in TABLES:
        _temp_path(offline_dir, name).unlink(missing_ok=True)


def _temp_path(offline_dir: Path, name: str) -> Path:
    live = offline_path(offline_dir, name)
    return live.with_name(f".{live.name}.tmp")


class HistoryWriter:
    """One table's next history file, written date by date as the build computes them.

    Rows go straight into a temp file beside the live one (encoded once: staging each date
    and merging at the end cost a second decode + encode of every row); dates come in
    ascending order and the live file's rows of other dates are copied in between, so the
    history stays sorted by event_timestamp. Nothing is live until `commit_histories`.
    """

    def __init__(self, offline_dir: Path, table: FeatureTable, dates: Sequence[date]) -> None:
        live = offline_path(offline_dir, table.name)
        self.table = table
        self.schema = arrow_schema(table)
        self.tmp = _temp_path(offline_dir, table.name)
        self.rows = 0
        self._last: datetime | None = None
        self._old: ds.Dataset | None = None
        self._pending: list[datetime] = []
        if live.exists() and pq.read_schema(live).equals(self.schema):
            self._old = ds.dataset(live, format="parquet")
            col = pq.read_table(live, columns=[C.EVENT_TIMESTAMP]).column(C.EVENT_TIMESTAMP)
            replaced = {as_of_timestamp(d) for d in dates}
            stamps = {v for v in pc.unique(col).to_pylist() if v is not None}
            self._pending = sorted(stamps - replaced)
        self._writer = pq.ParquetWriter(self.tmp, self.schema, compression="zstd")

    def _put(self, data: pa.Table) -> None:
        self._writer.write_table(data.cast(self.schema), row_group_size=BATCH_ROWS)
        self.rows += data.num_rows

    def _copy_old(self, before: datetime | None) -> None:
        """Copy the kept old dates earlier than BEFORE (all when None)."""
        while self._pending and (before is None or self._pending[0] < before):
            stamp = self._pending.pop(0)
            assert self._old is not None
            batches = self._old.to_batches(
                filter=pc.field(C.EVENT_TIMESTAMP) == pa.scalar(stamp, TIMESTAMP_TYPE),
                batch_size=BATCH_ROWS,
            )
            for batch in batches:
                self._put(pa.Table.from_batches([batch]))

    def write(self, as_of: date, rows: pa.Table) -> None:
        """Append one date's rows (to_arrow output); dates must come in ascending order."""
        stamp = as_of_timestamp(as_of)
        if self._last is not None and stamp <= self._last:
            raise ValueError(f"{self.table.name}: dates must be written in ascending order")
        self._last = stamp
        self._copy_old(stamp)
        self._put(rows)

    def close(self) -> Path:
        """Finish the temp file (remaining old dates, fsync); returns its path."""
        self._copy_old(None)
        self._writer.close()
        with open(self.tmp, "rb") as fh:
            os.fsync(fh.fileno())
        return self.tmp


def open_histories(
    offline_dir: Path, dates: Sequence[date], tables: Sequence[str] | None = None
) -> dict[str, HistoryWriter]:
    """A HistoryWriter per catalog table for a build of DATES."""
    Path(offline_dir).mkdir(parents=True, exist_ok=True)
    return {name: HistoryWriter(offline_dir, TABLES[name], dates) for name in tables or TABLES}


def commit_histories(offline_dir: Path, writers: dict[str, HistoryWriter]) -> dict[str, int]:
    """Close every writer, then rename all temp files over the live ones; row counts. A build
    killed before the renames leaves the live history as it was."""
    temps = {name: w.close() for name, w in writers.items()}
    for name, tmp in temps.items():
        os.replace(tmp, offline_path(offline_dir, name))
    reset_staging(offline_dir)
    return {name: w.rows for name, w in writers.items()}


def read_latest_arrow(path: Path, columns: Sequence[str] | None = None) -> pa.Table:
    """The rows of the newest event_timestamp in one offline table (row-group pushdown);
    only COLUMNS when given (the filter column need not be among them)."""
    cols = list(columns) if columns is not None else None
    stamps = pq.read_table(path, columns=[C.EVENT_TIMESTAMP]).column(C.EVENT_TIMESTAMP)
    if len(stamps) == 0:
        return pq.read_table(path, columns=cols)
    return pq.read_table(path, columns=cols, filters=[(C.EVENT_TIMESTAMP, "=", pc.max(stamps))])


def read_latest(path: Path) -> pd.DataFrame:
    """read_latest_arrow as pandas (list features become numpy arrays: ~1 s per 50k rows)."""
    return read_latest_arrow(path).to_pandas()
