"""The push champion's part of a snapshot build: scored from the order log, and read back
from the push cache (what a service restart, a reload or `export push-lists` pays).

Loads the workspace's snapshot without the push part, then times serving.loader._score_push
(read orders, push history, warm pairs scored by the champion, cycle suppression, cold
category scores) REPEATS times and serving.push_cache.load of the saved fields, and checks
the read-back arrays equal the scored ones. Writes wall and CPU seconds (medians), warm
entries, this process's peak RSS and the load average to
benchmarks/results/push_snapshot_<preset>.json. Large preset: run it under the shared lock.

    .venv/bin/python benchmarks/bench_push_snapshot.py --workspace /tmp/ws --preset demo
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from configs.settings import load_settings  # noqa: E402
from configs.workspace import resolve_workspace  # noqa: E402


def _timed(fn: Any) -> tuple[Any, float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workspace", type=Path, required=True)
    ap.add_argument("--preset", default="demo", help="names the results file")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--out", type=Path, default=None, help="results JSON")
    args = ap.parse_args()
    from features.stages import peak_rss_mib
    from serving import loader, push_cache

    ws, settings = resolve_workspace(args.workspace), load_settings()
    seen: dict[str, Any] = {}
    real = loader._with_push
    loader._with_push = lambda _w, _s, snap, push: seen.update(snap=snap, push=push) or snap  # type: ignore[assignment]
    loader.load_snapshot(ws, settings)
    loader._with_push = real  # type: ignore[assignment]
    if "push" not in seen:
        raise SystemExit(
            f"{args.workspace}: no push champion registered; run `train --target push`"
        )
    snap, push = seen["snap"], seen["push"]
    load_before = os.getloadavg()
    scored, walls, cpus = None, [], []
    for _ in range(args.repeats):
        scored, wall, cpu = _timed(lambda: loader._score_push(ws, settings, snap, push))
        walls.append(wall)
        cpus.append(cpu)
    if scored is None:
        raise SystemExit("the push champion could not score this workspace (see the log)")
    key = push_cache.cache_key(ws, settings, snap, f"{push.name}/{push.version}/{push.run_id}")
    assert key is not None
    push_cache.save(ws, key, scored)
    cached, cached_wall, cached_cpu = _timed(lambda: push_cache.load(ws, key))
    same = cached is not None and all(
        np.array_equal(getattr(cached.arrays, f), getattr(scored.arrays, f), equal_nan=True)
        for f in ("indptr", "indices", "prob", "info", "sub")
    )
    result = {
        "preset": args.preset,
        "workspace": str(args.workspace.resolve()),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "users": len(snap.user_ids),
        "products": len(snap.prod_ids),
        "warm_entries": len(scored.arrays.indices),
        "scored_seconds": walls,
        "scored_cpu_seconds": cpus,
        "scored_median_seconds": float(np.median(walls)),
        "scored_median_cpu_seconds": float(np.median(cpus)),
        "cached_seconds": cached_wall,
        "cached_cpu_seconds": cached_cpu,
        "cached_equals_scored": same,
        "peak_rss_mib": peak_rss_mib(),
        "load_average_before": load_before,
        "load_average": os.getloadavg(),
    }
    out = args.out or ROOT / "benchmarks" / "results" / f"push_snapshot_{args.preset}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
