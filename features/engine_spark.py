"""Run the feature SQL on Spark: the very statements features/compute/compute_*.py send to DuckDB.

One definition per feature family: the compute modules write DuckDB SQL and call
`con.execute(sql)` then `.df()` / `.fetchnumpy()`. `SparkSql` is a connection with that same
surface; each statement is parsed by sqlglot as DuckDB and regenerated as Spark SQL, so the
engines cannot drift apart. The dialect shim, all of it:
- sqlglot's own DuckDB -> Spark rewrite: types (VARCHAR -> STRING, TIMESTAMP -> TIMESTAMP_NTZ),
  `read_parquet('f')` -> parquet.`f`, arg_min/arg_max -> min_by/max_by, string_agg(.. ORDER BY)
  -> listagg WITHIN GROUP, date_diff('day', ..) -> datediff(DAY, ..), explicit NULLS LAST where
  DuckDB's default null order differs from Spark's.
- here: epoch(ts) keeps its fractional seconds (sqlglot's unix_timestamp would drop them);
  decimal literals become DOUBLE, because DuckDB divides decimals in floating point while Spark
  keeps a 6-digit decimal scale.
- temp tables: `CREATE TEMP TABLE t AS q` caches q (filled by its first reader) and registers
  temp view t (DuckDB materialises temp tables, Spark views are lazy); `CREATE VIEW` stays an
  uncached view (ob, the orders before t: a filter over the cached orders, not a copy);
  `ALTER TABLE t ADD COLUMN c` / `UPDATE t SET c = e` (no WHERE) become withColumn on the
  cached view; `DROP TABLE` also frees the cache.
- session: UTC time zone, ANSI mode off (x / 0 and bad casts give NULL, as in DuckDB).
The per-user tables run the DuckDB path's numpy on the executors, one user partition at a time
(compute/spark_activity.py, compute/spark_interest.py), and the executors write their rows;
the per-category, -product and -group tables are small and collected to the driver.
"""

from __future__ import annotations

import os
import sys
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from configs.settings import FeatureSettings

_DEFAULT_CONF = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.ansi.enabled": "false",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    # Adaptive planning coalesces the shuffle partitions of small aggregates and turns joins
    # with the small stats tables into broadcast joins once their real size is known.
    "spark.sql.adaptive.enabled": "true",
    "spark.sql.adaptive.coalescePartitions.enabled": "true",
}
# Local mode runs every task in the driver JVM, whose 1 GiB default heap spills the cached order
# lines of the demo preset to disk; the large preset wants 6g+ (spark_conf overrides this, and
# it only applies when the JVM starts).
_LOCAL_CONF = {"spark.driver.memory": "2g"}


def session_conf(cfg: FeatureSettings) -> dict[str, str]:
    """Every Spark setting the build uses (also handed to Feast's Spark offline store)."""
    return {
        "spark.master": cfg.spark_master,
        "spark.app.name": "grouppush-features",
        **_DEFAULT_CONF,
        "spark.sql.shuffle.partitions": str(cfg.spark_shuffle_partitions),
        # the executors' Python for the Arrow UDFs (they import this environment's numpy and
        # pyarrow); on a cluster whose hosts keep it elsewhere, set it in spark_conf
        "spark.pyspark.python": sys.executable,
        **(_LOCAL_CONF if cfg.spark_master.startswith("local") else {}),
        **cfg.spark_conf,
    }


def spark_session(cfg: FeatureSettings) -> Any:
    """The (shared, getOrCreate) SparkSession of features.spark_master + spark_conf."""
    from pyspark import SparkContext
    from pyspark.sql import SparkSession

    running = SparkContext._active_spark_context
    if running is not None and running.master != cfg.spark_master:
        # getOrCreate would hand back the running session, on the other master
        SparkSession.builder.getOrCreate().stop()
    conf = session_conf(cfg)
    # pyspark reads the executors' interpreter from this variable, not from the setting
    os.environ["PYSPARK_PYTHON"] = conf["spark.pyspark.python"]
    builder = SparkSession.builder
    for key, value in conf.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


@lru_cache(maxsize=1)
def _dialect() -> Any:
    from sqlglot import exp
    from sqlglot.dialects.spark import Spark

    class DuckdbOnSpark(Spark):
        class Generator(Spark.Generator):  # type: ignore[valid-type,misc]
            TRANSFORMS = {
                **Spark.Generator.TRANSFORMS,
                exp.TimeToUnix: lambda self, e: (
                    f"(UNIX_MICROS(CAST({self.sql(e, 'this')} AS TIMESTAMP)) / 1000000.0D)"
                ),
            }

    return DuckdbOnSpark


def _double_literals(node: Any) -> Any:
    from sqlglot import exp

    if isinstance(node, exp.Literal) and node.is_number and "." in node.this:
        return exp.cast(node.copy(), exp.DataType.build("double"))
    return node


