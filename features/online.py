"""Load the latest offline rows into the online store, fast.

`feast materialize` scans the offline store through the offline-store engine, converts every
value to protobuf in Python and writes one SQLite statement per (entity, feature): ~1.1-1.4k
entities/s here. Both paths below read the as-of rows straight from the Parquet history with
pyarrow (no offline query) and write in chunks of `online_chunk_rows`:
- `bulk` (SQLite, default): features/online_sqlite.py encodes whole columns into the bytes
  Feast stores and inserts them with executemany, replacing the table's previous rows;
- `feast` (and always for Redis): Feast's own `store.write_to_online_store` per chunk.
Either way `get_online_features` reads the result. Rows/s per table are returned for
benchmarks/bench_features.py.
"""

from __future__ import annotations

import time
from datetime import date
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

from configs import columns as C
from configs.settings import FeatureSettings
from configs.workspace import Workspace
from features.catalog import TABLES
from features.offline_tables import TIMESTAMP_TYPE, as_of_timestamp, offline_path

if TYPE_CHECKING:
    import feast


def _sqlite_table(store: feast.FeatureStore, name: str) -> str:
    from feast.infra.online_stores.sqlite import _table_id

    view = store.get_feature_view(name)
    versioning = store.config.registry.enable_online_feature_view_versioning
    return str(_table_id(store.config.project, view, versioning))


def _write(
    store: feast.FeatureStore,
    ws: Workspace,
    name: str,
    rows: pa.Table,
    as_of: date,
    cfg: FeatureSettings,
) -> None:
    """One table's rows, chunked, by the configured writer."""
    bulk = cfg.online_writer == "bulk" and cfg.online_store == "sqlite"
    step = cfg.online_chunk_rows
    chunks = (rows.slice(lo, step) for lo in range(0, rows.num_rows, step))
    if bulk:
        from features.online_sqlite import write_rows

        write_rows(
            ws.feast_online,
            _sqlite_table(store, name),
            TABLES[name],
            chunks,
            as_of_timestamp(as_of),
        )
        return
    for chunk in chunks:
        store.write_to_online_store(name, chunk.to_pandas())


def load_online(
    store: feast.FeatureStore,
    ws: Workspace,
    as_of: date,
    cfg: FeatureSettings,
    tables: list[str] | None = None,
    *,
    show_progress: bool = False,
) -> dict[str, Any]:
    """Write every table's AS_OF rows online; returns rows, seconds and rows/s per table."""
    stamp = pa.scalar(as_of_timestamp(as_of), TIMESTAMP_TYPE)
    out: dict[str, Any] = {"writer": cfg.online_writer, "tables": {}}
    start = time.perf_counter()
    for name in tables or list(TABLES):
        t0 = time.perf_counter()
        rows = pq.read_table(
            offline_path(ws.offline, name), filters=[(C.EVENT_TIMESTAMP, "=", stamp)]
        )
        _write(store, ws, name, rows, as_of, cfg)
        secs = time.perf_counter() - t0
        n = rows.num_rows
        out["tables"][name] = {"rows": n, "seconds": secs, "rows_per_s": n / secs if secs else 0}
        if show_progress:
            print(f"online {name}: {n} rows in {secs:.1f}s", flush=True)
    out["seconds"] = time.perf_counter() - start
    out["rows"] = sum(t["rows"] for t in out["tables"].values())
    out["rows_per_s"] = out["rows"] / out["seconds"] if out["seconds"] else 0.0
    return out
