"""Side tables the operator page shows beside the snapshot (group and product attributes, stage
history, last order per group), read once per snapshot: the snapshot keeps only what scoring
needs, and re-reading Parquet per page view would blow the latency budget. From the workspace's
files, or with features.online_store = redis from the snapshot `features build` published to
Redis (features.store.side_tables), so a replica without files shows the same page."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from configs import columns as C
from configs.settings import Settings
from configs.workspace import Workspace
from features.store import side_tables as side
from features.store.offline_tables import date_schema, table_files
from serving.snapshot import Snapshot

log = logging.getLogger(__name__)
READ_ERRORS = (OSError, ValueError, KeyError, pa.ArrowException)
GROUP_COLUMNS = (C.GROUP_ID, C.GROUP_TYPE, C.STORE_ID, "active_share_30d", "n_active_30d")
PRODUCT_COLUMNS = (C.PRODUCT_ID, "price", "price_band", C.STOCK_QTY, "days_of_inventory")
SHOWN = {"group_stats": GROUP_COLUMNS, "product_stats": PRODUCT_COLUMNS}


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
    have = set(date_schema(files[-1]).names)  # a date file or a parts directory
    table = pq.read_table(files[-1], columns=[c for c in columns if c in have])
    if C.EVENT_TIMESTAMP in have and len(files) == 1 and files[0].is_file():
        stamps = pq.read_table(files[-1], columns=[C.EVENT_TIMESTAMP]).column(0)
        table = table.filter(pc.equal(stamps, pc.max(stamps)))  # a single-file history
    return table.to_pandas()


def _frame_of(
    read: Callable[[Workspace], pa.Table | None], ws: Workspace, what: str
) -> pd.DataFrame:
    table = read(ws)
    if table is None:
        raise FileNotFoundError(f"no {what}: its source table is not in this workspace")
    return table.to_pandas() if isinstance(table, pa.Table) else table


def _workspace_sources(ws: Workspace) -> dict[str, Callable[[], pd.DataFrame]]:
    """Readers of the side tables from the workspace's files."""
    out: dict[str, Callable[[], pd.DataFrame]] = {
        "group_stats": lambda: _latest(ws, "group_stats", GROUP_COLUMNS),
        "product_stats": lambda: _latest(ws, "product_stats", PRODUCT_COLUMNS),
    }
    for name, read in side.READERS.items():
        out[name] = partial(_frame_of, read, ws, name)
    return out


def _redis_sources(settings: Settings) -> dict[str, Callable[[], pd.DataFrame]]:
    """Readers of the same tables from the snapshot `features build` published to Redis (a
    replica without workspace files), read in one pass on first use."""
    from features.store.redis_snapshot import read_snapshot, redis_client

    names = ("group_stats", "product_stats", *side.SIDE_TABLES)
    got: dict[str, pd.DataFrame] = {}
    failed: list[Exception] = []  # read once: a failure is every table's note

    def read(name: str) -> pd.DataFrame:
        if not got and not failed:
            try:
                client = redis_client(settings.features.redis_connection_string)
                got.update(read_snapshot(client, names)[0] or {"": pd.DataFrame()})
            except Exception as exc:  # noqa: BLE001 - redis' own errors too: a note on the page
                failed.append(OSError(f"Redis snapshot unreadable ({exc})"))
        if failed:
            raise failed[0]
        if name not in got:
            raise KeyError(f"{name} not in the Redis snapshot; re-run `grouppush features build`")
        wanted = SHOWN.get(name)
        df = got[name]
        return df if wanted is None else df[[c for c in wanted if c in df.columns]]

    return {name: partial(read, name) for name in names}


def _stage_history(df: pd.DataFrame) -> dict[str, list[dict[str, str]]]:
    df = df.copy()
    df["as_of"] = pd.to_datetime(df[C.EVENT_TIMESTAMP], utc=True).dt.strftime("%Y-%m-%d")
    df = df.sort_values(["as_of"], kind="stable")
    out: dict[str, list[dict[str, str]]] = {}
    for gid, as_of, stage in zip(df[C.GROUP_ID], df["as_of"], df["stage"], strict=True):
        out.setdefault(str(gid), []).append({"as_of": as_of, "stage": str(stage)})
    return out


def _last_orders(df: pd.DataFrame) -> dict[str, str]:
    days = pd.to_datetime(df[side.LAST], utc=True).dt.strftime("%Y-%m-%d")
    return dict(zip(df[C.GROUP_ID].astype(str), days, strict=True))


def _products(stats: pd.DataFrame, departments: pd.DataFrame | None) -> dict[str, dict[str, Any]]:
    if departments is not None:
        stats = stats.merge(departments, on=C.PRODUCT_ID, how="left")
    stats = stats.astype(object).where(stats.notna(), None)
    return {str(r.pop(C.PRODUCT_ID)): r for r in stats.to_dict("records")}


def _safe(notes: list[str], what: str, read: Any, default: Any) -> Any:
    try:
        return read()
    except READ_ERRORS as exc:
        log.warning("operator page: %s unavailable (%s)", what, exc)
        notes.append(f"{what} unavailable: {exc}")
        return default


def load_tables(ws: Workspace, snap: Snapshot, settings: Settings | None = None) -> UiTables:
    """The side tables of SNAP's workspace (of the Redis snapshot with features.online_store
    = redis); a missing piece leaves its columns empty and a note, never an error page (the
    push lists come from the snapshot alone)."""
    notes: list[str] = []
    redis = settings is not None and settings.features.online_store == "redis"
    src = _redis_sources(settings) if redis and settings else _workspace_sources(ws)
    empty = pd.DataFrame(columns=list(GROUP_COLUMNS))
    groups = _safe(notes, "group_stats", src["group_stats"], empty)
    groups = groups.drop_duplicates(C.GROUP_ID).set_index(C.GROUP_ID)
    last = _safe(notes, "last order per group", lambda: _last_orders(src[side.LAST_ORDER]()), {})
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
        products=_safe(notes, "product attributes", lambda: _product_rows(src, notes), {}),
        stage_history=_safe(
            notes, "stage history", lambda: _stage_history(src[side.STAGE_HISTORY]()), {}
        ),
        notes=notes,
    )


def _product_rows(
    src: dict[str, Callable[[], pd.DataFrame]], notes: list[str]
) -> dict[str, dict[str, Any]]:
    departments = _safe(notes, "product departments", src[side.PRODUCT_DEPARTMENTS], None)
    return _products(src["product_stats"](), departments)


def _str(v: object) -> str | None:
    return None if v is None or (isinstance(v, float) and np.isnan(v)) else str(v)
