"""Push targeting on a real (or simulated) log: do the service's 5 targets buy the product?

Protocol (issue 15, "Done when"), per cut-off date c:
1. A scratch workspace whose data files are hard links to the source's; features computed
   as of c and the push model trained with labels before c only (`train --target push
   --as-of c`): nothing after c is seen. The interest/repurchase champions are not trained
   here: the cold members' category-level score is the features' decayed interest.
2. Slow movers: the service's own (the snapshot's default candidates, i.e. product_stats
   .is_slow_moving as of c: velocity-based without an inventory table; `--slow-movers bench`
   keeps the older in-bench definition: units in the 28 days before c under half the
   trailing-year pace, >= MIN_UNITS units that year); a group's candidates are those its
   members bought in the year before c. Up to --per-group of them per group (seeded), one
   product per request, 5 members per product.
3. Targets per method: the service's engine (snapshot as of c with the push champion when one
   was promoted; the push cap is lifted so every method ranks the same members), each simple
   rule (own decayed purchases of the product, of its category, product-then-category at
   half-lives 28/56/112), and random (seeded). Hits = targets who buy the product in
   [c, c + 28 days). Zombie groups (no pushes by design) are left out.

    .venv/bin/python benchmarks/bench_push_real.py --workspace WS --preset shop \\
        --cutoffs 2025-11-04 2025-12-03 --name shop
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from configs import columns as C  # noqa: E402
from configs.settings import load_settings  # noqa: E402
from configs.workspace import resolve_workspace  # noqa: E402

HORIZON = 28
K = 5
MIN_UNITS = 4
HALF_LIVES = (28, 56, 112)


def scratch_workspace(source: Path, dest: Path) -> Path:
    """DEST with SOURCE's contract tables hard-linked (read-only use) and nothing else."""
    shutil.rmtree(dest, ignore_errors=True)
    (dest / "data").mkdir(parents=True)
    for path in (source / "data").iterdir():
        if path.is_file():
            os.link(path, dest / "data" / path.name)
    preset = source / "grouppush-preset.txt"
    if preset.exists():
        shutil.copy(preset, dest / preset.name)
    return dest


def slow_movers(orders: pd.DataFrame, cutoff: date) -> pd.Index:
    """Products selling under half their trailing-year pace in the 28 days before CUTOFF."""
    t = pd.Timestamp(cutoff, tz="UTC")
    year = orders[(orders[C.ORDERED_AT] < t) & (orders[C.ORDERED_AT] >= t - timedelta(365))]
    recent = year[year[C.ORDERED_AT] >= t - timedelta(28)]
    units = year.groupby(C.PRODUCT_ID)[C.QUANTITY].sum()
    units_28 = recent.groupby(C.PRODUCT_ID)[C.QUANTITY].sum().reindex(units.index, fill_value=0)
    pace = units * 28.0 / 365.0
    return units.index[(units >= MIN_UNITS) & (units_28 < 0.5 * pace)]


def requests(snap, orders, cutoff, slow, per_group, seed, zombies_too=False, any_product=False):  # type: ignore[no-untyped-def]
    """(group index, product id) requests: per group (zombies only with ZOMBIES_TOO), up to
    PER_GROUP slow movers its members bought in the year before CUTOFF (0: all of them), or
    with ANY_PRODUCT drawn from every slow mover (the cold case: nobody may have bought it)."""
    t = pd.Timestamp(cutoff, tz="UTC")
    year = orders[(orders[C.ORDERED_AT] < t) & (orders[C.ORDERED_AT] >= t - timedelta(365))]
    year = year[year[C.PRODUCT_ID].isin(slow)]
    rng = np.random.default_rng(seed)
    out, zombies = [], 0
    users_of = year.groupby(C.USER_ID)[C.PRODUCT_ID].unique()
    for g in range(len(snap.group_ids)):
        members = snap.group_members(g)
        if snap.group_stage[g] == "zombie":
            zombies += 1
            if not zombies_too:
                continue
        ids = snap.user_ids[members]
        found = users_of.reindex(ids).dropna()
        if any_product:
            products = np.asarray(sorted(map(str, slow)), dtype=object)
        elif not len(found):
            continue
        else:
            products = np.unique(np.concatenate(found.to_numpy()))
        products = np.array([p for p in products if p in snap.prod_index], dtype=object)
        if not len(products):
            continue
        size = len(products) if per_group <= 0 else min(per_group, len(products))
        pick = rng.choice(products, size=size, replace=False)
        out.extend((g, str(p)) for p in sorted(pick))
    return out, zombies


