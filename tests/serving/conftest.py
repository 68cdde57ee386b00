"""A tiny serving workspace: catalog feature tables + memberships + tiny champions in MLflow."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from configs.workspace import Workspace, resolve_workspace
from features.contract.io import write_parquet_atomic
from tests.serving.synthetic import feature_tables

REPURCHASE_COLUMNS = ["recency_days", "order_days_30d", "order_days_90d"]
INTEREST_COLUMNS = ["interest_score", "counts_30d", "counts_180d"]


def write_workspace(root: Path, **kwargs: int) -> Workspace:
    """Feature tables as the offline history files + memberships as a contract table."""
    ws = resolve_workspace(root)
    tables = feature_tables(**kwargs)
    write_parquet_atomic(tables.pop("memberships"), ws.data / "memberships.parquet")
    for name, df in tables.items():
        write_parquet_atomic(df, ws.offline / f"{name}.parquet")
    return ws


def _model(columns: list[str], seed: int):  # type: ignore[no-untyped-def]
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    rng = np.random.default_rng(seed)
    x = pd.DataFrame(rng.uniform(0, 5, (200, len(columns))), columns=columns)
    y = (x[columns[-1]] + rng.normal(0, 1, 200) > 2.5).astype(int)
    prep = ColumnTransformer([("num", "passthrough", columns)])
    return Pipeline([("prep", prep), ("clf", LogisticRegression())]).fit(x, y)


def register_champion(ws: Workspace, kind: str, seed: int = 0) -> str:
    """Save a tiny sklearn model, register it and point `champion` at it; returns its version.

    Explicit MlflowClient calls only: the fluent API keeps process-wide state (and exports
    MLFLOW_TRACKING_URI) that would leak between the workspaces of one test session.
    """
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    import tempfile

    import mlflow.sklearn

    from features.store import catalog
    from mlflow import MlflowClient
    from serving.models import REGISTERED

    columns = REPURCHASE_COLUMNS if kind == "repurchase" else INTEREST_COLUMNS
    service = catalog.REPURCHASE_SERVICE if kind == "repurchase" else catalog.INTEREST_SERVICE
    ws.mlflow.mkdir(parents=True, exist_ok=True)
    uri = f"sqlite:///{(ws.mlflow / 'mlflow.db').resolve()}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    name = REGISTERED[kind]
    found = client.get_experiment_by_name("serving-tests")
    experiment = (
        found.experiment_id
        if found is not None
        else client.create_experiment("serving-tests", (ws.mlflow / "artifacts").as_uri())
    )
    run = client.create_run(experiment)
    with tempfile.TemporaryDirectory() as tmp:
        mlflow.sklearn.save_model(_model(columns, seed), f"{tmp}/model")
        client.log_artifacts(run.info.run_id, f"{tmp}/model", "model")
    client.set_terminated(run.info.run_id)
    if not client.search_registered_models(f"name = '{name}'"):
        client.create_registered_model(name)
    mv = client.create_model_version(
        name, f"{run.info.artifact_uri}/model", run.info.run_id, tags={"feature_service": service}
    )
    client.set_registered_model_alias(name, "champion", mv.version)
    return str(mv.version)


@pytest.fixture(scope="session")
def serving_ws(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """Session workspace with champions v1 (tests that move champions use their own)."""
    ws = write_workspace(
        tmp_path_factory.mktemp("serving_ws"), n_users=400, n_cats=8, products_per_cat=6, n_groups=4
    )
    register_champion(ws, "repurchase")
    register_champion(ws, "interest")
    return ws


def point_env_at(mp: pytest.MonkeyPatch, ws: Workspace, reload_seconds: float = 0) -> None:
    mp.setenv("GROUPPUSH_WORKSPACE", str(ws.root))
    mp.setenv("GROUPPUSH__SERVING__RELOAD_INTERVAL_SECONDS", str(reload_seconds))
    mp.delenv("MLFLOW_TRACKING_URI", raising=False)
    mp.delenv("GROUPPUSH__SERVING__API_KEY", raising=False)


@pytest.fixture(scope="module")
def service_env(serving_ws: Workspace) -> Iterator[Workspace]:
    with pytest.MonkeyPatch.context() as mp:
        point_env_at(mp, serving_ws)
        yield serving_ws
