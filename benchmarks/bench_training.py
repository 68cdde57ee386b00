"""Measure `train` on a preset workspace: seconds per model, peak RSS, holdout metrics.

Simulates the preset and builds features first when the workspace has none (those steps are
timed separately and not counted as training). Writes benchmarks/results/training_<preset>.json.
Target (DESIGN.md section 9): repurchase training on the large preset <= 5 min.

Example:
    .venv/bin/python benchmarks/bench_training.py --preset demo --workspace /tmp/ws_demo
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import time
from pathlib import Path
from typing import Any

import psutil

from configs.settings import load_settings
from configs.workspace import resolve_workspace

RESULTS = Path(__file__).resolve().parent / "results"
TARGET_REPURCHASE_SECONDS = {"large": 300.0}


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def run(preset: str, workspace: Path, target: str, seed: int) -> dict[str, Any]:
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
        from features.simulate import simulate

        start = time.perf_counter()
        simulate(settings, ws.data, ws.truth, show_progress=False)
        result["simulate_seconds"] = round(time.perf_counter() - start, 2)
    if not (ws.offline / "user_activity.parquet").exists():
        from features.build import build_features

        start = time.perf_counter()
        build_features(settings, ws, None, show_progress=False)
        result["features_seconds"] = round(time.perf_counter() - start, 2)
    from training.train import train

    rss_before = _peak_rss_mib()
    start = time.perf_counter()
    out = train(settings, ws, target, None, show_progress=False)
    result["train_seconds_total"] = round(time.perf_counter() - start, 2)
    result["peak_rss_mib"] = round(_peak_rss_mib(), 1)
    result["peak_rss_mib_before_train"] = round(rss_before, 1)
    result["load_avg_1_5_15"] = [round(x, 2) for x in os.getloadavg()]  # others' jobs skew times
    for kind in ("repurchase", "interest"):
        if kind in out:
            summary = out[kind]
            result[kind] = {
                "fit_seconds": summary["train_seconds"],
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
        result["repurchase_target_met"] = result["repurchase"]["fit_seconds"] <= limit
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="tiny")
    parser.add_argument("--workspace", type=Path, required=True)
    parser.add_argument("--target", default="all", choices=("repurchase", "interest", "all"))
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    result = run(args.preset, args.workspace, args.target, args.seed)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"training_{args.preset}.json"
    out.write_text(json.dumps(result, indent=2, default=str), encoding="utf-8")
    print(json.dumps(result, indent=2, default=str))
    print(f"-> {out}")


if __name__ == "__main__":
    main()
