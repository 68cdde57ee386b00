"""The champion models from the MLflow registry (aliases, never stages), loaded by pinned version.

A model records the FeatureService it was trained on (version tag `feature_service`); the
service refuses a model whose features it cannot supply instead of failing on a request.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from features.store import catalog
from serving.registry_health import is_missing, unavailable

log = logging.getLogger(__name__)

ALIAS = "champion"
PICKLE_ENV = "MLFLOW_ALLOW_PICKLE_DESERIALIZATION"
REGISTERED = {
    "repurchase": "grouppush_repurchase",
    "interest": "grouppush_interest",
    "push": "grouppush_push",
}
EXPECTED_SERVICE = {
    "repurchase": catalog.REPURCHASE_SERVICE,
    "interest": catalog.INTEREST_SERVICE,
    "push": "push_pairs_v1",  # training.push.FEATURE_SERVICE: pair features from the order log
}


@dataclass(frozen=True)
class Champion:
    kind: str  # "repurchase" | "interest"
    name: str
    version: str
    feature_service: str | None
    model: Any
    run_id: str = ""  # the training run: tells apart equal version numbers of two registries

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Positive-class probability; the pipeline picks its named columns from the frame."""
        return np.asarray(self.model.predict_proba(frame)[:, 1], dtype=np.float32)


def _client(uri: str) -> Any:
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def champion_versions(uri: str) -> dict[str, str]:
    """{kind: version} of every registered champion: a cheap check for the reload loop.
    Raises RegistryUnavailable unless the registry answered (a missing model/alias is no
    champion; a locked database or a failed connection is not)."""
    client = _client(uri)
    out: dict[str, str] = {}
    for kind, name in REGISTERED.items():
        try:
            out[kind] = str(client.get_model_version_by_alias(name, ALIAS).version)
        except Exception as exc:
            if is_missing(exc):  # no such model / alias yet: served by the heuristic
                continue
            raise unavailable(exc) from exc  # the registry did not answer: champions unknown
    return out


@contextmanager
def _pointed_at(uri: str) -> Iterator[None]:
    """MLflow's global tracking/registry URIs (and permission to unpickle) for one load of
    our own registered model, then restored.

    mlflow.set_tracking_uri also exports MLFLOW_TRACKING_URI (MLflow 3), which
    Workspace.mlflow_tracking_uri honours: left set, it would redirect other workspaces.
    """
    import mlflow

    env = os.environ.get("MLFLOW_TRACKING_URI")
    pickles = os.environ.get(PICKLE_ENV)
    tracking, registry = mlflow.get_tracking_uri(), mlflow.get_registry_uri()
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    # unpickling is allowed for the load of our own registered model only, not process-wide
    os.environ[PICKLE_ENV] = "true"
    try:
        yield
    finally:
        mlflow.set_tracking_uri(tracking)
        mlflow.set_registry_uri(registry)
        for name, value in (("MLFLOW_TRACKING_URI", env), (PICKLE_ENV, pickles)):
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def load_champions(uri: str, versions: dict[str, str] | None = None) -> dict[str, Champion]:
    """Load each champion by its pinned version (a concurrent alias move cannot mix versions)."""
    import mlflow.sklearn

    import mlflow

    client = _client(uri)
    versions = champion_versions(uri) if versions is None else versions
    out: dict[str, Champion] = {}
    for kind, version in versions.items():
        name = REGISTERED[kind]
        mv = client.get_model_version(name, version)
        service = (mv.tags or {}).get("feature_service")
        if service and service != EXPECTED_SERVICE[kind]:
            log.warning(
                "refusing %s v%s: trained on %s, serving supplies %s",
                name,
                version,
                service,
                EXPECTED_SERVICE[kind],
            )
            continue
        with _pointed_at(uri):
            model = mlflow.sklearn.load_model(f"models:/{name}/{version}")
        out[kind] = Champion(kind, name, str(version), service, model, mv.run_id or "")
    return out


def safe_predict(champion: Champion | None, frame: pd.DataFrame) -> np.ndarray | None:
    """Scores, or None (heuristic fallback) when the frame lacks what the model needs."""
    if champion is None or not len(frame):
        return None
    try:
        return champion.predict(frame)
    except (KeyError, ValueError) as exc:
        log.warning("refusing %s v%s: %s", champion.name, champion.version, exc)
        return None
