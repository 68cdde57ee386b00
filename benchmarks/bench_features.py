"""Measure `features build` on a preset workspace: seconds per stage, peak RSS, online rows/s.

Simulates the preset into the workspace first when it has no orders. Besides the build (bulk
online writer), it times Feast's own `write_to_online_store` on a sample of user_activity rows
so the two online paths can be compared. Then, in a fresh process, the daily job: a build one
day later that keeps the already-built snapshot dates (features/compute/build_plan.py) and computes
only the new as-of date ("daily" in the JSON, with its own peak RSS). Writes
benchmarks/results/features_<preset>.json.

Example:
    .venv/bin/python benchmarks/bench_features.py --preset demo --workspace /tmp/ws_demo
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil

from configs.settings import load_settings
from configs.workspace import resolve_workspace

RESULTS = Path(__file__).resolve().parent / "results"


def _peak_rss_mib() -> float:
    from features.stages import peak_rss_mib

    return peak_rss_mib()


def _feast_writer_rate(store: Any, ws: Any, sample_rows: int) -> dict[str, float]:
    """Feast's write_to_online_store on the first SAMPLE_ROWS latest user_activity rows."""
    from features.store.feast_store import latest_snapshot

    rows = latest_snapshot(ws, "user_activity").head(sample_rows)
    start = time.perf_counter()
    store.write_to_online_store("user_activity", rows)
    secs = time.perf_counter() - start
    return {"rows": len(rows), "seconds": secs, "rows_per_s": len(rows) / secs}


def run(preset: str, workspace: Path, seed: int, feast_sample: int) -> dict[str, Any]:
    from features.compute.build import build_features
    from features.store.feast_store import get_store

    settings = load_settings(preset, overrides={"simulate": {"seed": seed}})
    ws = resolve_workspace(workspace)
    result: dict[str, Any] = {
        "preset": preset,
        "workspace": str(ws.root),
        "machine": {
            "cpus": psutil.cpu_count(),
            "python": platform.python_version(),
            "ram_gib": psutil.virtual_memory().total / 2**30,
        },
    }
    if not (ws.data / "orders.parquet").exists():
        from features.simulator.simulate import simulate

        start = time.perf_counter()
        result["simulated_rows"] = simulate(settings, ws.data, ws.truth, show_progress=False)
        result["simulate_seconds"] = time.perf_counter() - start
    result["build"] = build_features(settings, ws, show_progress=False, full=True)
    result["peak_rss_mib"] = _peak_rss_mib()
    result["load_average"] = list(psutil.getloadavg())
    store = get_store(ws, settings.features)
    result["feast_writer_sample"] = _feast_writer_rate(store, ws, feast_sample)
    bulk = result["build"]["online"]["tables"]["user_activity"]
    result["online_speedup_vs_feast"] = (
        bulk["rows_per_s"] / result["feast_writer_sample"]["rows_per_s"]
    )
    return result


def run_daily(preset: str, workspace: Path, seed: int) -> dict[str, Any]:
    """The next day's build on a built workspace (run in its own process for its peak RSS)."""
    from datetime import date, timedelta

    from features.compute.build import build_features

    settings = load_settings(preset, overrides={"simulate": {"seed": seed}})
    ws = resolve_workspace(workspace)
    last = max(date.fromisoformat(d) for d in json.loads((ws.offline / "_built.json").read_text()))
    summary = build_features(settings, ws, last + timedelta(days=1), show_progress=False)
    return {"build": summary, "peak_rss_mib": _peak_rss_mib(), "load_average": os.getloadavg()}


def _daily_in_child(args: argparse.Namespace, workspace: Path) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--phase", "daily", "--preset", args.preset]
    cmd += ["--workspace", str(workspace), "--seed", str(args.seed)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return dict(json.loads(out.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default="tiny", choices=["tiny", "demo", "large", "shop"])
    parser.add_argument(
        "--workspace",
        type=Path,
        default=None,
        help="workspace dir (default: /tmp/grouppush_bench_<preset>)",
    )
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--feast-sample",
        type=int,
        default=5_000,
        help="rows written through Feast's own writer for comparison",
    )
    parser.add_argument("--phase", choices=["all", "daily"], default="all", help=argparse.SUPPRESS)
    args = parser.parse_args()
    workspace = args.workspace or Path(f"/tmp/grouppush_bench_{args.preset}")
    if args.phase == "daily":
        print(json.dumps(run_daily(args.preset, workspace, args.seed), default=str))
        return
    result = run(args.preset, workspace, args.seed, args.feast_sample)
    result["daily"] = _daily_in_child(args, workspace)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"features_{args.preset}.json"
    out.write_text(json.dumps(result, indent=2, default=str) + "\n", encoding="utf-8")
    print(
        json.dumps(
            {
                "out": str(out),
                "seconds": result["build"]["seconds"],
                "peak_rss_mib": round(result["peak_rss_mib"]),
                "daily_seconds": result["daily"]["build"]["seconds"],
                "daily_peak_rss_mib": round(result["daily"]["peak_rss_mib"]),
                "online_rows_per_s": round(result["build"]["online"]["rows_per_s"]),
                "feast_rows_per_s": round(result["feast_writer_sample"]["rows_per_s"]),
            },
            indent=1,
        )
    )


if __name__ == "__main__":
    main()
