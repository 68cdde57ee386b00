"""Fixtures of the feature tests: tiny settings and a workspace with seeded tables."""

from __future__ import annotations

from pathlib import Path

import pytest

from configs.settings import Settings, load_settings
from configs.workspace import Workspace, resolve_workspace
from tests.features.feature_data import random_tables, write_tables


@pytest.fixture
def tiny_settings() -> Settings:
    return load_settings("tiny", overrides={"training": {"n_snapshots": 2}})


@pytest.fixture
def tiny_ws(tmp_path: Path) -> Workspace:
    ws = resolve_workspace(tmp_path / "ws")
    write_tables(ws, random_tables())
    return ws
