"""Spark session settings: local mode gets a usable driver heap and adaptive planning; a
cluster master keeps its own memory settings; spark_conf always wins."""

from __future__ import annotations

import sys

from configs.settings import FeatureSettings
from features.engine_spark import session_conf


def test_local_mode_gets_driver_heap_and_adaptive_planning() -> None:
    conf = session_conf(FeatureSettings(spark_master="local[2]"))
    assert conf["spark.driver.memory"] == "2g"
    assert conf["spark.sql.adaptive.enabled"] == "true"
    assert conf["spark.sql.execution.arrow.pyspark.enabled"] == "true"
    assert conf["spark.sql.shuffle.partitions"] == "8"
    assert conf["spark.pyspark.python"] == sys.executable  # the UDFs' numpy / pyarrow


def test_cluster_master_keeps_its_own_memory_settings() -> None:
    conf = session_conf(FeatureSettings(spark_master="spark://host:7077"))
    assert conf["spark.master"] == "spark://host:7077"
    assert "spark.driver.memory" not in conf


def test_spark_conf_overrides_the_defaults() -> None:
    cfg = FeatureSettings(
        spark_conf={"spark.driver.memory": "6g", "spark.sql.adaptive.enabled": "false"}
    )
    conf = session_conf(cfg)
    assert conf["spark.driver.memory"] == "6g"
    assert conf["spark.sql.adaptive.enabled"] == "false"
