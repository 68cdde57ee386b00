"""Side tables the operator page shows beside the snapshot (group and product attributes, stage
history, last order per group), read once per snapshot: the snapshot keeps only what scoring
needs, and re-reading Parquet per page view would blow the latency budget."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from configs import columns as C
from configs.workspace import Workspace
from features.contract.io import table_path
from features.store.offline_tables import table_files
from serving.snapshot import Snapshot

log = logging.getLogger(__name__)
READ_ERRORS = (OSError, ValueError, KeyError, pa.ArrowException)
GROUP_COLUMNS = (C.GROUP_ID, C.GROUP_TYPE, C.STORE_ID, "active_share_30d", "n_active_30d")
PRODUCT_COLUMNS = (C.PRODUCT_ID, "price", "price_band", C.STOCK_QTY, "days_of_inventory")


@dataclass(frozen=True)
class UiTables:
    """Per-snapshot rows of the groups table and lookups for a group's page."""

    group_rows: list[dict[str, Any]]  # aligned with snap.group_ids
    products: dict[str, dict[str, Any]]  # product_id -> attributes shown beside a push item
    stage_history: dict[str, list[dict[str, str]]]  # group_id -> [{as_of, stage}] oldest first
    notes: list[str] = field(default_factory=list)  # what could not be read (shown on the page)


def _latest(ws: Workspace, name: str, columns: tuple[str, ...]) -> pd.DataFrame:
    files = table_files(ws.offline, name)
    if not files:
        raise FileNotFoundError(f"{ws.offline / name}: no feature table; run features build")
    have = set(pq.read_schema(files[-1]).names)
    table = pq.read_table(files[-1], columns=[c for c in columns if c in have])
    if C.EVENT_TIMESTAMP in have and len(files) == 1 and files[0].is_file():
        stamps = pq.read_table(files[-1], columns=[C.EVENT_TIMESTAMP]).column(0)
        table = table.filter(pc.equal(stamps, pc.max(stamps)))  # a single-file history
    return table.to_pandas()


def _stage_history(ws: Workspace) -> dict[str, list[dict[str, str]]]:
    parts = []
    for f in table_files(ws.offline, "group_stats"):
        parts.append(pq.read_table(f, columns=[C.GROUP_ID, C.EVENT_TIMESTAMP, "stage"]))
    if not parts:
        return {}
    df = pa.concat_tables(parts).to_pandas()
    df["as_of"] = pd.to_datetime(df[C.EVENT_TIMESTAMP], utc=True).dt.strftime("%Y-%m-%d")
    df = df.sort_values(["as_of"], kind="stable")
    out: dict[str, list[dict[str, str]]] = {}
    for gid, as_of, stage in zip(df[C.GROUP_ID], df["as_of"], df["stage"], strict=True):
        out.setdefault(str(gid), []).append({"as_of": as_of, "stage": str(stage)})
    return out


def _last_orders(ws: Workspace) -> dict[str, str]:
    path = table_path(ws.data, "orders")
    orders = pq.read_table(path, columns=[C.GROUP_ID, C.ORDERED_AT])
    last = orders.group_by(C.GROUP_ID).aggregate([(C.ORDERED_AT, "max")])
    days = pc.strftime(last.column(f"{C.ORDERED_AT}_max"), format="%Y-%m-%d")
    return dict(zip(last.column(C.GROUP_ID).to_pylist(), days.to_pylist(), strict=True))


def _products(ws: Workspace) -> dict[str, dict[str, Any]]:
    stats = _latest(ws, "product_stats", PRODUCT_COLUMNS)
    path = table_path(ws.data, "products")
    if path.exists():
        dept = pq.read_table(path, columns=[C.PRODUCT_ID, "department_id"]).to_pandas()
        stats = stats.merge(dept, on=C.PRODUCT_ID, how="left")
    stats = stats.astype(object).where(stats.notna(), None)
    return {str(r.pop(C.PRODUCT_ID)): r for r in stats.to_dict("records")}


def _safe(notes: list[str], what: str, read: Any, default: Any) -> Any:
    try:
        return read()
    except READ_ERRORS as exc:
        log.warning("operator page: %s unavailable (%s)", what, exc)
        notes.append(f"{what} unavailable: {exc}")
        return default


def load_tables(ws: Workspace, snap: Snapshot) -> UiTables:
    """The side tables of SNAP's workspace; a missing piece leaves its columns empty and a
    note, never an error page (the push lists come from the snapshot alone)."""
    notes: list[str] = []
    empty = pd.DataFrame(columns=list(GROUP_COLUMNS))
    groups = _safe(notes, "group_stats", lambda: _latest(ws, "group_stats", GROUP_COLUMNS), empty)
    groups = groups.drop_duplicates(C.GROUP_ID).set_index(C.GROUP_ID)
    last = _safe(notes, "last order per group", lambda: _last_orders(ws), {})
    sizes = np.diff(snap.member_indptr)
    attrs = groups.reindex(pd.Index(snap.group_ids, dtype=object))
    share = (
        pd.to_numeric(attrs["active_share_30d"], errors="coerce")
        if "active_share_30d" in attrs
        else pd.Series(np.nan, index=attrs.index)
    )
    rows = []
    for i, gid in enumerate(snap.group_ids):
        s = share.iloc[i]
        rows.append(
            {
                "group_id": str(gid),
                "group_type": _str(attrs[C.GROUP_TYPE].iloc[i]) if C.GROUP_TYPE in attrs else None,
                "store_id": _str(attrs[C.STORE_ID].iloc[i]) if C.STORE_ID in attrs else None,
                "stage": str(snap.group_stage[i]),
                "members": int(sizes[i]),
                "active_share": None if pd.isna(s) else round(float(s), 4),
                "last_order": last.get(str(gid)),
            }
        )
    return UiTables(
        group_rows=rows,
        products=_safe(notes, "product attributes", lambda: _products(ws), {}),
        stage_history=_safe(notes, "stage history", lambda: _stage_history(ws), {}),
        notes=notes,
    )


def _str(v: object) -> str | None:
    return None if v is None or (isinstance(v, float) and np.isnan(v)) else str(v)
