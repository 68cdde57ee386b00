"""Push lists for every group (DESIGN.md section 9: <= 3 min on the large preset).

Runs `grouppush --workspace W export push-lists --out F` as a child process (what an operator
runs: snapshot load, every group's push list, the file write) and records its wall time, its
peak RSS (the child's ru_maxrss), and the groups and rows written, as JSON in
benchmarks/results/export_<preset>.json. Large preset: run it under the shared lock.

    flock /work/bench/large.lock .venv/bin/python benchmarks/bench_export.py \\
        --workspace /work/bench/lb --preset large
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET_SECONDS = 180.0


def run_export(workspace: Path, out: Path, log: Path) -> tuple[float, float]:
    """(wall seconds, peak RSS MiB) of one `grouppush export push-lists` child process."""
    cmd = [
        sys.executable,
        "-m",
        "grouppush.cli",
        "--workspace",
        str(workspace),
        "export",
        "push-lists",
        "--out",
        str(out),
    ]
    t0 = time.perf_counter()
    with open(log, "wb") as sink:
        proc = subprocess.run(cmd, cwd=ROOT, stdout=sink, stderr=subprocess.STDOUT, check=False)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"export failed ({proc.returncode}); see {log}")
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # Linux: KiB
    return seconds, peak_kib / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workspace", type=Path, required=True)
    ap.add_argument("--preset", default="demo", help="names the results file")
    ap.add_argument("--out", type=Path, default=None, help="results JSON")
    args = ap.parse_args()
    import pyarrow.parquet as pq

    load_before = os.getloadavg()
    scratch = Path(tempfile.mkdtemp(prefix="bench_export_"))
    table_path = scratch / "push_lists.parquet"
    seconds, peak_mb = run_export(args.workspace.resolve(), table_path, scratch / "export.log")
    table = pq.read_table(table_path, columns=["group_id", "action"])
    groups = len(table.column("group_id").unique())
    actions = table.column("action").value_counts().to_pylist()
    result = {
        "preset": args.preset,
        "workspace": str(args.workspace.resolve()),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "seconds": seconds,
        "groups": groups,
        "rows": table.num_rows,
        "rows_by_action": {a["values"]: a["counts"] for a in actions},
        "peak_rss_mb": peak_mb,
        "output_bytes": table_path.stat().st_size,
        "load_average_before": load_before,
        "load_average": os.getloadavg(),
        "target_seconds": TARGET_SECONDS,
        "meets": seconds <= TARGET_SECONDS,
    }
    table_path.unlink()
    out = args.out or ROOT / "benchmarks" / "results" / f"export_{args.preset}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
