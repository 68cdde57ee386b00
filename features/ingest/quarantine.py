"""Rejected rows, kept: original columns as strings + reason + source file + data row number."""

from __future__ import annotations

import os
from pathlib import Path
from types import TracebackType

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from configs import columns as C

RAW_LINE = "raw_line"  # a CSV line the parser could not split into the header's fields
BAD_FIELDS = "wrong number of fields"


class QuarantineWriter:
    """Streams rejects of one input file to <quarantine>/<table>.parquet (temp + rename).

    With no rejects the file is not created and an old one from an earlier run is removed.
    """

    BAD_FIELDS = BAD_FIELDS

    def __init__(self, path: Path, header: list[str], source_file: str) -> None:
        self.path, self.header, self.source_file = path, header, source_file
        self.schema = pa.schema(
            [(c, pa.string()) for c in header]
            + [
                (RAW_LINE, pa.string()),
                (C.REASON, pa.string()),
                (C.SOURCE_FILE, pa.string()),
                (C.SOURCE_ROW, pa.int64()),
            ]
        )
        self.rows = 0
        self._tmp = path.with_name(f".{path.name}.tmp")
        self._writer: pq.ParquetWriter | None = None

    def __enter__(self) -> QuarantineWriter:
        return self

    def _write(self, columns: dict[str, pa.Array], reasons: pa.Array, rows: np.ndarray) -> None:
        n = len(rows)
        if not n:
            return
        if self._writer is None:
            self._writer = pq.ParquetWriter(self._tmp, self.schema, compression="zstd")
        data = {c: columns.get(c, pa.nulls(n, pa.string())) for c in self.header}
        data[RAW_LINE] = columns.get(RAW_LINE, pa.nulls(n, pa.string()))
        data[C.REASON] = reasons
        data[C.SOURCE_FILE] = pa.array([self.source_file] * n, pa.string())
        data[C.SOURCE_ROW] = pa.array(rows, pa.int64())
        self._writer.write_table(pa.table(data, schema=self.schema))
        self.rows += n

    def write(self, original: pa.Table, reasons: np.ndarray, rows: np.ndarray) -> None:
        """Rejected rows as read (before renames and coercion), every value as text."""
        text = {c: pc.cast(original.column(c), pa.string()) for c in self.header}
        self._write(text, pa.array(reasons.astype(str), pa.string()), rows)

    def write_bad_lines(self, bad: list[tuple[int, str]]) -> None:
        """CSV lines with the wrong number of fields: only the raw text is known."""
        raw = {RAW_LINE: pa.array([text for _, text in bad], pa.string())}
        reasons = pa.array([BAD_FIELDS] * len(bad), pa.string())
        self._write(raw, reasons, np.array([row for row, _ in bad], dtype=np.int64))

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._writer is None:
            self.path.unlink(missing_ok=True)
            return
        self._writer.close()
        if exc_type is None:
            os.replace(self._tmp, self.path)
        else:
            self._tmp.unlink(missing_ok=True)
