"""Any label horizon trains on one workspace: snapshot dates follow from the horizon (the
spacing setting is a lower bound), train computes what it lacks, a champion always results.
Through the CLI (Typer's runner): exit code 0, no traceback."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from configs.workspace import resolve_workspace
from features.snapshots import training_snapshot_dates
from tests.training.train_fixtures import end_date, write_workspace
from training.registry import CHAMPION, MODEL_NAMES, configure

pytestmark = pytest.mark.integration

HORIZONS = (7, 30, 90, 180)
N_DAYS = 600  # 3 snapshots 180 days apart + 180 days of labels + history before the oldest


@pytest.fixture(scope="module")
def long_ws(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A 600-day synthetic log with the offline history every horizon's dates need
    (the CLI's train would compute missing dates through the real feature build)."""
    root = tmp_path_factory.mktemp("horizons")
    ws = resolve_workspace(root)
    as_of = end_date(N_DAYS)
    dates = {as_of}
    for horizon in HORIZONS:
        dates |= set(training_snapshot_dates(as_of, horizon, 3, 30))
    write_workspace(ws, sorted(dates), n_users=250, seed=3, n_days=N_DAYS)
    config = root / "settings.yaml"
    config.write_text(
        "training:\n  feature_source: offline\n  num_boost_round: 30\n  n_snapshots: 3\n"
        "  interest_max_users: 300\n",
        encoding="utf-8",
    )
    return root, config


def test_every_horizon_trains_on_one_workspace(long_ws: tuple[Path, Path]) -> None:
    from grouppush.cli import app

    root, config = long_ws
    runner = CliRunner()
    base = ["--workspace", str(root), "--preset", "tiny", "--config", str(config)]
    as_of = end_date(N_DAYS)
    for horizon in HORIZONS:
        target = "all" if horizon == HORIZONS[-1] else "repurchase"  # interest: the longest
        args = ["train", "--target", target, "--horizon-days", str(horizon), "--json"]
        got = runner.invoke(app, [*base, *args])
        assert got.exit_code == 0, (horizon, got.output, got.exception)
        assert "Traceback" not in got.output
        result = json.loads(got.stdout[got.stdout.index("{") :])
        snaps = sorted(result["snapshots"])
        assert snaps[-1] == str(as_of - timedelta(days=horizon))
        assert result["computed_snapshots"] == []  # the fixture holds every date needed
        client = configure(resolve_workspace(root))
        for kind in ("repurchase", "interest") if target == "all" else ("repurchase",):
            assert result[kind]["champion"]["version"], result[kind]
            assert result[kind]["horizon_days"] == horizon
            # a champion answering another horizon is replaced, never compared
            alias = client.get_model_version_by_alias(MODEL_NAMES[kind], CHAMPION)
            assert alias.tags["horizon_days"] == str(horizon)


def test_a_log_too_short_for_the_horizon_says_what_to_do(long_ws: tuple[Path, Path]) -> None:
    from configs.settings import load_settings
    from training.train import train

    root, _ = long_ws
    settings = load_settings("tiny", {"training": {"horizon_days": 300, "n_snapshots": 3}})
    with pytest.raises(ValueError, match="orders start on 2025-01-01: use a shorter"):
        train(settings, resolve_workspace(root), "repurchase", end_date(N_DAYS))


def test_readiness_horizon_is_kept_and_said() -> None:
    from configs.settings import load_settings
    from training.train import readiness_note

    same = load_settings("tiny", {"training": {"horizon_days": 30}})
    assert readiness_note(same) == ""
    other = load_settings("tiny", {"training": {"horizon_days": 90}})
    note = readiness_note(other)
    assert "90 days" in note and "30-day" in note and "readiness_horizon_days" in note
