"""Same seed -> byte-identical tables; another seed -> other data."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

SMALL = {"n_users": 400, "end_date": "2025-06-30", "chunk_users": 150}
TABLES = ("orders", "users", "products", "inventory", "groups", "memberships", "pushes")


def test_same_seed_same_bytes(tmp_path: Path, sim_factory: Callable[..., Any]) -> None:
    a = sim_factory(tmp_path / "a", seed=5, **SMALL)
    b = sim_factory(tmp_path / "b", seed=5, **SMALL)
    assert a.counts == b.counts
    for name in TABLES:
        assert (a.data / f"{name}.parquet").read_bytes() == (
            b.data / f"{name}.parquet"
        ).read_bytes(), name
    for name in (
        "future_orders",
        "user_repurchase",
        "user_category",
        "user_product",
        "push_uplift",
    ):
        assert a.truth_table(name).equals(b.truth_table(name)), name


def test_other_seed_other_data(tmp_path: Path, sim_factory: Callable[..., Any]) -> None:
    a = sim_factory(tmp_path / "a", seed=5, **SMALL)
    c = sim_factory(tmp_path / "c", seed=6, **SMALL)
    assert not a.table("orders").equals(c.table("orders"))
    assert not a.table("users").equals(c.table("users"))


def test_rejects_too_short_period(tmp_path: Path, sim_factory: Callable[..., Any]) -> None:
    with pytest.raises(ValueError, match="at least 14"):
        sim_factory(tmp_path, start_date="2025-01-01", end_date="2025-01-05")
