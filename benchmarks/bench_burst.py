"""Burst on loopback: every request answered or refused within 2 s (issue 17, load shedding).

Starts `bentoml serve serving.service:GroupPush` on a workspace (loopback only), then opens
CONNECTIONS keep-alive connections at once (aiohttp) that each send push-list requests back
to back for SECONDS (bounded: at most 60 s and MAX_REQUESTS requests in all). Two of them
send the largest request the configured limits allow (top_k x members_per_product at
serving.max_response_members), the rest the bench_serving request (a ~500-member group x
the workspace's slow-moving products). A 503 is a refusal: with `--retry-after honour` the
connection waits the Retry-After seconds (a well-behaved client), with `ignore` it asks
again at once (the harshest load). Records per status the count and latency percentiles,
the share and count of requests slower than DEADLINE, and each connection's time to its
first answer, to benchmarks/results/burst_<preset>[_<retry-after>].json.

    .venv/bin/python benchmarks/bench_burst.py --workspace /tmp/ws --preset demo
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bench_serving import pick_request_data, service_rss_mb  # noqa: E402
from configs.workspace import resolve_workspace  # noqa: E402
from grouppush.runner import free_port, start_service, stop_service, wait_ready  # noqa: E402

HOST = "127.0.0.1"  # loopback only
MAX_SECONDS = 60.0
Sample = tuple[int, float, int]  # (status, latency s, connection)


async def burst(
    url: str,
    bodies: list[bytes],
    heavy: bytes,
    connections: int,
    seconds: float,
    max_requests: int,
    honour_retry_after: bool,
) -> tuple[list[Sample], list[float], float]:
    """(samples, each connection's time to first answer, elapsed s); status 0: no answer."""
    import aiohttp

    samples: list[Sample] = []
    first: list[float] = [float("nan")] * connections
    timeout = aiohttp.ClientTimeout(total=30)
    connector = aiohttp.TCPConnector(limit=connections, force_close=False)
    headers = {"content-type": "application/json"}
    start = time.perf_counter()
    stop_at = start + seconds

    async def one(session: aiohttp.ClientSession, i: int) -> None:
        body = heavy if i < 2 else bodies[i % len(bodies)]
        while time.perf_counter() < stop_at and len(samples) < max_requests:
            t0 = time.perf_counter()
            retry = 0.0
            try:
                async with session.post(f"{url}/push_lists", data=body, headers=headers) as r:
                    await r.read()
                    status = r.status
                    if status == 503 and honour_retry_after:
                        retry = float(r.headers.get("Retry-After", "1"))
            except (aiohttp.ClientError, TimeoutError):
                status = 0
            now = time.perf_counter()
            samples.append((status, now - t0, i))
            if first[i] != first[i]:  # NaN: this connection's first answer
                first[i] = now - start
            if retry:
                await asyncio.sleep(min(retry, max(stop_at - time.perf_counter(), 0)))

    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        await asyncio.gather(*(one(session, i) for i in range(connections)))
    return samples, first, time.perf_counter() - start


def summarise(
    samples: list[Sample], first: list[float], elapsed: float, deadline: float
) -> dict[str, Any]:
    lat = np.array([s[1] for s in samples]) * 1000
    status = np.array([s[0] for s in samples])
    conn = np.array([s[2] for s in samples])
    per_status: dict[str, Any] = {}
    for code in sorted(set(status.tolist())):
        ms = lat[status == code]
        per_status[str(code)] = {
            "count": int(len(ms)),
            "p50_ms": float(np.percentile(ms, 50)),
            "p99_ms": float(np.percentile(ms, 99)),
            "max_ms": float(ms.max()),
        }
    firsts = np.array(first) * 1000
    return {
        "requests": len(samples),
        "elapsed_s": elapsed,
        "answered_per_s": float((status == 200).sum() / elapsed),
        "by_status": per_status,
        "over_deadline": int((lat > deadline * 1000).sum()),
        "over_deadline_share": float((lat > deadline * 1000).mean()) if len(lat) else 0.0,
        # of those, sent by the two connections asking for the largest allowed answer
        "over_deadline_heavy": int(((lat > deadline * 1000) & (conn < 2)).sum()),
        "no_answer": int((status == 0).sum()),
        "max_ms": float(lat.max()) if len(lat) else float("nan"),
        "p99_ms": float(np.percentile(lat, 99)) if len(lat) else float("nan"),
        "first_answer_max_ms": float(np.nanmax(firsts)),
        "first_answer_p99_ms": float(np.nanpercentile(firsts, 99)),
        "connections_without_answer": int(np.isnan(firsts).sum()),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workspace", default=os.environ.get("GROUPPUSH_WORKSPACE"))
    ap.add_argument("--preset", default="demo", help="names the results file")
    ap.add_argument("--connections", type=int, default=200)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--max-requests", type=int, default=200_000)
    ap.add_argument("--deadline", type=float, default=2.0, help="answered or refused within (s)")
    ap.add_argument("--retry-after", choices=("honour", "ignore"), default="honour")
    ap.add_argument("--members", type=int, default=500)
    ap.add_argument("--candidates", type=int, default=2000)
    ap.add_argument("--env", action="append", default=[], help="KEY=VALUE for the service")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    if not args.workspace:
        ap.error("--workspace (or GROUPPUSH_WORKSPACE) is required")
    seconds = min(args.seconds, MAX_SECONDS)
    root = Path(args.workspace).resolve()
    groups, products = pick_request_data(root, args.members, args.candidates)
    common = {"top_k": 10, "members_per_product": 20, "product_ids": products}
    bodies = [json.dumps({"group_ids": [g], **common}).encode() for g in groups]
    # the largest answer the default limits allow: 1 x 100 x 500 = serving.max_response_members
    heavy = json.dumps({"group_ids": groups[:1], "top_k": 100, "members_per_product": 500})
    scratch = Path(tempfile.mkdtemp(prefix="bench_burst_"))
    env = {
        "GROUPPUSH__SERVING__RELOAD_INTERVAL_SECONDS": "0",
        "BENTOML_HOME": str(scratch / "bentoml"),
        "GROUPPUSH__SERVING__MAX_PRODUCT_IDS": str(max(5000, len(products))),
        **dict(item.split("=", 1) for item in args.env),
    }
    port = free_port(HOST)
    proc = start_service(resolve_workspace(root), HOST, port, env, scratch / "serve.log")
    url = f"http://{HOST}:{port}"
    try:
        wait_ready(url, proc, timeout=1800)
        samples, first, elapsed = asyncio.run(
            burst(
                url,
                bodies,
                heavy.encode(),
                args.connections,
                seconds,
                args.max_requests,
                args.retry_after == "honour",
            )
        )
        rss = service_rss_mb(proc.pid)
    finally:
        stop_service(proc)
    stats = summarise(samples, first, elapsed, args.deadline)
    result = {
        "benchmark": "burst",
        "preset": args.preset,
        "workspace": str(root),
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "connections": args.connections,
        "seconds": seconds,
        "retry_after": args.retry_after,
        "deadline_s": args.deadline,
        "heavy_connections": 2,
        "service_env": {k: v for k, v in env.items() if k.startswith("GROUPPUSH__")},
        "service_rss_mb": rss,
        "load_avg_1m": os.getloadavg()[0],  # the machine is shared: other jobs' load
        "serve_log": str(scratch / "serve.log"),
        **stats,
        "pass": stats["over_deadline"] == 0 and stats["connections_without_answer"] == 0,
    }
    suffix = "" if args.retry_after == "honour" else f"_{args.retry_after}"
    out = args.out or ROOT / "benchmarks" / "results" / f"burst_{args.preset}{suffix}.json"
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({k: result[k] for k in ("requests", "by_status", "max_ms", "pass")}))
    print(f"-> {out}")


if __name__ == "__main__":
    main()
