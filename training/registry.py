"""MLflow: log a training run, register the model, move `champion` only when it is better.

Runs are created through MlflowClient (no git/context probing) and resumed for log_model;
the experiment stores artifacts under the workspace. Everything downstream loads
`models:/grouppush_<kind>@champion`.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np

from configs.settings import Settings
from configs.workspace import Workspace
from features.stages import Stages
from training.estimator import ModelResult, lgbm_params, lightgbm

EXPERIMENT = "grouppush"
CHAMPION = "champion"
MODEL_NAMES = {
    "repurchase": "grouppush_repurchase",
    "interest": "grouppush_interest",
    "push": "grouppush_push",
}
FEATURE_SERVICE_TAG = "feature_service"


def configure(ws: Workspace) -> Any:
    """Quiet, local MLflow pointed at the workspace; returns an MlflowClient."""
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")
    # Our own registry's models: loading them is what the whole pipeline is for.
    os.environ.setdefault("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "true")
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    import mlflow

    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)
    # cloudpickle warning and pip-version probe: known and harmless here.
    for name in ("mlflow.sklearn", "mlflow.utils.environment", "mlflow.types.utils"):
        logging.getLogger(name).setLevel(logging.ERROR)

    ws.mlflow.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(ws.mlflow_tracking_uri)
    mlflow.set_registry_uri(ws.mlflow_tracking_uri)
    return mlflow.MlflowClient()


def experiment_id(client: Any, ws: Workspace) -> str:
    found = client.get_experiment_by_name(EXPERIMENT)
    if found is not None:
        return str(found.experiment_id)
    if ws.mlflow_tracking_uri.startswith(("http://", "https://")):
        # a tracking server: its artifact store (mlflow-artifacts:/), readable by every host
        return str(client.create_experiment(EXPERIMENT))
    ws.mlflow_artifacts.mkdir(parents=True, exist_ok=True)
    return str(client.create_experiment(EXPERIMENT, ws.mlflow_artifacts.resolve().as_uri()))


def metric_key(name: str) -> str:
    """MLflow metric names allow [A-Za-z0-9_-. /]: recall@5 -> recall_at_5."""
    return name.replace("@", "_at_")


def flat_metrics(result: ModelResult) -> dict[str, float]:
    out = {metric_key(k): v for k, v in result.metrics.items()}
    for base, values in result.baselines.items():
        out.update({f"baseline.{base}.{metric_key(k)}": v for k, v in values.items()})
    return {k: float(v) for k, v in out.items() if v is not None and np.isfinite(v)}


@dataclass(frozen=True)
class Decision:
    promote: bool
    reason: str


def decide_promotion(
    primary: str, new: float, bar: float, champion: float | None, champion_version: str | None
) -> Decision:
    """The rule: strictly beat the best baseline AND the current champion on the same holdout."""
    if not np.isfinite(new):
        return Decision(False, f"new {primary} is undefined on the holdout")
    if not new > bar:
        return Decision(False, f"{primary} {new:.4f} does not beat the best baseline {bar:.4f}")
    if champion is not None and not new > champion:
        return Decision(
            False,
            f"{primary} {new:.4f} does not beat champion v{champion_version} ({champion:.4f})",
        )
    if champion is None:
        return Decision(True, f"{primary} {new:.4f} beats baselines ({bar:.4f}); no champion")
    return Decision(
        True,
        f"{primary} {new:.4f} beats champion v{champion_version} ({champion:.4f}) "
        f"and baselines ({bar:.4f})",
    )


def champion_version(client: Any, model_name: str) -> Any | None:
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version_by_alias(model_name, CHAMPION)
    except MlflowException:
        return None


def load_champion(ws: Workspace, kind: str) -> tuple[Any, Any]:
    """(model, ModelVersion) of `models:/grouppush_<kind>@champion`; clear error when none."""
    client = configure(ws)
    import mlflow.sklearn

    name = MODEL_NAMES[kind]
    version = champion_version(client, name)
    if version is None:
        raise LookupError(f"no {CHAMPION} for {name} in {ws.mlflow_tracking_uri}; run train")
    lightgbm()  # loaded before unpickling does, so its OpenMP threads sleep when idle
    return mlflow.sklearn.load_model(f"models:/{name}@{CHAMPION}"), version


def _score_champion(ws: Workspace, result: ModelResult, version: Any) -> tuple[float | None, str]:
    """The champion's primary metric on the new holdout (None when it cannot be scored)."""
    if version.tags.get(FEATURE_SERVICE_TAG) != result.feature_service:
        return None, f"champion v{version.version} uses another feature service"
    try:
        model, _ = load_champion(ws, result.name)
        return float(result.holdout_metric(model)), ""
    except Exception as exc:  # an incompatible old artifact must not block training
        return None, f"champion v{version.version} could not be scored: {exc}"


