"""Fast checks of the scale-out pieces that need no server: the DuckDB -> Spark SQL shim and the
Redis connection-string parser."""

from __future__ import annotations

import pytest

from features.engine_spark import spark_sql_text, to_spark
from features.store.redis_snapshot import parse_connection_string


def _spark(sql: str) -> str:
    (statement,) = to_spark(sql)
    return spark_sql_text(statement)


def test_epoch_keeps_fractional_seconds() -> None:
    out = _spark("SELECT epoch(ts) AS s FROM ob")
    assert "UNIX_MICROS(CAST(ts AS TIMESTAMP)) / 1000000.0D" in out
    assert "UNIX_TIMESTAMP" not in out


def test_decimal_literals_become_double() -> None:
    out = _spark("SELECT a / 3.0 AS x, b * 14 AS y FROM t")
    assert "CAST(3.0 AS DOUBLE)" in out and "14" in out and "CAST(14 AS" not in out


@pytest.mark.parametrize(
    ("duckdb", "spark"),
    [
        ("SELECT arg_min(g, j) FROM m", "MIN_BY(g, j)"),
        ("SELECT arg_max(s, t) FROM i", "MAX_BY(s, t)"),
        ("SELECT string_agg(c, ',' ORDER BY u DESC, c) FROM x", "LISTAGG(c, ',') WITHIN GROUP"),
        ("SELECT NULL::VARCHAR AS v", "CAST(NULL AS STRING)"),
        ("SELECT date_diff('day', a, b) FROM x", "DATEDIFF(DAY, a, b)"),
        ("SELECT \"user_id\" FROM read_parquet('/d/o.parquet')", "FROM parquet.`/d/o.parquet`"),
        ("SELECT rank() OVER (ORDER BY price) FROM p", "ORDER BY price NULLS LAST"),
    ],
)
def test_dialect_rewrites(duckdb: str, spark: str) -> None:
    assert spark in _spark(duckdb)


def test_temp_table_statements_are_split() -> None:
    statements = to_spark(
        "CREATE OR REPLACE TEMP TABLE a AS SELECT 1 AS x; "
        "CREATE OR REPLACE TEMP TABLE b AS SELECT * FROM a"
    )
    assert [s.this.name for s in statements] == ["a", "b"]


def test_redis_connection_string() -> None:
    assert parse_connection_string("redis.internal:6380,db=2,password=s3cret,ssl=true") == {
        "host": "redis.internal",
        "port": 6380,
        "db": 2,
        "password": "s3cret",
        "ssl": True,
    }
    assert parse_connection_string("localhost") == {"host": "localhost", "port": 6379}
