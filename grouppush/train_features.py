"""The feature snapshots training reads, built by the front door before train() runs.

Why here and not in training: train() only reads features. Computing them is the feature
build's job, so the commands that train (`train`, `demo`) ask training which dates it needs
and build the missing ones in the open, as their own timed stage. train() called without
them raises MissingSnapshots, which names the dates and the command to run.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from configs.settings import Settings
from configs.workspace import Workspace
from features.stages import Stages


def build_training_features(
    settings: Settings,
    ws: Workspace,
    target: str = "all",
    as_of: date | None = None,
    *,
    show_progress: bool = True,
) -> dict[str, Any]:
    """Compute the snapshots train(TARGET, AS_OF) needs that the offline history lacks.

    Returns {"computed_snapshots": [...], "stages": {"seconds", "peak_rss_mib"}}: the stage
    `ensure_snapshots` (none for the push model, which reads only the order log)."""
    from training.train import feature_dates

    stages = Stages()
    computed: list[date] = []
    dates = feature_dates(settings, ws, target, as_of)
    if dates:
        with stages("ensure_snapshots"):
            computed = build_feature_dates(settings, ws, dates, show_progress=show_progress)
    return {"computed_snapshots": [str(d) for d in computed], "stages": stages.summary()}


def build_feature_dates(
    settings: Settings, ws: Workspace, dates: list[date], *, show_progress: bool = False
) -> list[date]:
    """Compute the DATES the offline history lacks (returned), and register the Feast feature
    services when the workspace never ran `features build`: the front door of every command
    that reads features (train, evaluate, the model exports)."""
    from training.train import missing_snapshots

    computed = missing_snapshots(ws, dates)
    if computed:
        from features.compute.build import compute_snapshots

        compute_snapshots(settings, ws, computed, show_progress=show_progress)
    if not ws.feast_registry.exists():
        from features.store.feast_store import apply_definitions, get_store, write_repo_yaml

        apply_definitions(get_store(ws, settings.features), ws)
        write_repo_yaml(ws, settings.features)
    return computed


def with_built(built: dict[str, Any], result: dict[str, Any]) -> dict[str, Any]:
    """train()'s RESULT with what the build did: `computed_snapshots` after `snapshots`, and
    its stage first among the stages (the order they ran)."""
    out: dict[str, Any] = {k: result[k] for k in ("as_of", "snapshots") if k in result}
    out["computed_snapshots"] = built["computed_snapshots"]
    out.update((k, v) for k, v in result.items() if k not in out)
    if "stages" in result:
        out["stages"] = {
            part: {**built["stages"][part], **result["stages"][part]}
            for part in ("seconds", "peak_rss_mib")
        }
    return out


def train_with_features(
    settings: Settings,
    ws: Workspace,
    target: str = "all",
    as_of: date | None = None,
    *,
    show_progress: bool = True,
) -> dict[str, Any]:
    """Build the missing snapshots, then train: what `grouppush train` and `demo` run."""
    from training.train import train

    built = build_training_features(settings, ws, target, as_of, show_progress=show_progress)
    return with_built(built, train(settings, ws, target, as_of, show_progress=show_progress))
