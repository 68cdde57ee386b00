"""A champion always exists, and every registered model loads where GroupPush does not.

A deliberately weak learned model (one boosting round of two leaves) loses to its baselines
on a fresh registry: the best baseline is registered with its fitted parameters and takes
`champion`, and every consumer (export, evaluate, serving's loader) works with it. Then each
registered version, learned and baseline, is loaded with plain `mlflow.pyfunc` in a
subprocess that cannot import the project (see `isolated_predict`)."""

from __future__ import annotations

import json
import subprocess
import sys
import sysconfig
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from configs.settings import Settings
from configs.workspace import Workspace
from tests.training.conftest import copy_workspace, small_settings
from training.registry import CHAMPION, MODEL_NAMES, configure, decide_champion

pytestmark = pytest.mark.integration


def test_decide_champion_serves_the_best_scorer() -> None:
    win = decide_champion("auc", 0.80, 0.75, None, None, {"bgnbd": 0.70})
    assert win.promote and win.scorer == "learned"
    lose = decide_champion("auc", 0.70, 0.75, None, None, {"bgnbd": 0.75, "rfm_score": 0.72})
    assert lose.promote and lose.scorer == "bgnbd" and "bgnbd" in lose.reason
    keep = decide_champion("auc", 0.70, 0.75, 0.76, "3", {"bgnbd": 0.75})
    assert not keep.promote and keep.scorer == "champion" and "v3 stays" in keep.reason
    tie = decide_champion("auc", 0.75, 0.75, 0.75, "3", {"bgnbd": 0.75})
    assert not tie.promote and tie.scorer == "champion"  # a tie keeps the champion
    nothing = decide_champion("auc", float("nan"), 0.75, None, None, {"bgnbd": float("nan")})
    assert nothing.promote and nothing.scorer == "learned"  # still a champion


@pytest.fixture(scope="module")
def weak(
    tmp_path_factory: pytest.TempPathFactory, synthetic_ws: Workspace, as_of: date
) -> tuple[Settings, Workspace, dict[str, Any]]:
    """train(all) with a learned model too weak to beat its baselines, on a fresh registry."""
    from grouppush.train_features import train_with_features

    ws = copy_workspace(synthetic_ws, tmp_path_factory.mktemp("weak"))
    settings = small_settings(num_boost_round=1, num_leaves=2, learning_rate=0.01)
    return settings, ws, train_with_features(settings, ws, "all", as_of, show_progress=False)


def test_a_baseline_takes_champion_when_the_learned_model_loses(
    weak: tuple[Settings, Workspace, dict[str, Any]],
) -> None:
    _, ws, result = weak
    rep = result["repurchase"]
    assert not rep["promoted"], rep["reason"]
    champ = rep["champion"]
    assert champ["scorer"] in ("recency_rule", "rfm_score", "bgnbd"), champ
    assert champ["version"] != rep["version"]
    # the registrable BG/NBD is the reported BG/NBD baseline (same fit, from features)
    assert abs(champ["candidates"]["bgnbd"] - rep["baselines"]["bgnbd"]["auc"]) < 0.005
    best = max(champ["candidates"].values())
    assert champ["candidates"][champ["scorer"]] == best > champ["candidates"]["learned"]
    client = configure(ws)
    for kind in ("repurchase", "interest"):
        alias = client.get_model_version_by_alias(MODEL_NAMES[kind], CHAMPION)
        assert str(alias.version) == result[kind]["champion"]["version"]
        assert alias.tags["scorer"] == result[kind]["champion"]["scorer"]
    run = client.get_run(champ["run_id"])
    assert run.data.tags["scorer"] == champ["scorer"]
    assert any(k.startswith("baseline.") for k in run.data.params)  # its fitted parameters


def test_promotion_records_the_previous_champion(
    weak: tuple[Settings, Workspace, dict[str, Any]], tmp_path: Path, as_of: date
) -> None:
    """A learned model that beats the baseline champion takes the alias and records the
    version it replaced and that version's score on the same holdout (the operator page)."""
    import shutil

    from grouppush.train_features import train_with_features
    from tests.training.conftest import copy_workspace
    from training.registry import PREVIOUS_SCORE_TAG, PREVIOUS_TAG, PRIMARY_TAG

    _, src, first = weak
    ws = copy_workspace(src, tmp_path / "ws")
    shutil.copytree(src.mlflow, ws.mlflow)  # the weak run's registry: a baseline is champion
    old = first["repurchase"]["champion"]["version"]
    out = train_with_features(small_settings(), ws, "repurchase", as_of, show_progress=False)
    out = out["repurchase"]
    assert out["promoted"], out["reason"]
    tags = configure(ws).get_model_version(MODEL_NAMES["repurchase"], out["version"]).tags
    assert tags[PREVIOUS_TAG] == old != out["version"]
    assert float(tags[PREVIOUS_SCORE_TAG]) == pytest.approx(out["champion_score"], abs=1e-6)
    assert float(tags[PREVIOUS_SCORE_TAG]) < float(tags[tags[PRIMARY_TAG]])
    assert PREVIOUS_TAG not in configure(ws).get_model_version(MODEL_NAMES["repurchase"], old).tags
    # evaluate scores the previous champion on its holdout next to the champion and baselines
    from training.evaluate import evaluate

    held = evaluate(small_settings(), ws, as_of, show_progress=False)["held_out"]["repurchase"]
    previous = held["candidates"][f"previous champion v{old}"]
    assert 0.5 < previous["auc"] < held["model"]["auc"], (previous, held["model"])


