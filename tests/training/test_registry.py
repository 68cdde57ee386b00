"""Promotion rule (pure) and the MLflow round trips: train -> register -> load @champion,
and a worse model never takes the alias."""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np
import pytest

import mlflow
from configs.settings import Settings
from configs.workspace import Workspace
from tests.training.conftest import copy_workspace, small_settings
from training.registry import (
    CHAMPION,
    MODEL_NAMES,
    configure,
    decide_promotion,
    format_metric,
    load_champion,
)


def test_mlflow_is_the_installed_library() -> None:
    assert "site-packages" in mlflow.__file__


def test_promotion_needs_baselines_and_champion_beaten() -> None:
    assert decide_promotion("auc", 0.80, 0.75, None, None).promote
    worse_than_baseline = decide_promotion("auc", 0.74, 0.75, None, None)
    assert not worse_than_baseline.promote and "baseline" in worse_than_baseline.reason
    worse = decide_promotion("auc", 0.80, 0.75, 0.81, "3")
    assert not worse.promote and "champion v3" in worse.reason
    assert not decide_promotion("auc", 0.81, 0.75, 0.81, "3").promote  # a tie keeps the champion
    assert decide_promotion("auc", 0.82, 0.75, 0.81, "3").promote
    assert not decide_promotion("auc", float("nan"), 0.75, None, None).promote


@pytest.mark.integration
def test_promotion_reason_shows_hit_counts_whole() -> None:
    assert decide_promotion("hits@5", 64.0, 63.0, None, None).reason == (
        "hits@5 64 beats baselines (63); no champion yet"
    )
    assert "auc 0.8100 does not beat" in decide_promotion("auc", 0.81, 0.82, None, None).reason
    assert format_metric("hits@5", 64.0) == "64" and format_metric("auc", 0.5) == "0.5000"


def test_train_register_load_champion(trained: tuple[Settings, Workspace, dict[str, Any]]) -> None:
    settings, ws, result = trained
    for kind in ("repurchase", "interest"):
        summary = result[kind]
        assert summary["promoted"], summary["reason"]
        model, version = load_champion(ws, kind)
        assert str(version.version) == summary["version"]
        assert version.tags["feature_service"] in ("repurchase_v1", "interest_v1")
        # Anyone can load it by alias with plain MLflow.
        loaded = mlflow.sklearn.load_model(f"models:/{MODEL_NAMES[kind]}@{CHAMPION}")
        assert hasattr(loaded, "predict_proba") and hasattr(model, "predict_proba")
    run = mlflow.MlflowClient().get_run(result["repurchase"]["run_id"])
    assert run.data.params["feature_service"] == "repurchase_v1"
    assert "baseline.bgnbd.auc" in run.data.metrics


@pytest.mark.integration
def test_worse_model_does_not_take_champion(
    trained: tuple[Settings, Workspace, dict[str, Any]], tmp_path, as_of: date
) -> None:
    from grouppush.train_features import train_with_features

    _, src, first = trained
    ws = copy_workspace(src, tmp_path / "ws")
    import shutil

    shutil.copytree(src.mlflow, ws.mlflow)  # same registry state, private copy
    before = first["repurchase"]["version"]
    weak = small_settings(num_boost_round=2, num_leaves=2, learning_rate=0.01)
    out = train_with_features(weak, ws, "repurchase", as_of, show_progress=False)["repurchase"]
    assert not out["promoted"]
    assert out["reason"]
    client = configure(ws)
    alias = client.get_model_version_by_alias(MODEL_NAMES["repurchase"], CHAMPION)
    assert str(alias.version) == before != out["version"]
    assert np.isfinite(out["metrics"]["auc"])
