"""Measure `train` on a preset workspace: seconds and peak RSS per stage, holdout metrics.

Simulates the preset and builds features first when the workspace has none (those steps are
timed separately and not counted as training). Writes benchmarks/results/training_<preset>.json.
Target (DESIGN.md section 9): repurchase training on the large preset <= 5 min END TO END: the
whole `train` call (orders, Feast fetch, labels, fit, baselines, holdout, plots, MLflow logging,
registration, promotion); only snapshots that `ensure_snapshots` had to compute are left out
(that is the feature build's job, reported as `snapshot_compute_seconds`). Peak RSS is VmHWM.
--profile FILE also writes cProfile stats of the train call (slower; for finding hot spots).

Example:
    .venv/bin/python benchmarks/bench_training.py --preset demo --workspace /tmp/ws_demo
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

import psutil

from configs.settings import load_settings
from configs.workspace import resolve_workspace
from features.store.offline_tables import offline_path

RESULTS = Path(__file__).resolve().parent / "results"
TARGET_REPURCHASE_SECONDS = {"large": 300.0}


SHARED_STAGES = ("setup", "ensure_snapshots", "load_orders", "feature_store")


def model_seconds(kind: str, stages: dict[str, float], computed: bool) -> float:
    """One model's end-to-end seconds: the shared stages (minus snapshot computation) plus its
    own; about the whole call's wall time when only that model is trained."""
    shared = sum(v for k, v in stages.items() if k in SHARED_STAGES)
    if computed:
        shared -= stages.get("ensure_snapshots", 0.0)
    return shared + sum(v for k, v in stages.items() if k.startswith(f"{kind}."))


def run(
    preset: str, workspace: Path, target: str, seed: int, profile: Path | None = None
) -> dict[str, Any]:
    settings = load_settings(preset, overrides={"simulate": {"seed": seed}})
    ws = resolve_workspace(workspace)
    result: dict[str, Any] = {
        "preset": preset,
        "target": target,
        "workspace": str(ws.root),
        "machine": {
            "cpus": psutil.cpu_count(),
            "python": platform.python_version(),
            "ram_gib": round(psutil.virtual_memory().total / 2**30, 1),
        },
    }
    if not (ws.data / "orders.parquet").exists():
        from features.simulator.simulate import simulate

        start = time.perf_counter()
        simulate(settings, ws.data, ws.truth, show_progress=False)
        result["simulate_seconds"] = round(time.perf_counter() - start, 2)
    if not offline_path(ws.offline, "user_activity").exists():
        from features.compute.build import build_features

        start = time.perf_counter()
        build_features(settings, ws, None, show_progress=False)
        result["features_seconds"] = round(time.perf_counter() - start, 2)
    from features.stages import peak_rss_mib
    from training.train import train

    rss_before = peak_rss_mib()
    result["load_avg_1_5_15_before"] = [round(x, 2) for x in os.getloadavg()]
    start = time.perf_counter()
    if profile is not None:
        import cProfile

        with cProfile.Profile() as prof:
            out = train(settings, ws, target, None, show_progress=False)
        prof.dump_stats(str(profile))
    else:
        out = train(settings, ws, target, None, show_progress=False)
    total = time.perf_counter() - start
    stages = out["stages"]["seconds"]
    computed = bool(out["computed_snapshots"])
    snapshot_seconds = stages.get("ensure_snapshots", 0.0) if computed else 0.0
    result["computed_snapshots"] = out["computed_snapshots"]
    result["snapshot_compute_seconds"] = round(snapshot_seconds, 2)
    result["train_seconds_total"] = round(total, 2)
    result["train_seconds_end_to_end"] = round(total - snapshot_seconds, 2)
    result["peak_rss_mib"] = round(peak_rss_mib(), 1)
    result["peak_rss_mib_before_train"] = round(rss_before, 1)
    result["load_avg_1_5_15"] = [round(x, 2) for x in os.getloadavg()]  # others' jobs skew times
    result["stages"] = out["stages"]
    result["untimed_seconds"] = round(total - sum(stages.values()), 2)  # outside every stage
    for kind in ("repurchase", "interest"):
        if kind in out:
            summary = out[kind]
            result[kind] = {
                "end_to_end_seconds": round(model_seconds(kind, stages, computed), 2),
                "fit_target_seconds": summary["train_seconds"],
                "metrics": summary["metrics"],
                "best_baseline": {
                    k: v.get("auc", v.get("ndcg@10")) for k, v in summary["baselines"].items()
                },
                "promoted": summary["promoted"],
                "reason": summary["reason"],
                "data": summary["data"],
            }
    limit = TARGET_REPURCHASE_SECONDS.get(preset)
    if limit and "repurchase" in result:
        result["repurchase_target_seconds"] = limit
        seconds = result["train_seconds_end_to_end"]
        if target != "repurchase":  # several models: the shared stages + repurchase's own
            seconds = result["repurchase"]["end_to_end_seconds"]
        result["repurchase_target_met"] = seconds <= limit
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--workspace", type=Path, required=True)
    parser.add_argument("--target", default="all", choices=("repurchase", "interest", "all"))
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--profile", type=Path, default=None, help="write cProfile stats here")
    args = parser.parse_args()
    result = run(args.preset, args.workspace, args.target, args.seed, args.profile)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"training_{args.preset}.json"
    merged = merge_runs(out, result, args.target)
    out.write_text(json.dumps(merged, indent=2, default=str), encoding="utf-8")
    print(json.dumps(result, indent=2, default=str))
    print(f"-> {out}")


def merge_runs(out: Path, result: dict[str, Any], target: str) -> dict[str, Any]:
    """--target all: the file is this run. One model (the large preset trains each in its own
    process, so each has its own peak RSS): its run replaces runs[target] of the file, and
    the other model's run is kept."""
    if target == "all":
        return result
    runs: dict[str, Any] = {}
    if out.exists():
        previous = json.loads(out.read_text(encoding="utf-8"))
        if previous.get("preset") == result["preset"]:
            runs = dict(previous.get("runs", {}))
    runs[target] = result
    return {"preset": result["preset"], "runs": runs}


if __name__ == "__main__":
    main()
