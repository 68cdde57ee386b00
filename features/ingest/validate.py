"""Per-chunk rejection rules for a contract table, vectorised over Arrow columns.

Each rejected row gets exactly one reason: the first that applies, checked in this order:
missing required value, unparseable value, range (quantity <= 0, amount < 0, ...), timestamp after
the as-of date, duplicate line, duplicate key, unknown product/user (when that table was given).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from configs import columns as C
from features.contract.schema import Column, Table
from features.ingest.coerce import ARROW_TYPES, coerce
from features.ingest.dedup import SeenHashes, row_hashes

if TYPE_CHECKING:
    import duckdb

# Tables whose key must be unique (memberships may repeat a user who left and rejoined).
UNIQUE_KEY_TABLES = ("users", "products", "inventory", "groups", "pushes")
# Orders must reference these when the table was given.
REFERENCES = {C.PRODUCT_ID: "products", C.USER_ID: "users"}
_KIND_WORD = {"float": "number", "int": "number"}


def arrow_schema(table: Table, present: list[str]) -> pa.Schema:
    """The normalised output schema: contract columns present in the input, contract order."""
    return pa.schema([(c.name, ARROW_TYPES[c.kind]) for c in table.columns if c.name in present])


def _connect() -> duckdb.DuckDBPyConnection:
    import duckdb

    return duckdb.connect()


@dataclass
class TableState:
    """What validation remembers between chunks of one table (and the DuckDB that hashes rows)."""

    lines: SeenHashes = field(default_factory=SeenHashes)
    keys: SeenHashes = field(default_factory=SeenHashes)
    con: duckdb.DuckDBPyConnection = field(default_factory=_connect)


def _true(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A boolean Arrow result as a numpy mask, null counting as false."""
    return np.asarray(pc.fill_null(values, False).to_numpy(zero_copy_only=False), dtype=bool)


def validate_chunk(
    chunk: pa.Table,
    table: Table,
    cutoff: pd.Timestamp,
    state: TableState,
    known: Mapping[str, pa.Array],
    stand_ins: Mapping[str, Column] | None = None,
    reasons: np.ndarray | None = None,
) -> tuple[pa.Table, np.ndarray]:
    """Coerce one chunk (renamed to contract names; other columns only count for duplicates).

    STAND_INS: contract column -> the input-only column the chunk has instead (required then;
    amount = unit_price x quantity). REASONS: rows already rejected (e.g. invalid bytes).
    Returns the accepted rows in the normalised schema and a reason per input row (None = kept).
    """
    stand_ins = stand_ins or {}
    reason = np.full(chunk.num_rows, None, dtype=object) if reasons is None else reasons.copy()
    cols = [c for c in table.columns if c.name in chunk.column_names]
    cols += [replace(c, required=True) for c in stand_ins.values() if c.name in chunk.column_names]
    typed, empty, bad = {}, {}, {}
    for col in cols:
        raw = chunk.column(col.name).combine_chunks()
        typed[col.name], empty[col.name], bad[col.name] = coerce(col, raw)
    for col in cols:
        if col.required:
            _flag(reason, empty[col.name], f"missing {col.name}")
    for col in cols:
        _flag(reason, bad[col.name], f"unparseable {_KIND_WORD.get(col.kind, col.kind)} {col.name}")
    for col in cols:
        values = typed[col.name]
        if col.strict_positive:
            _flag(reason, _true(pc.less_equal(values, 0)), f"{col.name} <= 0")
        if col.min_value is not None:
            below = _true(pc.less(values, col.min_value))
            _flag(reason, below, f"{col.name} < {col.min_value:g}")
        if col.kind == "timestamp":
            late = _true(pc.greater_equal(values, pa.scalar(cutoff, type=values.type)))
            _flag(reason, late, f"{col.name} after the as-of date")
    for target, col in stand_ins.items():  # only amount today: unit_price x quantity
        typed[target] = pc.multiply(typed.pop(col.name), typed[C.QUANTITY])
    out = pa.table(typed)
    used = {c.name for c in stand_ins.values()}
    extra = [c for c in chunk.column_names if c not in table.names and c not in used]
    _flag_repeats(out, chunk.select(extra), table, state, reason)
    if table.name == "orders":
        for name, ref in REFERENCES.items():
            if ref in known and name in typed:
                unknown = ~_true(pc.is_in(typed[name], value_set=known[ref]))
                _flag(reason, unknown, f"unknown {name} (not in {ref})")
    keep = reason == None  # noqa: E711
    return out.filter(pa.array(keep)).select(arrow_schema(table, list(typed)).names), reason


def _flag(reason: np.ndarray, mask: np.ndarray, text: str) -> None:
    """Give rows in mask the reason text unless an earlier check already rejected them."""
    hit = mask & (reason == None)  # noqa: E711 (elementwise)
    reason[hit] = text


def _flag_repeats(
    out: pa.Table, extra: pa.Table, table: Table, state: TableState, reason: np.ndarray
) -> None:
    """Repeats of an earlier accepted line, then of a unique key (the first one wins).

    A line is its normalised contract values plus any columns the contract does not know, so
    two purchases told apart only by an extra column (a line number, say) are both kept.
    Extra columns are hashed as text so a value hashes the same in every chunk.
    """
    extra = extra.cast(pa.schema([(c, pa.string()) for c in extra.column_names]))
    line = pa.Table.from_arrays(
        out.columns + extra.columns, names=out.column_names + [f"+{c}" for c in extra.column_names]
    )
    checks: list[tuple[str, pa.Table, SeenHashes]] = [("duplicate line", line, state.lines)]
    if table.name in UNIQUE_KEY_TABLES and all(k in out.column_names for k in table.key):
        checks.append((f"duplicate {'+'.join(table.key)}", out.select(table.key), state.keys))
    for text, rows, seen in checks:
        pending = np.flatnonzero(reason == None)  # noqa: E711
        if not len(pending):
            return
        hashes = row_hashes(rows.take(pa.array(pending)), state.con)
        repeat = pd.Series(hashes).duplicated().to_numpy() | seen.seen(hashes)
        mask = np.zeros(len(reason), dtype=bool)
        mask[pending[repeat]] = True
        _flag(reason, mask, text)
        seen.add(hashes[~repeat])
