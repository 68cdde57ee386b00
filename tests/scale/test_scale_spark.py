"""Spark engine parity: the tiny preset built on Spark local mode equals the DuckDB build, and
Feast's Spark offline store gives the same point-in-time training sets as the DuckDB store."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from configs import columns as C
from configs.settings import Settings
from configs.workspace import Workspace
from tests.scale.scale_helpers import redis_hashes, workspace_with

pytestmark = pytest.mark.integration
pytest.importorskip("pyspark", reason="pyspark is the optional `spark` extra")
if shutil.which("java") is None:
    pytest.skip("Spark needs a Java runtime (17+) on PATH", allow_module_level=True)

# Whole-stage codegen and adaptive planning cost more than they save on tiny inputs.
TEST_SPARK_CONF = {"spark.sql.codegen.wholeStage": "false", "spark.sql.adaptive.enabled": "false"}
Built = dict[str, tuple[Settings, Workspace]]


def with_engine(settings: Settings, engine: str) -> Settings:
    features = settings.features.model_copy(
        update={"engine": engine, "spark_conf": TEST_SPARK_CONF, "spark_shuffle_partitions": 2}
    )
    return settings.model_copy(update={"features": features})


@pytest.fixture(scope="module")
def as_of(tiny_data: Path) -> date:
    from features.snapshots import default_as_of

    return default_as_of(tiny_data)


@pytest.fixture(scope="module")
def built(
    tiny_data: Path,
    tiny_settings: Settings,
    as_of: date,
    tmp_path_factory: pytest.TempPathFactory,
) -> Built:
    """The same two as-of dates computed by each engine into its own workspace."""
    from features.compute.build import compute_snapshots

    dates = [as_of - timedelta(days=30), as_of]
    out = {}
    for engine in ("duckdb", "spark"):
        settings = with_engine(tiny_settings, engine)
        ws = workspace_with(tiny_data, tmp_path_factory.mktemp(f"engine_{engine}"))
        compute_snapshots(settings, ws, dates, show_progress=False)
        out[engine] = (settings, ws)
    return out


def _is_list(series: pd.Series) -> bool:
    first = series.dropna().head(1)
    return bool(len(first)) and isinstance(first.iloc[0], list | np.ndarray)


def assert_frames_close(a: pd.DataFrame, b: pd.DataFrame, keys: Sequence[str], what: str) -> None:
    """Same keys in the same order; numbers within float tolerance; everything else equal."""
    assert sorted(a.columns) == sorted(b.columns), what
    a = a.sort_values(list(keys), ignore_index=True)
    b = b.sort_values(list(keys), ignore_index=True)[a.columns]
    assert len(a) == len(b) > 0, what
    for key in keys:
        assert a[key].astype(str).tolist() == b[key].astype(str).tolist(), f"{what}: {key}"
    for col in a.columns:
        x, y = a[col], b[col]
        if _is_list(x):
            for i, (p, q) in enumerate(zip(x, y, strict=True)):
                p, q = np.asarray(p), np.asarray(q)
                assert p.shape == q.shape, f"{what}.{col} row {i}: lengths differ"
                if p.dtype.kind in "fi":
                    np.testing.assert_allclose(
                        q, p, rtol=1e-5, atol=1e-7, err_msg=f"{what}.{col} row {i}"
                    )
                else:
                    assert p.tolist() == q.tolist(), f"{what}.{col} row {i}"
        elif pd.api.types.is_numeric_dtype(x) and pd.api.types.is_numeric_dtype(y):
            np.testing.assert_allclose(
                y.astype(float),
                x.astype(float),
                rtol=1e-6,
                atol=1e-9,
                equal_nan=True,
                err_msg=f"{what}.{col}",
            )
        elif col != C.EVENT_TIMESTAMP:
            assert (
                x.fillna("<null>").astype(str).tolist() == y.fillna("<null>").astype(str).tolist()
            ), f"{what}.{col}"


def assert_builds_equal(duck: Workspace, spark: Workspace, dates: int = 2) -> None:
    """Every catalog table and the similarity table of two builds (SPARK's DATES latest
    dates; the similarity table is the latest date's)."""
    import pyarrow.parquet as pq

    from features.store.catalog import TABLES
    from features.store.offline_tables import offline_path

    for name, table in TABLES.items():
        b = pq.read_table(offline_path(spark.offline, name)).to_pandas()
        a = pq.read_table(offline_path(duck.offline, name)).to_pandas()
        a = a[a[C.EVENT_TIMESTAMP].isin(b[C.EVENT_TIMESTAMP].unique())]
        assert_frames_close(a, b, [table.entity, C.EVENT_TIMESTAMP], name)
        assert b[C.EVENT_TIMESTAMP].nunique() == dates
    a = pd.read_parquet(duck.offline / "category_similarity.parquet")
    b = pd.read_parquet(spark.offline / "category_similarity.parquet")
    assert_frames_close(a, b, [C.CATEGORY_ID, "neighbor_id"], "category_similarity")


def test_spark_build_equals_duckdb_build(built: Built) -> None:
    assert_builds_equal(built["duckdb"][1], built["spark"][1])


def test_online_load_from_the_executors_equals_the_driver_load(
    built: Built, as_of: date, redis_url: str
) -> None:
    """engine=spark sends the Redis rows from the executors: the same keys, fields and bytes
    as the driver's bulk load of the same offline files (databases 3 and 4)."""
    from pydantic import SecretStr

    from features.store.feast_store import apply_definitions, get_store
    from features.store.online import load_online
    from features.store.redis_snapshot import redis_client

    settings, ws = built["spark"]
    written = {}
    for engine, db in (("duckdb", 3), ("spark", 4)):
        url = SecretStr(f"{redis_url},db={db}")
        cfg = settings.features.model_copy(
            update={
                "engine": engine,
                "online_store": "redis",
                "redis_connection_string": url,
                "online_chunk_rows": 7,
            }
        )
        redis_client(url).flushdb()
        store = get_store(ws, cfg)
        apply_definitions(store, ws)
        out = load_online(store, ws, as_of, cfg)
        assert out["writer"] == ("spark" if engine == "spark" else "bulk")
        assert out["rows"] > 0
        written[engine] = redis_hashes(url)
    assert len(written["spark"]) > 100
    assert written["spark"] == written["duckdb"]


def test_spark_training_set_equals_duckdb_training_set(built: Built, as_of: date) -> None:
    """Point-in-time sets through each engine's Feast offline store; the middle day has no
    snapshot of its own, so it must get the earlier snapshot's values (not the later one)."""
    from features.store.catalog import INTEREST_SERVICE, REPURCHASE_SERVICE
    from features.store.feast_store import apply_definitions, get_store
    from training.datasets import feast_fetcher, fetch_snapshots, load_orders

    days = [as_of - timedelta(days=30), as_of - timedelta(days=12), as_of]
    sets: dict[str, dict[str, pd.DataFrame]] = {}
    for engine, (settings, ws) in built.items():
        store = get_store(ws, settings.features)
        assert store.config.offline_store.type == ("spark" if engine == "spark" else "duckdb")
        apply_definitions(store, ws)
        fetch = feast_fetcher(ws, settings.features)
        orders = load_orders(ws)
        sets[engine] = {
            svc: fetch_snapshots(fetch, orders, days, svc)
            for svc in (REPURCHASE_SERVICE, INTEREST_SERVICE)
        }
    for svc, frame in sets["duckdb"].items():
        assert frame["snapshot"].nunique() == 3
        assert_frames_close(frame, sets["spark"][svc], [C.USER_ID, "snapshot"], svc)
    middle = sets["spark"][REPURCHASE_SERVICE]
    middle = middle[middle["snapshot"] == days[1]]
    first = sets["spark"][REPURCHASE_SERVICE]
    first = first[first["snapshot"] == days[0]].set_index(C.USER_ID)
    shared = middle[middle[C.USER_ID].isin(first.index)].set_index(C.USER_ID)
    assert len(shared) > 0
    np.testing.assert_allclose(shared["spend_total"], first.loc[shared.index, "spend_total"])


def test_temp_tables_are_cached_once_views_stay_lazy(tiny_settings: Settings) -> None:
    """CREATE TEMP TABLE fills a cache now; ALTER / UPDATE read it without caching again;
    a view is never cached; DROP TABLE frees the cache with the name."""
    from features.engine_spark import connect_spark

    con = connect_spark(with_engine(tiny_settings, "spark").features)
    catalog = con.spark.catalog
    try:
        con.execute("CREATE TEMP TABLE h5t AS SELECT * FROM (VALUES (0), (1), (2), (3), (4)) v(x)")
        assert catalog.isCached("h5t")
        con.execute("ALTER TABLE h5t ADD COLUMN y BIGINT; UPDATE h5t SET y = x * 2")
        assert con.execute("SELECT sum(y) AS s FROM h5t").fetchall() == [(20,)]
        con.execute("CREATE OR REPLACE TEMP VIEW h5v AS SELECT x FROM h5t WHERE x > 2")
        assert not catalog.isCached("h5v")
        assert con.execute("SELECT count(*) AS n FROM h5v").fetchall() == [(2,)]
        cached = con._cached["h5t"]
        con.execute("DROP TABLE h5t")
        assert "h5t" not in con._cached
        assert not cached.storageLevel.useMemory
    finally:
        con.close()


@pytest.mark.slow  # ~130 s under load 5-6 (cluster start 17 s + one-date build 110 s)
def test_spark_build_on_a_standalone_cluster_equals_duckdb_build(
    built: Built, spark_cluster: Any, as_of: date, tiny_data: Path, tmp_path: Path
) -> None:
    """The same build against `spark://127.0.0.1:PORT`: a master and two workers, so the
    SQL and the Arrow UDFs run in executor processes, not in the driver."""
    from features.compute.build import compute_snapshots

    settings = with_engine(built["spark"][0], "spark")
    conf = {**TEST_SPARK_CONF, **spark_cluster.driver_conf()}
    features = settings.features.model_copy(
        update={"spark_master": spark_cluster.master, "spark_conf": conf}
    )
    settings = settings.model_copy(update={"features": features})
    ws = workspace_with(tiny_data, tmp_path / "cluster")
    compute_snapshots(settings, ws, [as_of], show_progress=False)  # one date: CI time
    assert_builds_equal(built["duckdb"][1], ws, dates=1)
