"""Push-list quality on simulated data against the simulator's truth (DESIGN.md section 9):
expected conversions >= 2x random targeting and >= 1.2x a popularity push, with nothing pushed
to a member who bought that non-high-frequency product in its cycle.

Protocol:
1. A simulated workspace as the README's main job makes it (`simulate --preset P`, `features
   build`, `train --target all`; skipped when WORKSPACE already holds `truth/` and a model
   registry). The features' as-of is the simulation's end, the truth's as-of.
2. The service's lists: every group's push list from the snapshot with the champions, exactly
   as `export push-lists` computes them (serving.export.every_push_list: export top_k and
   members per product, member caps across groups). Zombie groups have no pushes.
3. Expected conversions of a (member, product) push: truth/user_product `prob`, the member's
   exact P(buy the product's category in the horizon) x P(that purchase is this product).
   The truth holds it for the simulator's slow movers with choice >= 0.02 only, so items of
   products outside `product_latent.slow_moving` are left out of every method (counted), and
   a missing pair counts 0 ("low") or at the truth's cut-off, 0.02 x the member's category
   probability ("high": an upper bound). Realised hits (truth/future_orders) beside them.
4. Baselines on the same items, each with as many targets as the service's item:
   random targeting = the same product to random members of the group (exact expectation:
   targets x the group's mean); popularity push = the group's most popular products among the
   service's candidates with truth (units its members bought in the POPULAR_DAYS before
   as-of; ties: all groups' units, then id), as many as the service's items, to random members.
5. Rule 1: a pushed member who bought the product fewer than its cycle days before as-of
   (products table's cycle, else its category's), the cycle above
   features.high_frequency_cycle_days, is a violation; the ones the service's documented
   exemptions allow (members who rebuy the product do so at least that often: median gap over
   3+ gaps; the member's own median gap over 2+ gaps has passed) are counted apart. Target:
   0 unexplained.

    .venv/bin/python benchmarks/bench_push_sim.py --workspace /work/scratch/ws_demo --preset demo
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from configs import columns as C  # noqa: E402
from configs.settings import Settings, load_settings  # noqa: E402
from configs.workspace import resolve_workspace  # noqa: E402

POPULAR_DAYS = 28
TRUTH_CHOICE_MIN = 0.02  # the simulator writes user_product rows with choice >= this
GOAL_RANDOM, GOAL_POPULAR = 2.0, 1.2
STEPS = (("simulate", "--preset", "{preset}", "--seed", "{seed}"), ("features", "build"))


def prepare(ws: Path, preset: str, seed: int) -> dict[str, float]:
    """The README's main job up to the models, each step a `grouppush` child process; seconds
    per step ({} when WS already holds a simulated, trained workspace)."""
    if (ws / "data" / "truth" / "user_product.parquet").exists() and (ws / "mlflow").exists():
        return {}
    steps = [*(tuple(a.format(preset=preset, seed=seed) for a in s) for s in STEPS)]
    steps.append(("train", "--target", "all"))
    seconds = {}
    for step in steps:
        t0 = time.perf_counter()
        cmd = [sys.executable, "-m", "grouppush.cli", "--workspace", str(ws), *step]
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            sys.exit(f"`grouppush {' '.join(step)}` failed:\n{proc.stdout[-2000:]}{proc.stderr}")
        seconds[" ".join(step[:2])] = time.perf_counter() - t0
    return seconds


@dataclass(frozen=True)
class Truth:
    """Dense (user, product) truth on the snapshot's user order and the covered products."""

    products: pd.Index  # the slow movers the truth covers, column order
    low: np.ndarray  # float32 (n_users, n_products) prob, missing pairs 0
    high: np.ndarray  # float32 missing pairs at 0.02 x the member's category prob
    bought: np.ndarray  # bool: a realised horizon order of the product
    meta: dict[str, Any]


