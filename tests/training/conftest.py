"""Training fixtures: a seeded synthetic workspace with an offline feature history (no Feast),
and one trained workspace shared by the MLflow round-trip tests."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from configs.settings import Settings, load_settings
from configs.workspace import Workspace, resolve_workspace
from features.snapshots import training_snapshot_dates
from tests.training.train_fixtures import end_date, write_workspace


def small_settings(**training: Any) -> Settings:
    base = {"feature_source": "offline", "num_boost_round": 60, "n_snapshots": 3}
    return load_settings("tiny", {"training": {**base, **training}})


@pytest.fixture(scope="session")
def as_of() -> date:
    return end_date()


@pytest.fixture(scope="session")
def synthetic_ws(tmp_path_factory: pytest.TempPathFactory, as_of: date) -> Workspace:
    """Orders + offline history at the training snapshots and at as_of (read-only in tests)."""
    ws = resolve_workspace(tmp_path_factory.mktemp("synthetic"))
    dates = training_snapshot_dates(as_of, 30, 3, 30)
    write_workspace(ws, [*dates, as_of], n_users=400, seed=0)
    return ws


def copy_workspace(src: Workspace, dst: Path) -> Workspace:
    """A fresh workspace sharing the synthetic data and features (MLflow state separate)."""
    import shutil

    ws = resolve_workspace(dst)
    shutil.copytree(src.data, ws.data)
    shutil.copytree(src.offline, ws.offline)
    return ws


@pytest.fixture(scope="session")
def trained(
    tmp_path_factory: pytest.TempPathFactory, synthetic_ws: Workspace, as_of: date
) -> tuple[Settings, Workspace, dict[str, Any]]:
    """train(all) once on the synthetic workspace (missing snapshots built first):
    (settings, workspace, result)."""
    from grouppush.train_features import train_with_features

    ws = copy_workspace(synthetic_ws, tmp_path_factory.mktemp("trained"))
    settings = small_settings()
    return settings, ws, train_with_features(settings, ws, "all", as_of, show_progress=False)
