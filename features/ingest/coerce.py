"""Turning one input column (Arrow, as read) into its contract type, fast path first.

Strings keep their exact value (only "" becomes null; free-text names are trimmed and cut);
numbers and timestamps are cast by Arrow when the whole column parses, else pandas parses value
by value and marks the failures null.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from features.contract.schema import Column

TIMESTAMP = pa.timestamp("us", tz="UTC")
ARROW_TYPES = {
    "str": pa.string(),
    "timestamp": TIMESTAMP,
    "float": pa.float64(),
    "int": pa.int64(),
    "bool": pa.bool_(),
}
_BOOLS = {"true": True, "false": False, "1": True, "0": False, "yes": True, "no": False,
          "t": True, "f": False, "y": True, "n": False}  # fmt: skip


# Spellings of "no value" that exports write into number/time/flag columns. Ids never use this
# list: an id "NA" is an id.
NULL_TOKENS = pa.array(["NA", "N/A", "n/a", "NaN", "nan", "NaT", "null", "NULL", "None", "#N/A"])


def blank(col: pa.Array, ids: bool = True) -> np.ndarray:
    """Null or the empty string (for values, not ids, also NA/null/NaN...): a missing value."""
    missing = pc.is_null(col)
    if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
        missing = pc.or_(missing, pc.fill_null(pc.equal(col, ""), True))
        if not ids:
            missing = pc.or_(missing, pc.fill_null(pc.is_in(col, value_set=NULL_TOKENS), False))
    return np.asarray(missing.to_numpy(zero_copy_only=False), dtype=bool)


def _nulled(col: pa.Array, empty: np.ndarray) -> pa.Array:
    if not empty.any():
        return col
    return pc.if_else(pa.array(empty), pa.scalar(None, col.type), col)


def _try_cast(col: pa.Array, *types: pa.DataType) -> pa.Array | None:
    for target in types:
        try:
            return pc.cast(col, target)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            continue
    return None


def _timestamps(col: pa.Array) -> pa.Array:
    """Tz-aware UTC microseconds; naive values are UTC. ISO via Arrow, other formats via pandas."""
    if pa.types.is_timestamp(col.type) or pa.types.is_date(col.type):
        naive = col.type.tz is None if pa.types.is_timestamp(col.type) else True
        if naive:
            col = pc.cast(col, pa.timestamp("us"))
        return pc.cast(col, TIMESTAMP, safe=False)
    cast = _try_cast(col, pa.timestamp("us"), TIMESTAMP)
    if cast is not None:
        return pc.cast(cast, TIMESTAMP)
    text = pd.Series(col.to_pandas(), dtype=object)
    out = pd.to_datetime(text, format="ISO8601", utc=True, errors="coerce")
    retry = (out.isna() & text.notna()).to_numpy()
    if retry.any():
        out[retry] = pd.to_datetime(text[retry], format="mixed", utc=True, errors="coerce")
    return pa.array(out.dt.as_unit("us"), type=TIMESTAMP)


def _numbers(col: pa.Array) -> pa.Array:
    """float64; values that do not parse, NaN and infinities become null."""
    cast = _try_cast(col, pa.float64())
    if cast is None:
        number = pd.to_numeric(pd.Series(col.to_pandas(), dtype=object), errors="coerce")
        cast = pa.array(number.astype("float64"), type=pa.float64())
    finite = pc.is_finite(cast)
    return pc.if_else(finite, cast, pa.scalar(None, pa.float64()))


def _bools(col: pa.Array) -> pa.Array:
    if pa.types.is_boolean(col.type):
        return col
    words = pd.Series(col.to_pandas(), dtype=object).str.strip().str.lower().map(_BOOLS)
    return pa.array(words.astype("boolean"), type=pa.bool_())


def _text(col: pa.Array, max_chars: int) -> pa.Array:
    """Free text (names) as strings without surrounding whitespace, cut to MAX_CHARS
    characters (a name is for display: a long one is shortened, never rejected)."""
    text = col if pa.types.is_string(col.type) else pc.cast(col, pa.string())
    return pc.utf8_slice_codeunits(pc.utf8_trim_whitespace(text), 0, max_chars)


def coerce(column: Column, col: pa.Array) -> tuple[pa.Array, np.ndarray, np.ndarray]:
    """(typed column, blank mask, unparseable mask) for one contract column of a chunk."""
    if column.max_chars is not None:
        col = _text(col, column.max_chars)  # blank after trimming: "  " is a missing name
    empty = blank(col, ids=column.kind == "str")
    col = _nulled(col, empty)
    if column.kind == "timestamp":
        typed = _timestamps(col)
    elif column.kind in ("float", "int"):
        typed = _numbers(col)
    elif column.kind == "bool":
        typed = _bools(col)
    else:
        typed = col if pa.types.is_string(col.type) else pc.cast(col, pa.string())
    bad = pc.is_null(typed).to_numpy(zero_copy_only=False) & ~empty
    return typed, empty, np.asarray(bad, dtype=bool)