def read_truth(truth_dir: Path, user_ids: np.ndarray, products: pd.DataFrame) -> Truth:
    meta = json.loads((truth_dir / "meta.json").read_text())
    latent = pd.read_parquet(truth_dir / "product_latent.parquet")
    covered = pd.Index(latent.loc[latent["slow_moving"], C.PRODUCT_ID].astype(str))
    users = pd.Index(user_ids.astype(str))
    shape = (len(users), len(covered))
    up = pd.read_parquet(truth_dir / "user_product.parquet")
    low = np.zeros(shape, np.float32)
    u, p = users.get_indexer(up[C.USER_ID]), covered.get_indexer(up[C.PRODUCT_ID])
    ok = (u >= 0) & (p >= 0)
    low[u[ok], p[ok]] = up["prob"].to_numpy()[ok]
    has = np.zeros(shape, bool)
    has[u[ok], p[ok]] = True
    uc = pd.read_parquet(truth_dir / "user_category.parquet")
    cats = pd.Index(sorted(uc[C.CATEGORY_ID].astype(str).unique()))
    cat_prob = np.zeros((len(users), len(cats)), np.float32)
    cu, cc = users.get_indexer(uc[C.USER_ID]), cats.get_indexer(uc[C.CATEGORY_ID])
    cat_prob[cu[cu >= 0], cc[cu >= 0]] = uc["prob"].to_numpy()[cu >= 0]
    cat_of = products.set_index(C.PRODUCT_ID)[C.CATEGORY_ID].astype(str).reindex(covered)
    col = cats.get_indexer(cat_of)
    bound = np.where(col >= 0, cat_prob[:, np.maximum(col, 0)], 0.0) * TRUTH_CHOICE_MIN
    high = np.where(has, low, bound.astype(np.float32))
    fo = pd.read_parquet(truth_dir / "future_orders.parquet", columns=[C.USER_ID, C.PRODUCT_ID])
    bought = np.zeros(shape, bool)
    fu, fp = users.get_indexer(fo[C.USER_ID]), covered.get_indexer(fo[C.PRODUCT_ID])
    bought[fu[(fu >= 0) & (fp >= 0)], fp[(fu >= 0) & (fp >= 0)]] = True
    return Truth(covered, low, high, bought, meta)


def service_pushes(snap: Any, settings: Settings) -> pd.DataFrame:
    """(g, item, product_id, u) of every pushed member, as `export push-lists` picks them."""
    from serving.export import every_push_list

    rows = []
    for g, res in enumerate(every_push_list(snap, settings.serving)):
        for i, item in enumerate(res.items):
            rows += [(g, i, item.product_id, snap.user_index[m.user_id]) for m in item.members]
    return pd.DataFrame(rows, columns=["g", "item", C.PRODUCT_ID, "u"])


def popular_products(snap: Any, orders: pd.DataFrame, as_of: date, pool: pd.Index) -> Any:
    """Per group index: POOL's products by units its members bought in the POPULAR_DAYS before
    AS_OF (most first; ties: every group's units, then product id)."""
    t = pd.Timestamp(as_of, tz="UTC")
    recent = orders[(orders[C.ORDERED_AT] >= t - timedelta(days=POPULAR_DAYS))]
    recent = recent[(recent[C.ORDERED_AT] < t) & recent[C.PRODUCT_ID].isin(pool)]
    overall = recent.groupby(C.PRODUCT_ID)[C.QUANTITY].sum().reindex(pool, fill_value=0.0)
    base = sorted(pool, key=lambda p: (-overall[p], p))
    member_of = pd.Series(np.repeat(np.arange(len(snap.group_ids)), np.diff(snap.member_indptr)))
    member_of.index = snap.user_ids[snap.members].astype(str)
    g = member_of.reindex(recent[C.USER_ID].astype(str))  # a user in several groups: each
    units = pd.DataFrame({"g": g.to_numpy(), "p": recent[C.PRODUCT_ID].to_numpy()})
    units["q"] = recent[C.QUANTITY].to_numpy()
    per = units.dropna().groupby(["g", "p"])["q"].sum()
    rank = {p: i for i, p in enumerate(base)}

    def order(gi: int) -> list[str]:
        mine = per.xs(gi, level="g") if gi in per.index.get_level_values("g") else pd.Series()
        return sorted(base, key=lambda p: (-float(mine.get(p, 0.0)), rank[p]))

    return order


