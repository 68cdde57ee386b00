"""Load the contract tables into DuckDB once per build, normalised for the feature queries.

Every optional table or column is filled so the feature SQL never branches on what exists:
absent products -> each product is its own category; absent users -> users seen in orders;
timestamps -> naive UTC `TIMESTAMP`; ids -> VARCHAR. Tables created (DuckDB temp tables):
`orders` (user_id, product_id, category_id, group_id, ts, day, quantity, amount, unit_price),
`products`, `users`, `inventory`, `groups`, `memberships`, `product_first` / `group_first`
(first order instant of each), plus flags in `InputInfo`. The pushes table is not read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from configs import columns as C
from features.contract.io import table_path
from features.contract.schema import TABLES, Table

_SQL_TYPES = {
    "str": "VARCHAR",
    "timestamp": "TIMESTAMP",
    "float": "DOUBLE",
    "int": "BIGINT",
    "bool": "BOOLEAN",
}


@dataclass(frozen=True)
class InputInfo:
    """Which optional inputs exist: the feature SQL reads these instead of probing files."""

    tables: frozenset[str]
    order_columns: frozenset[str]

    def has(self, table: str) -> bool:
        return table in self.tables


def connect(
    threads: int | None = None, memory_limit: str | None = None, temp_dir: Path | None = None
) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with UTC as its time zone (so TIMESTAMPTZ casts give UTC wall time);
    past MEMORY_LIMIT it spills to TEMP_DIR instead of growing the process."""
    con = duckdb.connect(":memory:")
    con.execute("SET TimeZone = 'UTC'")
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    if memory_limit:
        con.execute(f"SET memory_limit = {sql_string(memory_limit)}")
    if temp_dir is not None:
        Path(temp_dir).mkdir(parents=True, exist_ok=True)
        con.execute(f"SET temp_directory = {sql_string(Path(temp_dir).as_posix())}")
    return con


_ORDER_FEATURE_COLUMNS = (
    C.USER_ID,
    C.PRODUCT_ID,
    C.GROUP_ID,
    C.STORE_ID,
    C.ORDERED_AT,
    C.QUANTITY,
    C.AMOUNT,
)


def _select_list(table: Table, present: set[str], only: tuple[str, ...] | None = None) -> str:
    """Every contract column (or ONLY those), cast to its SQL type; absent optional ones are
    typed NULLs."""
    parts = []
    for col in table.columns:
        if only is not None and col.name not in only:
            continue
        sql_type = _SQL_TYPES[col.kind]
        src = f'"{col.name}"' if col.name in present else "NULL"
        parts.append(f'CAST({src} AS {sql_type}) AS "{col.name}"')
    return ", ".join(parts)


FEATURE_INPUTS = ("orders", "users", "products", "inventory", "groups", "memberships")
"""The contract tables the features read (pushes are the serving side's)."""


def _present_columns(data_dir: Path, name: str) -> tuple[Path, set[str]] | None:
    """The file of table NAME and its columns; None when absent. Required columns missing:
    an error naming the file."""
    path = table_path(data_dir, name)
    if not path.exists():
        return None
    present = set(pq.read_schema(path).names)
    missing = [c for c in TABLES[name].required if c not in present]
    if missing:
        raise ValueError(f"{path}: required column(s) missing: {', '.join(missing)}")
    return path, present


def sql_string(text: str) -> str:
    """TEXT as a SQL string literal: a workspace path may hold a quote (`/data/o'brien/ws`)."""
    return "'" + text.replace("'", "''") + "'"


def _parquet(path: Path) -> str:
    return f"read_parquet({sql_string(path.as_posix())})"


def _load(con: duckdb.DuckDBPyConnection, path: Path, name: str, present: set[str]) -> None:
    """Create temp table `raw_<name>` from the Parquet file, typed as the contract says."""
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE raw_{name} AS "
        f"SELECT {_select_list(TABLES[name], present)} FROM {_parquet(path)}"
    )


