"""`grouppush train`: built snapshots -> point-in-time sets -> models -> registry -> champion."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

import pyarrow.compute as pc
import pyarrow.parquet as pq
from rich.console import Console

from configs import columns as C
from configs.settings import Settings
from configs.workspace import Workspace
from features.snapshots import (
    check_history,
    default_as_of,
    first_order_day,
    training_snapshot_dates,
)
from features.stages import Stages
from features.store import catalog
from features.store.offline_tables import offline_path
from training.datasets import (
    Fetch,
    MissingSnapshots,
    SnapshotSplit,
    category_stats_at,
    feast_fetcher,
    fetch_snapshots,
    load_orders,
    offline_fetcher,
    orders_before,
    split_snapshots,
)
from training.estimator import ModelResult
from training.registry import format_metric

TARGETS = ("repurchase", "interest", "push", "all")
NEEDED_TABLES = (
    catalog.USER_ACTIVITY.name,
    catalog.USER_INTEREST.name,
    catalog.CATEGORY_STATS.name,
)


def offline_dates(ws: Workspace, table: str) -> set[date]:
    """Snapshot dates present in an offline table's history (reads one column)."""
    path = offline_path(ws.offline, table)
    if not path.exists():
        return set()
    stamps = pc.unique(pq.read_table(path, columns=[C.EVENT_TIMESTAMP]).column(0))
    return {s.date() for s in stamps.to_pylist()}


def missing_snapshots(ws: Workspace, dates: Sequence[date]) -> list[date]:
    """The DATES some feature table training reads lacks in the offline history."""
    have = set.intersection(*(offline_dates(ws, t) for t in NEEDED_TABLES))
    return sorted(set(dates) - have)


def snapshot_plan(
    settings: Settings, ws: Workspace, as_of: date | None = None
) -> tuple[date, SnapshotSplit]:
    """The as-of date (default: the day after the last order) and the snapshot split training
    reads, after checking the order log reaches back far enough for the horizon."""
    cfg = settings.training
    as_of = as_of or cfg.as_of or default_as_of(ws.data)
    dates = training_snapshot_dates(
        as_of, cfg.horizon_days, cfg.n_snapshots, cfg.snapshot_spacing_days, cfg.snapshot_anchor
    )
    check_history(dates, first_order_day(ws.data), cfg.horizon_days)
    return as_of, split_snapshots(dates, cfg.horizon_days)


def feature_dates(
    settings: Settings, ws: Workspace, target: str = "all", as_of: date | None = None
) -> list[date]:
    """The feature snapshot dates train(TARGET, AS_OF) reads; none for the push model, which
    reads the order log. The front door builds the missing ones before calling train()."""
    if target == "push":
        return []
    _, split = snapshot_plan(settings, ws, as_of)
    return [*split.train, split.valid, split.test]


def _require_snapshots(ws: Workspace, as_of: date, dates: Sequence[date]) -> None:
    missing = missing_snapshots(ws, dates)
    if missing:
        shown = ", ".join(str(d) for d in missing)
        raise MissingSnapshots(
            f"feature snapshots missing for {shown} (training reads {len(dates)} dates); "
            f"run `grouppush train`, which builds them, or `grouppush features build "
            f"--as-of {as_of}` first"
        )


def readiness_note(settings: Settings) -> str:
    """Why a label horizon other than features.readiness_horizon_days is fine, said once.

    The readiness/renewal features are inputs computed over their own horizon, identical in
    training and serving, so a model trained for another horizon learns from them as they
    are (rebuilding them per training horizon would serve features the model never saw)."""
    label, features = settings.training.horizon_days, settings.features.readiness_horizon_days
    if label == features:
        return ""
    return (
        f"note: labels look {label} days ahead; the readiness features keep their "
        f"{features}-day horizon (features.readiness_horizon_days), as serving computes them"
    )


def serving_line(kind: str, result: ModelResult, summary: dict[str, Any]) -> str:
    """Which scorer serves KIND after this run, and why (one line for the user)."""
    champ = summary["champion"]
    value = format_metric(result.primary, result.metrics[result.primary])
    learned = f"learned v{summary['version']} {result.primary}={value}"
    serves = "the learned model" if champ["scorer"] == "learned" else f"baseline {champ['scorer']}"
    return f"{kind}: {learned}; champion v{champ['version']} = {serves}: {champ['reason']}"


