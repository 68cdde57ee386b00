"""The offline feature history: per catalog table a folder `<offline>/<table>/` holding one
entry per as-of date, `2026-01-01.parquet`, rows keyed by entity and event_timestamp. The entry
is one Parquet file (the DuckDB engine and the driver-side tables) or a directory of Parquet
parts of that name (the Spark executors' `part-*.parquet`: each executor writes its users'
rows, and the driver never holds or rewrites them). pyarrow, pandas and DuckDB read a table
folder (or a date) of either kind as one dataset; Spark reads `<folder>/*.parquet`
(`spark_glob`); the helpers below (`date_parts`, `date_schema`, `date_rows`,
`iter_date_batches`) are for code that opens a date's files itself.
Feast-free, so the serving snapshot can read it without importing Feast.

One file per date because the daily build adds one date to histories of several: rewriting a
single history file cost the large preset ~30 s per build just copying the kept dates. Now a
build writes only the dates it computes. Writes are two-phase: each date's file is written to
`<offline>/.staging/<table>/` as the build goes (HistoryWriter), and only when every table's
files are complete are they renamed into the live folders (a new folder is renamed in whole).
A build killed before that leaves the live tables untouched; a rename replaces a date's file
(or puts a date's whole parts directory in place) at once, so no reader ever sees half a date,
and re-running replaces each date, so a re-run is idempotent. (Replacing a date stored with
the other kind, or a parts directory, moves the old entry aside first: for that instant the
date is absent, never half there.) The staging folder is outside the table folders on
purpose: Feast's DuckDB offline store reads every file of a folder, hidden ones included.

Readers go through `offline_path` (what pyarrow, pandas and Feast open: the folder) or the
helpers below. A workspace built before this layout has one `<table>.parquet` history per
table; readers accept it, and the next build splits it into date files.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from configs import columns as C
from features.contract.table_commit import fsync_path as _fsync_dir
from features.store.catalog import TABLES, FeatureTable

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


def table_dir(offline_dir: Path, table: str) -> Path:
    """The folder of a catalog table's history: one Parquet file per as-of date."""
    return Path(offline_dir).resolve() / table


def legacy_path(offline_dir: Path, table: str) -> Path:
    """The single-file history of a workspace built before per-date files."""
    return Path(offline_dir).resolve() / f"{table}.parquet"


def offline_path(offline_dir: Path, table: str) -> Path:
    """What a reader opens for a table's whole history (pq.read_table / pd.read_parquet /
    pyarrow.dataset, with filters; also the path of its Feast source): the table's folder, or
    an old workspace's single file while no folder exists."""
    folder = table_dir(offline_dir, table)
    legacy = legacy_path(offline_dir, table)
    return legacy if legacy.exists() and not folder.is_dir() else folder


def date_file(offline_dir: Path, table: str, as_of: date) -> Path:
    """A date's entry: one Parquet file, or a directory of parts (see the module docstring)."""
    return table_dir(offline_dir, table) / f"{as_of.isoformat()}.parquet"


def spark_glob(path: Path) -> str:
    """What Spark loads for a history PATH (offline_path): a table folder's date entries by
    glob, since Spark does not descend into the parts directories of a folder it lists."""
    return str(path) if Path(path).is_file() else str(Path(path) / "*.parquet")


def date_parts(path: Path) -> list[Path]:
    """The Parquet files of one date entry: the file itself, or its parts in name order
    (hidden and `_` files left out, as pyarrow and Spark do)."""
    if not path.is_dir():
        return [path]
    return sorted(
        f for f in path.glob("*.parquet") if f.is_file() and not f.name.startswith((".", "_"))
    )


def date_schema(path: Path) -> pa.Schema:
    """A date entry's schema (a parts directory: its first part's; all are cast alike)."""
    parts = date_parts(path)
    if not parts:
        raise FileNotFoundError(f"{path}: a date directory without Parquet parts")
    return pq.read_schema(parts[0])