def test_every_consumer_works_with_a_baseline_champion(
    weak: tuple[Settings, Workspace, dict[str, Any]], tmp_path: Path, as_of: date
) -> None:
    from grouppush.cli import app
    from serving.models import champion_versions, load_champions
    from training.datasets import snapshot_table

    settings, ws, result = weak
    config = tmp_path / "settings.yaml"
    config.write_text("training:\n  feature_source: offline\n  n_snapshots: 3\n", "utf-8")
    base = ["--workspace", str(ws.root), "--preset", "tiny", "--config", str(config)]
    runner = CliRunner()
    for args in (
        ["export", "scores", "--as-of", str(as_of), "--out", str(tmp_path / "s.csv")],
        ["export", "interest", "--as-of", str(as_of), "--out", str(tmp_path / "i.parquet")],
        ["evaluate", "--as-of", str(as_of), "--json"],
    ):
        got = runner.invoke(app, [*base, *args])
        assert got.exit_code == 0, (args, got.output, got.exception)
        assert "Traceback" not in got.output
    evaluated = json.loads(got.stdout[got.stdout.index("{") :])
    scores = pd.read_csv(tmp_path / "s.csv")
    assert scores["repurchase_prob"].between(0, 1).all() and scores["user_id"].is_unique
    assert (
        scores["model_version"].iloc[0].endswith("/" + result["repurchase"]["champion"]["version"])
    )
    metrics = json.loads((ws.reports / "metrics.json").read_text(encoding="utf-8"))
    shown = metrics["held_out"]["repurchase"]
    assert "model" in shown and "bgnbd" in shown["baselines"]
    learned = f"learned v{result['repurchase']['version']}"
    assert learned in shown["candidates"]  # the learned model that lost is still reported
    assert f"candidate: {learned}" in (ws.reports / "evaluation.html").read_text("utf-8")
    # the evaluation run: metrics, the report, linked to the champions' versions and runs
    client = configure(ws)
    run = client.get_run(evaluated["report"]["mlflow_run_id"])
    champ = result["repurchase"]["champion"]
    assert run.data.tags["champion.repurchase.version"] == champ["version"]
    assert run.data.tags["champion.repurchase.run_id"] == champ["run_id"]
    assert "held_out.repurchase.model.auc" in run.data.metrics
    logged = {a.path for a in client.list_artifacts(run.info.run_id, "evaluation")}
    assert logged == {"evaluation/evaluation.html", "evaluation/metrics.json"}
    # serving's loader: the champion versions load and score user_activity rows
    uri = ws.mlflow_tracking_uri
    loaded = load_champions(uri, champion_versions(uri))
    activity = snapshot_table(ws, "user_activity", as_of, None)
    prob = loaded["repurchase"].predict(activity)
    assert len(prob) == len(activity) and np.isfinite(prob).all()
    # the interest champion through serving's scorer (fast path declines, frames path scores)
    from serving.interest_scoring import as_arrow, score_interest

    interest = as_arrow(snapshot_table(ws, "user_interest", as_of, None))
    stats = snapshot_table(ws, "category_stats", as_of, None)
    scored = score_interest(loaded["interest"], interest, stats, activity, 5)
    assert scored is not None and len(scored[1]) and np.isfinite(scored[1]).all()


ISOLATED = r"""
import importlib.util, json, sys
sys.path.append(SITE)  # site-packages without its .pth files: no editable GroupPush finder
for name in ("features", "modelinput", "training", "configs", "serving", "grouppush"):
    assert importlib.util.find_spec(name) is None, name + " is importable"
import pandas as pd
import mlflow
mlflow.set_tracking_uri(URI)
mlflow.set_registry_uri(URI)
out = {}
for uri in MODELS:
    model = mlflow.pyfunc.load_model(uri)
    frame = pd.read_parquet(FRAMES[uri])
    schema = model.metadata.get_input_schema()  # as a user would: the declared column types
    for name, kind in zip(schema.input_names(), schema.input_types()):
        if getattr(kind, "name", "") == "double":
            frame[name] = frame[name].astype("float64")
    pred = model.predict(frame)
    spec = model.metadata.get_output_schema().to_dict()[0]
    out[uri] = {"shape": list(pred.shape), "spec": spec, "min": float(pred.min()),
                "max": float(pred.max())}
OURS = ("features", "modelinput", "training", "configs")
leaked = sorted(m for m in sys.modules if m.split(".")[0] in OURS)
print(json.dumps({"models": out, "leaked": leaked}), flush=True)
import os
# skip interpreter teardown: a native thread pool once aborted it ("terminate called without
# an active exception", exit -6) after the answer was printed; the answer is what is tested
os._exit(0)
"""