def _pip_requirements() -> list[str]:
    from importlib.metadata import version

    return [f"{p}=={version(p)}" for p in ("scikit-learn", "lightgbm", "pandas", "numpy")]


def _log_run(
    result: ModelResult, settings: Settings, ws: Workspace, as_of: date, figures: dict[str, Any]
) -> Any:
    """A new run with params, metrics, the resolved config, data ranges and plots."""
    client = configure(ws)
    import mlflow

    run = client.create_run(
        experiment_id(client, ws),
        run_name=f"{result.name}-{as_of}",
        tags={"model": result.name, FEATURE_SERVICE_TAG: result.feature_service},
    )
    params = {
        **lgbm_params(settings.training),
        "feature_service": result.feature_service,
        "as_of": str(as_of),
        "horizon_days": settings.training.horizon_days,
        "calibration": settings.training.calibration if result.name == "repurchase" else "sigmoid",
        "features": ",".join(result.features),
        **{f"data.{k}": v for k, v in result.data.items()},
    }
    with mlflow.start_run(run_id=run.info.run_id):
        mlflow.log_params({k: str(v)[:6000] for k, v in params.items()})
        mlflow.log_metrics(flat_metrics(result))
        mlflow.log_dict(settings.model_dump(mode="json"), "config/settings.json")
        mlflow.log_dict(result.data, "data/ranges.json")
        mlflow.log_dict(result.importance.to_dict(), "importance.json")
        for fname, fig in figures.items():
            mlflow.log_figure(fig, f"plots/{fname}.png")
    return run


def _log_model(result: ModelResult, run: Any) -> str:
    """Log the model with signature + input example into RUN and register it; its version."""
    import mlflow.sklearn
    from mlflow.models import infer_signature

    import mlflow

    with mlflow.start_run(run_id=run.info.run_id):
        example = result.example.astype({c: "float64" for c in result.numeric})
        signature = infer_signature(example, result.model.predict_proba(example)[:, 1])
        info = mlflow.sklearn.log_model(
            result.model,
            name="model",
            signature=signature,
            input_example=example,
            registered_model_name=MODEL_NAMES[result.name],
            serialization_format="cloudpickle",
            pip_requirements=_pip_requirements(),
            pyfunc_predict_fn="predict_proba",
        )
    return str(info.registered_model_version)


def _promote(
    client: Any, ws: Workspace, result: ModelResult, version: str, as_of: date
) -> tuple[Decision, str, float | None]:
    """Score the current champion on this holdout, tag VERSION, move the alias when it wins:
    (decision, reason, champion score)."""
    name = MODEL_NAMES[result.name]
    new = float(result.metrics[result.primary])
    current = champion_version(client, name)
    champ_score, note = (None, "") if current is None else _score_champion(ws, result, current)
    decision = decide_promotion(
        result.primary, new, result.bar, champ_score, None if current is None else current.version
    )
    reason = decision.reason + (f" ({note})" if note else "")
    tags = {
        FEATURE_SERVICE_TAG: result.feature_service,
        "as_of": str(as_of),
        "test_snapshot": str(result.data.get("test_snapshot")),
        metric_key(result.primary): f"{new:.6f}",
        "features": ",".join(result.features),
        "promotion": reason,
    }
    for key, value in tags.items():
        client.set_model_version_tag(name, version, key, value)
    if decision.promote:
        client.set_registered_model_alias(name, CHAMPION, version)
    return decision, reason, champ_score


def log_and_register(
    result: ModelResult,
    settings: Settings,
    ws: Workspace,
    as_of: date,
    figures: dict[str, Any],
    stages: Stages | None = None,
) -> dict[str, Any]:
    """Log params/metrics/config/plots + the model, register it, apply the promotion rule."""
    stages = stages or Stages()
    with stages(f"{result.name}.mlflow_log"):
        run = _log_run(result, settings, ws, as_of, figures)
    with stages(f"{result.name}.log_model_register"):
        version = _log_model(result, run)
    with stages(f"{result.name}.promotion"):
        decision, reason, champ_score = _promote(configure(ws), ws, result, version, as_of)
    return {
        "run_id": run.info.run_id,
        "model_name": MODEL_NAMES[result.name],
        "version": version,
        "promoted": decision.promote,
        "reason": reason,
        "champion_score": champ_score,
        "metrics": result.metrics,
        "baselines": result.baselines,
    }
