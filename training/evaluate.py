"""`grouppush evaluate`: the champions on the held-out snapshot vs every candidate (the newest
learned version when a baseline serves, the baselines), and on simulated data against the
ground truth (realized future orders + the simulator's true propensities). The report and
metrics also go to an MLflow evaluation run linked to the champions' runs."""

from __future__ import annotations

import json
from datetime import date, datetime
from functools import partial
from typing import Any

import numpy as np
import pandas as pd
from rich.console import Console

from configs import columns as C
from configs.settings import Settings
from configs.workspace import Workspace
from features.snapshots import default_as_of, training_snapshot_dates
from features.store import catalog
from training import interest as interest_mod
from training import repurchase as repurchase_mod
from training.datasets import (
    MissingSnapshots,
    category_stats_at,
    fetch_snapshots,
    load_orders,
    orders_before,
    scoring_tables,
    split_snapshots,
    window,
    with_category,
)
from training.estimator import predict
from training.metrics import classification_metrics, ranking_metrics
from training.registry import (
    LEARNED,
    PREVIOUS_TAG,
    SCORER_TAG,
    load_champion,
    load_version,
    log_evaluation,
    newest_learned,
)
from training.report import strip_frames, write_report
from training.train import make_fetch, missing_snapshots


def _champion(ws: Workspace, kind: str) -> tuple[Any, dict[str, Any]]:
    try:
        model, version = load_champion(ws, kind)
    except LookupError as exc:
        return None, {"error": str(exc)}
    return model, {
        "model_name": version.name,
        "version": version.version,
        "scorer": version.tags.get(SCORER_TAG, LEARNED),
        "run_id": version.run_id,
        "tags": version.tags,
    }


def _challengers(ws: Workspace, champions: dict[str, Any]) -> dict[str, list[tuple[str, Any]]]:
    """{kind: [(label, model)]}: the newest learned version where a baseline serves, and the
    previous champion the serving version replaced (its `previous_champion` tag)."""
    out: dict[str, list[tuple[str, Any]]] = {}
    for kind, info in champions.items():
        if info.get("scorer", LEARNED) != LEARNED:
            found = newest_learned(ws, kind)
            if found is not None:
                out.setdefault(kind, []).append((f"learned v{found[1].version}", found[0]))
        previous = (info.get("tags") or {}).get(PREVIOUS_TAG)
        if previous is not None:
            try:
                model = load_version(ws, kind, str(previous))
            except Exception as exc:  # noqa: BLE001 - deleted or unreadable: report without it
                info["previous_champion_error"] = f"v{previous} could not be loaded: {exc}"
                continue
            out.setdefault(kind, []).append((f"previous champion v{previous}", model))
    return out


def _scored(section: dict[str, Any], label: str, score: Any) -> None:
    """section's candidates[label] = score(), or candidate_errors[label] = why it could not
    be scored on this holdout (an old version may need other feature columns)."""
    try:
        section.setdefault("candidates", {})[label] = score()
    except Exception as exc:  # noqa: BLE001 - reported, the evaluation goes on
        section.setdefault("candidate_errors", {})[label] = str(exc)


def _ranking(model: Any, *args: Any) -> dict[str, Any]:
    """A candidate interest model's ranking metrics on the holdout pairs."""
    return interest_mod.score_holdout(model, *args)[1]  # type: ignore[no-any-return]


def evaluation_dates(settings: Settings, ws: Workspace, as_of: date) -> list[date]:
    """The feature dates evaluate reads: the held-out snapshot, and on simulated data AS_OF
    (scored against the ground truth). The CLI builds the missing ones first."""
    cfg = settings.training
    dates = training_snapshot_dates(
        as_of, cfg.horizon_days, cfg.n_snapshots, cfg.snapshot_spacing_days, cfg.snapshot_anchor
    )
    test = split_snapshots(dates, cfg.horizon_days).test
    return sorted({test, as_of} if (ws.truth / "meta.json").exists() else {test})


def _require_snapshots(ws: Workspace, dates: list[date]) -> None:
    missing = missing_snapshots(ws, dates)
    if missing:
        shown = ", ".join(str(d) for d in missing)
        raise MissingSnapshots(
            f"feature snapshots missing for {shown}: run `grouppush evaluate`, which builds "
            f"them, or `grouppush features build --as-of {missing[-1]}` first"
        )


