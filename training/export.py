"""`grouppush export scores|segments|interest`: champion models over the as-of feature tables,
written as Parquet or CSV by the output file's suffix."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from configs import columns as C
from configs.settings import Settings
from configs.workspace import Workspace
from features.contract.io import write_frame
from features.store import catalog
from training.datasets import scoring_tables, snapshot_arrow, snapshot_table
from training.registry import load_champion
from training.scoring import interest_scores, repurchase_scores
from training.segments import SUMMARY_FILE, build_segments, segment_summary

ACTIVITY, INTEREST, STATS = (
    catalog.USER_ACTIVITY.name,
    catalog.USER_INTEREST.name,
    catalog.CATEGORY_STATS.name,
)


def _one_row_per_user(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop_duplicates(C.USER_ID, keep="last").reset_index(drop=True)


def export_scores(settings: Settings, ws: Workspace, as_of: date | None, out: Path) -> int:
    """user_id, repurchase_prob, model_version: one row per user of the activity snapshot."""
    model, version = load_champion(ws, "repurchase")
    tables = scoring_tables(settings, ws, as_of)
    scores = repurchase_scores(model, _one_row_per_user(tables[ACTIVITY]))
    scores[C.MODEL_VERSION] = f"{version.name}/{version.version}"
    write_frame(scores, out)
    return len(scores)


def export_segments(settings: Settings, ws: Workspace, as_of: date | None, out: Path) -> int:
    """segment_id, segment_name, segment_kind, user_id, score, description.

    Reads only what it needs (1M users: the whole export must stay well under 30 s): the
    interest arrays as Arrow, the activity columns the champion consumes."""
    try:
        model, version = load_champion(ws, "repurchase")
    except LookupError:  # no trained model yet: segments without model-based tags
        model = version = None
    try:
        interest, activity = _segment_inputs(ws, as_of, version)
    except (LookupError, FileNotFoundError):
        if as_of is None:
            raise
        scoring_tables(settings, ws, as_of)  # computes the missing snapshot
        interest, activity = _segment_inputs(ws, as_of, version)
    scores = None if model is None else repurchase_scores(model, _one_row_per_user(activity))
    segments = build_segments(interest, scores, settings.training)
    write_frame(segments, out)
    _write_summary(ws, segments, as_of.isoformat() if as_of else "latest")
    return len(segments)


def _write_summary(ws: Workspace, segments: pd.DataFrame, as_of: str) -> None:
    """reports/segments.json: every segment's size and description (personas first), what
    the operator page's data page shows; written atomically beside metrics.json."""
    import json
    import os
    from datetime import UTC, datetime

    body = {
        "as_of": as_of,
        "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "segments": segment_summary(segments),
    }
    ws.reports.mkdir(parents=True, exist_ok=True)
    path = ws.reports / SUMMARY_FILE
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(body, indent=1), encoding="utf-8")
    os.replace(tmp, path)


def _segment_inputs(
    ws: Workspace, as_of: date | None, version: Any
) -> tuple[pa.Table | pd.DataFrame, pd.DataFrame]:
    """(user_interest as Arrow - pandas when a user appears twice -, user_activity columns)."""
    import pyarrow.compute as pc

    cols = [C.USER_ID, "interest_categories", "interest_scores"]
    interest = snapshot_arrow(ws, INTEREST, as_of, cols)
    if pc.count_distinct(interest.column(C.USER_ID)).as_py() != interest.num_rows:
        frame = interest.to_pandas()
        frame[C.USER_ID] = frame[C.USER_ID].astype(str)
        interest = _one_row_per_user(frame)
    features = str((version.tags if version is not None else {}).get("features", ""))
    wanted = [C.USER_ID, *[f for f in features.split(",") if f]] if features else None
    names = set(catalog.USER_ACTIVITY.names)
    columns = None if wanted is None else [c for c in wanted if c == C.USER_ID or c in names]
    return interest, snapshot_table(ws, ACTIVITY, as_of, columns)


def export_interest(
    settings: Settings, ws: Workspace, as_of: date | None, top_k: int, out: Path
) -> int:
    """user_id, category_id, rank (1..k, no gaps), score, model_version for every user with
    an order before as_of: min(top_k, candidates) rows each."""
    if top_k <= 0:
        raise ValueError(f"top_k must be > 0, got {top_k}")
    model, version = load_champion(ws, "interest")
    tables = scoring_tables(settings, ws, as_of)
    ranked = interest_scores(
        model,
        _one_row_per_user(tables[INTEREST]),
        _one_row_per_user(tables[ACTIVITY]),
        tables[STATS],
        settings.training.interest_popular_candidates,
        top_k,
    )
    ranked[C.MODEL_VERSION] = f"{version.name}/{version.version}"
    ranked = ranked[[C.USER_ID, C.CATEGORY_ID, C.RANK, C.SCORE, C.MODEL_VERSION]]
    write_frame(ranked, out)
    return len(ranked)
