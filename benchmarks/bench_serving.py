"""Push-list latency and throughput over HTTP on loopback (DESIGN.md section 9).

Starts `bentoml serve serving.service:GroupPush` on a workspace, then drives it from this
process with asyncio + httpx: requests for groups of ~500 members x ~2,000 candidate products
(the workspace's products passed as product_ids), a warm-up, then a fixed-duration run.
Writes p50/p95/p99, req/s, errors, the service's RSS and its start-up peak RSS (VmHWM of each
process at /readyz) to benchmarks/results/serving_<preset>.json
(concurrency 2; other concurrencies to serving_<preset>_c<N>.json). Several concurrencies share
one service start (on the large preset with champions the start takes minutes).

Why 2 clients is the headline load: the service is one worker process (GIL-bound) on a 2-core
machine shared with this client. With 1 client, client and service CPU add up per request, so
req/s <= 1 / (client + service time); with 2, the service scores one request while the client
handles the other's answer; with 4, requests queue behind each other (p50 ~ 4 x service time).

    .venv/bin/python benchmarks/bench_serving.py --workspace /tmp/ws --preset demo
    flock /work/bench/large.lock .venv/bin/python benchmarks/bench_serving.py \\
        --workspace /work/bench/lb --preset large --concurrency 2 1 4
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from configs.workspace import resolve_workspace  # noqa: E402
from grouppush.runner import free_port, start_service, stop_service, wait_ready  # noqa: E402

if TYPE_CHECKING:
    from serving.snapshot import Snapshot

TARGETS = {"p50_ms": 10.0, "p99_ms": 30.0, "req_per_s": 150.0}
DEFAULT_CONCURRENCY = 2


def results_path(preset: str, concurrency: int) -> Path:
    suffix = "" if concurrency == DEFAULT_CONCURRENCY else f"_c{concurrency}"
    return ROOT / "benchmarks" / "results" / f"serving_{preset}{suffix}.json"


def pick_request_data(ws_root: Path, members: int, candidates: int) -> tuple[list[str], list[str]]:
    """Groups whose membership is closest to (and at least) MEMBERS; CANDIDATES product ids
    (slow-moving ones first)."""
    from configs.settings import load_settings
    from serving.loader import load_snapshot

    ws = resolve_workspace(ws_root)
    snap = load_snapshot(ws, load_settings(), champions=False)  # groups and products only
    return request_data(snap, members, candidates)


def request_data(snap: Snapshot, members: int, candidates: int) -> tuple[list[str], list[str]]:
    """pick_request_data on a loaded snapshot (benchmarks/bench_push_requests.py)."""
    sizes = np.diff(snap.member_indptr)
    live = snap.group_stage != "zombie"
    order = np.argsort(np.where(live & (sizes >= members), sizes, 10**9), kind="stable")
    groups = [str(snap.group_ids[g]) for g in order[:8] if live[g] and sizes[g] >= members]
    if not groups:
        groups = [str(snap.group_ids[int(np.argmax(np.where(live, sizes, -1)))])]
    slow = set(snap.default_candidates.tolist())
    ranked = sorted(range(len(snap.prod_ids)), key=lambda p: (p not in slow, p))
    products = [str(snap.prod_ids[p]) for p in ranked[:candidates]]
    return groups, products


async def drive(
    url: str,
    bodies: list[bytes],
    duration: float,
    concurrency: int,
    warmup: float,
    on_start: Callable[[], object] = lambda: None,
) -> dict[str, float]:
    import httpx

    latencies: list[float] = []
    errors = 0
    stop_at = 0.0

    async def worker(client: httpx.AsyncClient, i: int, record: bool) -> None:
        nonlocal errors
        n = i
        while time.perf_counter() < stop_at:
            body = bodies[n % len(bodies)]
            n += concurrency
            t0 = time.perf_counter()
            try:
                r = await client.post(
                    "/push_lists", content=body, headers={"content-type": "application/json"}
                )
                ok = r.status_code == 200
            except httpx.HTTPError:
                ok = False
            if record:
                latencies.append(time.perf_counter() - t0)
                errors += not ok

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as client:
        stop_at = time.perf_counter() + warmup
        await asyncio.gather(*(worker(client, i, False) for i in range(concurrency)))
        on_start()
        start = time.perf_counter()
        stop_at = start + duration
        await asyncio.gather(*(worker(client, i, True) for i in range(concurrency)))
        elapsed = time.perf_counter() - start
    ms = np.array(latencies) * 1000
    return {
        "requests": len(latencies),
        "errors": errors,
        "p50_ms": float(np.percentile(ms, 50)),
        "p95_ms": float(np.percentile(ms, 95)),
        "p99_ms": float(np.percentile(ms, 99)),
        "req_per_s": len(latencies) / elapsed,
    }


def service_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) used so far by the service's process tree."""
    import psutil

    proc = psutil.Process(pid)
    times = [p.cpu_times() for p in [proc, *proc.children(recursive=True)] if p.is_running()]
    return sum(t.user + t.system for t in times)