def held_out(
    settings: Settings,
    ws: Workspace,
    as_of: date,
    models: dict[str, Any],
    challengers: dict[str, list[tuple[str, Any]]] | None = None,
) -> dict:
    """Champion metrics on the latest snapshot whose label window ends by as_of."""
    cfg = settings.training
    challengers = challengers or {}
    dates = training_snapshot_dates(
        as_of, cfg.horizon_days, cfg.n_snapshots, cfg.snapshot_spacing_days, cfg.snapshot_anchor
    )
    test = split_snapshots(dates, cfg.horizon_days).test
    _require_snapshots(ws, [test])
    orders = orders_before(load_orders(ws), as_of)
    fetch = make_fetch(settings, ws)
    out: dict[str, Any] = {"snapshot": str(test), "horizon_days": cfg.horizon_days}
    if models.get("repurchase") is not None:
        frame = fetch_snapshots(fetch, orders, [test], catalog.REPURCHASE_SERVICE)
        frame = repurchase_mod.add_labels(frame, orders, cfg.horizon_days)
        hold, metrics, base = repurchase_mod.score_holdout(
            models["repurchase"], frame, orders, test, cfg.horizon_days
        )
        out["repurchase"] = {"model": metrics, "baselines": base, "_holdout": hold}
        y = frame[C.LABEL].to_numpy()
        for label, other in challengers.get("repurchase", []):
            _scored(
                out["repurchase"],
                label,
                lambda m=other: classification_metrics(y, predict(m, frame)),
            )
    if models.get("interest") is not None:
        caps = {test: cfg.interest_eval_max_users}  # the sample training evaluates on
        frame = fetch_snapshots(fetch, orders, [test], catalog.INTEREST_SERVICE, caps, cfg.seed)
        stats = category_stats_at(ws, test)
        pairs = interest_mod.snapshot_pairs(
            frame, stats, orders, test, cfg, cfg.interest_eval_max_users
        )
        scored, metrics, base, _ = interest_mod.score_holdout(
            models["interest"], pairs, orders, stats, test, cfg
        )
        out["interest"] = {"model": metrics, "baselines": base}
        for label, other in challengers.get("interest", []):
            _scored(
                out["interest"], label, partial(_ranking, other, pairs, orders, stats, test, cfg)
            )
    return out


def against_truth(settings: Settings, ws: Workspace, models: dict[str, Any]) -> dict[str, Any]:
    """Score users as of the simulator's as_of; compare with realized future orders, and with
    the oracle (the simulator's true probabilities)."""
    from training.baselines import interest_baselines, repurchase_baselines
    from training.datasets import category_truth
    from training.scoring import interest_scores, repurchase_scores

    meta = json.loads((ws.truth / "meta.json").read_text(encoding="utf-8"))
    as_of = datetime.strptime(str(meta["as_of"])[:10], "%Y-%m-%d").date()
    horizon = int(meta.get("horizon_days", settings.training.horizon_days))
    tables = scoring_tables(settings, ws, as_of)
    history = orders_before(load_orders(ws), as_of)
    future = pd.read_parquet(ws.truth / "future_orders.parquet")
    future = with_category(ws, future)
    future = window(future, as_of, horizon)
    users = pd.Series(np.sort(history[C.USER_ID].unique()))
    out: dict[str, Any] = {"as_of": str(as_of), "horizon_days": horizon, "n_users": len(users)}

    activity = tables[catalog.USER_ACTIVITY.name]
    activity = activity[activity[C.USER_ID].isin(users)].drop_duplicates(C.USER_ID)
    y = activity[C.USER_ID].isin(future[C.USER_ID].unique()).to_numpy(dtype=int)
    rep: dict[str, Any] = {"baselines": {}}
    if models.get("repurchase") is not None:
        probs = repurchase_scores(models["repurchase"], activity)[C.REPURCHASE_PROB].to_numpy()
        rep["model"] = classification_metrics(y, probs)
    for name, scores in repurchase_baselines(activity, history, as_of, horizon).items():
        rep["baselines"][name] = classification_metrics(y, scores)
    oracle_path = ws.truth / "user_repurchase.parquet"
    if oracle_path.exists():
        oracle = pd.read_parquet(oracle_path).drop_duplicates(C.USER_ID).set_index(C.USER_ID)
        p = activity[C.USER_ID].map(oracle["prob"]).fillna(0.0).to_numpy()
        rep["oracle"] = classification_metrics(y, p)
    out["repurchase"] = rep

    interest = tables[catalog.USER_INTEREST.name]
    interest = interest[interest[C.USER_ID].isin(users)].drop_duplicates(C.USER_ID)
    stats = tables[catalog.CATEGORY_STATS.name]
    truth = category_truth(future, as_of, horizon)
    truth = truth[truth[C.USER_ID].isin(interest[C.USER_ID])]
    inter: dict[str, Any] = {"baselines": {}}
    if models.get("interest") is not None:
        scored = interest_scores(
            models["interest"],
            interest,
            activity,
            stats,
            settings.training.interest_popular_candidates,
        )
        inter["model"] = ranking_metrics(scored, truth)
    from modelinput.pairs import build_pairs

    pairs = build_pairs(interest, stats, activity, settings.training.interest_popular_candidates)
    rankings = interest_baselines(pairs, history, stats, as_of, settings.training.decay_half_lives)
    for name, frame in rankings.items():
        inter["baselines"][name] = ranking_metrics(frame, truth)
    oracle_cat = ws.truth / "user_category.parquet"
    if oracle_cat.exists():
        probs = pd.read_parquet(oracle_cat).rename(columns={"prob": C.SCORE})
        probs[C.CATEGORY_ID] = probs[C.CATEGORY_ID].astype(str)
        inter["oracle"] = ranking_metrics(probs, truth)
    out["interest"] = inter
    return out


