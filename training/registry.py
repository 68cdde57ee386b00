"""MLflow: log a training run, register the model, and keep a `champion` for every kind.

The learned model takes `champion` when it beats its best baseline and the current champion
on the holdout. When it does not, the best scorer on that holdout serves: the current
champion stays, or the best baseline (training.baseline_models) is registered as a version
of the same model, with its fitted parameters, and takes the alias. So every consumer finds
`models:/grouppush_<kind>@champion` after any `train`.

Runs are created through MlflowClient (no git/context probing) and resumed for log_model;
the experiment stores artifacts under the workspace. Pickles are self-contained: the
project's classes in a model (the repurchase pipeline's derived-feature step, baselines) are
pickled by value, so `mlflow.pyfunc.load_model` works where GroupPush is not installed.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
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
SCORER_TAG = "scorer"  # "learned" or the baseline's name
HORIZON_TAG = "horizon_days"
LEARNED = "learned"
PRIMARY_TAG = "primary_metric"  # the metric the promotion compared (MLflow key)
PREVIOUS_TAG = "previous_champion"  # the version the alias moved from, and its score:
PREVIOUS_SCORE_TAG = "previous_champion_score"  # on this version's holdout (the operator page)
SERVING_METRICS = ("cold_rate",)  # run metrics the service reads (push: cold-member scale)
PROJECT_PACKAGES = ("configs", "features", "modelinput", "training", "serving", "grouppush")


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
    promote: bool  # the alias moves to a new version (of SCORER)
    reason: str
    scorer: str = LEARNED  # what serves after the decision ("champion": the current one)


def format_metric(primary: str, x: float) -> str:
    """A count metric (hits@k) as a whole number, any other to 4 places."""
    return f"{x:.0f}" if primary.startswith("hits@") and float(x).is_integer() else f"{x:.4f}"


def decide_promotion(
    primary: str, new: float, bar: float, champion: float | None, champion_version: str | None
) -> Decision:
    """The rule: strictly beat the best baseline AND the current champion on the same holdout."""
    if not np.isfinite(new):
        return Decision(False, f"new {primary} is undefined on the holdout")
    n, b = format_metric(primary, new), format_metric(primary, bar)
    if not new > bar:
        return Decision(False, f"{primary} {n} does not beat the best baseline {b}")
    if champion is not None and not new > champion:
        c = format_metric(primary, champion)
        return Decision(False, f"{primary} {n} does not beat champion v{champion_version} ({c})")
    if champion is None:
        return Decision(True, f"{primary} {n} beats baselines ({b}); no champion yet")
    c = format_metric(primary, champion)
    return Decision(
        True, f"{primary} {n} beats champion v{champion_version} ({c}) and baselines ({b})"
    )


def decide_champion(
    primary: str,
    new: float,
    bar: float,
    champion: float | None,
    champion_version: str | None,
    candidates: dict[str, float],
) -> Decision:
    """The promotion rule, then "a champion always": when the learned model is not promoted,
    the best scorer on the holdout serves - the current champion (ties keep it), the learned
    model, or a baseline candidate (CANDIDATES: registrable baselines' holdout scores)."""
    rule = decide_promotion(primary, new, bar, champion, champion_version)
    if rule.promote:
        return rule
    scores = {"champion": champion} if champion is not None else {}
    scores |= {LEARNED: new, **candidates}
    finite = {k: float(v) for k, v in scores.items() if v is not None and np.isfinite(v)}
    if not finite:
        if champion_version is not None:
            return Decision(False, f"{rule.reason}; champion v{champion_version} stays", "champion")
        return Decision(True, f"{rule.reason}; no scorer is measurable: the learned one serves")
    best = max(finite, key=lambda k: finite[k])  # the first of equals: champion, learned
    score = f"{primary} {format_metric(primary, finite[best])}"
    if best == "champion":
        return Decision(
            False, f"{rule.reason}; champion v{champion_version} stays ({score})", "champion"
        )
    if best == LEARNED:
        return Decision(True, f"{rule.reason}, but it is the best registrable scorer ({score})")
    return Decision(True, f"{rule.reason}; baseline {best} scores best ({score}) and serves", best)


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


def newest_learned(ws: Workspace, kind: str) -> tuple[Any, Any] | None:
    """(model, ModelVersion) of the newest learned version of KIND, or None."""
    client = configure(ws)
    name = MODEL_NAMES[kind]
    versions = client.search_model_versions(f"name='{name}'")
    learned = [v for v in versions if (v.tags or {}).get(SCORER_TAG, LEARNED) == LEARNED]
    if not learned:
        return None
    newest = max(learned, key=lambda v: int(v.version))
    return load_version(ws, kind, str(newest.version)), newest


def load_version(ws: Workspace, kind: str, version: str) -> Any:
    """The model of version VERSION of KIND (e.g. the previous champion a version records)."""
    configure(ws)
    import mlflow.sklearn

    lightgbm()
    return mlflow.sklearn.load_model(f"models:/{MODEL_NAMES[kind]}/{version}")


def _flat(prefix: str, value: Any, out: dict[str, float]) -> dict[str, float]:
    """Nested metric dicts as MLflow metric names (held_out.repurchase.model.auc)."""
    if isinstance(value, dict):
        for key, inner in value.items():
            _flat(
                f"{prefix}.{metric_key(str(key))}" if prefix else metric_key(str(key)), inner, out
            )
    elif isinstance(value, int | float) and not isinstance(value, bool) and np.isfinite(value):
        out[prefix.replace(" ", "_")] = float(value)
    return out


def log_evaluation(
    ws: Workspace, result: dict[str, Any], paths: dict[str, Any], champions: dict[str, Any]
) -> str:
    """An evaluation run (metrics, the HTML report, metrics JSON) tagged with the champions'
    versions and runs, so `mlflow ui` shows them next to training; its run id."""
    client = configure(ws)
    tags = {"evaluation": "true", "as_of": str(result.get("as_of"))}
    for kind, info in champions.items():
        if "version" in info:
            tags[f"champion.{kind}.version"] = str(info["version"])
            tags[f"champion.{kind}.scorer"] = str(info.get("scorer", LEARNED))
            tags[f"champion.{kind}.run_id"] = str(info.get("run_id", ""))
    run = client.create_run(
        experiment_id(client, ws), run_name=f"evaluation-{result.get('as_of')}", tags=tags
    )
    run_id = run.info.run_id
    metrics: dict[str, float] = {}
    for section in ("held_out", "truth"):
        if section in result:
            _flat(section, result[section], metrics)
    from mlflow.entities import Metric

    stamp = int(run.info.start_time)
    batch = [Metric(k, v, stamp, 0) for k, v in sorted(metrics.items())]
    for start in range(0, len(batch), 900):  # MLflow's batch limit is 1000 metrics
        client.log_batch(run_id, metrics=batch[start : start + 900])
    for path in paths.values():
        client.log_artifact(run_id, str(path), "evaluation")
    client.set_terminated(run_id)
    return str(run_id)


def _score_champion(
    ws: Workspace, result: ModelResult, version: Any, horizon_days: int
) -> tuple[float | None, str]:
    """The champion's primary metric on the new holdout (None when it cannot be scored or
    answers another question: a different feature service or label horizon)."""
    if version.tags.get(FEATURE_SERVICE_TAG) != result.feature_service:
        return None, f"champion v{version.version} uses another feature service"
    other = version.tags.get(HORIZON_TAG)
    if other is not None and other != str(horizon_days):
        return None, f"champion v{version.version} answers a {other}-day question"
    try:
        model, _ = load_champion(ws, result.name)
        return float(result.holdout_metric(model)), ""
    except Exception as exc:  # an incompatible old artifact must not block training
        return None, f"champion v{version.version} could not be scored: {exc}"


def _pip_requirements() -> list[str]:
    from importlib.metadata import version

    names = ("scikit-learn", "lightgbm", "pandas", "numpy", "scipy", "cloudpickle")
    return [f"{p}=={version(p)}" for p in names]


@contextmanager
def self_contained() -> Iterator[None]:
    """Pickle the project's own modules by value while logging a model (cloudpickle), so
    the artifact needs only its pip requirements, never GroupPush on sys.path."""
    import cloudpickle

    mods = [
        m
        for name, m in list(sys.modules.items())
        if m is not None and name.split(".")[0] in PROJECT_PACKAGES
    ]
    for mod in mods:
        cloudpickle.register_pickle_by_value(mod)
    try:
        yield
    finally:
        for mod in mods:
            cloudpickle.unregister_pickle_by_value(mod)


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


def _log_model(result: ModelResult, run: Any, model: Any = None) -> str:
    """Log MODEL (default: the learned one) with signature + input example into RUN and
    register it; its version. The signature is what pyfunc's predict returns
    (predict_proba: one column per class)."""
    import mlflow.sklearn
    from mlflow.models import infer_signature

    import mlflow

    model = result.model if model is None else model
    with mlflow.start_run(run_id=run.info.run_id):
        example = result.example.astype({c: "float64" for c in result.numeric})
        signature = infer_signature(example, np.asarray(model.predict_proba(example)))
        with self_contained():
            info = mlflow.sklearn.log_model(
                model,
                name="model",
                signature=signature,
                input_example=example,
                registered_model_name=MODEL_NAMES[result.name],
                serialization_format="cloudpickle",
                pip_requirements=_pip_requirements(),
                pyfunc_predict_fn="predict_proba",
            )
    return str(info.registered_model_version)


def _register_baseline(
    client: Any, ws: Workspace, result: ModelResult, scorer: str, score: float, as_of: date
) -> tuple[str, str]:
    """A run for the baseline SCORER (its fitted parameters and holdout metric) and its
    model registered as a version of the kind's model: (version, run id)."""
    import mlflow

    model = result.candidates[scorer]
    run = client.create_run(
        experiment_id(client, ws),
        run_name=f"{result.name}-baseline-{scorer}-{as_of}",
        tags={
            "model": result.name,
            FEATURE_SERVICE_TAG: result.feature_service,
            SCORER_TAG: scorer,
        },
    )
    with mlflow.start_run(run_id=run.info.run_id):
        mlflow.log_params({f"baseline.{k}": str(v)[:6000] for k, v in model.params.items()})
        mlflow.log_params({"as_of": str(as_of), "scorer": scorer})
        mlflow.log_metric(metric_key(result.primary), score)
        for key in SERVING_METRICS:  # what serving reads from the run besides the model
            if key in result.metrics:
                mlflow.log_metric(key, float(result.metrics[key]))
        mlflow.log_dict(model.params, "baseline/params.json")
    return _log_model(result, run, model), run.info.run_id


def candidate_scores(result: ModelResult) -> dict[str, float]:
    """Each registrable baseline's primary metric on the learned model's holdout."""
    return {name: float(result.holdout_metric(m)) for name, m in result.candidates.items()}


def _promote(
    client: Any, ws: Workspace, result: ModelResult, version: str, as_of: date, horizon: int
) -> tuple[Decision, str, float | None, dict[str, Any]]:
    """Score the current champion and the baseline candidates on this holdout, tag VERSION,
    move the alias to the best scorer: (decision, reason, champion score, champion info)."""
    name = MODEL_NAMES[result.name]
    new = float(result.metrics[result.primary])
    current = champion_version(client, name)
    champ_score, note = (
        (None, "") if current is None else _score_champion(ws, result, current, horizon)
    )
    scores = candidate_scores(result)
    decision = decide_champion(
        result.primary,
        new,
        result.bar,
        champ_score,
        None if current is None or champ_score is None else current.version,
        scores,
    )
    reason = decision.reason + (f" ({note})" if note else "")
    tags = {
        FEATURE_SERVICE_TAG: result.feature_service,
        SCORER_TAG: LEARNED,
        HORIZON_TAG: str(horizon),
        "as_of": str(as_of),
        "test_snapshot": str(result.data.get("test_snapshot")),
        metric_key(result.primary): f"{new:.6f}",
        PRIMARY_TAG: metric_key(result.primary),
        "features": ",".join(result.features),
        "promotion": reason,
    }
    for key, value in tags.items():
        client.set_model_version_tag(name, version, key, value)
    serving, run_id = version, ""
    if decision.scorer not in (LEARNED, "champion"):
        score = scores[decision.scorer]
        serving, run_id = _register_baseline(client, ws, result, decision.scorer, score, as_of)
        tags |= {
            SCORER_TAG: decision.scorer,
            metric_key(result.primary): f"{score:.6f}",
            "features": ",".join(result.candidates[decision.scorer].columns),
        }
        for key, value in tags.items():
            client.set_model_version_tag(name, serving, key, value)
    if decision.promote:
        if current is not None and str(current.version) != str(serving):
            _tag_previous(client, name, serving, str(current.version), champ_score)
        client.set_registered_model_alias(name, CHAMPION, serving)
    if decision.scorer == "champion" and current is not None:
        serving = str(current.version)
    measured = {LEARNED: new, **scores}
    if champ_score is not None:
        measured["champion"] = champ_score
    champion = {
        "version": serving,
        "scorer": decision.scorer if decision.scorer != "champion" else _scorer_of(current),
        "reason": reason,
        "candidates": measured,
    }
    if run_id:
        champion["run_id"] = run_id
    return decision, reason, champ_score, champion


def _tag_previous(client: Any, name: str, version: str, previous: str, score: float | None) -> None:
    """Record on VERSION the champion it replaces and that one's score on the same holdout
    (the alias keeps no history; the operator page shows "previous champion vN" from this)."""
    client.set_model_version_tag(name, version, PREVIOUS_TAG, previous)
    if score is not None and np.isfinite(score):
        client.set_model_version_tag(name, version, PREVIOUS_SCORE_TAG, f"{score:.6f}")


def _scorer_of(version: Any) -> str:
    return str((version.tags or {}).get(SCORER_TAG, LEARNED)) if version is not None else ""


def log_and_register(
    result: ModelResult,
    settings: Settings,
    ws: Workspace,
    as_of: date,
    figures: dict[str, Any],
    stages: Stages | None = None,
) -> dict[str, Any]:
    """Log params/metrics/config/plots + the model, register it, keep a champion."""
    stages = stages or Stages()
    horizon = settings.training.horizon_days
    with stages(f"{result.name}.mlflow_log"):
        run = _log_run(result, settings, ws, as_of, figures)
    with stages(f"{result.name}.log_model_register"):
        version = _log_model(result, run)
    with stages(f"{result.name}.promotion"):
        decision, reason, champ_score, champion = _promote(
            configure(ws), ws, result, version, as_of, horizon
        )
    return {
        "run_id": run.info.run_id,
        "model_name": MODEL_NAMES[result.name],
        "version": version,
        "promoted": decision.promote and decision.scorer == LEARNED,
        "reason": reason,
        "champion_score": champ_score,
        "champion": champion,
        "horizon_days": horizon,
        "metrics": result.metrics,
        "baselines": result.baselines,
    }
