"""Time the online load of a built workspace's latest as-of rows into SQLite and into Redis.

Reads the offline tables of --workspace (never writes there: the registry and the SQLite file
go to a scratch workspace whose features/offline links to them), loads them with the bulk
writer (`features.online_writer: bulk`) into Feast's SQLite store and into a throwaway
`redis-server` on a free 127.0.0.1 port (stopped after), --repeat times each, checks a sample
of keys per table through Feast's `get_online_features` against the offline rows, and times
Feast's own `write_to_online_store` on --feast-sample user_activity rows for comparison.
Writes benchmarks/results/online_<preset>.json (medians over the repeats).

Example:
    .venv/bin/python benchmarks/bench_online.py --preset demo --workspace /work/bench/readme_ws
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
from pathlib import Path
from typing import Any

import numpy as np
import psutil

from benchmarks.bench_features import _feast_writer_rate
from benchmarks.bench_scale import _redis
from configs.settings import FeatureSettings, load_settings
from configs.workspace import Workspace, resolve_workspace

RESULTS = Path(__file__).resolve().parent / "results"


def _check(store: Any, ws: Workspace, n_keys: int) -> dict[str, int]:
    """Keys per table whose Feast online values equal the offline row (all must)."""
    from features.store.catalog import TABLES
    from features.store.feast_store import latest_snapshot_arrow, online_features

    checked = {}
    for name, spec in TABLES.items():
        offline = latest_snapshot_arrow(ws, name).to_pandas().set_index(spec.entity)
        keys = list(np.random.default_rng(0).choice(offline.index, min(n_keys, len(offline))))
        online = online_features(store, name, keys).set_index(spec.entity)
        for col in spec.names:
            for key, got, want in zip(keys, online[col], offline.loc[keys, col], strict=True):
                same = _equal(got, want)
                if not same:
                    raise AssertionError(f"{name}.{col}[{key}]: online {got!r} != {want!r}")
        checked[name] = len(keys)
    return checked


def _equal(got: Any, want: Any) -> bool:
    if isinstance(want, np.ndarray | list):
        if got is None or len(got) != len(want):
            return False
        if len(want) and isinstance(want[0], str):
            return list(got) == list(want)
        return bool(np.allclose(np.asarray(got, float), np.asarray(want, float)))
    if want is None or (isinstance(want, float) and np.isnan(want)):
        return got is None or (isinstance(got, float) and np.isnan(got))
    if isinstance(want, float | np.floating):
        return bool(np.isclose(float(got), float(want), rtol=1e-12))
    return bool(got == want)


def _measure(ws: Workspace, cfg: FeatureSettings, args: argparse.Namespace) -> dict[str, Any]:
    from features.store.feast_store import apply_definitions, get_store, latest_snapshot_arrow
    from features.store.online import load_online

    store = get_store(ws, cfg)
    apply_definitions(store, ws)
    as_of = latest_snapshot_arrow(ws, "group_stats").column("event_timestamp")[0].as_py().date()
    runs = []
    for _ in range(args.repeat):
        runs.append(load_online(store, ws, as_of, cfg, show_progress=True))
    out: dict[str, Any] = {"as_of": as_of.isoformat(), "repeat": args.repeat}
    out["seconds"] = statistics.median(r["seconds"] for r in runs)
    out["rows"] = runs[0]["rows"]
    out["rows_per_s"] = out["rows"] / out["seconds"]
    out["tables"] = {
        name: {
            "rows": t["rows"],
            "seconds": statistics.median(r["tables"][name]["seconds"] for r in runs),
        }
        for name, t in runs[0]["tables"].items()
    }
    for t in out["tables"].values():
        t["rows_per_s"] = t["rows"] / t["seconds"] if t["seconds"] else 0.0
    out["all_seconds"] = [r["seconds"] for r in runs]
    out["checked_keys"] = _check(get_store(ws, cfg), ws, args.check_keys)
    out["feast_writer_sample"] = _feast_writer_rate(get_store(ws, cfg), ws, args.feast_sample)
    return out


def run(args: argparse.Namespace) -> dict[str, Any]:
    settings = load_settings(args.preset)
    source = resolve_workspace(args.workspace)
    scratch = args.scratch or Path(f"/tmp/grouppush_online_{args.preset}")
    shutil.rmtree(scratch, ignore_errors=True)
    ws = resolve_workspace(scratch)
    ws.offline.parent.mkdir(parents=True)
    ws.offline.symlink_to(source.offline.resolve(), target_is_directory=True)
    result: dict[str, Any] = {
        "preset": args.preset,
        "workspace": str(source.root),
        "writer": "bulk",
        "chunk_rows": settings.features.online_chunk_rows,
        "machine": {"cpus": psutil.cpu_count(), "ram_gib": psutil.virtual_memory().total / 2**30},
        "load_avg_1m_at_start": psutil.getloadavg()[0],
    }
    base = settings.features.model_copy(update={"online_writer": "bulk"})
    if not args.skip_sqlite:
        result["sqlite"] = _measure(ws, base.model_copy(update={"online_store": "sqlite"}), args)
        result["sqlite"]["file_bytes"] = ws.feast_online.stat().st_size
    if not args.skip_redis:
        (scratch / "redis").mkdir()
        with _redis(None, scratch / "redis") as url:  # a throwaway local redis-server
            cfg = base.model_copy(update={"online_store": "redis", "redis_connection_string": url})
            result["redis"] = _measure(ws, cfg, args)
            from features.store.redis_snapshot import redis_client

            client = redis_client(url)
            result["redis"]["used_memory_bytes"] = client.info("memory")["used_memory"]
            client.close()
    result["load_avg_1m_at_end"] = psutil.getloadavg()[0]
    result["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if not args.keep:
        shutil.rmtree(scratch, ignore_errors=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add = parser.add_argument
    add("--preset", default="demo", choices=["tiny", "demo", "large", "shop"])
    add("--workspace", type=Path, required=True, help="a workspace whose features are built")
    add("--scratch", type=Path, default=None, help="scratch workspace (default under /tmp)")
    add("--repeat", type=int, default=3, help="loads per store (medians are reported)")
    add("--check-keys", type=int, default=200, help="keys per table read back through Feast")
    add("--feast-sample", type=int, default=5000, help="rows for Feast's own writer")
    add("--skip-sqlite", action="store_true")
    add("--skip-redis", action="store_true")
    add("--keep", action="store_true", help="keep the scratch workspace")
    args = parser.parse_args()
    result = run(args)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"online_{args.preset}.json"
    out.write_text(json.dumps(result, indent=2, default=str))
    print(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main()
