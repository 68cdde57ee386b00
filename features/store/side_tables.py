"""Small tables the operator page shows beside the serving snapshot: each group's stage over
the feature history, each group's last order day and each product's department.

The snapshot keeps only what scoring needs, so these come from the workspace; `features build`
with `online_store: redis` publishes them with the Redis snapshot
(features.store.redis_snapshot), so a replica without local files shows the same page. Each is
a few rows per group or product.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq

from configs import columns as C
from configs.workspace import Workspace
from features.contract.io import table_path
from features.store.offline_tables import table_files

STAGE_HISTORY = "group_stage_history"  # group_id, event_timestamp, stage (every as-of date)
LAST_ORDER = "group_last_order"  # group_id, last_order (newest ordered_at)
PRODUCT_DEPARTMENTS = "product_departments"  # product_id, department_id
SIDE_TABLES = (STAGE_HISTORY, LAST_ORDER, PRODUCT_DEPARTMENTS)
LAST = "last_order"


def stage_history(ws: Workspace) -> pa.Table | None:
    """Every as-of row's stage of group_stats (None before the first features build)."""
    parts = [
        pq.read_table(f, columns=[C.GROUP_ID, C.EVENT_TIMESTAMP, "stage"])
        for f in table_files(ws.offline, "group_stats")
    ]
    return pa.concat_tables(parts) if parts else None


def last_orders(ws: Workspace) -> pa.Table | None:
    """The newest ordered_at per group of the orders contract table."""
    path = table_path(ws.data, "orders")
    if not path.exists():
        return None
    orders = pq.read_table(path, columns=[C.GROUP_ID, C.ORDERED_AT])
    last = orders.group_by(C.GROUP_ID).aggregate([(C.ORDERED_AT, "max")])
    return last.select([C.GROUP_ID, f"{C.ORDERED_AT}_max"]).rename_columns([C.GROUP_ID, LAST])


def product_departments(ws: Workspace) -> pa.Table | None:
    """product_id, department_id of the products contract table (when it has departments)."""
    path = table_path(ws.data, "products")
    if not path.exists() or C.DEPARTMENT_ID not in pq.read_schema(path).names:
        return None
    return pq.read_table(path, columns=[C.PRODUCT_ID, C.DEPARTMENT_ID])


READERS = {
    STAGE_HISTORY: stage_history,
    LAST_ORDER: last_orders,
    PRODUCT_DEPARTMENTS: product_departments,
}


def side_tables(ws: Workspace) -> dict[str, pa.Table | None]:
    """Every side table of WS (None where its source is absent)."""
    return {name: read(ws) for name, read in READERS.items()}
