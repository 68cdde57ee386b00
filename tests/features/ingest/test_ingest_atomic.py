"""Ingest switches all its tables as one step: a crash between two table renames leaves a
journal, and the next writer completes the switch (never new users with old orders)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd

from features.contract.table_commit import JOURNAL, finish_commit

ROOT = Path(__file__).resolve().parents[3]
ORDERS = "user_id,product_id,ordered_at,quantity,amount\n"


def _source(folder: Path, users: list[str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rows = "".join(f"{u},p1,2025-03-01,1,9.5\n" for u in users)
    (folder / "orders.csv").write_text(ORDERS + rows, encoding="utf-8")
    (folder / "users.csv").write_text("user_id\n" + "\n".join(users) + "\n", encoding="utf-8")
    return folder


def _ingest(src: Path, data: Path, crash_after_moves: int | None = None) -> int:
    """Ingest in a child process; with CRASH_AFTER_MOVES the process dies (os._exit, no
    cleanup) right after that many table renames."""
    code = f"""
import os
from pathlib import Path
from configs.settings import IngestSettings
from features.contract import table_commit
from features.ingest.pipeline import ingest
crash, done = {crash_after_moves!r}, []
real = table_commit._move
def move(staged, final):
    real(staged, final)
    done.append(final)
    if crash is not None and len(done) >= crash:
        os._exit(9)
table_commit._move = move
ingest(Path({str(src)!r}), Path({str(data)!r}), Path({str(data.parent / "q")!r}),
       IngestSettings(as_of="2026-01-31"), show_progress=False)
"""
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=False).returncode


def _consistent(data: Path) -> bool:
    orders = pd.read_parquet(data / "orders.parquet")
    users = pd.read_parquet(data / "users.parquet")
    return set(orders["user_id"]) <= set(users["user_id"])


def test_crash_between_table_switches_is_completed_by_the_next_writer(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert _ingest(_source(tmp_path / "old", ["a1", "a2", "a3"]), data) == 0
    assert _consistent(data)
    assert _ingest(_source(tmp_path / "new", ["b1", "b2"]), data, crash_after_moves=1) == 9
    assert (data / JOURNAL).exists()  # cut short mid-switch: a mix is on disk until...
    assert not _consistent(data)
    assert finish_commit(data)  # ...the next writer (under the workspace lock) completes it
    assert not (data / JOURNAL).exists() and _consistent(data)
    assert set(pd.read_parquet(data / "users.parquet")["user_id"]) == {"b1", "b2"}
    assert not list(data.glob(".*.tmp"))
