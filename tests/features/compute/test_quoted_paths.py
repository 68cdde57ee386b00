"""A workspace path with a quote works in the DuckDB SQL (paths are quoted literals)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from features.compute.compute_inputs import _parquet, connect


def test_parquet_and_temp_dir_under_a_quoted_path(tmp_path: Path) -> None:
    root = tmp_path / "o'brien's ws"
    root.mkdir()
    path = root / "orders.parquet"
    pd.DataFrame({"x": [1, 2, 3]}).to_parquet(path)
    con = connect(threads=1, memory_limit="1GB", temp_dir=root / "spill")
    assert con.execute(f"SELECT sum(x) FROM {_parquet(path)}").fetchone() == (6,)
