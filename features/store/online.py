"""Load the latest offline rows into the online store, fast.

`feast materialize` scans the offline store through the offline-store engine, converts every
value to protobuf in Python and writes it one statement (SQLite) or one command (Redis) at a
time: ~1.1-2.9k entities/s here, minutes for 1M users. Every path below reads the as-of rows
straight from the Parquet history with pyarrow and writes chunks of `online_chunk_rows`:
- `bulk` (default): the bytes Feast stores, encoded per column (online_encode.py) and
  written in Feast's exact layout - SQLite: a fresh file swapped in when every table is loaded
  (online_sqlite.py); Redis: pipelined HSETs (online_redis.py);
- `feast`: Feast's own `store.write_to_online_store` per chunk (the reference path).
With engine=spark and Redis, the executors read and send the rows instead (online_spark.py):
the driver holds no table.
Either way `get_online_features` reads the result. Rows/s per table are returned for
benchmarks/bench_features.py and benchmarks/bench_online.py.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from configs.settings import FeatureSettings
from configs.workspace import Workspace
from features.store.catalog import TABLES
from features.store.offline_tables import as_of_timestamp, date_file, offline_path, read_date

if TYPE_CHECKING:
    import feast

Write = Callable[[str, pa.Table], object]


def _view_name(store: feast.FeatureStore, name: str, *, sqlite_table: bool = False) -> str:
    """The name Feast's Redis store (or SQLite table) uses for view NAME."""
    from feast.infra.online_stores.helpers import compute_table_id, compute_versioned_name

    view = store.get_feature_view(name)
    versioning = store.config.registry.enable_online_feature_view_versioning
    if sqlite_table:
        return str(compute_table_id(store.config.project, view, versioning))
    return str(compute_versioned_name(view, versioning))


def _reopen(store: feast.FeatureStore) -> None:
    """Drop the SQLite connection STORE cached: it still reads the file that was replaced."""
    online: Any = store._get_provider().online_store  # noqa: SLF001 - no public handle
    conn = getattr(online, "_conn", None)
    if conn is not None:
        conn.close()
        online._conn = None  # noqa: SLF001


@contextmanager
def _writer(
    store: feast.FeatureStore, ws: Workspace, cfg: FeatureSettings, event_ts: datetime
) -> Iterator[Write]:
    """write(view, rows) by the configured writer; leaving the block completes the load."""
    step = cfg.online_chunk_rows
    if cfg.online_writer == "feast":

        def feast_write(name: str, rows: pa.Table) -> None:
            for lo in range(0, rows.num_rows, step):
                store.write_to_online_store(name, rows.slice(lo, step).to_pandas())

        yield feast_write
    elif cfg.online_store == "sqlite":
        from features.store.online_sqlite import SqliteLoad

        with SqliteLoad(ws.feast_online) as load:
            yield lambda name, rows: load.write(
                _view_name(store, name, sqlite_table=True), TABLES[name], rows, event_ts, step
            )
        _reopen(store)
    else:
        from features.store.online_redis import write_rows
        from features.store.redis_snapshot import redis_client

        client = redis_client(cfg.redis_connection_string)
        try:
            yield lambda name, rows: write_rows(
                client,
                store.config.project,
                _view_name(store, name),
                TABLES[name],
                rows,
                event_ts,
                step,
            )
        finally:
            client.close()


def load_online(
    store: feast.FeatureStore,
    ws: Workspace,
    as_of: date,
    cfg: FeatureSettings,
    tables: list[str] | None = None,
    *,
    show_progress: bool = False,
) -> dict[str, Any]:
    """Write every table's AS_OF rows online; returns rows, seconds and rows/s per table
    (`seconds` also counts the SQLite file's fsync and swap)."""
    event_ts = as_of_timestamp(as_of)
    executors = _on_executors(ws, cfg)
    writer = "spark" if executors else cfg.online_writer
    out: dict[str, Any] = {"writer": writer, "store": cfg.online_store, "tables": {}}
    start = time.perf_counter()
    with _writer(store, ws, cfg, event_ts) as write:
        for name in tables or list(TABLES):
            t0 = time.perf_counter()
            if executors:
                n = _executor_load(store, ws, cfg, name, as_of, event_ts)
            else:
                rows = read_date(ws.offline, name, as_of)
                write(name, rows)
                n = rows.num_rows
            secs = time.perf_counter() - t0
            out["tables"][name] = {
                "rows": n,
                "seconds": secs,
                "rows_per_s": n / secs if secs else 0,
            }
            if show_progress:
                print(f"online {name}: {n} rows in {secs:.1f}s", file=sys.stderr, flush=True)
    out["seconds"] = time.perf_counter() - start
    out["rows"] = sum(t["rows"] for t in out["tables"].values())
    out["rows_per_s"] = out["rows"] / out["seconds"] if out["seconds"] else 0.0
    return out


def _on_executors(ws: Workspace, cfg: FeatureSettings) -> bool:
    """Spark engine, Redis online store, bulk writer, per-date offline files."""
    return (
        cfg.engine == "spark"
        and cfg.online_store == "redis"
        and cfg.online_writer == "bulk"
        and all(offline_path(ws.offline, name).is_dir() for name in TABLES)
    )


def _executor_load(
    store: feast.FeatureStore,
    ws: Workspace,
    cfg: FeatureSettings,
    name: str,
    as_of: date,
    event_ts: datetime,
) -> int:
    from features.engine_spark import spark_session
    from features.store.online_spark import write_file_redis

    path = date_file(ws.offline, name, as_of)
    if not path.exists():
        return 0
    return write_file_redis(
        spark_session(cfg),
        path,
        store.config.project,
        _view_name(store, name),
        TABLES[name],
        event_ts,
        cfg.redis_connection_string,
        cfg.online_chunk_rows,
    )
