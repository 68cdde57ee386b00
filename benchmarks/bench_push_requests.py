"""In-process cost of POST /push_lists on a workspace's own snapshot (champions included).

What the HTTP benchmark (bench_serving.py) cannot separate: the service's CPU per request
without the client, the event loop or a shared machine's queueing. Loads the workspace's
snapshot once (with its push champion, when registered), then answers the bench_serving
requests (the 8 live groups closest to --members, --candidates product ids) through
serving.handlers.push_lists, JSON bytes included, round-robin. Reports the request thread's
CPU time (what a request costs, robust to other jobs on the machine) and wall time, and a
per-stage CPU split of the engine (prepare: dense scores and warm entries; select: expected
buyers and member picks; items: reasons and the answer). Writes
benchmarks/results/push_requests_<preset>.json. Large preset: under the shared lock.

    flock /work/bench/large.lock .venv/bin/python benchmarks/bench_push_requests.py \\
        --workspace /work/bench/lb --preset large
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bench_serving import request_data  # noqa: E402
from configs.settings import load_settings  # noqa: E402
from configs.workspace import resolve_workspace  # noqa: E402

STAGES = ("_prepare", "_select", "_items")


def _timed_stages(engine: Any, spent: dict[str, float]) -> Callable[[], None]:
    """Wrap the engine's stages to add their thread CPU time to SPENT; returns the undo."""
    real = {name: getattr(engine, name) for name in STAGES}

    def wrap(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.thread_time()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[name] += time.thread_time() - start

        return timed

    def undo() -> None:
        for name, fn in real.items():
            setattr(engine, name, fn)

    for name, fn in real.items():
        setattr(engine, name, wrap(name, fn))
    return undo


def measure(answer: Callable[[int], object], n_bodies: int, n: int) -> dict[str, float]:
    """Median / p90 / p99 wall and CPU milliseconds of N answers, round-robin over bodies."""
    for i in range(2 * n_bodies):  # warm-up: first-touch of memory-mapped arrays
        answer(i % n_bodies)
    wall, cpu = [], []
    for i in range(n):
        w0, c0 = time.perf_counter(), time.thread_time()
        answer(i % n_bodies)
        wall.append(time.perf_counter() - w0)
        cpu.append(time.thread_time() - c0)
    ms, cpu_ms = np.asarray(wall) * 1e3, np.asarray(cpu) * 1e3
    return {
        "n": n,
        "cpu_p50_ms": float(np.median(cpu_ms)),
        "cpu_mean_ms": float(cpu_ms.mean()),
        "cpu_p99_ms": float(np.percentile(cpu_ms, 99)),
        "wall_p50_ms": float(np.median(ms)),
        "wall_p90_ms": float(np.percentile(ms, 90)),
        "wall_p99_ms": float(np.percentile(ms, 99)),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workspace", type=Path, required=True)
    ap.add_argument("--preset", default="demo", help="names the results file")
    ap.add_argument("--members", type=int, default=500)
    ap.add_argument("--candidates", type=int, default=2000)
    ap.add_argument("--requests", type=int, default=400)
    ap.add_argument("--out", type=Path, default=None, help="results JSON")
    args = ap.parse_args()
    from serving import engine, handlers
    from serving.loader import load_snapshot
    from serving.schemas import PushListRequest

    settings = load_settings()
    started = time.perf_counter()
    snap = load_snapshot(resolve_workspace(args.workspace), settings)
    load_s = time.perf_counter() - started
    groups, products = request_data(snap, args.members, args.candidates)
    bodies = [
        PushListRequest(group_ids=[g], product_ids=products, top_k=10, members_per_product=20)
        for g in groups
    ]
    sizes = [len(snap.group_members(snap.group_index[g])) for g in groups]
    load_before = os.getloadavg()
    spent = dict.fromkeys(STAGES, 0.0)
    undo = _timed_stages(engine, spent)
    staged = measure(lambda i: handlers.push_lists(snap, bodies[i], settings), len(bodies), 100)
    undo()
    result = measure(
        lambda i: handlers.push_lists(snap, bodies[i], settings), len(bodies), args.requests
    )
    out = {
        "preset": args.preset,
        "workspace": str(args.workspace.resolve()),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "model_version": snap.model_version,
        "push_champion": snap.push_indptr is not None,
        "groups": groups,
        "group_members": sizes,
        "candidates": len(products),
        "snapshot_load_s": load_s,
        **result,
        # per request, averaged over the staged run (its own CPU mean is in stage_cpu_total_ms)
        "stage_cpu_mean_ms": {k.strip("_"): 1e3 * v / staged["n"] for k, v in spent.items()},
        "stage_cpu_total_ms": staged["cpu_mean_ms"],
        "load_average_before": load_before,
        "load_average": os.getloadavg(),
    }
    path = args.out or ROOT / "benchmarks" / "results" / f"push_requests_{args.preset}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
