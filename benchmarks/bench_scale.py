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
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import timedelta
from pathlib import Path
from typing import Any

import psutil
import pyarrow.parquet as pq

from configs.settings import Settings, load_settings
from configs.workspace import Workspace, resolve_workspace
from features.compute import build
from features.stages import Stages

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
    from features.store.redis_snapshot import local_server_command

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


class _PeakRss:
    """Peak summed RSS of this process and its children (the Spark JVM, redis-server), sampled
    every 0.5 s: the JVM heap is not in this process's VmHWM."""

    def __init__(self) -> None:
        self.peak_mib = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        me = psutil.Process()
        while not self._stop.wait(0.5):
            total = 0
            for proc in [me, *me.children(recursive=True)]:
                with suppress(psutil.Error):
                    total += proc.memory_info().rss
            self.peak_mib = max(self.peak_mib, total / 2**20)

    def __enter__(self) -> _PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()


class _StageLog(Stages):
    """build's stage timer that also keeps the stages finished so far (for a timed-out run)."""

    done: dict[str, float] = {}

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        with super().__call__(name):
            yield
        _StageLog.done = dict(self.seconds)


def _build(settings: Settings, ws: Workspace, dates: list) -> dict[str, Any]:  # type: ignore[type-arg]
    _StageLog.done = {}
    timer, build.Stages = build.Stages, _StageLog  # type: ignore[misc]
    start = time.perf_counter()
    try:
        with _PeakRss() as rss:
            out = build.run_snapshots(settings, ws, dates, show_progress=False)
    finally:
        build.Stages = timer  # type: ignore[misc]
    return {
        "seconds": time.perf_counter() - start,
        "stages": out["seconds"],
        "rows": out["rows"],
        "peak_rss_mib_python": max(out["peak_rss_mib"].values()),
        "peak_rss_mib_with_children": rss.peak_mib,
    }


def _online(settings: Settings, ws: Workspace, as_of: Any) -> dict[str, Any]:
    from features.store.feast_store import apply_definitions, get_store
    from features.store.online import load_online

    store = get_store(ws, settings.features)
    apply_definitions(store, ws)
    loaded = load_online(store, ws, as_of, settings.features)
    out = {"seconds": loaded["seconds"], "rows": loaded["rows"], "rows_per_s": loaded["rows_per_s"]}
    out["tables"] = {k: v["rows"] for k, v in loaded.get("tables", {}).items()}
    if settings.features.online_store == "redis":
        from features.store.redis_snapshot import publish_workspace

        manifest = publish_workspace(ws, settings.features, as_of)
        out["snapshot_publish"] = {"seconds": manifest["seconds"], "bytes": manifest["bytes"]}
    return out


