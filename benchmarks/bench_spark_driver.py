"""Spark driver memory and build time per preset: does the driver grow with the data?

For each preset the contract tables are simulated once (under --scratch), then the Spark
feature build runs one as-of date in a fresh child process per master, so each process's peak
is its own:
- `local[2]`: the driver JVM also runs the executors' tasks (one process tree does it all);
- `standalone`: a master and --workers workers started on 127.0.0.1 from the installed pyspark
  (tests/scale/spark_cluster.py); the executors are the workers' children, so the driver's
  process tree (Python + its JVM) is the driver alone.
Recorded per run: build seconds, the Spark jobs the build ran, the driver's peak RSS (Python
VmHWM; Python + JVM sampled every 0.5 s) and the same right after the session started (the
start-up figure the issue compares against). JSON in benchmarks/results/spark_driver.json.

Example:
    .venv/bin/python benchmarks/bench_spark_driver.py --preset tiny --preset demo
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil

RESULTS = Path(__file__).resolve().parent / "results"
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # benchmarks.bench_scale, tests.scale.spark_cluster


def _data(preset: str, scratch: Path) -> Path:
    """The preset's contract tables, simulated once per scratch folder."""
    from configs.settings import load_settings
    from configs.workspace import resolve_workspace
    from features.simulator.simulate import simulate

    ws = resolve_workspace(scratch / f"data_{preset}")
    if not (ws.data / "orders.parquet").exists():
        simulate(load_settings(preset), ws.data, ws.truth, show_progress=False)
    return ws.data


def child(preset: str, data: Path, work: Path, master: str, conf: dict[str, str]) -> dict:  # type: ignore[type-arg]
    """One Spark build of the latest as-of date on MASTER (run in a fresh process)."""
    import shutil

    from benchmarks.bench_scale import _PeakRss
    from configs.settings import load_settings
    from features.compute import build
    from features.engine_spark import spark_session
    from features.snapshots import default_as_of
    from features.stages import peak_rss_mib
    from tests.scale.scale_helpers import workspace_with

    settings = load_settings(preset)
    features = settings.features.model_copy(
        update={"engine": "spark", "spark_master": master, "spark_conf": conf}
    )
    settings = settings.model_copy(update={"features": features})
    shutil.rmtree(work, ignore_errors=True)
    ws = workspace_with(data, work)
    as_of = default_as_of(ws.data)
    with _PeakRss() as rss:
        start = time.perf_counter()
        tracker = spark_session(settings.features).sparkContext.statusTracker()
        session_seconds = time.perf_counter() - start
        time.sleep(1.5)  # at least two samples of the started session
        at_start = {"python": peak_rss_mib(), "with_jvm": rss.peak_mib}
        jobs = len(tracker.getJobIdsForGroup())
        start = time.perf_counter()
        out = build.run_snapshots(settings, ws, [as_of], show_progress=False)
        seconds = time.perf_counter() - start
        jobs = len(tracker.getJobIdsForGroup()) - jobs
    return {
        "master": master,
        "as_of": as_of.isoformat(),
        "session_start_seconds": round(session_seconds, 2),
        "build_seconds": round(seconds, 2),
        "spark_jobs": jobs,
        "stages": out["seconds"],
        "stage_peak_rss_mib_python": out["peak_rss_mib"],
        "rows": out["rows"],
        "driver_peak_rss_mib_python": round(peak_rss_mib(), 1),
        "driver_peak_rss_mib_with_jvm": round(rss.peak_mib, 1),
        "driver_rss_mib_after_session_start": at_start,
    }


def _run_child(preset: str, data: Path, work: Path, master: str, conf: dict[str, str]) -> dict:  # type: ignore[type-arg]
    spec = json.dumps({"preset": preset, "data": str(data), "work": str(work), "master": master})
    proc = subprocess.run(
        [sys.executable, __file__, "--child", spec, "--conf-json", json.dumps(conf)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        return {"master": master, "error": proc.stderr[-3000:]}
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def run(args: argparse.Namespace) -> dict[str, Any]:
    import pyarrow.parquet as pq

    from tests.scale.spark_cluster import standalone_cluster

    result: dict[str, Any] = {
        "command": " ".join(sys.argv),
        "machine": {
            "cpus": psutil.cpu_count(),
            "ram_gib": round(psutil.virtual_memory().total / 2**30, 1),
            "load_avg_1m_at_start": psutil.getloadavg()[0],
        },
        "presets": {},
    }
    args.scratch.mkdir(parents=True, exist_ok=True)
    for preset in args.preset:
        data = _data(preset, args.scratch)
        runs: list[dict[str, Any]] = []
        result["presets"][preset] = {
            "order_lines": pq.read_metadata(data / "orders.parquet").num_rows,
            "runs": runs,
        }
        if not args.skip_local:
            local = {"spark.driver.memory": args.local_driver_memory}
            runs.append(_run_child(preset, data, args.scratch / "ws", "local[2]", local))
            _save(result, args.out)
        for workers in args.workers:
            with standalone_cluster(
                args.scratch / f"cluster_{preset}_{workers}", workers, args.worker_memory
            ) as cluster:
                conf = cluster.driver_conf(args.executor_memory)
                runs.append(_run_child(preset, data, args.scratch / "ws", cluster.master, conf))
                runs[-1]["workers"] = workers
            _save(result, args.out)
    result["machine"]["load_avg_1m_at_end"] = psutil.getloadavg()[0]
    _save(result, args.out)
    return result


def _save(result: dict[str, Any], out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, default=str) + "\n", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add = parser.add_argument
    add("--preset", action="append", choices=["tiny", "demo", "large"], help="repeatable")
    add("--workers", type=int, action="append", help="standalone workers (repeatable; 2)")
    add("--worker-memory", default="2g")
    add("--executor-memory", default="1500m")
    add("--local-driver-memory", default="2g")
    add("--skip-local", action="store_true", help="only the standalone runs")
    add("--scratch", type=Path, default=Path("/tmp/grouppush_spark_driver"))
    add("--out", type=Path, default=RESULTS / "spark_driver.json")
    add("--child", default=None, help=argparse.SUPPRESS)
    add("--conf-json", default="{}", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        spec = json.loads(args.child)
        out = child(
            spec["preset"],
            Path(spec["data"]),
            Path(spec["work"]),
            spec["master"],
            json.loads(args.conf_json),
        )
        print(json.dumps(out, default=str))
        return
    args.preset = args.preset or ["tiny"]
    args.workers = args.workers or [2]
    print(json.dumps(run(args), indent=2, default=str))


if __name__ == "__main__":
    main()
