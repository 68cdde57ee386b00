"""MLflow at scale: a tracking server URI (env GROUPPUSH_MLFLOW_TRACKING_URI) instead of the
local SQLite file.

Training registers through the server; the model files go to the server's artifact store
(proxied `mlflow-artifacts:/`), so any host that can reach the server loads the champion.
Data: the training tests' seeded workspace (tests/training/train_fixtures.py), whose trends
a model can learn and the baselines cannot, so a first model is promoted for a reason.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from configs.settings import load_settings
from configs.workspace import resolve_workspace
from features.snapshots import training_snapshot_dates
from tests.training.train_fixtures import end_date, write_workspace

pytestmark = pytest.mark.integration


def test_train_registers_and_loads_champion_through_server(
    mlflow_uri: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlflow.sklearn

    import mlflow
    from grouppush.train_features import train_with_features
    from serving.models import champion_versions

    as_of = end_date()
    ws = resolve_workspace(tmp_path / "trainer")
    write_workspace(ws, [*training_snapshot_dates(as_of, 30, 3, 30), as_of])
    monkeypatch.setenv("GROUPPUSH_MLFLOW_TRACKING_URI", mlflow_uri)
    assert ws.mlflow_tracking_uri == mlflow_uri
    settings = load_settings(
        "tiny", {"training": {"feature_source": "offline", "num_boost_round": 60, "n_snapshots": 3}}
    )
    out = train_with_features(settings, ws, "repurchase", as_of, show_progress=False)
    assert out["repurchase"]["promoted"], out["repurchase"]["reason"]
    assert not (ws.mlflow / "mlflow.db").exists(), "must not fall back to the local SQLite file"

    client = mlflow.MlflowClient(tracking_uri=mlflow_uri, registry_uri=mlflow_uri)
    champion = client.get_model_version_by_alias("grouppush_repurchase", "champion")
    assert str(champion.version) == str(out["repurchase"]["version"])
    run = client.get_run(str(champion.run_id))
    assert run.info.artifact_uri.startswith("mlflow-artifacts:"), run.info.artifact_uri

    # another "host": a fresh working directory, only the server URI in common
    monkeypatch.chdir(tmp_path)
    mlflow.set_tracking_uri(mlflow_uri)
    mlflow.set_registry_uri(mlflow_uri)
    model = mlflow.sklearn.load_model("models:/grouppush_repurchase@champion")
    assert hasattr(model, "predict_proba")
    assert champion_versions(mlflow_uri)["repurchase"] == str(champion.version)