def date_rows(path: Path) -> int:
    """A date entry's row count from the Parquet footers (no rows read)."""
    return sum(pq.ParquetFile(f).metadata.num_rows for f in date_parts(path))


def iter_date_batches(
    path: Path, batch_size: int = BATCH_ROWS, columns: Sequence[str] | None = None
) -> Iterator[pa.RecordBatch]:
    """A date entry's rows, batch by batch, part after part (never the whole date at once)."""
    cols = list(columns) if columns is not None else None
    for f in date_parts(path):
        yield from pq.ParquetFile(f).iter_batches(batch_size=batch_size, columns=cols)


def _file_date(path: Path) -> date | None:
    try:
        return date.fromisoformat(path.stem)
    except ValueError:
        return None


def table_files(offline_dir: Path, table: str) -> list[Path]:
    """The live date entries of a table's history (files or parts directories, see
    date_parts), oldest date first ([] when unbuilt)."""
    path = offline_path(offline_dir, table)
    if path.is_dir():
        return sorted(f for f in path.glob("*.parquet") if _file_date(f) is not None)
    return [path] if path.exists() else []


def offline_files(offline_dir: Path) -> list[Path]:
    """Every live file under OFFLINE_DIR and each table folder (whose mtime moves when a date
    file is added, replaced or removed): what a 'features were rebuilt' check stats."""
    root = Path(offline_dir)
    out = sorted(root.glob("*.parquet"))
    for name in TABLES:
        folder = table_dir(root, name)
        if folder.is_dir():
            out += [folder, *table_files(root, name)]
    return out


def has_legacy(offline_dir: Path) -> bool:
    """Whether a table still has only an old single-file history (the next build splits it)."""
    return any(offline_path(offline_dir, name).is_file() for name in TABLES)


def stored_dates(offline_dir: Path, table: str) -> set[date] | None:
    """The dates stored with the catalog's current schema (None: no history, or an old
    single file with another schema, which the next build drops)."""
    schema = arrow_schema(TABLES[table])
    path = offline_path(offline_dir, table)
    if path.is_dir():
        files = table_files(offline_dir, table)
        return {d for f in files if (d := _file_date(f)) and _has_schema(f, schema)}
    if not path.exists() or not pq.read_schema(path).equals(schema):
        return None
    return _legacy_dates(path)


def _has_schema(entry: Path, schema: pa.Schema) -> bool:
    parts = date_parts(entry)
    return bool(parts) and pq.read_schema(parts[0]).equals(schema)


def _legacy_dates(path: Path) -> set[date]:
    col = pq.read_table(path, columns=[C.EVENT_TIMESTAMP]).column(C.EVENT_TIMESTAMP)
    return {v.date() for v in pc.unique(col).to_pylist() if v is not None}


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
    """Drop what a killed build left (staged date files, DuckDB spill, an old single-file
    history already migrated into its folder); nothing there is live."""
    shutil.rmtree(staging_dir(offline_dir), ignore_errors=True)
    for name in TABLES:
        legacy = legacy_path(offline_dir, name)
        legacy.with_name(f".{legacy.name}.tmp").unlink(missing_ok=True)  # older builds' temp
        if table_dir(offline_dir, name).is_dir():
            legacy.unlink(missing_ok=True)


def merge_parts(entry: Path, path: Path) -> int:
    """Copy a date entry into the single Parquet file PATH, batch by batch (for consumers
    that take one file: the Redis snapshot publishes a file's bytes); returns its rows."""
    return _write_file(path, date_schema(entry), iter_date_batches(entry))


def _write_file(path: Path, schema: pa.Schema, parts: Iterable[pa.Table | pa.RecordBatch]) -> int:
    """One date file (zstd, fsynced); returns its row count."""
    rows = 0
    with pq.ParquetWriter(path, schema, compression="zstd") as writer:
        for part in parts:
            data = part if isinstance(part, pa.Table) else pa.Table.from_batches([part])
            writer.write_table(data.cast(schema), row_group_size=BATCH_ROWS)
            rows += data.num_rows
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())
    return rows