def service_rss_mb(pid: int) -> float:
    import psutil

    proc = psutil.Process(pid)
    procs = [proc, *proc.children(recursive=True)]
    return sum(p.memory_info().rss for p in procs if p.is_running()) / 2**20


def service_peak_rss(pid: int) -> dict[str, float]:
    """Peak RSS (VmHWM, MB) of each process of the service's tree, keyed 'pid command': the
    start-up (snapshot build) peak when read right after /readyz (DESIGN.md: <= 2 GiB)."""
    import psutil

    proc = psutil.Process(pid)
    out: dict[str, float] = {}
    for p in [proc, *proc.children(recursive=True)]:
        try:
            status = Path(f"/proc/{p.pid}/status").read_text()
            name = " ".join(p.cmdline())[:80]
        except (OSError, psutil.Error):
            continue
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                out[f"{p.pid} {name}"] = int(line.split()[1]) / 1024
    return out


def build_peak_rss(log: Path) -> float | None:
    """Peak RSS (MB) of the short-lived process that built the snapshot, as the worker logs
    it (serving.snapshot_store): it has exited by /readyz, so VmHWM cannot show it."""
    import re

    found = re.findall(
        r"snapshot build process: peak RSS ([0-9.]+) GiB", log.read_text(errors="replace")
    )
    return max(float(v) * 1024 for v in found) if found else None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workspace", default=os.environ.get("GROUPPUSH_WORKSPACE"), required=False)
    ap.add_argument("--preset", default="demo", help="names the results file")
    ap.add_argument("--members", type=int, default=500)
    ap.add_argument("--candidates", type=int, default=2000)
    ap.add_argument("--duration", type=float, default=20.0)
    ap.add_argument("--warmup", type=float, default=3.0)
    ap.add_argument("--concurrency", type=int, nargs="+", default=[DEFAULT_CONCURRENCY])
    ap.add_argument("--workers", type=int, default=1, help="BentoML worker processes")
    ap.add_argument(
        "--out", type=Path, default=None, help="results JSON (several concurrencies: OUT_c<N>)"
    )
    args = ap.parse_args()
    if not args.workspace:
        ap.error("--workspace (or GROUPPUSH_WORKSPACE) is required")
    root = Path(args.workspace).resolve()
    groups, products = pick_request_data(root, args.members, args.candidates)
    bodies = [
        json.dumps(
            {"group_ids": [g], "top_k": 10, "members_per_product": 20, "product_ids": products}
        ).encode()
        for g in groups
    ]
    scratch = Path(tempfile.mkdtemp(prefix="bench_serving_"))
    port = free_port()
    env = {
        "GROUPPUSH__SERVING__RELOAD_INTERVAL_SECONDS": "0",
        "BENTOML_HOME": str(scratch / "bentoml"),  # keep the workspace untouched
        "GROUPPUSH_SERVE_WORKERS": str(args.workers),
        "GROUPPUSH__SERVING__MAX_PRODUCT_IDS": str(max(5000, len(products))),
    }
    t0 = time.perf_counter()
    proc = start_service(resolve_workspace(root), "127.0.0.1", port, env, scratch / "serve.log")
    url = f"http://127.0.0.1:{port}"
    runs = []
    try:
        wait_ready(url, proc, timeout=1800)
        startup = time.perf_counter() - t0
        peaks = service_peak_rss(proc.pid)
        build_peak = build_peak_rss(scratch / "serve.log")
        import httpx

        sample = httpx.post(
            f"{url}/push_lists",
            content=bodies[0],
            timeout=60,
            headers={"content-type": "application/json"},
        ).json()
        for concurrency in args.concurrency:
            stats = measure(proc.pid, url, bodies, concurrency, args.duration, args.warmup)
            runs.append((concurrency, stats, service_rss_mb(proc.pid)))
    finally:
        stop_service(proc)
    common = {
        "preset": args.preset,
        "workspace": str(root),
        "groups": groups,
        "members_min": args.members,
        "candidates": len(products),
        "workers": args.workers,
        "duration_s": args.duration,
        "startup_s": startup,
        # largest per-process peak RSS at /readyz: the worker (mapping its snapshot) or the
        # child process that built it
        "startup_peak_rss_mb": max([*peaks.values(), build_peak or 0.0], default=float("nan")),
        "startup_peak_rss_by_process_mb": peaks,
        "snapshot_build_peak_rss_mb": build_peak,
        "serve_log": str(scratch / "serve.log"),
        "items_in_sample": [len(g["items"]) for g in sample["groups"]],
        "model_version": sample.get("model_version"),
        "as_of": sample.get("as_of"),
        "targets": TARGETS,
    }
    for concurrency, stats, rss in runs:
        out = args.out or results_path(args.preset, concurrency)
        if args.out is not None and len(args.concurrency) > 1:
            out = args.out.with_name(f"{args.out.stem}_c{concurrency}{args.out.suffix}")
        write_result(out, common, concurrency, stats, rss)


