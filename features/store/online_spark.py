"""Online load to Redis from the Spark executors: the driver never holds a table's rows.

With engine=spark the offline tables can outgrow the driver, and the bulk loader
(online.py) reads each as-of file on the driver. Here every executor reads its splits of the
as-of date (one Parquet file, or the executors' parts directory) and sends them with the same
RESP encoder (online_redis.write_rows), so the hashes are byte for byte the driver path's;
only one row count per task comes back. Redis must be reachable from the executors with the
same connection string.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
from pydantic import SecretStr

from configs.settings import secret_value
from features.store.catalog import FeatureTable

COUNT_SCHEMA = "rows long"


def write_file_redis(
    spark: Any,
    path: Path,
    project: str,
    view: str,
    table: FeatureTable,
    event_ts: datetime,
    connection: SecretStr | str,
    chunk_rows: int,
) -> int:
    """HSET every row of the date entry PATH (a file or a parts directory) into Feast's Redis
    layout from the executors; returns the rows written (summed on the driver)."""
    from pyspark.sql import functions as F

    from features.store.offline_tables import date_schema

    plain = secret_value(connection) or ""  # a str travels to the executors, not the secret
    schema = date_schema(path)  # Spark hands strings over as large_string: cast back

    def write(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        from features.store.online_redis import write_rows
        from features.store.redis_snapshot import redis_client

        client = redis_client(plain)
        try:
            n = 0
            for batch in batches:
                rows = pa.Table.from_batches([batch]).cast(schema)
                n += write_rows(client, project, view, table, rows, event_ts, chunk_rows)
            yield pa.RecordBatch.from_pydict({"rows": [n]})
        finally:
            client.close()

    frame = spark.read.parquet(str(path))
    total = frame.mapInArrow(write, COUNT_SCHEMA).agg(F.sum("rows")).collect()[0][0]
    return int(total or 0)
