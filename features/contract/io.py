"""Reading and atomically writing the workspace's Parquet tables."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from configs import columns as C


def write_parquet_atomic(df: pd.DataFrame | pa.Table, path: Path) -> Path:
    """Temp file in the same folder, fsync, rename: readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    table = df if isinstance(df, pa.Table) else pa.Table.from_pandas(df, preserve_index=False)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        pq.write_table(table, tmp, compression="zstd")
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def table_path(data_dir: Path, name: str) -> Path:
    return data_dir / f"{name}.parquet"


def read_table(data_dir: Path, name: str, columns: list[str] | None = None) -> pd.DataFrame | None:
    """A contract table from the workspace's data dir, or None when it is absent."""
    path = table_path(data_dir, name)
    if not path.exists():
        return None
    return pd.read_parquet(path, columns=columns)


def read_names(data_dir: Path) -> pa.Table | None:
    """The products table's ids and optional display names (None: no products table, or it
    has no name column): what the serving snapshot needs to name products and categories."""
    path = table_path(data_dir, "products")
    if not path.exists():
        return None
    have = pq.read_schema(path).names
    if C.PRODUCT_NAME not in have and C.CATEGORY_NAME not in have:
        return None
    wanted = (C.PRODUCT_ID, C.CATEGORY_ID, C.PRODUCT_NAME, C.CATEGORY_NAME)
    return pq.read_table(path, columns=[c for c in wanted if c in have])


def write_frame(df: pd.DataFrame, out: Path) -> Path:
    """Export by suffix: .parquet or .csv (atomically), anything else is an error."""
    suffix = out.suffix.lower()
    if suffix == ".parquet":
        return write_parquet_atomic(df, out)
    if suffix == ".csv":
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f".{out.name}.tmp")
        df.to_csv(tmp, index=False)
        os.replace(tmp, out)
        return out
    raise ValueError(f"--out {out}: unsupported suffix {out.suffix!r}; use .parquet or .csv")
