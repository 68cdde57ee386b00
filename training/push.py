"""Push model: P(member buys product p within the horizon), LightGBM on member x product pairs.

Rows are the "warm" pairs of past snapshots (the member bought p or a close substitute in the
lookback), for a seeded sample of products per snapshot; features come from
modelinput/push_pairs.py (orders strictly before the snapshot), labels from [s, s + horizon).
Members with no product-level signal are "cold": serving scores them from the category level,
scaled by `cold_rate` (P(buy p | cold member buys p's category)), fitted here on the validation
snapshot and logged with the model.

The holdout is what the push list does: for sampled (group, product) queries, the 5 members a
method targets and whether they buy the product in the window (hits@5 per group), against the
rule baselines (own decayed purchases of the product, of its category, product-then-category at
each half-life) and random.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from configs import columns as C
from configs.settings import TrainingSettings
from features.stages import Stages
from modelinput import push_pairs as pp
from modelinput.push_log import PushLog, code_orders, day_number
from training.baseline_models import push_candidates
from training.datasets import SnapshotSplit
from training.estimator import ModelResult, fit_on_split, importances, predict

K = 5
FEATURE_SERVICE = "push_pairs_v1"  # computed from the order log, not a Feast FeatureService
MIN_BUYERS = 2  # products sampled as targets need this many buyers in the lookback


@dataclass
class SnapshotData:
    day: date
    history: pp.PushHistory
    members: pd.DataFrame  # (u, g)
    sizes: np.ndarray
    targets: np.ndarray
    edges: pd.DataFrame
    bought: np.ndarray  # sorted pair keys (u * n_products + p) bought in the label window
    g_buyers: pd.DataFrame  # group_buyers of the targets, shared by warm_rows and query_rows


def label_pairs(log: PushLog, h: pp.PushHistory, day: date, horizon: int) -> np.ndarray:
    """Sorted keys u * len(h.products) + p of the history's users/products bought in
    [day, day + horizon)."""
    t = day_number(day)
    w = (log.day >= t) & (log.day < t + horizon)
    u = h.users.get_indexer(log.users)[log.u[w]]  # log code -> history code (-1: absent)
    p = h.products.get_indexer(log.products)[log.p[w]]
    ok = (u >= 0) & (p >= 0)
    return pp.sorted_unique(u[ok].astype(np.int64) * len(h.products) + p[ok])


def prepare(
    orders: PushLog | pd.DataFrame,
    memberships: pd.DataFrame,
    day: date,
    cfg: TrainingSettings,
    n_products: int,
    seed: int,
    max_buyers: int | None = None,
) -> SnapshotData:
    """History, groups, a seeded sample of target products, their substitutes (neighbours
    with more than MAX_BUYERS buyers left out, as serving's push_neighbour_max_buyers does)
    and labels."""
    log = orders if isinstance(orders, PushLog) else code_orders(orders)
    h = pp.push_history(log, day)
    members, _, sizes = pp.member_groups(memberships, h, day)
    eligible = np.flatnonzero(h.prod["buyers_365"].to_numpy() >= MIN_BUYERS)
    rng = np.random.default_rng(seed)
    if len(eligible) > n_products:
        eligible = np.sort(rng.choice(eligible, n_products, replace=False))
    edges = pp.substitutes(h, eligible, max_buyers=max_buyers)
    bought = label_pairs(log, h, day, cfg.horizon_days)
    gb = pp.group_buyers(h, members, eligible)
    return SnapshotData(day, h, members, sizes, eligible, edges, bought, gb)


def _labels(frame: pd.DataFrame, bought: np.ndarray, n_products: int) -> np.ndarray:
    """1 where the frame's (u, p) is among BOUGHT's keys (a Python set lookup per pair took
    seconds for demo's 9M warm pairs)."""
    keys = frame.u.to_numpy(np.int64) * n_products + frame.p.to_numpy(np.int64)
    return np.isin(keys, bought).astype(np.int8)


def warm_positives(s: SnapshotData) -> pd.DataFrame:
    """Every warm pair of the targets bought in the label window, with its groups: found from
    the window's purchases by key lookups, never from the warm expansion."""
    n_p = len(s.history.products)
    u, p = s.bought // n_p, s.bought % n_p
    keep = np.isin(p, s.targets)
    u, p = u[keep], p[keep]
    warm = pp.is_warm(s.history, s.edges, u, p)
    pos = pd.DataFrame({"u": u[warm], "p": p[warm]}).merge(s.members, on="u")
    return pos.assign(**{C.LABEL: np.int8(1)})


def warm_sample(s: SnapshotData, rows: int, seed: int) -> pd.DataFrame:
    """Warm pairs (u, p, g, label) of a seeded sample of users sized for about 3 x ROWS
    pairs (an upper bound from buyer counts), so the substitute expansion is materialised
    for those users only: a uniform sample of users keeps the positive rate."""
    h = s.history
    bound = pp.warm_size(h, s.targets, s.edges)
    share = min(1.0, 3.0 * rows / max(bound, 1))
    users = np.random.default_rng(seed).random(len(h.users)) < share
    warm = pp.warm_pairs(h, s.targets, s.edges, users=None if share >= 1 else users)
    warm = warm.merge(s.members, on="u")
    warm[C.LABEL] = _labels(warm, s.bought, len(h.products))
    return warm


def warm_rows(
    s: SnapshotData, max_rows: int | None = None, seed: int = 0, keep_positives: bool = True
) -> pd.DataFrame:
    """Warm pairs of the targets with features, group, label and user_id; about MAX_ROWS,
    chosen before any feature is computed (demo: 8.5M warm pairs, 7.7 GB of features, for a
    200k-row training set) and before the substitute expansion (large: up to 355M pairs):
    every positive and negatives of a user sample (KEEP_POSITIVES; as many negatives as
    positives when the positives alone fill MAX_ROWS: the large preset's 30-day window has
    ~0.5M warm positives, and 100k negatives left the model below the rules), or a uniform
    sample that keeps the positive rate (validation: calibration needs it)."""
    rows = max_rows if max_rows is not None else pp.warm_size(s.history, s.targets, s.edges)
    if keep_positives:
        pos = warm_positives(s)
        n_neg = max(rows - len(pos), len(pos))
        warm = warm_sample(s, max(rows, 2 * len(pos)), seed)
        neg = warm[warm[C.LABEL] == 0]
        neg = neg.sample(n=min(n_neg, len(neg)), random_state=seed)
        warm = pd.concat([pos, neg], ignore_index=True)
    else:
        warm = warm_sample(s, rows, seed)
        if len(warm) > rows:
            warm = warm.sample(n=rows, random_state=seed).reset_index(drop=True)
    f = pp.pair_features(s.history, warm, s.edges, s.g_buyers, s.sizes)
    f[C.LABEL] = warm[C.LABEL].to_numpy()
    f[C.USER_ID] = s.history.users[f.u.to_numpy()]
    return f


def eval_groups(s: SnapshotData, per_group: int, max_rows: int, seed: int) -> np.ndarray:
    """A seeded sample of groups whose queries (PER_GROUP products x members) stay within
    MAX_ROWS rows (at least one group)."""
    order = np.random.default_rng(seed).permutation(len(s.sizes))
    order = order[s.sizes[order] > 0]
    rows = np.cumsum(s.sizes[order].astype(np.int64) * per_group)
    return np.sort(order[: max(int(np.searchsorted(rows, max_rows, side="right")), 1)])


def query_count(
    queries: pd.DataFrame,
    s: SnapshotData,
    per_group: int,
    min_buyers: int,
    max_rows: int | None,
    recent_days: int,
) -> int:
    """How many of QUERIES (g, p; in rounds: every group's 1st product, then its 2nd, ...)
    to keep: PER_GROUP rounds, and more rounds while the kept queries hold fewer than
    MIN_BUYERS recent buyers and fewer than MAX_ROWS member rows. Why: on a log of small
    groups (a real shop: ~6 households per store) 20 products per group gave a holdout of
    90 buyers, a gate decided by a handful of hits. Recent buyers (members who bought the
    product in the RECENT_DAYS before the snapshot) stand in for the label window's buyers,
    so the holdout's size never looks at its labels."""
    base = int((queries["r"].to_numpy() < per_group).sum())
    if min_buyers <= 0 or base >= len(queries):
        return base
    h = s.history
    recent = h.up.loc[h.up["last"].to_numpy() < recent_days, ["u", "p"]]
    counts = recent.merge(s.members, on="u").groupby(["g", "p"]).size().rename("n")
    n = queries.join(counts, on=["g", "p"])["n"].fillna(0).to_numpy()
    need = int(np.searchsorted(np.cumsum(n), min_buyers)) + 1
    take = max(base, min(need, len(queries)))
    if max_rows is not None:
        rows = np.cumsum(s.sizes[queries["g"].to_numpy()].astype(np.int64))
        take = max(base, min(take, int(np.searchsorted(rows, max_rows, side="right"))))
    return take


def query_rows(
    s: SnapshotData,
    per_group: int,
    seed: int,
    max_rows: int | None = None,
    min_buyers: int = 0,
    recent_days: int = 30,
) -> pd.DataFrame:
    """Every member of sampled (group, product) queries (products with a warm member in the
    group, up to PER_GROUP per group or more until MIN_BUYERS recent buyers: query_count;
    groups sampled to about MAX_ROWS rows), warm flag, features and label. The queries come
    from the groups' bought products and their substitutes' reverse edges: no member-level
    expansion."""
    h = s.history
    members = s.members
    if max_rows is not None:
        members = members[members.g.isin(eval_groups(s, per_group, max_rows, seed))]
    bought = h.up[["u", "p"]].merge(members, on="u")[["g", "p"]].drop_duplicates()
    own = bought[bought.p.isin(s.targets)]
    via = s.edges[s.edges.p.isin(s.targets)][["p", "q"]]
    via = via.merge(bought.rename(columns={"p": "q"}), on="q")[["g", "p"]]
    queries = pd.concat([own, via], ignore_index=True).drop_duplicates(ignore_index=True)
    queries = queries.sort_values(["g", "p"], ignore_index=True)
    queries = queries.sample(frac=1.0, random_state=seed, ignore_index=True)
    queries["r"] = queries.groupby("g").cumcount()
    by_round = queries.sort_values("r", kind="stable")
    take = query_count(by_round, s, per_group, min_buyers, max_rows, recent_days)
    kept = queries.loc[np.sort(by_round.index.to_numpy()[:take]), ["g", "p"]]
    rows = kept.merge(members, on="g")
    f = pp.pair_features(h, rows, s.edges, s.g_buyers, s.sizes)
    f["warm"] = pp.is_warm(h, s.edges, f.u.to_numpy(), f.p.to_numpy())
    f[C.LABEL] = _labels(f, s.bought, len(h.products))
    f[C.USER_ID] = h.users[f.u.to_numpy()]
    return f


def cold_score(frame: pd.DataFrame) -> np.ndarray:
    """Category-level P(buy the category) proxy of training time: 1 - exp(-decayed days)."""
    return 1.0 - np.exp(-frame["c_d56"].to_numpy(np.float64))


def fit_cold_rate(frame: pd.DataFrame) -> float:
    """P(buy p) per unit of category score among cold members with category history."""
    cold = frame[~frame["warm"] & (frame["c_d56"] > 0)]
    total = cold_score(cold).sum()
    return float(cold[C.LABEL].sum() / total) if total > 0 else 0.0


def rule_scores(frame: pd.DataFrame, half_lives: list[float]) -> dict[str, np.ndarray]:
    """The simple rankings: own decayed purchases of the product, its category, both."""
    out = {}
    for h in half_lives:
        p, c = frame[f"p_d{int(h)}"].to_numpy(), frame[f"c_d{int(h)}"].to_numpy()
        out[f"product_hl{int(h)}"] = p
        out[f"category_hl{int(h)}"] = c
        out[f"product_then_category_hl{int(h)}"] = p * 1e4 + c
    return out


def hits_at_k(frame: pd.DataFrame, score: np.ndarray, seed: int, k: int = K) -> dict[str, float]:
    """Top-K members per (group, product) query by SCORE (seeded random tie-break): hits,
    precision (hits / targets), recall (hits / buyers in the queries)."""
    jitter = np.random.default_rng(seed).random(len(frame)) * 1e-9
    g, p = frame.g.to_numpy(np.int64), frame.p.to_numpy(np.int64)
    y = frame[C.LABEL].to_numpy()
    order = np.lexsort((-(np.asarray(score, np.float64) + jitter), p, g))  # one sort, no groupby
    g, p = g[order], p[order]
    start = np.r_[True, (g[1:] != g[:-1]) | (p[1:] != p[:-1])]
    first = np.maximum.accumulate(np.where(start, np.arange(len(g)), 0))
    top = (np.arange(len(g)) - first) < k
    hits, positives = float(y[order][top].sum()), float(y.sum())
    return {
        f"hits@{k}": hits,
        f"precision@{k}": hits / max(int(top.sum()), 1),
        f"recall@{k}": hits / positives if positives else float("nan"),
        "queries": float(start.sum()),
    }


def model_scores(model: Any, frame: pd.DataFrame, cold_rate: float) -> np.ndarray:
    """Warm pairs: the model's probability; cold: cold_rate x the category-level score."""
    out = cold_rate * cold_score(frame)
    warm = frame["warm"].to_numpy()
    if warm.any():
        out[warm] = predict(model, frame.loc[warm, list(pp.PUSH_FEATURES)])
    return out


def evaluate_holdout(
    model: Any, frame: pd.DataFrame, cold_rate: float, cfg: TrainingSettings
) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    metrics = hits_at_k(frame, model_scores(model, frame, cold_rate), cfg.seed)
    baselines = {
        name: hits_at_k(frame, s, cfg.seed)
        for name, s in rule_scores(frame, cfg.decay_half_lives).items()
    }
    rng = np.random.default_rng(cfg.seed + 1)
    baselines["random"] = hits_at_k(frame, rng.random(len(frame)), cfg.seed)
    rules = {k: v for k, v in baselines.items() if k != "random"}
    best = max(rules, key=lambda k: rules[k][f"hits@{K}"])
    baselines["rule_best"] = dict(rules[best])  # the name: rule_name(baselines)
    metrics["vs_rule_best"] = metrics[f"hits@{K}"] / max(rules[best][f"hits@{K}"], 1.0)
    return metrics, baselines


def rule_name(baselines: dict[str, dict[str, float]]) -> str:
    """Which rule is `rule_best` (the first rule with its hits)."""
    best = baselines["rule_best"][f"hits@{K}"]
    rules = [k for k in baselines if k not in ("random", "rule_best")]
    return next(k for k in rules if baselines[k][f"hits@{K}"] == best)


def train_push(
    orders: PushLog | pd.DataFrame,
    memberships: pd.DataFrame,
    split: SnapshotSplit,
    cfg: TrainingSettings,
    stages: Stages | None = None,
    neighbour_max_buyers: int | None = None,
) -> ModelResult:
    """Fit on the training snapshots' warm pairs, early-stop/calibrate on the validation
    snapshot's, and score hits@5 on the held-out snapshot's queries. NEIGHBOUR_MAX_BUYERS:
    serving's push_neighbour_max_buyers, so training sees the neighbours serving scores."""
    stages = stages or Stages()
    numeric = list(pp.PUSH_FEATURES)
    log = orders if isinstance(orders, PushLog) else code_orders(orders)

    def snapshot(day: date, seed: int) -> SnapshotData:
        with stages("push.snapshot"):  # history, groups, targets, substitutes, labels
            return prepare(
                log, memberships, day, cfg, cfg.push_max_products, seed, neighbour_max_buyers
            )

    per_group, eval_rows = cfg.push_eval_products_per_group, cfg.push_eval_max_rows
    sizing = {"min_buyers": cfg.push_eval_min_buyers, "recent_days": cfg.horizon_days}
    with stages("push.pairs"):
        train_parts = []
        for i, d in enumerate(split.train):
            s_train = snapshot(d, cfg.seed + i)
            with stages("push.rows"):
                train_parts.append(warm_rows(s_train, cfg.push_max_rows, cfg.seed + i))
            del s_train
        train = pd.concat(train_parts, ignore_index=True)
        del train_parts
        s_valid = snapshot(split.valid, cfg.seed)
        with stages("push.rows"):
            valid = warm_rows(s_valid, cfg.push_max_rows, cfg.seed, keep_positives=False)
        with stages("push.queries"):
            valid_q = query_rows(s_valid, per_group, cfg.seed, eval_rows, **sizing)
        del s_valid
        s_test = snapshot(split.test, cfg.seed)
        with stages("push.queries"):
            test = query_rows(s_test, per_group, cfg.seed, eval_rows, **sizing)
        del s_test
    if train[C.LABEL].sum() == 0 or valid[C.LABEL].sum() == 0:
        raise ValueError("push: no warm pair bought its product in a label window; more data")
    with stages("push.fit"):
        model, pipe = fit_on_split(numeric, [], train, valid, cfg, method="sigmoid")
        cold_rate = fit_cold_rate(valid_q)
    with stages("push.holdout"):
        metrics, baselines = evaluate_holdout(model, test, cold_rate, cfg)
    metrics["cold_rate"] = cold_rate
    primary = f"hits@{K}"
    bar = max(v[primary] for k, v in baselines.items() if k not in ("random", "rule_best"))
    return ModelResult(
        name="push",
        model=model,
        pipe=pipe,
        numeric=numeric,
        categorical=[],
        feature_service=FEATURE_SERVICE,
        metrics=metrics,
        baselines=baselines,
        primary=primary,
        bar=bar,
        holdout=test.assign(**{C.SCORE: model_scores(model, test, cold_rate)}),
        holdout_metric=lambda m: hits_at_k(test, model_scores(m, test, cold_rate), cfg.seed)[
            primary
        ],
        importance=importances(pipe),
        candidates=push_candidates(valid, valid[C.LABEL].to_numpy()),
        example=test.loc[test["warm"], numeric].head(5).reset_index(drop=True),
        data={
            "train_snapshots": [str(d) for d in split.train],
            "valid_snapshot": str(split.valid),
            "test_snapshot": str(split.test),
            "n_train": len(train),
            "n_valid": len(valid),
            "n_test": len(test),
            "train_positive_rate": float(train[C.LABEL].mean()),
            "cold_rate": cold_rate,
            "rule_best": rule_name(baselines),
        },
    )


def cap_rows(frame: pd.DataFrame, max_rows: int, seed: int) -> pd.DataFrame:
    """At most MAX_ROWS rows: every positive, a seeded sample of the negatives (the model is
    calibrated on the unsampled validation snapshot)."""
    if len(frame) <= max_rows:
        return frame
    pos = frame[frame[C.LABEL] == 1]
    neg = frame[frame[C.LABEL] == 0]
    n_neg = max(max_rows - len(pos), 0)
    return pd.concat([pos, neg.sample(n=min(n_neg, len(neg)), random_state=seed)])


def load_push_orders(ws: Any) -> pd.DataFrame:
    return pp.read_push_orders(ws.data)


def load_push_log(ws: Any, before: date | None = None) -> PushLog:
    """The order log coded once (modelinput.push_log): no Python string per order line."""
    from modelinput.push_log import read_push_log

    return read_push_log(ws.data, before)


def load_memberships(ws: Any) -> pd.DataFrame:
    return pp.read_memberships(ws.data)


def champion_cold_rate(ws: Any) -> float:
    """The cold_rate metric logged with the push champion's training run (0 when none)."""
    from training.registry import MODEL_NAMES, champion_version, configure

    client = configure(ws)
    version = champion_version(client, MODEL_NAMES["push"])
    if version is None or not version.run_id:
        return 0.0
    return float(client.get_run(version.run_id).data.metrics.get("cold_rate", 0.0))


def evaluate_champion(settings: Any, ws: Any, as_of: date, model: Any) -> dict[str, Any]:
    """hits@5 per group of the push champion vs the rules and random on the held-out snapshot
    whose label window ends by AS_OF (and, on simulated data, in the realised future orders
    when the truth folder holds them: same protocol, features as of the simulation end)."""
    from features.snapshots import training_snapshot_dates
    from training.datasets import orders_before, split_snapshots

    cfg = settings.training
    dates = training_snapshot_dates(
        as_of, cfg.horizon_days, cfg.n_snapshots, cfg.snapshot_spacing_days, cfg.snapshot_anchor
    )
    test = split_snapshots(dates, cfg.horizon_days).test
    orders = orders_before(load_push_orders(ws), as_of)
    memberships = load_memberships(ws)
    cold_rate = champion_cold_rate(ws)
    max_buyers = settings.serving.push_neighbour_max_buyers
    per_group, eval_rows = cfg.push_eval_products_per_group, cfg.push_eval_max_rows
    sizing = {"min_buyers": cfg.push_eval_min_buyers, "recent_days": cfg.horizon_days}
    s = prepare(orders, memberships, test, cfg, cfg.push_max_products, cfg.seed, max_buyers)
    frame = query_rows(s, per_group, cfg.seed, eval_rows, **sizing)
    metrics, baselines = evaluate_holdout(model, frame, cold_rate, cfg)
    out: dict[str, Any] = {
        "snapshot": str(test),
        "model": metrics,
        "baselines": baselines,
        "rule_best": rule_name(baselines),
    }
    future = ws.truth / "future_orders.parquet"
    if future.exists():
        extra = pd.read_parquet(future)
        if {C.USER_ID, C.PRODUCT_ID, C.ORDERED_AT}.issubset(extra.columns):
            extra = extra.assign(**{C.QUANTITY: extra.get(C.QUANTITY, 1.0)})
            both = pd.concat([orders, _with_category_of(orders, extra)], ignore_index=True)
            s = prepare(both, memberships, as_of, cfg, cfg.push_max_products, cfg.seed, max_buyers)
            frame = query_rows(s, per_group, cfg.seed, eval_rows, **sizing)
            metrics, baselines = evaluate_holdout(model, frame, cold_rate, cfg)
            out["truth"] = {"as_of": str(as_of), "model": metrics, "baselines": baselines}
    return out


def _with_category_of(orders: pd.DataFrame, extra: pd.DataFrame) -> pd.DataFrame:
    """EXTRA orders with ordered_at in UTC and the category ORDERS give their products."""
    cats = orders.drop_duplicates(C.PRODUCT_ID).set_index(C.PRODUCT_ID)[C.CATEGORY_ID]
    out = extra[[C.USER_ID, C.PRODUCT_ID, C.ORDERED_AT, C.QUANTITY]].copy()
    out[C.ORDERED_AT] = pd.to_datetime(out[C.ORDERED_AT], utc=True)
    out[C.USER_ID] = out[C.USER_ID].astype(str)
    out[C.PRODUCT_ID] = out[C.PRODUCT_ID].astype(str)
    out[C.CATEGORY_ID] = out[C.PRODUCT_ID].map(cats).fillna(out[C.PRODUCT_ID]).astype(str)
    return out
