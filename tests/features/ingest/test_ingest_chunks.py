"""Chunked reading gives the same tables and quarantine as one chunk, repeats included."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from configs.settings import IngestSettings
from features.ingest.pipeline import ingest
from features.ingest.readers import _row_numbers
from features.ingest.validate import SeenHashes


def _messy_orders(path: Path, n: int = 300, seed: int = 7) -> None:
    """Seeded orders with repeats far apart (across chunk boundaries) and some bad lines."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "user_id": rng.integers(0, 20, n).astype(str),
            "product_id": np.char.add("0", rng.integers(0, 9, n).astype(str)),
            "ordered_at": pd.Timestamp("2025-01-01")
            + pd.to_timedelta(rng.integers(0, 5, n), unit="D"),
            "quantity": rng.integers(-1, 3, n).astype(str),
            "amount": rng.integers(0, 9, n).astype(str),
            "group_id": rng.choice(["g 1", "g/2", "群3"], n),
        }
    )
    repeats = frame.sample(40, random_state=seed)
    frame = pd.concat([frame, repeats]).sample(frac=1.0, random_state=seed)
    lines = frame.to_csv(index=False).splitlines()
    for at in (5, 6, 100, 250):
        lines.insert(at, "u,p,2025-01-01")  # wrong number of fields
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_tiny_chunks_match_one_chunk(tmp_path: Path, fmt: str) -> None:
    src = tmp_path / "src" / "orders.csv"
    _messy_orders(src)
    if fmt == "parquet":
        clean = pd.read_csv(src, dtype=str, keep_default_na=False, on_bad_lines="skip")
        src.unlink()
        clean.to_parquet(src.with_suffix(".parquet"), row_group_size=50)
    results = {}
    for chunk_rows in (7, 1_000_000):
        out = tmp_path / str(chunk_rows)
        cfg = IngestSettings(chunk_rows=chunk_rows, max_reject_share=1.0, as_of=date(2026, 1, 1))
        report = ingest(tmp_path / "src", out / "data", out / "q", cfg, show_progress=False)
        tables = {p.stem: pd.read_parquet(p) for p in sorted((out / "data").glob("*.parquet"))}
        quarantine = pd.read_parquet(out / "q" / "orders.parquet")
        quarantine = quarantine.drop(columns="source_file").sort_values("source_row")
        results[chunk_rows] = (report, tables, quarantine.reset_index(drop=True))
    (small, small_tables, small_q), (big, big_tables, big_q) = results[7], results[1_000_000]
    assert small.rejected == big.rejected
    assert small.rejected[("orders", "duplicate line")] > 0
    assert (small.rejected.get(("orders", "wrong number of fields"), 0)) == (
        4 if fmt == "csv" else 0
    )
    assert small.rows_in == big.rows_in
    assert small.rows_in["orders"] == small.rows_ok["orders"] + small.rows_rejected["orders"]
    assert small_tables.keys() == big_tables.keys()
    for name, frame in small_tables.items():
        pd.testing.assert_frame_equal(frame, big_tables[name], check_exact=True)
    pd.testing.assert_frame_equal(small_q, big_q)
    assert small_q["source_row"].is_unique


def test_source_rows_count_skipped_lines() -> None:
    ordinals = np.arange(1, 7)
    # data rows 2 and 3 and 6 were unreadable: good rows are 1, 4, 5, 7, 8, 9
    assert _row_numbers(ordinals, [2, 3, 6]).tolist() == [1, 4, 5, 7, 8, 9]
    assert _row_numbers(ordinals, []).tolist() == [1, 2, 3, 4, 5, 6]


def test_bad_line_source_rows_point_at_the_line(tmp_path: Path, write, run, read) -> None:
    write(
        "orders.csv",
        """
        user_id,product_id,ordered_at,quantity,amount
        u,p,2025-01-01,1,1
        broken
        u,p,2025-01-02,0,1
        also,broken
        u,p,2025-01-03,-1,1
    """,
    )
    run(chunk_rows=1)
    quarantine = read("quarantine/orders").sort_values("source_row")
    assert quarantine["source_row"].tolist() == [2, 3, 4, 5]
    assert quarantine["raw_line"].tolist() == ["broken", None, "also,broken", None]
    assert quarantine["quantity"].tolist() == [None, "0", None, "-1"]


def test_seen_hashes_finds_repeats_across_many_runs() -> None:
    rng = np.random.default_rng(0)
    values = rng.integers(0, 2**63, 5_000, dtype=np.uint64)
    seen = SeenHashes()
    for part in np.array_split(values, 37):
        assert not seen.seen(part).any()
        seen.add(part)
    assert seen.seen(values).all()
    fresh = rng.integers(0, 2**63, 1_000, dtype=np.uint64)
    assert not seen.seen(np.setdiff1d(fresh, values)).any()
    assert len(seen._runs) <= 12


def test_row_hashes_follow_row_order_and_nulls() -> None:
    import duckdb
    import pyarrow as pa

    from features.ingest.dedup import row_hashes

    con = duckdb.connect()
    table = pa.table({"a": ["x", "y", None, "x"] * 50_000, "b": [1.0, None, 2.0, 1.0] * 50_000})
    forward = row_hashes(table, con)
    backward = row_hashes(table.take(pa.array(np.arange(table.num_rows)[::-1])), con)
    assert (forward == backward[::-1]).all()
    assert forward[0] == forward[3] and len(set(forward[:4].tolist())) == 3