def load_inputs(con: duckdb.DuckDBPyConnection, data_dir: Path) -> InputInfo:
    """Create the normalised input tables in CON from DATA_DIR; orders must exist.

    The orders are read straight into `orders` (one pass, no raw copy: materialising 20M
    raw lines first cost ~4 s and ~1 GB on the large preset)."""
    found = {name: _present_columns(data_dir, name) for name in FEATURE_INPUTS}
    present = {name: got[1] for name, got in found.items() if got is not None}
    orders = found["orders"]
    if orders is None:
        raise FileNotFoundError(f"{table_path(data_dir, 'orders')}: the orders table is required")
    for name, got in found.items():
        if got is not None and name != "orders":
            _load(con, got[0], name, got[1])
    orders_src = f"SELECT {_select_list(TABLES['orders'], orders[1], _ORDER_FEATURE_COLUMNS)} "
    orders_src += f"FROM {_parquet(orders[0])}"
    _products(con, "products" in present, orders_src)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE orders AS
        WITH raw_orders AS ({orders_src})
        SELECT o.{C.USER_ID}, o.{C.PRODUCT_ID}, p.{C.CATEGORY_ID}, o.{C.GROUP_ID}, o.{C.STORE_ID},
               o.{C.ORDERED_AT} AS ts, CAST(o.{C.ORDERED_AT} AS DATE) AS day,
               o.{C.QUANTITY} AS quantity, o.{C.AMOUNT} AS amount,
               o.{C.AMOUNT} / o.{C.QUANTITY} AS unit_price
        FROM raw_orders o JOIN products p USING ({C.PRODUCT_ID})
        WHERE o.{C.ORDERED_AT} IS NOT NULL AND o.{C.QUANTITY} > 0""")
    _first_orders(con)
    _users(con, "users" in present)
    for name in ("inventory", "groups", "memberships"):
        con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS {_given(name, name in present)}")
    return InputInfo(frozenset(present), frozenset(present["orders"]))


def _first_orders(con: duckdb.DuckDBPyConnection) -> None:
    """Tables `product_first` / `group_first`: each one's first order instant. "Ordered before
    t" is then `first_ts < t` on a few thousand rows instead of a semi-join over every order
    line before t (~1.1 s per as-of date on 20M lines)."""
    for name, key in (("product_first", C.PRODUCT_ID), ("group_first", C.GROUP_ID)):
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT {key}, min(ts) AS first_ts "
            f"FROM orders WHERE {key} IS NOT NULL GROUP BY 1"
        )


def _given(name: str, given: bool) -> str:
    """The loaded table, or an empty one with the contract's typed columns."""
    if given:
        return f"SELECT * FROM raw_{name}"
    return f"SELECT {_select_list(TABLES[name], set())} WHERE false"


def _products(con: duckdb.DuckDBPyConnection, given: bool, orders_src: str) -> None:
    """Products from the table plus any product only seen in orders (ORDERS_SRC: the typed
    order lines); category defaults to self."""
    known = _given("products", given)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE products AS
        WITH known AS ({known}), raw_orders AS ({orders_src}),
        extra AS (SELECT DISTINCT {C.PRODUCT_ID} FROM raw_orders
                  WHERE {C.PRODUCT_ID} NOT IN (SELECT {C.PRODUCT_ID} FROM known))
        SELECT k.{C.PRODUCT_ID},
               coalesce(k.{C.CATEGORY_ID}, k.{C.PRODUCT_ID}) AS {C.CATEGORY_ID},
               coalesce(k.{C.DEPARTMENT_ID}, k.{C.CATEGORY_ID}, k.{C.PRODUCT_ID})
                   AS {C.DEPARTMENT_ID},
               k.{C.PRICE}, k.{C.LAUNCHED_AT}, k.{C.REPURCHASE_CYCLE_DAYS}
        FROM known k
        UNION ALL
        SELECT {C.PRODUCT_ID}, {C.PRODUCT_ID}, {C.PRODUCT_ID}, NULL, NULL, NULL FROM extra""")


def _users(con: duckdb.DuckDBPyConnection, given: bool) -> None:
    """Users from the table plus any user only seen in orders (profile columns NULL)."""
    known = _given("users", given)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE users AS
        WITH known AS ({known})
        SELECT * FROM known
        UNION ALL
        SELECT DISTINCT {C.USER_ID}, NULL::TIMESTAMP, NULL, NULL, NULL, NULL FROM orders
        WHERE {C.USER_ID} NOT IN (SELECT {C.USER_ID} FROM known)""")


def ts_literal(as_of: date) -> str:
    """The as-of instant (00:00 UTC) as a DuckDB TIMESTAMP literal."""
    return f"TIMESTAMP '{as_of.isoformat()} 00:00:00'"


def date_literal(as_of: date) -> str:
    return f"DATE '{as_of.isoformat()}'"


def prepare_as_of(con: duckdb.DuckDBPyConnection, as_of: date) -> None:
    """View `ob`: the orders strictly before AS_OF, the only orders any feature may see (a view:
    copying 20M order lines per date cost more than filtering them in each query)."""
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW ob AS SELECT * FROM orders WHERE ts < {ts_literal(as_of)}"
    )