def expected(snap: Any, truth: Truth, pushes: pd.DataFrame, order: Any) -> dict[str, Any]:
    """Expected conversions (low, high) and realised hits of the service, random targeting and
    the popularity push on the service's covered items."""
    col = truth.products.get_indexer(pushes[C.PRODUCT_ID])
    covered = pushes[col >= 0].assign(p=col[col >= 0])
    out: dict[str, dict[str, float]] = {
        m: {"low": 0.0, "high": 0.0, "hits": 0.0} for m in ("service", "random", "popularity")
    }
    u, p = covered["u"].to_numpy(), covered["p"].to_numpy()
    out["service"] = {
        "low": float(truth.low[u, p].sum()),
        "high": float(truth.high[u, p].sum()),
        "hits": float(truth.bought[u, p].sum()),
    }
    for g, items in covered.groupby("g"):
        members = snap.group_members(int(g))
        sizes = items.groupby("p", sort=False).size().sort_values(ascending=False)
        for method, cols in (
            ("random", sizes.index.to_numpy()),
            ("popularity", truth.products.get_indexer(order(int(g))[: len(sizes)])),
        ):
            for c, n in zip(cols, sizes.to_numpy(), strict=False):
                out[method]["low"] += n * float(truth.low[members, c].mean())
                out[method]["high"] += n * float(truth.high[members, c].mean())
                out[method]["hits"] += n * float(truth.bought[members, c].mean())
    return {
        "methods": out,
        "targets": len(covered),
        "targets_without_truth": int((col < 0).sum()),
        "items": int(covered.groupby(["g", "item"]).ngroups),
        "groups_with_items": int(covered["g"].nunique()),
    }


