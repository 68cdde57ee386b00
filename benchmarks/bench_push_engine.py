"""In-process push-list latency with and without push-model entries (the request path only).

One group of 500 members x 2,000 candidate products (the shape of DESIGN.md section 9), from
the seeded synthetic feature tables the serving tests use; the push variant adds WARM entries
per member (random products, random probabilities; the snapshot build keeps at most
serving.push_warm_per_member, 30). Measures serving.engine.push_list alone (no HTTP, no
JSON): the cost the warm-entry merge adds to a request. Writes benchmarks/results/push_engine.json.

    .venv/bin/python benchmarks/bench_push_engine.py --warm 30
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from configs.settings import ServingSettings  # noqa: E402
from serving.engine import push_list  # noqa: E402
from serving.push_scores import INFO, build_push_arrays, with_push  # noqa: E402
from serving.snapshot import Snapshot, SnapshotInputs, build_snapshot  # noqa: E402
from tests.serving.synthetic import feature_tables  # noqa: E402


def snapshot(members: int, products: int) -> Snapshot:
    tables = feature_tables(
        n_users=members,
        n_cats=100,
        products_per_cat=products // 100,
        n_groups=1,
        zombie_groups=0,
        interest_k=30,
    )
    memberships = tables.pop("memberships")
    return build_snapshot(tables, SnapshotInputs(push_cap_window_days=7, memberships=memberships))


def with_warm(snap: Snapshot, per_member: int, seed: int) -> Snapshot:
    rng = np.random.default_rng(seed)
    users = np.repeat(snap.user_ids, per_member)
    prods = np.concatenate(
        [rng.choice(len(snap.prod_ids), per_member, replace=False) for _ in snap.user_ids]
    )
    scored = pd.DataFrame(
        {
            "user_id": users,
            "product_id": snap.prod_ids[prods],
            "prob": rng.beta(1, 20, len(users)),
            "sub_product_id": None,
            **{name: rng.integers(0, 10, len(users)).astype(float) for name in INFO},
        }
    )
    arrays = build_push_arrays(scored, snap.user_index, snap.prod_index, 0.01)
    return with_push(snap, arrays)


def timings(snap: Snapshot, n: int) -> dict[str, float]:
    cfg = ServingSettings(push_cap=10**6)
    cand = np.arange(len(snap.prod_ids), dtype=np.int64)
    for _ in range(10):
        push_list(snap, 0, cfg, top_k=10, members_per_product=20, candidates=cand)
    seconds, cpu = [], []
    for _ in range(n):
        t0, c0 = time.perf_counter(), time.thread_time()
        push_list(snap, 0, cfg, top_k=10, members_per_product=20, candidates=cand)
        seconds.append(time.perf_counter() - t0)
        cpu.append(time.thread_time() - c0)
    ms, cpu_ms = np.asarray(seconds) * 1e3, np.asarray(cpu) * 1e3
    return {
        "p50_ms": float(np.median(ms)),
        "p99_ms": float(np.percentile(ms, 99)),
        # CPU time of the request thread: what the request costs on a loaded machine
        "cpu_p50_ms": float(np.median(cpu_ms)),
        "cpu_p99_ms": float(np.percentile(cpu_ms, 99)),
        "n": n,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--members", type=int, default=500)
    ap.add_argument("--products", type=int, default=2000)
    ap.add_argument("--warm", type=int, default=30, help="push entries per member")
    ap.add_argument("--requests", type=int, default=300)
    args = ap.parse_args()
    load_before = os.getloadavg()
    base = snapshot(args.members, args.products)
    warm = with_warm(base, args.warm, seed=3)
    out = {
        "benchmark": "push_engine",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "members": args.members,
        "products": args.products,
        "warm_per_member": args.warm,
        "without_push": timings(base, args.requests),
        "with_push": timings(warm, args.requests),
        "load_before": load_before,
        "load_after": os.getloadavg(),
    }
    path = ROOT / "benchmarks" / "results" / "push_engine.json"
    path.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