class _Slices:
    """Rows of a (u, KEY, ...) frame per key value, found by binary search (no groupby)."""

    def __init__(self, frame: pd.DataFrame, key: str) -> None:
        self.frame = frame.sort_values(key, kind="stable", ignore_index=True)
        self.keys = self.frame[key].to_numpy()

    def values(self, value: int, users: np.ndarray, col: str) -> np.ndarray:
        """COL for (each of USERS, VALUE); 0 when absent."""
        lo, hi = np.searchsorted(self.keys, [value, value + 1])
        rows = self.frame.iloc[lo:hi]
        found = pd.Series(rows[col].to_numpy(), index=rows["u"].to_numpy())
        return found.reindex(users).fillna(0.0).to_numpy()


AFTER_RULE1 = "after_rule1:"  # a rule's ranking without the members rule 1 blocks


def blocked_members(snap, members: np.ndarray, p: int) -> np.ndarray:  # type: ignore[no-untyped-def]
    """Which of MEMBERS (snapshot user indices) rule 1 blocks for product index P: the
    service's own per-member blocked products (none when the snapshot has no order log)."""
    if snap.block_indptr is None or p < 0:
        return np.zeros(len(members), bool)
    out = np.zeros(len(members), bool)
    for i, u in enumerate(members):
        row = snap.block_indices[snap.block_indptr[u] : snap.block_indptr[u + 1]]
        at = int(np.searchsorted(row, p))
        out[i] = at < len(row) and int(row[at]) == p
    return out


def rule_targets(snap, history, reqs, seed):  # type: ignore[no-untyped-def]
    """{method: [(group, product, [user ids])]} for the rules and random, and (AFTER_RULE1)
    each product-then-category rule ranking only the members rule 1 leaves: what the rule
    would score under the service's constraint."""
    rng = np.random.default_rng(seed)
    up, uc = _Slices(history.up, "p"), _Slices(history.uc, "c")
    out: dict[str, list] = {}
    for g, pid in reqs:
        members = snap.group_members(g)
        ids = snap.user_ids[members]
        blocked = blocked_members(snap, members, snap.prod_index.get(pid, -1))
        u = history.users.get_indexer(ids)
        p = history.products.get_loc(pid) if pid in history.products else -1
        c = history.prod_cat[p] if p >= 0 else -1
        jitter = rng.random(len(ids)) * 1e-9
        for h in HALF_LIVES:
            prod = up.values(p, u, f"d{h}") if p >= 0 else np.zeros(len(ids))
            cat = uc.values(c, u, f"d{h}") if c >= 0 else np.zeros(len(ids))
            for name, score in (
                (f"product_hl{h}", prod),
                (f"category_hl{h}", cat),
                (f"product_then_category_hl{h}", prod * 1e4 + cat),
            ):
                top = ids[np.argsort(-(score + jitter), kind="stable")[:K]]
                out.setdefault(name, []).append((g, pid, [str(x) for x in top]))
            left = np.flatnonzero(~blocked)
            score = (prod * 1e4 + cat + jitter)[left]
            top = ids[left[np.argsort(-score, kind="stable")[:K]]]
            name = f"{AFTER_RULE1}product_then_category_hl{h}"
            out.setdefault(name, []).append((g, pid, [str(x) for x in top]))
        pick = rng.choice(ids, size=min(K, len(ids)), replace=False)
        out.setdefault("random", []).append((g, pid, [str(x) for x in pick]))
    return out


def service_targets(snap, settings, reqs):  # type: ignore[no-untyped-def]
    from serving.engine import push_list

    out, seconds = [], []
    for g, pid in reqs:
        cand = np.array([snap.prod_index[pid]], dtype=np.int64)
        t0 = time.perf_counter()
        res = push_list(snap, g, settings.serving, top_k=1, members_per_product=K, candidates=cand)
        seconds.append(time.perf_counter() - t0)
        users = [m.user_id for it in res.items for m in it.members]
        out.append((g, pid, users))
    return out, seconds


def _entry(snap, u: int, p: int) -> int:  # type: ignore[no-untyped-def]
    """The push CSR entry of (member u, product p); -1 when none."""
    if snap.push_indptr is None or u < 0:
        return -1
    lo, hi = int(snap.push_indptr[u]), int(snap.push_indptr[u + 1])
    at = lo + int(np.searchsorted(snap.push_indices[lo:hi], p))
    return at if at < hi and int(snap.push_indices[at]) == p else -1