class HistoryWriter:
    """The date files one build adds to (or replaces in) a table's history, in staging.

    Each date is encoded once, straight into its own file; nothing is live until
    `commit_histories`. When the table still has an old single-file history, `close` splits
    the dates this build does not compute out of it, so the new folder holds them all.
    """

    def __init__(self, offline_dir: Path, table: FeatureTable, dates: Sequence[date]) -> None:
        self.offline_dir = Path(offline_dir)
        self.table = table
        self.schema = arrow_schema(table)
        self.staged = staging_dir(offline_dir) / table.name
        self.staged.mkdir(parents=True, exist_ok=True)
        self.rows = 0
        self._dates = set(dates)

    def write(self, as_of: date, rows: pa.Table) -> None:
        """Stage one date's rows (to_arrow output)."""
        self.rows += _write_file(self.staged / f"{as_of.isoformat()}.parquet", self.schema, [rows])

    def parts_dir(self, as_of: date) -> Path:
        """The staged parts directory of AS_OF, where executors write `part-*.parquet` files
        of this table's schema (cast with to_arrow); `adopt_parts` then stages the date."""
        folder = self.staged / f"{as_of.isoformat()}.parquet"
        if folder.is_file():
            folder.unlink()
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def adopt_parts(self, as_of: date, parts: Sequence[Path], rows: int) -> None:
        """Stage AS_OF as the parts the executors reported (ROWS rows in all). Any other file
        in its directory (a failed or speculative task attempt's) is removed, so the date holds
        each row once; no part at all becomes one empty part with the schema, so the date is
        still readable. The rows are never read here."""
        folder = self.parts_dir(as_of)
        keep = {Path(p).resolve() for p in parts}
        for f in folder.iterdir():
            if f.resolve() not in keep:
                f.unlink()
        if not keep:
            _write_file(folder / "part-empty.parquet", self.schema, [])
        _fsync_dir(folder)
        self.rows += rows

    def _migrate(self) -> None:
        """Split an old single-file history's other dates into staged date files (once: after
        the commit the table has its folder). Rows of another schema are dropped, as a
        rebuild with a changed catalog always did."""
        legacy = legacy_path(self.offline_dir, self.table.name)
        if table_dir(self.offline_dir, self.table.name).is_dir() or not legacy.exists():
            return
        if not pq.read_schema(legacy).equals(self.schema):
            return
        old = ds.dataset(legacy, format="parquet")
        for day in sorted(_legacy_dates(legacy) - self._dates):
            stamp = pa.scalar(as_of_timestamp(day), TIMESTAMP_TYPE)
            batches = old.to_batches(
                filter=pc.field(C.EVENT_TIMESTAMP) == stamp, batch_size=BATCH_ROWS
            )
            _write_file(self.staged / f"{day.isoformat()}.parquet", self.schema, batches)

    def close(self) -> Path:
        """Finish staging (an old single file's other dates); returns the staged folder."""
        self._migrate()
        return self.staged


def open_histories(
    offline_dir: Path, dates: Sequence[date], tables: Sequence[str] | None = None
) -> dict[str, HistoryWriter]:
    """A HistoryWriter per catalog table for a build of DATES."""
    Path(offline_dir).mkdir(parents=True, exist_ok=True)
    return {name: HistoryWriter(offline_dir, TABLES[name], dates) for name in tables or TABLES}


def _drop_other_schemas(folder: Path, schema: pa.Schema) -> None:
    """Date entries of an older catalog schema would break reading the folder as one dataset."""
    for f in folder.glob("*.parquet"):
        if not _has_schema(f, schema):
            _remove(f)


def _remove(entry: Path) -> None:
    if entry.is_dir():
        shutil.rmtree(entry)
    else:
        entry.unlink()