def isolated_predict(ws: Workspace, frames: dict[str, Path], tmp: Path) -> dict[str, Any]:
    """Run ISOLATED with `python -I -S` from an empty directory: no cwd, PYTHONPATH, user
    site or .pth files on sys.path, so the editable install's finder is absent and the
    project cannot be imported; only the venv's site-packages (MLflow, sklearn, LightGBM)
    are added. The honest stand-in for a fresh environment with the model's requirements."""
    site = sysconfig.get_paths()["purelib"]
    head = f"SITE={site!r}\nURI={ws.mlflow_tracking_uri!r}\nMODELS={list(frames)!r}\n"
    head += f"FRAMES={ {k: str(v) for k, v in frames.items()}!r}\n"
    empty = tmp / "elsewhere"
    empty.mkdir(parents=True)
    proc = subprocess.run(
        [sys.executable, "-I", "-S", "-c", head + ISOLATED],
        cwd=empty,
        capture_output=True,
        text=True,
        timeout=300,
        env={"PATH": "/usr/bin:/bin", "HOME": str(empty)},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def test_every_registered_model_loads_without_the_project(
    weak: tuple[Settings, Workspace, dict[str, Any]],
    trained: tuple[Settings, Workspace, dict[str, Any]],
    tmp_path: Path,
    as_of: date,
) -> None:
    from modelinput.pairs import build_pairs
    from training.datasets import snapshot_table

    frames: dict[str, Path] = {}
    for (_, ws, result), label in ((weak, "weak"), (trained, "trained")):
        activity = snapshot_table(ws, "user_activity", as_of, None).head(50)
        interest = snapshot_table(ws, "user_interest", as_of, None).head(20)
        stats = snapshot_table(ws, "category_stats", as_of, None)
        pairs = build_pairs(interest, stats, activity, 5)
        for kind, frame in (("repurchase", activity), ("interest", pairs)):
            versions = {result[kind]["version"], result[kind]["champion"]["version"]}
            for version in versions:
                path = tmp_path / f"{label}-{kind}-{version}.parquet"
                frame.to_parquet(path)
                frames[f"models:/{MODEL_NAMES[kind]}/{version}"] = path
        got = isolated_predict(ws, frames, tmp_path / label)
        assert got["leaked"] == []
        for uri, info in got["models"].items():
            assert info["shape"][1] == 2 == info["spec"]["tensor-spec"]["shape"][1], (uri, info)
            assert 0.0 <= info["min"] <= info["max"] <= 1.0
        frames = {}


def test_the_best_push_rule_serves_when_the_push_model_loses(
    tmp_path_factory: pytest.TempPathFactory, synthetic_ws: Workspace, as_of: date
) -> None:
    """A push model too weak to beat the rules: the best rule is registered and takes
    `champion`, with the cold rate the service's snapshot scales cold members by."""
    from configs import columns as C
    from features.contract.io import read_table
    from grouppush.train_features import train_with_features
    from training.baseline_models import PUSH_RULES

    ws = copy_workspace(synthetic_ws, tmp_path_factory.mktemp("weak_push"))
    users = sorted(read_table(ws.data, "orders")[C.USER_ID].astype(str).unique())
    groups = [f"g{i % 8}" for i in range(len(users))]  # 8 groups of ~50 members
    pd.DataFrame({C.GROUP_ID: groups, C.USER_ID: users}).to_parquet(ws.data / "memberships.parquet")
    settings = small_settings(num_boost_round=1, num_leaves=2, learning_rate=0.01)
    push = train_with_features(settings, ws, "push", as_of, show_progress=False)["push"]
    champ = push["champion"]
    assert champ["scorer"] in PUSH_RULES, champ
    assert champ["candidates"][champ["scorer"]] == max(champ["candidates"].values())
    client = configure(ws)
    alias = client.get_model_version_by_alias(MODEL_NAMES["push"], CHAMPION)
    assert str(alias.version) == champ["version"] and alias.tags["scorer"] == champ["scorer"]
    metrics = client.get_run(champ["run_id"]).data.metrics
    assert metrics["cold_rate"] == pytest.approx(push["metrics"]["cold_rate"])
