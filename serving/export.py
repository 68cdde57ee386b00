"""Batch export: the push list of every group as one long table (Parquet or CSV by suffix).

One row per (group, product, targeted member); zombie groups get one row per member to move
(action "move", product columns empty). Member caps span the whole export, as in one response.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from configs import columns as C
from configs.settings import ServingSettings, Settings
from configs.workspace import Workspace
from features.contract.io import write_frame
from serving.engine import push_list
from serving.results import GroupPushList
from serving.snapshot import Snapshot
from serving.why import ReasonTally, stock_feed_note

COLUMNS = [
    C.GROUP_ID,
    "stage",
    "action",
    C.RANK,
    C.PRODUCT_ID,
    C.CATEGORY_ID,
    C.PRODUCT_NAME,  # null when the products table has no names
    C.CATEGORY_NAME,
    "product_score",
    "expected_buyers",
    C.USER_ID,
    C.SCORE,
    "reasons",
    "suggested_group_id",
    C.MODEL_VERSION,
    "as_of",
]


@contextmanager
def _progress(show: bool, total: int) -> Iterator[Any]:
    if not show:
        yield lambda: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    with Progress(
        "[bold]push lists", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()
    ) as bar:
        task = bar.add_task("groups", total=total)
        yield lambda: bar.advance(task)


def _rows(res: GroupPushList, rows: dict[str, list[Any]]) -> None:
    def add(
        action: str, rank: int | None, item: Any, user: str, score: float, reasons: list[str]
    ) -> None:
        values = [
            res.group_id,
            res.stage,
            action,
            rank,
            item.product_id if item else None,
            item.category_id if item else None,
            item.product_name if item else None,
            item.category_name if item else None,
            item.score if item else None,
            item.expected_buyers if item else None,
            user,
            score,
            "; ".join(reasons),
            res.suggested_group_id,
        ]
        for col, value in zip(COLUMNS, values, strict=False):
            rows[col].append(value)

    for rank, item in enumerate(res.items, start=1):
        for m in item.members:
            add("push", rank, item, m.user_id, m.score, m.reasons)
    for m in res.move_members:
        add("move", None, None, m.user_id, m.score, m.reasons)


@dataclass(frozen=True)
class ExportSummary:
    rows: int
    why: ReasonTally  # every group's warnings, counted by reason (printed when rows == 0)
    notes: list[str]  # export-wide notes, each once (no inventory feed)


def every_push_list(snap: Snapshot, cfg: ServingSettings) -> Iterator[GroupPushList]:
    """Every group's push list in group order, as one response: member caps span them all
    (the export's lists; benchmarks/bench_push_sim.py scores the same ones)."""
    used = np.zeros(len(snap.user_ids), dtype=np.int32)
    for g in range(len(snap.group_ids)):
        yield push_list(
            snap,
            g,
            cfg,
            top_k=cfg.export_top_k,
            members_per_product=cfg.export_members_per_product,
            used=used,
        )


def export_push_lists(
    settings: Settings, ws: Workspace, as_of: date | None, out: Path, *, show_progress: bool = True
) -> int:
    """Push lists for all groups on the champions and the features as of AS_OF; returns rows."""
    return run_export(settings, ws, as_of, out, show_progress=show_progress).rows


def run_export(
    settings: Settings, ws: Workspace, as_of: date | None, out: Path, *, show_progress: bool = True
) -> ExportSummary:
    """export_push_lists, with why lists are empty (per reason, across groups)."""
    from serving.loader import load_snapshot

    snap = load_snapshot(ws, settings, as_of)
    why = ReasonTally()
    rows: dict[str, list[Any]] = {c: [] for c in COLUMNS[:-2]}
    with _progress(show_progress, len(snap.group_ids)) as advance:
        for res in every_push_list(snap, settings.serving):
            _rows(res, rows)
            why.add(res.warnings)
            advance()
    df = pd.DataFrame(rows)
    df[C.RANK] = df[C.RANK].astype("Int64")
    df[C.MODEL_VERSION] = snap.model_version
    df["as_of"] = pd.Timestamp(snap.as_of)
    write_frame(df[COLUMNS], out)
    return ExportSummary(len(df), why, [] if snap.stock_feed else [stock_feed_note()])