def _put_in_place(src: Path, live: Path, aside: Path) -> None:
    """Rename one staged date entry onto LIVE. A file replaces a file at once; when either is
    a parts directory the old entry is first renamed into ASIDE (a rename cannot replace a
    directory that has files), so a reader finds the old date, then none, then the new one."""
    if live.exists() and (live.is_dir() or src.is_dir()):
        aside.mkdir(parents=True, exist_ok=True)
        os.replace(live, aside / live.name)
    os.replace(src, live)


def commit_histories(offline_dir: Path, writers: dict[str, HistoryWriter]) -> dict[str, int]:
    """Close every writer, then rename the staged date entries (files or parts directories)
    into the live folders (a table without a folder gets its staged folder whole); rows written
    per table. This is the build's only write of executor-made dates: renames, no rows. A
    build killed before the renames leaves the live history as it was; one killed between
    them leaves whole dates of both builds (build_plan forgets the dates being committed
    first, so they are rebuilt)."""
    staged = {name: w.close() for name, w in writers.items()}
    for name, src in staged.items():
        live = table_dir(offline_dir, name)
        if not live.is_dir():
            os.replace(src, live)
        else:
            aside = staging_dir(offline_dir) / ".replaced" / name
            for f in sorted(src.glob("*.parquet")):
                _put_in_place(f, live / f.name, aside)
            _drop_other_schemas(live, writers[name].schema)
        _fsync_dir(live)
        legacy_path(offline_dir, name).unlink(missing_ok=True)
    reset_staging(offline_dir)
    return {name: w.rows for name, w in writers.items()}


def read_date(
    offline_dir: Path, table: str, as_of: date, columns: Sequence[str] | None = None
) -> pa.Table:
    """One table's rows as of AS_OF (empty when that date is not stored): one file's read."""
    cols = list(columns) if columns is not None else None
    path = offline_path(offline_dir, table)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no offline features yet; run `grouppush features build`")
    if path.is_dir():
        f = date_file(offline_dir, table, as_of)
        if f.exists():
            return _read_entry(f, cols)
        empty = arrow_schema(TABLES[table]).empty_table()
        return empty.select(cols) if cols is not None else empty
    stamp = pa.scalar(as_of_timestamp(as_of), TIMESTAMP_TYPE)
    return pq.read_table(path, columns=cols, filters=[(C.EVENT_TIMESTAMP, "=", stamp)])


def _read_entry(entry: Path, columns: list[str] | None) -> pa.Table:
    """One date entry's rows (a parts directory: its parts concatenated in name order)."""
    tables = [pq.read_table(f, columns=columns) for f in date_parts(entry)]
    return pa.concat_tables(tables) if len(tables) > 1 else tables[0]


def read_latest_arrow(path: Path, columns: Sequence[str] | None = None) -> pa.Table:
    """The rows of the newest event_timestamp in one offline table (offline_path: a folder,
    whose newest non-empty date entry is read, or an old single file, with row-group
    pushdown); only COLUMNS when given (the filter column need not be among them)."""
    cols = list(columns) if columns is not None else None
    if path.is_dir():
        files = sorted(f for f in path.glob("*.parquet") if _file_date(f) is not None)
        if not files:
            raise FileNotFoundError(f"{path}: no offline features yet")
        full = [f for f in files if date_rows(f) > 0]
        return _read_entry((full or files)[-1], cols)
    stamps = pq.read_table(path, columns=[C.EVENT_TIMESTAMP]).column(C.EVENT_TIMESTAMP)
    if len(stamps) == 0:
        return pq.read_table(path, columns=cols)
    return pq.read_table(path, columns=cols, filters=[(C.EVENT_TIMESTAMP, "=", pc.max(stamps))])


def read_latest(path: Path) -> pd.DataFrame:
    """read_latest_arrow as pandas (list features become numpy arrays: ~1 s per 50k rows)."""
    return read_latest_arrow(path).to_pandas()