def make_fetch(settings: Settings, ws: Workspace) -> Fetch:
    if settings.training.feature_source == "offline":
        return offline_fetcher(ws)
    return feast_fetcher(ws, settings.features)


def fit_target(
    kind: str,
    settings: Settings,
    ws: Workspace,
    fetch: Fetch | None,
    orders: Any,
    dates: Sequence[date],
    split: SnapshotSplit,
    stages: Stages | None = None,
) -> ModelResult:
    """Fit one model on its FeatureService's point-in-time rows."""
    cfg = settings.training
    stages = stages or Stages()
    if kind == "push":  # pair features from the order log itself: no feature tables
        from training.push import load_memberships, load_push_log, train_push

        with stages("push.load"):
            push_log = load_push_log(ws, split.test + _horizon(settings))
            memberships = load_memberships(ws)
        max_buyers = settings.serving.push_neighbour_max_buyers
        return train_push(push_log, memberships, split, cfg, stages, max_buyers)
    if fetch is None:
        raise ValueError(f"{kind}: a feature fetcher is required")
    if kind == "repurchase":
        from training.repurchase import train_repurchase

        with stages("repurchase.fetch"):
            frame = fetch_snapshots(fetch, orders, dates, catalog.REPURCHASE_SERVICE)
        return train_repurchase(frame, orders, split, cfg, stages)
    from training.interest import snapshot_caps, train_interest

    with stages("interest.fetch"):
        caps = snapshot_caps(split, cfg)
        frame = fetch_snapshots(fetch, orders, dates, catalog.INTEREST_SERVICE, caps, cfg.seed)
        stats = {d: category_stats_at(ws, d) for d in dates}
    return train_interest(
        frame, stats, orders, split, cfg, stages, settings.features.half_life_days
    )


def _horizon(settings: Settings) -> timedelta:
    return timedelta(days=settings.training.horizon_days)


def train(
    settings: Settings,
    ws: Workspace,
    target: str = "all",
    as_of: date | None = None,
    *,
    show_progress: bool = True,
) -> dict[str, Any]:
    """Train, evaluate on the held-out latest snapshot, log + register, maybe promote.

    Labels come only from orders before `as_of` (default: the day after the last order), so
    every label window [s, s + horizon) ends by as_of. The feature snapshots must exist
    (`feature_dates` lists them; grouppush.train_features builds them): a missing date raises
    MissingSnapshots, so no feature computation starts here unasked.
    """
    if target not in TARGETS:
        raise ValueError(f"target {target!r}: choose one of {', '.join(TARGETS)}")
    stages = Stages()
    with stages("setup"):  # imports (matplotlib, MLflow's client code) cost seconds
        from training.plots import model_figures, plt
        from training.registry import log_and_register

    console = Console(stderr=True, quiet=not show_progress)
    as_of, split = snapshot_plan(settings, ws, as_of)
    dates = [*split.train, split.valid, split.test]  # those the split dropped are never read
    note = readiness_note(settings)
    if note:
        console.print(note)
    kinds = ("repurchase", "interest", "push") if target == "all" else (target,)
    orders, fetch = None, None
    if kinds != ("push",):  # the push model reads the order log, not the feature tables
        _require_snapshots(ws, as_of, dates)
        with stages("load_orders"):
            orders = orders_before(load_orders(ws), as_of)
        with stages("feature_store"):  # `import feast` alone takes ~7 s
            fetch = make_fetch(settings, ws)
    out: dict[str, Any] = {
        "as_of": str(as_of),
        "snapshots": [str(d) for d in dates],
    }
    for kind in kinds:
        start = time.perf_counter()
        with console.status(f"training {kind} on {len(split.train)} snapshot(s)..."):
            try:
                result = fit_target(kind, settings, ws, fetch, orders, dates, split, stages)
            except (FileNotFoundError, ValueError) as exc:
                if kind != "push" or target == "push":
                    raise
                # `all` on a log without groups (or too short for push labels): say why
                out[kind] = {"skipped": str(exc)}
                console.print(f"{kind}: skipped: {exc}")
                continue
        fit_seconds = time.perf_counter() - start
        with console.status(f"logging {kind} to MLflow..."):
            with stages(f"{kind}.plots"):
                figures = model_figures(result)
            summary = log_and_register(result, settings, ws, as_of, figures, stages)
            plt.close("all")
        summary["train_seconds"] = round(fit_seconds, 2)
        summary["data"] = result.data
        out[kind] = summary
        out["stages"] = stages.summary()
        console.print(serving_line(kind, result, summary))
    return out