def diagnose(snap, history, best, service, bought) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """Why the service missed the best rule's hits: each (member, product) the rule hit and
    the service did not target, by what the snapshot holds for it: a warm entry the cycle
    rule drops (bought it within its category's cycle), a warm entry ranked below 5 others,
    no entry though the member bought the product (cap), or a cold member."""
    served = {(g, pid): set(users) for g, pid, users in service}
    out = {"warm_suppressed": 0, "warm_ranked_lower": 0, "bought_no_entry": 0, "cold": 0}
    out |= {"service_targets_warm": 0}
    for _, pid, users in service:
        p = snap.prod_index[pid]
        out["service_targets_warm"] += sum(_entry(snap, snap.user_index[u], p) >= 0 for u in users)
    own = set(zip(history.up.u.to_numpy(), history.up.p.to_numpy(), strict=True))
    for g, pid, users in best:
        p = snap.prod_index[pid]
        c = int(snap.prod_cat[p])
        for u in users:
            if (u, pid) not in bought or u in served.get((g, pid), ()):
                continue
            e = _entry(snap, snap.user_index[u], p)
            if e >= 0:
                last = float(snap.push_info[e, 1])
                cyc = float(snap.cat_cycle[c])
                hot = bool(snap.cat_high_freq[c])
                key = "warm_suppressed" if 0 <= last < cyc and not hot else "warm_ranked_lower"
            else:
                code_u, code_p = (
                    history.users.get_indexer([u])[0],
                    history.products.get_indexer([pid])[0],
                )
                key = "bought_no_entry" if (code_u, code_p) in own else "cold"
            out[key] += 1
    return out


def buyers_in_window(snap, reqs, bought) -> int:  # type: ignore[no-untyped-def]
    """Members of the requests' groups who buy the requested product: the ceiling."""
    return sum(
        (str(u), pid) in bought for g, pid in reqs for u in snap.user_ids[snap.group_members(g)]
    )


def count_hits(targets, bought):  # type: ignore[no-untyped-def]
    hits = sum(1 for _, pid, users in targets for u in users if (u, pid) in bought)
    n = sum(len(users) for _, _, users in targets)
    return {"hits": hits, "targets": n, "precision": hits / n if n else None}


