"""`grouppush export feedback-eval`: the online evaluation of every day of /feedback events.

One row per (day, model_version): pushes, members and conversions of the pushed and unpushed
arms and the uplift (serving.feedback_eval). Events come from the deployment's feedback log
(the workspace's file, or the Redis stream with a Redis online store); group sizes from the
latest group_stats features (published to Redis in Redis mode).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from configs import columns as C
from configs.settings import Settings
from configs.workspace import Workspace
from features.io import write_frame
from serving.feedback import feedback_log
from serving.feedback_eval import EVAL_COLUMNS, events_frame, online_evaluation

GROUP_STATS = "group_stats"


def group_sizes(settings: Settings, ws: Workspace) -> dict[str, int]:
    """Members per group (n_members of the latest group_stats rows)."""
    cfg = settings.features
    if cfg.online_store == "redis":
        from features.redis_snapshot import read_snapshot, redis_client

        published, _ = read_snapshot(redis_client(cfg.redis_connection_string))
        stats = published[GROUP_STATS]
    else:
        from features.store import latest_snapshot

        stats = latest_snapshot(ws, GROUP_STATS)
    sizes = pd.to_numeric(stats["n_members"], errors="coerce").fillna(0).astype("int64")
    return dict(zip(stats[C.GROUP_ID].astype(str), sizes.tolist(), strict=True))


def export_feedback_eval(
    settings: Settings, ws: Workspace, out: Path, attribution_days: int | None = None
) -> int:
    """Write the per-day evaluation to OUT (.parquet or .csv); the number of rows."""
    positioned, _ = feedback_log(ws, settings.features).read(None)
    days = attribution_days or settings.serving.feedback_attribution_days
    if positioned:
        events = events_frame(row for _, row in positioned)
        table = online_evaluation(events, group_sizes(settings, ws), days)
    else:
        table = pd.DataFrame(columns=EVAL_COLUMNS)
    write_frame(table, out)
    return len(table)