def to_spark(sql: str) -> list[Any]:
    """DuckDB SQL text -> sqlglot statements, rewritten for Spark (literals as DOUBLE)."""
    import sqlglot

    return [s.transform(_double_literals) for s in sqlglot.parse(sql, read="duckdb") if s]


def spark_sql_text(statement: Any) -> str:
    """One rewritten statement as Spark SQL text."""
    return str(statement.sql(dialect=_dialect()))


class _Result:
    """What DuckDB's execute() returns, as far as the compute modules use it."""

    def __init__(self, frame: pd.DataFrame | None) -> None:
        self._frame = frame if frame is not None else pd.DataFrame()

    def df(self) -> pd.DataFrame:
        return self._frame

    def fetchnumpy(self) -> dict[str, np.ndarray]:
        return {c: self._frame[c].to_numpy() for c in self._frame.columns}

    def fetchall(self) -> list[tuple]:
        return list(self._frame.itertuples(index=False, name=None))


class SparkSql:
    """A DuckDB-connection look-alike that runs each statement on a SparkSession."""

    def __init__(self, spark: Any) -> None:
        self.spark = spark
        self._cached: dict[str, Any] = {}

    def execute(self, sql: str) -> _Result:
        # Feast's Spark offline store turns this on in the shared session; our SQL quotes
        # plain column names with backticks, which must stay names, not regexes.
        self.spark.conf.set("spark.sql.parser.quotedRegexColumnNames", "false")
        result = _Result(None)
        for statement in to_spark(sql):
            result = self._run(statement)
        return result

    def _run(self, statement: Any) -> _Result:
        from sqlglot import exp

        if isinstance(statement, exp.Create) and statement.expression is not None:
            name = (
                statement.this.name
                if isinstance(statement.this, exp.Table)
                else statement.this.this.name
            )
            frame = self.spark.sql(spark_sql_text(statement.expression))
            if statement.kind == "VIEW":  # a view stays lazy, as in DuckDB (ob: a filter)
                self._forget(name)
                frame.createOrReplaceTempView(name)
            else:
                self._register(name, frame)
            return _Result(None)
        if isinstance(statement, exp.Drop):
            for table in statement.args.get("tables") or [statement.this]:
                self._forget(table.name)
        if isinstance(statement, exp.Alter):
            return self._add_columns(statement)
        if isinstance(statement, exp.Update):
            return self._update(statement)
        return _Result(self.spark.sql(spark_sql_text(statement)).toPandas())

    def _register(self, name: str, frame: Any) -> None:
        """Cache (filled by its first reader), then swap the temp view and drop the replaced
        cache. Not filled eagerly: a count() per temp table is one more Spark job each, which
        cost more than it saved (the inputs alone are 13 tables, several read only once).
        The view holds its analysed plan, so replacing a table it reads (ob for the next
        date) never changes it."""
        frame = frame.cache()
        frame.createOrReplaceTempView(name)
        self._forget(name)
        self._cached[name] = frame

    def _forget(self, name: str) -> None:
        """Unpersist the cache registered under NAME (replaced or dropped). ALTER / UPDATE
        only add columns, so their view stays a projection of this cache instead of caching
        (and running a job for) every intermediate state."""
        old = self._cached.pop(name, None)
        if old is not None:
            old.unpersist()

    def _add_columns(self, statement: Any) -> _Result:
        from pyspark.sql import functions as F
        from sqlglot import exp

        name = statement.this.name
        frame = self.spark.table(name)
        for action in statement.args.get("actions") or []:
            if not isinstance(action, exp.ColumnDef):
                raise NotImplementedError(f"Spark shim: unsupported ALTER action {action.sql()}")
            kind = action.args["kind"].sql(dialect=_dialect())
            frame = frame.withColumn(action.name, F.lit(None).cast(kind))
        frame.createOrReplaceTempView(name)  # a projection of the cache, kept
        return _Result(None)

    def _update(self, statement: Any) -> _Result:
        from pyspark.sql import functions as F

        if statement.args.get("where") is not None:
            raise NotImplementedError("Spark shim: UPDATE ... WHERE is not supported")
        name = statement.this.name
        frame = self.spark.table(name)
        for assignment in statement.expressions:
            column = assignment.this.name
            frame = frame.withColumn(column, F.expr(spark_sql_text(assignment.expression)))
        frame.createOrReplaceTempView(name)  # a projection of the cache, kept
        return _Result(None)

    def close(self) -> None:
        """Free the cached tables; the session stays up for the next build in this process."""
        for frame in self._cached.values():
            frame.unpersist()
        self._cached.clear()
        for name in [t.name for t in self.spark.catalog.listTables() if t.isTemporary]:
            self.spark.catalog.dropTempView(name)


def connect_spark(cfg: FeatureSettings) -> SparkSql:
    """A Spark connection for the feature build (features.engine = spark)."""
    return SparkSql(spark_session(cfg))