def run_cutoff(source: Path, scratch: Path, preset: str | None, cutoff: date, args) -> dict:  # type: ignore[no-untyped-def]
    from features.compute.build import compute_snapshots
    from modelinput.push_pairs import push_history, read_push_orders
    from serving.loader import load_snapshot
    from training.train import train

    ws = resolve_workspace(scratch_workspace(source, scratch / f"ws_{cutoff}"))
    overrides = {
        "training": {"horizon_days": HORIZON, "push_max_products": args.max_products},
        "serving": {"push_cap": 10**6},
        "features": {"readiness_horizon_days": HORIZON},
    }
    settings = load_settings(preset, overrides)
    t0 = time.perf_counter()
    compute_snapshots(settings, ws, [cutoff], show_progress=False)
    t_features = time.perf_counter() - t0
    trained = train(settings, ws, "push", cutoff, show_progress=False)["push"]
    t_train = time.perf_counter() - t0 - t_features
    if args.pin and not trained["promoted"]:
        # what the engine does with the push model even when the gate kept it out (an operator
        # pinning a version by hand); the JSON says so
        from training.registry import CHAMPION, MODEL_NAMES, configure

        configure(ws).set_registered_model_alias(
            MODEL_NAMES["push"], CHAMPION, str(trained["version"])
        )
        trained["pinned"] = True
    snap = load_snapshot(ws, settings, cutoff)
    orders = read_push_orders(ws.data)
    before = orders[orders[C.ORDERED_AT] < pd.Timestamp(cutoff, tz="UTC")]
    if args.slow_movers == "service":
        slow = pd.Index(snap.prod_ids[snap.default_candidates])
    else:
        slow = slow_movers(before, cutoff)
    reqs, zombies = requests(
        snap,
        before,
        cutoff,
        slow,
        args.per_group,
        args.seed,
        args.zombies == "include",
        args.asked == "any",
    )
    t = pd.Timestamp(cutoff, tz="UTC")
    window = orders[(orders[C.ORDERED_AT] >= t) & (orders[C.ORDERED_AT] < t + timedelta(HORIZON))]
    bought = set(zip(window[C.USER_ID], window[C.PRODUCT_ID], strict=True))
    history = push_history(before, cutoff)
    methods = rule_targets(snap, history, reqs, args.seed)
    service, seconds = service_targets(snap, settings, reqs)
    results = {name: count_hits(t, bought) for name, t in methods.items()}
    results["service"] = count_hits(service, bought)
    zombie = {g for g, _ in reqs if snap.group_stage[g] == "zombie"}
    in_zombies = {
        name: count_hits([r for r in t if r[0] in zombie], bought)["hits"]
        for name, t in [*methods.items(), ("service", service)]
    }
    rules = {
        k: v
        for k, v in results.items()
        if k not in ("service", "random") and not k.startswith(AFTER_RULE1)
    }
    best = max(rules, key=lambda k: rules[k]["hits"])
    after = {k: v["hits"] for k, v in results.items() if k.startswith(AFTER_RULE1)}
    best_after = max(after, key=lambda k: after[k])
    missed = diagnose(snap, history, methods[best], service, bought)
    sizes = np.diff(snap.member_indptr)
    return {
        "cutoff": str(cutoff),
        "push_model": {
            k: trained[k] for k in ("version", "promoted", "reason", "pinned") if k in trained
        }
        | {
            "holdout": trained.get("metrics"),
            "rule_best_holdout": trained["baselines"].get("rule_best"),
            "rule_best_name": trained["data"].get("rule_best"),
        },
        "served_models": dict(snap.model_versions),
        "requests": len(reqs),
        "groups": len({g for g, _ in reqs}),
        "groups_over_5_members": int(sum(sizes[g] > K for g in {g for g, _ in reqs})),
        "zombie_groups": zombies,
        "zombie_groups_asked": args.zombies == "include",
        "slow_movers": len(slow),
        "slow_mover_definition": args.slow_movers,
        "asked": args.asked,
        "buyers_in_window": buyers_in_window(snap, reqs, bought),
        "hits": results,
        "best_rule": best,
        "hits_in_zombie_groups": in_zombies,
        "best_rule_hits_missed_by_service": missed,
        "service_vs_best_rule": results["service"]["hits"] / max(rules[best]["hits"], 1),
        "best_rule_after_rule1": best_after,
        "service_vs_best_rule_after_rule1": results["service"]["hits"] / max(after[best_after], 1),
        "service_vs_random": results["service"]["hits"] / max(results["random"]["hits"], 1),
        "engine_ms_p50": float(np.median(seconds) * 1e3) if seconds else None,
        "seconds": {"features": round(t_features, 1), "train_push": round(t_train, 1)},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workspace", type=Path, required=True)
    ap.add_argument("--preset", default=None)
    ap.add_argument("--cutoffs", nargs="+", required=True, help="as-of dates (YYYY-MM-DD)")
    ap.add_argument("--per-group", type=int, default=3, help="slow movers asked per group (0: all)")
    ap.add_argument(
        "--asked",
        choices=("bought", "any"),
        default="bought",
        help="bought: slow movers some member of the group bought in the year; any: any of them",
    )
    ap.add_argument(
        "--zombies",
        choices=("skip", "include"),
        default="skip",
        help="include: ask zombie groups too (the service answers them with no pushes)",
    )
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--name", default="real", help="names the results file")
    ap.add_argument(
        "--pin", action="store_true", help="serve the new push model even if not promoted"
    )
    ap.add_argument(
        "--slow-movers",
        choices=("service", "bench"),
        default="service",
        help="service: the snapshot's slow movers (product_stats.is_slow_moving)",
    )
    ap.add_argument("--max-products", type=int, default=3000, help="push products/snapshot")
    ap.add_argument("--scratch", type=Path, default=None, help="scratch folder (deleted)")
    args = ap.parse_args()
    scratch = args.scratch or Path(f"/tmp/bench_push_{os.getpid()}")
    out = {
        "benchmark": "push_real",
        "workspace": str(args.workspace),
        "horizon_days": HORIZON,
        "members_per_product": K,
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "load_before": os.getloadavg(),
        "cutoffs": [],
    }
    for day in args.cutoffs:
        cutoff = date.fromisoformat(day)
        result = run_cutoff(args.workspace, scratch, args.preset, cutoff, args)
        print(json.dumps({k: result[k] for k in ("cutoff", "hits", "best_rule")}, default=str))
        out["cutoffs"].append(result)
    out["load_after"] = os.getloadavg()
    path = ROOT / "benchmarks" / "results" / f"push_real_{args.name}.json"
    path.write_text(json.dumps(out, indent=2, default=str) + "\n")
    print(f"wrote {path}")
    shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
