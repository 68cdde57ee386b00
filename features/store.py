"""The Feast FeatureStore of a workspace, built in code, and the read helpers stages share.

Feast is imported inside the functions (`import feast` costs seconds): importing this module
is cheap, and `latest_snapshot` never imports Feast at all.

Why `latest_snapshot` reads Parquet instead of `get_online_features`: the serving snapshot
needs every user's latest row (1M users on the large preset). The SQLite online store answers
~500 entities in ~40-190 ms, so a full scan through it would take minutes and deserialize one
protobuf per feature value; the registered FileSource's history folder holds the same values
(the online store is loaded from exactly these rows) and pyarrow reads the latest date's file
in about a second. Per-entity lookups (`online_features`) stay on Feast's online API.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyarrow as pa

from configs.settings import FeatureSettings, secret_value
from configs.workspace import Workspace
from features.catalog import TABLES
from features.offline_tables import offline_path, read_latest, read_latest_arrow

if TYPE_CHECKING:
    import feast

PROJECT = "grouppush"


def repo_config(ws: Workspace, cfg: FeatureSettings) -> Any:
    """RepoConfig: local provider, file registry, DuckDB (or, with features.engine = spark,
    Spark) offline store, SQLite or Redis online."""
    from feast.repo_config import RegistryConfig, RepoConfig

    online: Any
    if cfg.online_store == "redis":
        from feast.infra.online_stores.redis import RedisOnlineStoreConfig

        plain = secret_value(cfg.redis_connection_string)
        online = RedisOnlineStoreConfig(connection_string=plain)
    else:
        from feast.infra.online_stores.sqlite import SqliteOnlineStoreConfig

        online = SqliteOnlineStoreConfig(path=str(ws.feast_online))
    return RepoConfig(
        project=PROJECT,
        registry=RegistryConfig(path=str(ws.feast_registry), cache_ttl_seconds=60),
        provider="local",
        offline_store=_offline_store(cfg),
        online_store=online,
        entity_key_serialization_version=3,
        repo_path=ws.feast,
    )


def _offline_store(cfg: FeatureSettings) -> Any:
    if cfg.engine == "spark":
        from feast.infra.offline_stores.contrib.spark_offline_store.spark import (
            SparkOfflineStoreConfig,
        )

        from features.engine_spark import session_conf

        return SparkOfflineStoreConfig(spark_conf=session_conf(cfg))
    from feast.infra.offline_stores.duckdb import DuckDBOfflineStoreConfig

    return DuckDBOfflineStoreConfig()


def get_store(ws: Workspace, cfg: FeatureSettings) -> feast.FeatureStore:
    """The workspace's FeatureStore (creates the feast folder, nothing else)."""
    from feast import FeatureStore

    ws.feast.mkdir(parents=True, exist_ok=True)
    return FeatureStore(config=repo_config(ws, cfg))


def apply_definitions(store: feast.FeatureStore, ws: Workspace) -> None:
    """Register every catalog object, with FileSources pointing at this workspace's tables."""
    from features.feature_repo.definitions import build_definitions

    spark = store.config.offline_store.type == "spark"
    store.apply(build_definitions(ws.offline, spark=spark))


def historical_features(
    store: feast.FeatureStore, entity_df: pd.DataFrame, service_name: str
) -> pd.DataFrame:
    """Point-in-time join of a FeatureService onto ENTITY_DF (join key(s) + event_timestamp).

    Columns come back named as in the catalog. Where two views of the service share a feature
    name (push_v1: units_30d is in user, product and category stats) those columns keep
    Feast's `<view>__<feature>` name, since a plain name would be ambiguous.
    """
    service = store.get_feature_service(service_name)
    df = store.get_historical_features(
        entity_df=entity_df, features=service, full_feature_names=True
    ).to_df()
    prefixed = [c for c in df.columns if "__" in c and c not in entity_df.columns]
    plain = [c.split("__", 1)[1] for c in prefixed]
    rename = {
        c: p
        for c, p in zip(prefixed, plain, strict=True)
        if plain.count(p) == 1 and p not in entity_df.columns
    }
    return df.rename(columns=rename)


def _snapshot_path(ws: Workspace, table: str) -> Path:
    if table not in TABLES:
        raise KeyError(f"unknown feature table {table!r}; known: {', '.join(TABLES)}")
    path = offline_path(ws.offline, table)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no offline features yet; run `grouppush features build`")
    return path


def latest_snapshot(ws: Workspace, table: str) -> pd.DataFrame:
    """The latest as-of rows of a catalog table, from its newest date file (the FileSource's
    history folder)."""
    return read_latest(_snapshot_path(ws, table))


def latest_snapshot_arrow(
    ws: Workspace, table: str, columns: Sequence[str] | None = None
) -> pa.Table:
    """latest_snapshot as Arrow: list features stay flat buffers (no per-row numpy arrays),
    the fast way to load user_interest for 1M users; only COLUMNS when given."""
    return read_latest_arrow(_snapshot_path(ws, table), columns)


def online_features(
    store: feast.FeatureStore, table: str, keys: list[str], features: list[str] | None = None
) -> pd.DataFrame:
    """Online values of one table's features for KEYS (one row per key, catalog names)."""
    spec = TABLES[table]
    names = features or spec.names
    resp = store.get_online_features(
        features=[f"{table}:{n}" for n in names],
        entity_rows=[{spec.entity: k} for k in keys],
    )
    df = resp.to_df()
    return df[[spec.entity, *names]]
