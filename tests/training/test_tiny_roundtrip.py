"""The real chain on the tiny preset: simulate -> features build (Feast) -> train -> evaluate
-> export, loading `models:/...@champion`. Slow: a minute or two on this machine."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from configs import columns as C
from configs.settings import load_settings
from configs.workspace import resolve_workspace

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_tiny_preset_round_trip(tmp_path) -> None:
    from features.compute.build import build_features
    from features.simulator.simulate import simulate
    from training.evaluate import evaluate
    from training.export import export_interest, export_scores
    from training.train import train

    settings = load_settings("tiny")
    ws = resolve_workspace(tmp_path)
    simulate(settings, ws.data, ws.truth, show_progress=False)
    build_features(settings, ws, None, show_progress=False)
    result = train(settings, ws, "all", None, show_progress=False)
    for kind in ("repurchase", "interest"):
        assert result[kind]["version"] == "1" and result[kind]["reason"]
        assert result[kind]["metrics"]
    assert result["interest"]["promoted"], result["interest"]["reason"]
    report = evaluate(settings, ws, None, show_progress=False)
    assert (ws.reports / "evaluation.html").exists()
    metrics = json.loads((ws.reports / "metrics.json").read_text())
    assert (
        metrics["truth"]["interest"]["model"]["recall@5"]
        > (metrics["truth"]["interest"]["baselines"]["popularity"]["recall@5"])
    )
    assert "oracle" in report["truth"]["repurchase"]
    n = export_interest(settings, ws, None, 5, tmp_path / "interest.parquet")
    ranked = pd.read_parquet(tmp_path / "interest.parquet")
    assert len(ranked) == n and ranked[C.RANK].between(1, 5).all()
    if result["repurchase"]["promoted"]:
        export_scores(settings, ws, None, tmp_path / "scores.csv")
        assert pd.read_csv(tmp_path / "scores.csv")[C.USER_ID].is_unique
