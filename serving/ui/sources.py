"""Workspace reads for the models and data pages (evaluation figures, registry details, table
sizes, quarantine counts): file metadata and small files only, each failure a None or {}."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pyarrow.parquet as pq

from configs import columns as C
from configs.workspace import Workspace
from features.store import catalog
from features.store.offline_tables import date_rows, table_files
from serving.ui.tables import READ_ERRORS

log = logging.getLogger(__name__)
SEGMENTS_FILE = "segments.json"  # training.segments.SUMMARY_FILE (serving never imports training)
# model version tags training.registry writes (serving never imports training: same names)
PRIMARY_TAG, PREVIOUS_TAG, PREVIOUS_SCORE_TAG = (
    "primary_metric",
    "previous_champion",
    "previous_champion_score",
)


def feature_rows(ws: Workspace) -> dict[str, int | None]:
    """Rows of each catalog table's latest as-of file (Parquet metadata, nothing read)."""
    out: dict[str, int | None] = {}
    for name in catalog.TABLES:
        try:
            files = table_files(ws.offline, name)
            out[name] = date_rows(files[-1]) if files else None
        except READ_ERRORS:
            out[name] = None
    return out


def quarantine_counts(ws: Workspace) -> dict[str, dict[str, int]]:
    """Rejected rows per contract table and reason (the ingest quarantine files)."""
    out: dict[str, dict[str, int]] = {}
    for path in sorted(Path(ws.quarantine).glob("*.parquet")):
        try:
            reasons = pq.read_table(path, columns=[C.REASON]).column(0)
        except READ_ERRORS as exc:
            out[path.stem] = {f"unreadable: {exc}": 0}
            continue
        counts = pc.value_counts(reasons).to_pylist()
        out[path.stem] = {str(c["values"]): int(c["counts"]) for c in counts}
    return out


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None
    except (OSError, ValueError) as exc:
        log.warning("%s: unreadable (%s)", path, exc)
        return None


def read_metrics(ws: Workspace) -> dict[str, Any] | None:
    """reports/metrics.json of the latest `grouppush evaluate`, when there is one."""
    return _read_json(ws.reports / "metrics.json")


def read_segments(ws: Workspace) -> dict[str, Any] | None:
    """reports/segments.json of the latest `grouppush export segments` (training.export):
    each segment's size and description, personas first."""
    return _read_json(ws.reports / SEGMENTS_FILE)


def _number(text: str | None) -> float | None:
    try:
        return float(text) if text is not None else None
    except ValueError:
        return None


def previous_champion(tags: dict[str, str]) -> dict[str, Any] | None:
    """The champion this version replaced and both scores on this version's training holdout
    (tags `train` records when the alias moves); None when none was recorded (the first
    champion, or trained before train recorded it)."""
    previous = tags.get(PREVIOUS_TAG)
    if previous is None:
        return None
    metric = tags.get(PRIMARY_TAG)
    score, own = _number(tags.get(PREVIOUS_SCORE_TAG)), _number(tags.get(metric or ""))
    return {
        "version": previous,
        "metric": metric,
        "score": score,
        "champion_score": own,
        "delta": None if score is None or own is None else round(own - score, 6),
        "holdout": tags.get("test_snapshot"),
    }


def online_conversion(tracker: Any, snap: Any) -> list[dict[str, Any]]:
    """Per model version: the pushed and unpushed arms' conversion and the uplift over the
    metrics window (serving.feedback_eval via the worker's FeedbackTracker, as /metrics)."""
    tracker.catch_up()
    table = tracker.evaluation(snap)
    table["uplift"] = table["pushed_conversion"] - table["unpushed_conversion"]
    table = table.astype(object).where(table.notna(), None)
    return [dict(r) for r in table.to_dict("records")]


def registry_details(uri: str, versions: dict[str, str]) -> dict[str, Any]:
    """Per kind: the serving version's registration time, run id and feature service."""
    from serving.models import REGISTERED

    out: dict[str, Any] = {}
    if not versions:
        return out
    try:
        from mlflow import MlflowClient

        client = MlflowClient(tracking_uri=uri, registry_uri=uri)
        for kind, version in versions.items():
            if kind not in REGISTERED or not str(version).isdigit():
                continue
            mv = client.get_model_version(REGISTERED[kind], str(version))
            tags = mv.tags or {}
            out[kind] = {
                "name": REGISTERED[kind],
                "version": str(version),
                "registered_ms": mv.creation_timestamp,
                "run_id": mv.run_id,
                "feature_service": tags.get("feature_service"),
                "trained_as_of": tags.get("as_of"),
                "scorer": tags.get("scorer"),
                "previous_champion": previous_champion(tags),
            }
    except Exception as exc:  # noqa: BLE001 - the page still shows the serving versions
        log.warning("MLflow registry unavailable for the operator page (%s)", exc)
    return out