def rule1(
    snap: Any,
    pushes: pd.DataFrame,
    orders: pd.DataFrame,
    products: pd.DataFrame,
    as_of: date,
    high_freq: float,
) -> dict[str, int]:
    """Pushed members who bought the non-high-frequency product within its cycle, and which of
    them the service's documented exemptions allow."""
    pushed = pushes.assign(**{C.USER_ID: snap.user_ids[pushes["u"].to_numpy()].astype(str)})
    keys = pushed[[C.USER_ID, C.PRODUCT_ID]].drop_duplicates()
    t = pd.Timestamp(as_of, tz="UTC")
    days = (
        orders[orders[C.ORDERED_AT] < t]
        .assign(day=lambda o: o[C.ORDERED_AT].dt.tz_convert("UTC").dt.floor("D"))[
            [C.USER_ID, C.PRODUCT_ID, "day"]
        ]
        .drop_duplicates()
    )
    days = days.sort_values([C.USER_ID, C.PRODUCT_ID, "day"])
    same = days[[C.USER_ID, C.PRODUCT_ID]].eq(days[[C.USER_ID, C.PRODUCT_ID]].shift()).all(axis=1)
    gaps = days.assign(gap=days["day"].diff().dt.days)[same]
    pooled = gaps.groupby(C.PRODUCT_ID)["gap"].agg(["median", "size"])
    rebuy_fast = set(pooled.index[(pooled["size"] >= 3) & (pooled["median"] <= high_freq)])
    own = gaps.groupby([C.USER_ID, C.PRODUCT_ID])["gap"].agg(["median", "size"])
    last = days.groupby([C.USER_ID, C.PRODUCT_ID])["day"].max()
    k = keys.merge(last.rename("last").reset_index(), on=[C.USER_ID, C.PRODUCT_ID])
    k = k.merge(own.reset_index(), on=[C.USER_ID, C.PRODUCT_ID], how="left")
    k["since"] = (t.floor("D") - k["last"]).dt.days
    given = products.set_index(C.PRODUCT_ID).get(C.REPURCHASE_CYCLE_DAYS)
    cat_cycle = pd.Series(snap.cat_cycle, index=snap.cat_ids.astype(str))
    cat_of = products.set_index(C.PRODUCT_ID)[C.CATEGORY_ID].astype(str)
    cycle = cat_of.map(cat_cycle)
    if given is not None:
        cycle = given.where(given.notna(), cycle)
    k["cycle"] = k[C.PRODUCT_ID].map(cycle)
    inside = k[(k["since"] < k["cycle"]) & (k["cycle"] > high_freq)]
    fast = inside[C.PRODUCT_ID].isin(rebuy_fast)
    due = (inside["size"] >= 2) & (inside["since"] >= inside["median"])
    return {
        "pushed_pairs": len(keys),
        "bought_within_cycle": len(inside),
        "exempt_rebought_often": int(fast.sum()),
        "exempt_own_rhythm_due": int((due & ~fast).sum()),
        "unexplained": int((~fast & ~due).sum()),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workspace", type=Path, required=True, help="made when it does not exist")
    ap.add_argument("--preset", default="tiny")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--out", type=Path, default=None, help="results JSON")
    args = ap.parse_args()
    load_before = os.getloadavg()
    prep = prepare(args.workspace.resolve(), args.preset, args.seed)
    from serving.loader import load_snapshot

    ws = resolve_workspace(args.workspace)
    settings = load_settings(args.preset)
    t0 = time.perf_counter()
    snap = load_snapshot(ws, settings)
    t_load = time.perf_counter() - t0
    pushes = service_pushes(snap, settings)
    t_lists = time.perf_counter() - t0 - t_load
    products = pd.read_parquet(ws.data / "products.parquet")
    products[C.PRODUCT_ID] = products[C.PRODUCT_ID].astype(str)
    truth = read_truth(ws.data / "truth", snap.user_ids, products)
    orders = pd.read_parquet(
        ws.data / "orders.parquet", columns=[C.USER_ID, C.PRODUCT_ID, C.ORDERED_AT, C.QUANTITY]
    )
    cand = pd.Index(snap.prod_ids[snap.default_candidates].astype(str))
    pool = cand.intersection(truth.products)
    quality = expected(snap, truth, pushes, popular_products(snap, orders, snap.as_of, pool))
    m = quality["methods"]
    ratios = {
        f"{bound}_vs_{base}": m["service"][bound] / max(m[base][bound], 1e-12)
        for bound in ("low", "high")
        for base in ("random", "popularity")
    }
    violations = rule1(
        snap, pushes, orders, products, snap.as_of, settings.features.high_frequency_cycle_days
    )
    result = {
        "benchmark": "push_sim",
        "preset": args.preset,
        "workspace": str(args.workspace.resolve()),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "snapshot_as_of": str(snap.as_of),
        "truth_as_of": truth.meta["as_of"],
        "horizon_days": truth.meta["horizon_days"],
        "model_versions": dict(snap.model_versions),
        "candidates": len(cand),
        "candidates_with_truth": len(pool),
        "pushes": len(pushes),
        **quality,
        "ratios": ratios,
        "rule1": violations,
        "goals": {"vs_random": GOAL_RANDOM, "vs_popularity": GOAL_POPULAR, "unexplained": 0},
        "meets": bool(
            min(ratios["low_vs_random"], ratios["high_vs_random"]) >= GOAL_RANDOM
            and min(ratios["low_vs_popularity"], ratios["high_vs_popularity"]) >= GOAL_POPULAR
            and violations["unexplained"] == 0
        ),
        "seconds": {"prepare": prep, "snapshot_load": t_load, "push_lists": t_lists},
        "load_average_before": load_before,
        "load_average": os.getloadavg(),
    }
    out = args.out or ROOT / "benchmarks" / "results" / f"push_sim_{args.preset}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
