"""Wall time of `grouppush --help` and every command's `--help` (target <= 1 s each: heavy
libraries are imported inside the commands that use them, DESIGN.md section 9).

Each measurement is a fresh process running the installed console script, as a user types
it; the median of --repeat runs is reported with the load average, since on a shared
2-core machine the load moves the figure more than the code does.

Example:
    uv run python benchmarks/bench_cli_help.py --repeat 5
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
TARGET_SECONDS = 1.0


def help_commands() -> list[list[str]]:
    """[], then every command path of the CLI (from the app itself, so none is missed)."""
    import typer.main

    from grouppush.cli import app

    root = typer.main.get_command(app)
    out: list[list[str]] = [[]]
    for name, cmd in root.commands.items():  # type: ignore[attr-defined]
        subs = getattr(cmd, "commands", None)
        out += [[name, sub] for sub in subs] if subs else [[name]]
    return out


def time_help(exe: str, args: list[str], repeat: int) -> tuple[list[float], list[float]]:
    """Wall seconds and CPU seconds (user + system of the child) per run: on a loaded machine
    the CPU time is the figure the code controls."""
    walls, cpus = [], []
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run([exe, *args, "--help"], check=True, capture_output=True)
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return walls, cpus


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--out", type=Path, default=RESULTS / "cli_help.json")
    args = parser.parse_args()
    exe = shutil.which("grouppush") or str(Path(sys.executable).parent / "grouppush")
    load_before = os.getloadavg()
    rows = {}
    for cmd in help_commands():
        walls, cpus = time_help(exe, cmd, args.repeat)
        rows[" ".join(["grouppush", *cmd, "--help"])] = {
            "median_s": round(statistics.median(walls), 3),
            "min_s": round(min(walls), 3),
            "max_s": round(max(walls), 3),
            "median_cpu_s": round(statistics.median(cpus), 3),
        }
    worst = max(r["median_s"] for r in rows.values())
    result = {
        "repeat": args.repeat,
        "target_s": TARGET_SECONDS,
        "worst_median_s": worst,
        "worst_median_cpu_s": max(r["median_cpu_s"] for r in rows.values()),
        "met": worst <= TARGET_SECONDS,
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "cpu_count": os.cpu_count(),
        "commands": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
