"""Streaming Parquet outputs of the simulator: one writer per table, appended chunk by chunk.

Each table is written to a hidden temp file and renamed into place only when the whole run
succeeds, so a crashed run never leaves a half-written orders.parquet behind.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

TRUTH_TABLES = (
    "future_orders", "push_uplift", "user_repurchase", "user_category", "user_product",
)  # fmt: skip


class Sinks:
    def __init__(self, out_dir: Path, truth_dir: Path) -> None:
        self.out_dir, self.truth_dir = out_dir, truth_dir
        self.rows: dict[str, int] = {}
        self._writers: dict[str, tuple[pq.ParquetWriter, Path, Path]] = {}

    def path(self, name: str) -> Path:
        return (self.truth_dir if name in TRUTH_TABLES else self.out_dir) / f"{name}.parquet"

    def write(self, name: str, table: pa.Table) -> None:
        if name not in self._writers:
            final = self.path(name)
            final.parent.mkdir(parents=True, exist_ok=True)
            tmp = final.with_name(f".{final.name}.tmp")
            writer = pq.ParquetWriter(tmp, table.schema, compression="zstd")
            self._writers[name] = (writer, tmp, final)
            self.rows[name] = 0
        self._writers[name][0].write_table(table, row_group_size=1_000_000)
        self.rows[name] += table.num_rows

    def close(self, *, keep: bool) -> None:
        """Close every writer; move the files into place when keep, else delete them."""
        for writer, tmp, final in self._writers.values():
            writer.close()
            if keep:
                os.replace(tmp, final)
            else:
                tmp.unlink(missing_ok=True)


@contextmanager
def open_sinks(out_dir: Path, truth_dir: Path) -> Iterator[Sinks]:
    """Sinks whose files appear only if the block finishes without an exception."""
    sinks = Sinks(out_dir, truth_dir)
    try:
        yield sinks
    except BaseException:
        sinks.close(keep=False)
        raise
    sinks.close(keep=True)
