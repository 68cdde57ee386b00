"""One tiny simulated workspace shared by the simulator tests (built once per session)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from configs.settings import Settings, load_settings
from features.simulator.simulate import simulate


@dataclass
class SimRun:
    settings: Settings
    data: Path
    truth: Path
    counts: dict[str, int]

    def table(self, name: str) -> pd.DataFrame:
        return pd.read_parquet(self.data / f"{name}.parquet")

    def truth_table(self, name: str) -> pd.DataFrame:
        return pd.read_parquet(self.truth / f"{name}.parquet")


def run_sim(root: Path, **simulate_overrides: Any) -> SimRun:
    settings = load_settings("tiny", overrides={"simulate": simulate_overrides})
    data, truth = root / "data", root / "truth"
    counts = simulate(settings, data, truth, show_progress=False)
    return SimRun(settings, data, truth, counts)


@pytest.fixture(scope="session")
def sim_factory() -> Callable[..., SimRun]:
    """run_sim(root, **simulate_overrides) for tests that need their own run."""
    return run_sim


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> SimRun:
    """The tiny preset, split into several user chunks so the streaming path is exercised."""
    return run_sim(tmp_path_factory.mktemp("sim_tiny"), seed=11, chunk_users=700)
