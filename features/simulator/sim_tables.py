"""Turn simulator arrays into Arrow tables with exactly the contract's column types.

Ids are built with Arrow compute (prefix + zero-padded number), never per-row Python; timestamps
are microseconds since the epoch in UTC.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from configs import columns as C
from features.contract.schema import TABLES

ARROW_TYPES: dict[str, pa.DataType] = {
    "str": pa.string(),
    "timestamp": pa.timestamp("us", tz="UTC"),
    "float": pa.float64(),
    "int": pa.int64(),
    "bool": pa.bool_(),
}
US_PER_DAY = 86_400 * 1_000_000
ID_FORMATS = {
    C.USER_ID: ("U", 7),
    C.PRODUCT_ID: ("P", 6),
    C.CATEGORY_ID: ("C", 3),
    C.DEPARTMENT_ID: ("D", 2),
    C.GROUP_ID: ("G", 5),
    C.STORE_ID: ("S", 4),
    C.ORDER_ID: ("O", 9),
    C.PUSH_ID: ("PU", 9),
}


def schema(table: str) -> pa.Schema:
    """The Arrow schema of a contract table (all its columns, in contract order)."""
    return pa.schema([(c.name, ARROW_TYPES[c.kind]) for c in TABLES[table].columns])


def ids(kind: str, index: np.ndarray) -> pa.Array:
    """Zero-padded string ids such as U0000042; index -1 becomes null."""
    prefix, width = ID_FORMATS[kind]
    idx = np.asarray(index, dtype=np.int64)
    text = pc.utf8_lpad(pc.cast(pa.array(np.maximum(idx, 0)), pa.string()), width, "0")
    out = pc.binary_join_element_wise(prefix, text, "")
    if (idx < 0).any():
        out = pc.if_else(pa.array(idx < 0), pa.scalar(None, pa.string()), out)
    return out


def timestamps(start: date, day: np.ndarray, seconds: np.ndarray | int = 0) -> pa.Array:
    """Day offsets from start_date (+ seconds) as UTC microsecond timestamps."""
    base = np.datetime64(start, "D").astype(np.int64) * US_PER_DAY
    us = (
        base
        + np.asarray(day, dtype=np.int64) * US_PER_DAY
        + np.asarray(seconds, dtype=np.int64) * 1_000_000
    )
    return pa.array(us, type=ARROW_TYPES["timestamp"])


def strings(labels: tuple[str, ...], index: np.ndarray) -> pa.Array:
    """Enumerated labels by index (e.g. identity types)."""
    return pc.take(pa.array(list(labels), pa.string()), pa.array(np.asarray(index, dtype=np.int64)))


def table(name: str, columns: dict[str, pa.Array | np.ndarray]) -> pa.Table:
    """A contract table from column arrays; missing optional columns are all-null."""
    sch = schema(name)
    n = len(next(iter(columns.values())))
    arrays = []
    for field in sch:
        if field.name in columns:
            col = columns[field.name]
            arr = col if isinstance(col, pa.Array) else pa.array(col)
            arrays.append(arr.cast(field.type))
        else:
            arrays.append(pa.nulls(n, field.type))
    return pa.Table.from_arrays(arrays, schema=sch)