def _save(result: dict[str, Any], out: Path) -> None:
    """Written after every step, so a killed or timed-out run keeps what it measured."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, default=str) + "\n", encoding="utf-8")


def _spark_conf(pairs: list[str]) -> dict[str, str]:
    return dict(pair.split("=", 1) for pair in pairs)


def _spark(args: argparse.Namespace, settings: Settings, duck: Workspace, dates: list) -> dict:  # type: ignore[type-arg]
    """The Spark build in its own workspace (inputs hard-linked from DuckDB's), with a
    watchdog: past --spark-timeout the stages done so far are saved and the process exits."""
    spark = resolve_workspace(args.workspace / "spark")
    shutil.rmtree(spark.root, ignore_errors=True)
    shutil.copytree(duck.data, spark.data, copy_function=os.link)
    conf = {**settings.features.spark_conf, **_spark_conf(args.spark_conf)}
    spark_settings = _with_features(
        settings,
        engine="spark",
        spark_master=args.spark_master or settings.features.spark_master,
        spark_conf=conf,
    )
    from features.engine_spark import session_conf, spark_session

    out: dict[str, Any] = {"conf": session_conf(spark_settings.features)}
    start = time.perf_counter()
    session = spark_session(spark_settings.features)
    out["session_start_seconds"] = time.perf_counter() - start
    out["master"] = session.sparkContext.master

    def give_up() -> None:
        out["timed_out_after_seconds"] = args.spark_timeout
        out["stages_done"] = _StageLog.done
        args.result["spark"] = out
        _save(args.result, args.out)
        os._exit(3)  # the JVM exits when its Python driver's pipe closes

    watchdog = threading.Timer(args.spark_timeout, give_up)
    watchdog.daemon = True
    watchdog.start()
    try:
        out["build"] = _build(spark_settings, spark, dates)
    finally:
        watchdog.cancel()
    return out


def run(args: argparse.Namespace) -> dict[str, Any]:
    """DuckDB build, online loads (SQLite, Redis), then the Spark build (slowest, watched)."""
    from features.snapshots import default_as_of

    settings = load_settings(args.preset, overrides={"simulate": {"seed": args.seed}})
    duck = resolve_workspace(args.workspace / "duckdb")
    if not (duck.data / "orders.parquet").exists():
        from features.simulator.simulate import simulate

        simulate(settings, duck.data, duck.truth, show_progress=False)
    as_of = default_as_of(duck.data)
    dates = [as_of - timedelta(days=30 * i) for i in range(args.dates)]
    result: dict[str, Any] = {
        "preset": args.preset,
        "command": " ".join(sys.argv),
        "as_of": as_of.isoformat(),
        "dates": [str(d) for d in dates],
        "order_lines": pq.read_metadata(duck.data / "orders.parquet").num_rows,
        "machine": {
            "cpus": psutil.cpu_count(),
            "ram_gib": psutil.virtual_memory().total / 2**30,
            "load_avg_1m_at_start": psutil.getloadavg()[0],
        },
    }
    args.result = result
    result["duckdb_build"] = _build(settings, duck, dates)
    _save(result, args.out)
    result["sqlite_online"] = _online(settings, duck, as_of)
    _save(result, args.out)
    if not args.skip_redis:
        with _redis(args.redis, args.workspace) as url:
            redis_settings = _with_features(
                settings, online_store="redis", redis_connection_string=url
            )
            result["redis_online"] = _online(redis_settings, duck, as_of)
        _save(result, args.out)
    if not args.skip_spark:
        result["spark"] = _spark(args, settings, duck, dates)
    result["machine"]["load_avg_1m_at_end"] = psutil.getloadavg()[0]
    _save(result, args.out)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add = parser.add_argument
    add("--preset", default="tiny", choices=["tiny", "demo", "large", "shop"])
    add("--dates", type=int, default=2, help="as-of dates, 30 days apart")
    add("--spark-master", default=None, help="e.g. local[2], spark://host:7077")
    add("--redis", default=None, help="host:port of an existing Redis")
    add("--spark-conf", action="append", default=[], help="KEY=VALUE, e.g. spark.driver.memory=6g")
    add("--spark-timeout", type=float, default=2700.0, help="seconds before the Spark build is cut")
    add("--skip-spark", action="store_true")
    add("--skip-redis", action="store_true")
    add("--seed", type=int, default=42)
    add(
        "--workspace",
        type=Path,
        default=None,
        help="root for the two workspaces (default /tmp/grouppush_scale_<preset>)",
    )
    add("--out", type=Path, default=None, help="default benchmarks/results/scale_<preset>.json")
    args = parser.parse_args()
    args.workspace = args.workspace or Path(f"/tmp/grouppush_scale_{args.preset}")
    args.out = args.out or RESULTS / f"scale_{args.preset}.json"
    result = run(args)
    brief = {
        k: round(v["seconds"], 2)
        for k, v in {**result, "spark_build": result.get("spark", {}).get("build")}.items()
        if isinstance(v, dict) and "seconds" in v
    }
    print(json.dumps({"out": str(args.out), "seconds": brief}, indent=1))


if __name__ == "__main__":
    main()
