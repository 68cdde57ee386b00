"""Time `grouppush export segments` end to end (CLI process: imports, tables, model, write).

The workspace must already hold features and a trained repurchase champion (without one the
export still runs, without model-based tags; the JSON says which). Runs the CLI `--repeat`
times and reports the median and every run, the child's peak RSS, the row and user counts and
the load average. Writes benchmarks/results/segments_<preset>.json.
Target (DESIGN.md section 9): segment export for 1M users <= 30 s.

Example (large preset: run under the shared lock):
    flock /work/bench/large.lock .venv/bin/python benchmarks/bench_segments.py \
        --preset large --workspace /work/bench/h3_large
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
TARGET_SECONDS = 30.0
EXPECTED_COLUMNS = ("segment_id", "user_id", "score")


def _child_peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # Linux: KiB


def _check(out: Path) -> dict[str, Any]:
    """Rows, users and segments of the exported file; fails when a documented column is absent."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    table = pq.read_table(out)
    missing = [c for c in EXPECTED_COLUMNS if c not in table.column_names]
    if missing:
        raise SystemExit(f"{out}: documented column(s) missing: {missing}")
    segments = pc.unique(table.column("segment_id"))
    kinds = {}
    if "segment_kind" in table.column_names:
        counts = pc.value_counts(table.column("segment_kind")).to_pylist()
        kinds = {c["values"]: c["counts"] for c in counts}
    return {
        "rows": table.num_rows,
        "users": len(pc.unique(table.column("user_id"))),
        "segments": len(segments),
        "rows_by_kind": kinds,
        "file_mib": round(out.stat().st_size / 2**20, 1),
    }


def run(preset: str, workspace: Path, repeat: int) -> dict[str, Any]:
    out = workspace / "segs.parquet"
    cmd = [sys.executable, "-m", "grouppush.cli", "-w", str(workspace), "export", "segments"]
    cmd += ["--out", str(out)]
    seconds = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        seconds.append(round(time.perf_counter() - start, 2))
    median = statistics.median(seconds)
    return {
        "preset": preset,
        "workspace": str(workspace),
        "command": " ".join(cmd),
        "seconds_runs": seconds,
        "seconds_median": median,
        "peak_rss_mib": round(_child_peak_rss_mib(), 1),
        "load_avg_1_5_15": [round(x, 2) for x in os.getloadavg()],
        "cpus": os.cpu_count(),
        "output": _check(out),
        "target_seconds": TARGET_SECONDS,
        "target_met": median <= TARGET_SECONDS,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="large")
    parser.add_argument("--workspace", type=Path, required=True)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    result = run(args.preset, args.workspace.resolve(), args.repeat)
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"segments_{args.preset}.json"
    path.write_text(json.dumps(result, indent=2), encoding="utf-8")
    print(json.dumps(result, indent=2))
    print(f"-> {path}")


if __name__ == "__main__":
    main()
