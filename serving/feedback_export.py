"""`grouppush export feedback-eval`: the online evaluation of every day of /feedback events.

One row per (day, model_version): pushes, members and conversions of the pushed and unpushed
arms and the uplift (serving.feedback_eval). Events come from the deployment's feedback log
(the workspace's file, or the Redis stream with a Redis online store); group sizes from the
current memberships (published to Redis in Redis mode).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from configs import columns as C
from configs.settings import Settings
from configs.workspace import Workspace
from features.contract.io import read_table, table_path, write_frame
from serving.feedback import feedback_log
from serving.feedback_eval import EVAL_COLUMNS, events_frame, online_evaluation

GROUP_STATS = "group_stats"


def _current_members(memberships: pd.DataFrame) -> dict[str, int]:
    """Members per group of the memberships that have not ended (left_at null or ahead)."""
    m = memberships
    if C.LEFT_AT in m.columns:
        left = pd.to_datetime(m[C.LEFT_AT], utc=True)
        m = m[left.isna() | (left >= pd.Timestamp.now(tz="UTC"))]
    sizes = m.drop_duplicates([C.GROUP_ID, C.USER_ID]).groupby(m[C.GROUP_ID].astype(str)).size()
    return {str(g): int(n) for g, n in sizes.items()}


def group_sizes(settings: Settings, ws: Workspace) -> dict[str, int]:
    """Members per group: current memberships (as the service's snapshot counts them), else
    n_members of the latest group_stats features (groups derived from orders)."""
    cfg = settings.features
    if cfg.online_store == "redis":
        from features.store.redis_snapshot import read_snapshot, redis_client

        published, _ = read_snapshot(redis_client(cfg.redis_connection_string))
        memberships, stats = published.get("memberships"), published.get(GROUP_STATS)
    else:
        from features.store.feast_store import latest_snapshot

        path = table_path(ws.data, "memberships")
        names = set(pq.read_schema(path).names) if path.exists() else set()
        wanted = [c for c in (C.GROUP_ID, C.USER_ID, C.LEFT_AT) if c in names]
        memberships = read_table(ws.data, "memberships", wanted) if names else None
        stats = None if memberships is not None else latest_snapshot(ws, GROUP_STATS)
    if memberships is not None and len(memberships):
        return _current_members(memberships)
    if stats is None:
        raise FileNotFoundError("no memberships and no group_stats: run `grouppush features build`")
    sizes = pd.to_numeric(stats["n_members"], errors="coerce").fillna(0).astype("int64")
    return dict(zip(stats[C.GROUP_ID].astype(str), sizes.tolist(), strict=True))


def export_feedback_eval(
    settings: Settings, ws: Workspace, out: Path, attribution_days: int | None = None
) -> int:
    """Write the per-day evaluation to OUT (.parquet or .csv); the number of rows."""
    positioned, _ = feedback_log(ws, settings.features, strict=True).read(None)
    days = attribution_days or settings.serving.feedback_attribution_days
    if positioned:
        events = events_frame(row for _, row in positioned)
        table = online_evaluation(events, group_sizes(settings, ws), days)
    else:
        table = pd.DataFrame(columns=EVAL_COLUMNS)
    write_frame(table, out)
    return len(table)
