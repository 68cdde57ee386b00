"""Scale-out figures on one preset, in one run: DuckDB vs Spark feature build (same dates, same
data, separate workspaces), then the online load into SQLite vs Redis (+ the Redis snapshot
publish a service replica reads). Writes benchmarks/results/scale_<preset>.json.

Spark runs in local mode (`features.spark_master`, default local[2]) unless --spark-master is
given; Redis is a throwaway `redis-server` on a free 127.0.0.1 port unless --redis is given.

Example:
    .venv/bin/python benchmarks/bench_scale.py --preset tiny
    .venv/bin/python benchmarks/bench_scale.py --preset demo --dates 1 --skip-spark
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import subprocess
import time
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import psutil

from configs.settings import Settings, load_settings
from configs.workspace import Workspace, resolve_workspace

RESULTS = Path(__file__).resolve().parent / "results"


def _with_features(settings: Settings, **update: Any) -> Settings:
    return settings.model_copy(update={"features": settings.features.model_copy(update=update)})


@contextmanager
def _redis(url: str | None, work: Path):  # type: ignore[no-untyped-def]
    """Yield a Redis connection string: URL as given, or a local throwaway server."""
    if url:
        yield url
        return
    import redis

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    from features.redis_snapshot import local_server_command

    proc = subprocess.Popen(local_server_command(port, work), stdout=subprocess.DEVNULL)
    try:
        client = redis.Redis(host="127.0.0.1", port=port)
        for _ in range(80):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.25)
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def _build(settings: Settings, ws: Workspace, dates: list) -> dict[str, Any]:  # type: ignore[type-arg]
    from features.build import run_snapshots

    start = time.perf_counter()
    out = run_snapshots(settings, ws, dates, show_progress=False)
    return {"seconds": time.perf_counter() - start, "stages": out["seconds"], "rows": out["rows"]}


def _online(settings: Settings, ws: Workspace, as_of: Any) -> dict[str, Any]:
    from features.online import load_online
    from features.store import apply_definitions, get_store

    store = get_store(ws, settings.features)
    apply_definitions(store, ws)
    loaded = load_online(store, ws, as_of, settings.features)
    out = {"seconds": loaded["seconds"], "rows": loaded["rows"], "rows_per_s": loaded["rows_per_s"]}
    if settings.features.online_store == "redis":
        from features.redis_snapshot import publish_workspace

        manifest = publish_workspace(ws, settings.features, as_of)
        out["snapshot_publish"] = {"seconds": manifest["seconds"], "bytes": manifest["bytes"]}
    return out


def run(args: argparse.Namespace) -> dict[str, Any]:
    from features.snapshots import default_as_of

    settings = load_settings(args.preset, overrides={"simulate": {"seed": args.seed}})
    root = args.workspace
    duck = resolve_workspace(root / "duckdb")
    if not (duck.data / "orders.parquet").exists():
        from features.simulate import simulate

        simulate(settings, duck.data, duck.truth, show_progress=False)
    as_of = default_as_of(duck.data)
    dates = [as_of - timedelta(days=30 * i) for i in range(args.dates)]
    result: dict[str, Any] = {
        "preset": args.preset,
        "as_of": as_of.isoformat(),
        "dates": [str(d) for d in dates],
        "machine": {
            "cpus": psutil.cpu_count(),
            "ram_gib": psutil.virtual_memory().total / 2**30,
            "load_avg_1m_at_start": psutil.getloadavg()[0],
        },
    }
    result["duckdb_build"] = _build(settings, duck, dates)
    if not args.skip_spark:
        spark = resolve_workspace(root / "spark")
        shutil.rmtree(spark.root, ignore_errors=True)
        shutil.copytree(duck.data, spark.data)
        spark_settings = _with_features(
            settings,
            engine="spark",
            spark_master=args.spark_master or settings.features.spark_master,
        )
        from features.engine_spark import spark_session

        start = time.perf_counter()
        session = spark_session(spark_settings.features)
        result["spark_session_start_seconds"] = time.perf_counter() - start
        result["spark_master"] = session.sparkContext.master
        result["spark_build"] = _build(spark_settings, spark, dates)
    result["sqlite_online"] = _online(settings, duck, as_of)
    if not args.skip_redis:
        with _redis(args.redis, root) as url:
            redis_settings = _with_features(
                settings, online_store="redis", redis_connection_string=url
            )
            result["redis_online"] = _online(redis_settings, duck, as_of)
    result["machine"]["load_avg_1m_at_end"] = psutil.getloadavg()[0]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add = parser.add_argument
    add("--preset", default="tiny", choices=["tiny", "demo", "large", "shop"])
    add("--dates", type=int, default=2, help="as-of dates, 30 days apart")
    add("--spark-master", default=None, help="e.g. local[2], spark://host:7077")
    add("--redis", default=None, help="host:port of an existing Redis")
    add("--skip-spark", action="store_true")
    add("--skip-redis", action="store_true")
    add("--seed", type=int, default=42)
    add(
        "--workspace",
        type=Path,
        default=None,
        help="root for the two workspaces (default /tmp/grouppush_scale_<preset>)",
    )
    args = parser.parse_args()
    args.workspace = args.workspace or Path(f"/tmp/grouppush_scale_{args.preset}")
    result = run(args)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"scale_{args.preset}.json"
    out.write_text(json.dumps(result, indent=2, default=str) + "\n", encoding="utf-8")
    brief = {
        k: round(v["seconds"], 2)
        for k, v in result.items()
        if isinstance(v, dict) and "seconds" in v
    }
    print(json.dumps({"out": str(out), "seconds": brief}, indent=1))


if __name__ == "__main__":
    main()
