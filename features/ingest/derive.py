"""Derive the optional contract tables a plain transaction log lacks, from the validated orders.

Runs DuckDB over the staged Parquet files so it scales with the orders table. Every derived table
comes with one sentence for the report saying what it was derived from.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from configs import columns as C
from features.contract.schema import TABLES
from features.ingest.validate import arrow_schema

if TYPE_CHECKING:
    import duckdb

_RANK = "QUALIFY row_number() OVER (PARTITION BY {part} ORDER BY n DESC, t, {tie}) = 1"


def _columns(path: Path | None) -> set[str]:
    return set(pq.ParquetFile(path).schema_arrow.names) if path else set()


def _typed(name: str, table: pa.Table) -> pa.Table:
    schema = arrow_schema(TABLES[name], table.column_names)
    return table.select(schema.names).cast(schema)


def derive_tables(staged: Mapping[str, Path]) -> tuple[dict[str, pa.Table], list[str]]:
    """Tables to add or complete (name -> contract table) and what was done, in words.

    staged maps each validated table to its Parquet file; orders is always there.
    """
    import duckdb

    con = duckdb.connect()
    con.execute("SET TimeZone='UTC'")
    for name, path in staged.items():
        con.read_parquet(str(path)).create_view(f"in_{name}")
    ocols = _columns(staged["orders"])
    out: dict[str, pa.Table] = {}
    said: list[str] = []

    def run(name: str, sql: str, sentence: str) -> None:
        out[name] = _typed(name, con.sql(sql).to_arrow_table())
        said.append(f"{name}: {out[name].num_rows} derived from {sentence}")

    if "users" not in staged:
        run(
            "users",
            _users_sql(C.STORE_ID in ocols),
            "orders (registered_at = first order; identity_type, channel and region unknown: "
            "left empty, so no profile tag is guessed"
            + (", store_id = most frequent store)" if C.STORE_ID in ocols else ")"),
        )
    if "products" not in staged:
        run(
            "products",
            "SELECT product_id, product_id AS category_id, "
            "median(amount / quantity) AS price FROM in_orders GROUP BY 1 ORDER BY 1",
            "orders.product_id (each product its own category, price = median unit price)",
        )
    else:
        _complete_products(staged, out, said)

    group_col = _group_column(con, ocols)
    if "memberships" not in staged and group_col:
        run(
            "memberships",
            _memberships_sql(group_col),
            f"orders.{group_col} (each user in the group they ordered in most, role member)",
        )
    if "memberships" in out:
        con.from_arrow(out["memberships"]).create_view("in_memberships")
    has_members = "memberships" in staged or "memberships" in out
    if "groups" not in staged and (group_col or has_members):
        users = "in_users" if "users" in staged else None
        if users and C.IDENTITY_TYPE not in _columns(staged["users"]):
            users = None
        run(
            "groups",
            _groups_sql(group_col, C.STORE_ID in ocols, has_members, users),
            f"orders.{group_col}" if group_col else "memberships",
        )
    elif "groups" not in staged:
        said.append("groups/memberships: none (orders carry neither group_id nor store_id)")
    con.close()
    return out, said


def _group_column(con: duckdb.DuckDBPyConnection, ocols: set[str]) -> str | None:
    """group_id when orders carry any, else store_id (one group per store), else none."""
    for name in (C.GROUP_ID, C.STORE_ID):
        if name in ocols and con.execute(f"SELECT count({name}) FROM in_orders").fetchall()[0][0]:
            return name
    return None


def _complete_products(
    staged: Mapping[str, Path], out: dict[str, pa.Table], said: list[str]
) -> None:
    """A given products table without category_id (or with gaps): category_id = product_id
    (and a category named so gets the product's name, when it has one)."""
    table = pq.read_table(staged["products"])
    if C.CATEGORY_ID in table.column_names:
        cat = table.column(C.CATEGORY_ID)
        missing = cat.null_count
        if not missing:
            return
        own = pc.is_null(cat)
        filled = pc.coalesce(cat, table.column(C.PRODUCT_ID))
        table = table.set_column(table.column_names.index(C.CATEGORY_ID), C.CATEGORY_ID, filled)
    else:
        missing = table.num_rows
        own = pa.repeat(pa.scalar(True), table.num_rows)
        table = table.append_column(C.CATEGORY_ID, table.column(C.PRODUCT_ID))
    if C.PRODUCT_NAME in table.column_names:
        names = pc.if_else(own, table.column(C.PRODUCT_NAME), None)
        if C.CATEGORY_NAME in table.column_names:
            names = pc.coalesce(table.column(C.CATEGORY_NAME), names)
            table = table.drop_columns([C.CATEGORY_NAME])
        table = table.append_column(C.CATEGORY_NAME, names)
    out["products"] = _typed("products", table)
    said.append(f"products: category_id = product_id for {missing} products without a category")


def _users_sql(with_store: bool) -> str:
    base = (
        "SELECT user_id, min(ordered_at) AS registered_at, "
        "CAST(NULL AS VARCHAR) AS identity_type, CAST(NULL AS VARCHAR) AS channel, "
        "CAST(NULL AS VARCHAR) AS region FROM in_orders GROUP BY 1"
    )
    if not with_store:
        return base + " ORDER BY 1"
    return f"""
        WITH u AS ({base}),
        s AS (SELECT user_id, store_id, count(*) AS n, min(ordered_at) AS t FROM in_orders
              WHERE store_id IS NOT NULL GROUP BY 1, 2
              {_RANK.format(part="user_id", tie="store_id")})
        SELECT u.*, s.store_id FROM u LEFT JOIN s USING (user_id) ORDER BY 1"""


def _memberships_sql(group_col: str) -> str:
    return f"""
        SELECT {group_col} AS group_id, user_id, t AS joined_at, 'member' AS role FROM (
            SELECT user_id, {group_col}, count(*) AS n, min(ordered_at) AS t FROM in_orders
            WHERE {group_col} IS NOT NULL GROUP BY 1, 2
            {_RANK.format(part="user_id", tie=group_col)})
        ORDER BY 1, 2"""


def _groups_sql(
    group_col: str | None, with_store: bool, has_members: bool, users: str | None
) -> str:
    """Groups seen in orders or memberships; type = majority identity type of members."""
    parts = []
    if group_col:
        parts.append(
            f"SELECT {group_col} AS group_id, min(ordered_at) AS t FROM in_orders "
            f"WHERE {group_col} IS NOT NULL GROUP BY 1"
        )
    if has_members:
        parts.append("SELECT group_id, min(joined_at) AS t FROM in_memberships GROUP BY 1")
    ctes = [
        f"g AS (SELECT group_id, min(t) AS created_at FROM ({' UNION ALL '.join(parts)}) "
        "GROUP BY 1)"
    ]
    select, joins = ["g.group_id"], []
    if group_col == C.STORE_ID:
        select.append("g.group_id AS store_id")
    elif group_col and with_store:
        ctes.append(
            "s AS (SELECT group_id, store_id, count(*) AS n, min(ordered_at) AS t "
            "FROM in_orders WHERE group_id IS NOT NULL AND store_id IS NOT NULL "
            f"GROUP BY 1, 2 {_RANK.format(part='group_id', tie='store_id')})"
        )
        select.append("s.store_id")
        joins.append("LEFT JOIN s USING (group_id)")
    if users and has_members:
        ctes.append(f"k AS ({_majority_type_sql(users)})")
        select.append("coalesce(k.identity_type, 'consumer') AS group_type")
        joins.append("LEFT JOIN k USING (group_id)")
    else:
        select.append("'consumer' AS group_type")
    select.append("g.created_at")
    return f"WITH {', '.join(ctes)} SELECT {', '.join(select)} FROM g {' '.join(joins)} ORDER BY 1"


def _majority_type_sql(users: str) -> str:
    return f"""
        SELECT group_id, identity_type, count(*) AS n, min(user_id) AS t FROM in_memberships
        JOIN {users} USING (user_id) WHERE identity_type IS NOT NULL GROUP BY 1, 2
        {_RANK.format(part="group_id", tie="identity_type")}"""
