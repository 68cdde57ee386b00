"""Shared helpers for ingest tests: write small input files and run ingest into tmp dirs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from configs.settings import IngestSettings
from features.ingest.pipeline import IngestReport, ingest

HEADER = "user_id,product_id,ordered_at,quantity,amount"


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str, str], Path]:
    """write('orders.csv', text) -> path under tmp_path/src (text dedented line by line)."""

    def _write(name: str, text: str) -> Path:
        path = tmp_path / "src" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        lines = [line.strip() for line in text.strip().splitlines()]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path

    return _write


@pytest.fixture
def run(tmp_path: Path) -> Callable[..., IngestReport]:
    """Ingest tmp_path/src into tmp_path/data (+ quarantine); keyword args go to IngestSettings."""

    def _run(
        maps: tuple[str, ...] = (),
        source: Path | None = None,
        files: dict[str, Path] | None = None,
        **cfg: Any,
    ) -> IngestReport:
        settings = IngestSettings(**{"as_of": "2026-01-31", "max_reject_share": 1.0, **cfg})
        src = source if source is not None else (tmp_path / "src" if files is None else None)
        return ingest(
            src,
            tmp_path / "data",
            tmp_path / "quarantine",
            settings,
            maps=maps,
            files=files,
            show_progress=False,
        )

    return _run


@pytest.fixture
def read(tmp_path: Path) -> Callable[[str], pd.DataFrame]:
    """read('orders') -> the contract table; read('quarantine/orders') -> its quarantine."""

    def _read(name: str) -> pd.DataFrame:
        folder = tmp_path if "/" in name else tmp_path / "data"
        return pd.read_parquet(folder / f"{name}.parquet")

    return _read
