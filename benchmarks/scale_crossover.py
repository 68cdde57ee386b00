"""Where Spark's fixed costs put the crossover with DuckDB, from the bench_scale results.

Each engine's build time is modelled as T(n) = fixed + n * per_line over the order lines n
of the presets measured by benchmarks/bench_scale.py (least squares over tiny / demo / large,
same code, same machine; a Spark run cut by bench_scale's watchdog counts with its timeout,
which makes Spark's fitted per-line cost a lower bound). Spark catches up with DuckDB only
if its per-line cost is lower: n* = (fixed_spark - fixed_duckdb) / (per_line_duckdb -
per_line_spark). On a cluster of k workers like this machine, Spark's per-line cost divides
by at most k while its fixed cost stays, so the script also reports the smallest k that gives
a crossover and n* for a few k.
Writes benchmarks/results/scale_crossover.json.

Example:
    .venv/bin/python benchmarks/scale_crossover.py
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"
PRESETS = ("tiny", "demo", "large")


def _points(engine: str) -> list[dict[str, Any]]:
    """(preset, order lines, build seconds per as-of date) of every finished run."""
    out = []
    for preset in PRESETS:
        path = RESULTS / f"scale_{preset}.json"
        if not path.exists():
            continue
        res = json.loads(path.read_text(encoding="utf-8"))
        if "order_lines" not in res:
            continue
        spark = res.get("spark", {})
        build = res["duckdb_build"] if engine == "duckdb" else spark.get("build")
        point = {"preset": preset, "order_lines": res["order_lines"]}
        if build:
            out.append({**point, "seconds": build["seconds"] / len(res["dates"])})
        elif engine == "spark" and "timed_out_after_seconds" in spark:
            # cut by the watchdog: the real time is longer, so the fit is a lower bound
            seconds = spark["timed_out_after_seconds"] / len(res["dates"])
            out.append({**point, "seconds": seconds, "lower_bound": True})
    return out


def fit(points: list[dict[str, Any]]) -> dict[str, float]:
    """Least-squares fixed seconds and microseconds per order line (needs two presets)."""
    n = np.array([p["order_lines"] for p in points], dtype=float)
    t = np.array([p["seconds"] for p in points], dtype=float)
    per_line, fixed = np.polyfit(n, t, 1)
    return {"fixed_seconds": float(fixed), "us_per_line": float(per_line * 1e6)}


def crossover(duck: dict[str, float], spark: dict[str, float], workers: int = 1) -> float | None:
    """Order lines where Spark on WORKERS machines like this one matches DuckDB on one; None
    when Spark's per-line cost stays higher (never breaks even)."""
    gain = duck["us_per_line"] - spark["us_per_line"] / workers
    if gain <= 0:
        return None
    return (spark["fixed_seconds"] - duck["fixed_seconds"]) / gain * 1e6


def main() -> None:
    duck_pts, spark_pts = _points("duckdb"), _points("spark")
    out: dict[str, Any] = {"duckdb_points": duck_pts, "spark_points": spark_pts}
    if len(duck_pts) >= 2 and len(spark_pts) >= 2:
        duck, spark = fit(duck_pts), fit(spark_pts)
        ratio = spark["us_per_line"] / max(duck["us_per_line"], 1e-12)
        out |= {
            "spark_fit_is_lower_bound": any(p.get("lower_bound") for p in spark_pts),
            "duckdb_fit": duck,
            "spark_local_fit": spark,
            "spark_per_line_vs_duckdb": ratio,
            "crossover_order_lines_local": crossover(duck, spark),
            "min_workers_for_crossover": int(np.floor(ratio)) + 1,
            "crossover_order_lines_by_workers": {
                k: crossover(duck, spark, k) for k in (2, 4, 8, 16, 32, 64)
            },
        }
    path = RESULTS / "scale_crossover.json"
    path.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
