"""Exports: documented columns, one row per user, ranks 1..k without gaps; evaluate report."""

from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

import pandas as pd
import pytest

from configs import columns as C
from configs.settings import Settings
from configs.workspace import Workspace
from features.contract.io import write_parquet_atomic
from training.datasets import load_orders, utc

pytestmark = pytest.mark.integration


def test_export_scores(
    trained: tuple[Settings, Workspace, dict[str, Any]], tmp_path, as_of
) -> None:
    from training.export import export_scores

    settings, ws, _ = trained
    out = tmp_path / "scores.csv"
    n = export_scores(settings, ws, as_of, out)
    frame = pd.read_csv(out)
    assert list(frame.columns) == [C.USER_ID, C.REPURCHASE_PROB, C.MODEL_VERSION]
    assert len(frame) == n and frame[C.USER_ID].is_unique
    assert frame[C.REPURCHASE_PROB].between(0, 1).all()


def test_export_interest_ranks(
    trained: tuple[Settings, Workspace, dict[str, Any]], tmp_path, as_of: date
) -> None:
    from training.export import export_interest

    settings, ws, _ = trained
    out = tmp_path / "interest.parquet"
    n = export_interest(settings, ws, as_of, 3, out)
    frame = pd.read_parquet(out)
    assert list(frame.columns) == [C.USER_ID, C.CATEGORY_ID, C.RANK, C.SCORE, C.MODEL_VERSION]
    assert len(frame) == n
    orders = load_orders(ws)
    buyers = set(orders.loc[orders[C.ORDERED_AT] < utc(as_of), C.USER_ID])
    assert set(frame[C.USER_ID]) == buyers
    ranks = frame.groupby(C.USER_ID)[C.RANK].apply(list)
    assert ranks.apply(lambda r: r == [1, 2, 3]).all()
    assert not frame.duplicated([C.USER_ID, C.CATEGORY_ID]).any()
    scores = frame.sort_values([C.USER_ID, C.RANK]).groupby(C.USER_ID)[C.SCORE]
    assert scores.apply(lambda s: s.is_monotonic_decreasing).all()


def test_export_segments(
    trained: tuple[Settings, Workspace, dict[str, Any]], tmp_path, as_of
) -> None:
    from training.export import export_segments

    settings, ws, _ = trained
    out = tmp_path / "segments.parquet"
    n = export_segments(settings, ws, as_of, out)
    frame = pd.read_parquet(out)
    assert {C.SEGMENT_ID, C.USER_ID, C.SCORE, "segment_name", "segment_kind"} <= set(frame.columns)
    assert len(frame) == n and not frame.duplicated([C.SEGMENT_ID, C.USER_ID]).any()
    assert {"category", "persona", "model_tag"} <= set(frame["segment_kind"])
    summary = json.loads((ws.reports / "segments.json").read_text(encoding="utf-8"))
    assert summary["as_of"] == str(as_of)
    personas = frame[frame["segment_kind"] == "persona"].groupby(C.SEGMENT_ID).size()
    shown = {r["segment_id"]: r["members"] for r in summary["segments"] if r["kind"] == "persona"}
    assert shown == personas.to_dict() and summary["segments"][0]["kind"] == "persona"


def test_evaluate_writes_report_with_truth(
    trained: tuple[Settings, Workspace, dict[str, Any]], as_of: date
) -> None:
    from training.evaluate import evaluate

    settings, ws, _ = trained
    # Fake ground truth: pretend the last 30 days are the "future" after an earlier as-of.
    truth_as_of = as_of - timedelta(days=30)
    orders = pd.read_parquet(ws.data / "orders.parquet")
    stamps = pd.to_datetime(orders[C.ORDERED_AT], utc=True)
    write_parquet_atomic(orders[stamps >= utc(truth_as_of)], ws.truth / "future_orders.parquet")
    (ws.truth / "meta.json").write_text(
        json.dumps({"as_of": str(truth_as_of), "horizon_days": 30, "end_date": str(as_of)})
    )
    result = evaluate(settings, ws, as_of, show_progress=False)
    assert (ws.reports / "evaluation.html").read_text().count("data:image/png;base64") >= 3
    metrics = json.loads((ws.reports / "metrics.json").read_text())
    assert metrics["held_out"]["repurchase"]["model"]["auc"] > 0.5
    assert "bgnbd" in metrics["truth"]["repurchase"]["baselines"]
    assert metrics["truth"]["interest"]["model"]["recall@5"] > 0
    assert result["truth"]["as_of"] == str(truth_as_of)
    assert len(load_orders(ws)) > 0
