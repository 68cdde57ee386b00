"""Secret settings (API key, a Redis password) never reach MLflow artifacts, params or logs."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from configs.settings import load_settings
from configs.workspace import Workspace
from tests.training.conftest import copy_workspace

pytestmark = pytest.mark.integration

KEY = "sk-live-7f3a9c"
PASSWORD = "redis-pw-51e0"


def test_train_artifacts_hold_no_secret(
    synthetic_ws: Workspace,
    as_of: date,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from grouppush.train_features import train_with_features

    ws = copy_workspace(synthetic_ws, tmp_path / "ws")
    overrides = {
        "training": {"feature_source": "offline", "num_boost_round": 20, "n_snapshots": 3},
        "serving": {"api_key": KEY},
        "features": {"redis_connection_string": f"127.0.0.1:6379,password={PASSWORD}"},
    }
    settings = load_settings("tiny", overrides)
    with caplog.at_level("DEBUG"):
        train_with_features(settings, ws, "repurchase", as_of, show_progress=False)
    dumps = list(ws.mlflow.rglob("settings.json"))
    assert dumps, "train logs config/settings.json"
    assert '"api_key": "**********"' in dumps[0].read_text(encoding="utf-8")
    leaks = []
    for path in ws.mlflow.rglob("*"):  # artifacts, params and the tracking database
        if path.is_file():
            data = path.read_bytes()
            leaks += [f"{path}: {s}" for s in (KEY, PASSWORD) if s.encode() in data]
    out = capsys.readouterr()
    leaks += [f"output: {s}" for s in (KEY, PASSWORD) if s in out.out + out.err + caplog.text]
    assert not leaks