def evaluate(
    settings: Settings, ws: Workspace, as_of: date | None = None, *, show_progress: bool = True
) -> dict[str, Any]:
    """Write reports/evaluation.html + reports/metrics.json; returns the metrics (no frames)."""
    console = Console(stderr=True, quiet=not show_progress)
    as_of = as_of or settings.training.as_of or default_as_of(ws.data)
    models, champions = {}, {}
    for kind in ("repurchase", "interest"):
        models[kind], champions[kind] = _champion(ws, kind)
    result: dict[str, Any] = {"as_of": str(as_of), "champions": champions}
    with console.status("scoring the held-out snapshot..."):
        result["held_out"] = held_out(settings, ws, as_of, models, _challengers(ws, champions))
    push_model, champions["push"] = _champion(ws, "push")
    if push_model is not None:
        from training.push import evaluate_champion

        with console.status("push model: hits@5 per group on the held-out snapshot..."):
            result["held_out"]["push"] = evaluate_champion(settings, ws, as_of, push_model)
    if (ws.truth / "meta.json").exists():
        with console.status("comparing with the simulator's ground truth..."):
            result["truth"] = against_truth(settings, ws, models)
    result["targets"] = targets(result)
    paths = write_report(result, ws.reports)
    result["report"] = {k: str(v) for k, v in paths.items()}
    result["report"]["mlflow_run_id"] = log_evaluation(ws, strip_frames(result), paths, champions)
    console.print(f"report: {paths['html']} (MLflow run {result['report']['mlflow_run_id']})")
    return strip_frames(result)


def targets(result: dict[str, Any]) -> dict[str, Any]:
    """The design's quality targets, checked where the data allows."""
    out: dict[str, Any] = {}
    truth = result.get("truth")
    if truth:
        rep = truth["repurchase"]
        if "model" in rep and "oracle" in rep:
            gap = rep["oracle"]["auc"] - rep["model"]["auc"]
            out["repurchase_auc_gap_to_oracle"] = gap
            out["repurchase_auc_within_0.02_of_oracle"] = bool(gap <= 0.02)
        inter = truth["interest"]
        if "model" in inter:
            model = inter["model"]["recall@5"]
            recent = inter["baselines"]["most_recent"]["recall@5"]
            popular = inter["baselines"]["popularity"]["recall@5"]
            out["interest_recall5_vs_most_recent"] = model / recent if recent else None
            out["interest_recall5_vs_popularity"] = model / popular if popular else None
            out["interest_targets_met"] = bool(model >= 1.3 * recent and model >= 2 * popular)
    held = result.get("held_out", {}).get("interest")
    if held:
        best = held["baselines"]["decayed_frequency_best"]["ndcg@10"]
        out["interest_ndcg10_beats_decayed_frequency"] = bool(held["model"]["ndcg@10"] > best)
    return out