def measure(
    pid: int, url: str, bodies: list[bytes], concurrency: int, duration: float, warmup: float
) -> dict[str, float]:
    """One fixed-duration run (after a warm-up) + the service's and client's CPU per request."""
    cpu0: list[float] = []  # at the end of the warm-up: (service, client) CPU seconds

    def mark() -> None:
        cpu0.extend((service_cpu_s(pid), time.process_time()))

    stats = asyncio.run(drive(url, bodies, duration, concurrency, warmup, on_start=mark))
    # client and service share the machine's 2 cores: both bound the req/s ceiling
    n_req = max(stats["requests"], 1)
    stats["service_cpu_ms_per_req"] = 1000 * (service_cpu_s(pid) - cpu0[0]) / n_req
    stats["client_cpu_ms_per_req"] = 1000 * (time.process_time() - cpu0[1]) / n_req
    return stats


def write_result(
    out: Path, common: dict[str, object], concurrency: int, stats: dict[str, float], rss: float
) -> None:
    result = {
        **common,
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "concurrency": concurrency,
        **stats,
        "service_rss_mb": rss,
        "load_average": os.getloadavg(),
        "meets": {
            k: (stats[k] >= v if k == "req_per_s" else stats[k] <= v) for k, v in TARGETS.items()
        },
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    shown = (
        "concurrency",
        "p50_ms",
        "p95_ms",
        "p99_ms",
        "req_per_s",
        "service_cpu_ms_per_req",
        "client_cpu_ms_per_req",
        "errors",
        "service_rss_mb",
        "startup_peak_rss_mb",
        "meets",
    )
    print(json.dumps({k: result[k] for k in shown}, indent=2))


if __name__ == "__main__":
    main()
