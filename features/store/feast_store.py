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
from features.store.catalog import TABLES
from features.store.offline_tables import offline_path, read_latest, read_latest_arrow

if TYPE_CHECKING:
    import feast

PROJECT = "grouppush"


REPO_YAML = "feature_store.yaml"
REDIS_PASSWORD_ENV = "GROUPPUSH_REDIS_PASSWORD"


def repo_config_dict(ws: Workspace, cfg: FeatureSettings) -> dict[str, Any]:
    """The workspace's Feast repo configuration as plain data: local provider, file registry,
    DuckDB (or, with features.engine = spark, Spark) offline store, SQLite or Redis online.
    `repo_config` builds the RepoConfig from it and `write_repo_yaml` writes it as the
    workspace's feature_store.yaml, so code and the `feast` CLI use one configuration. It holds
    the plain Redis connection string (RepoConfig needs it): never log or dump it as is."""
    online: dict[str, Any]
    if cfg.online_store == "redis":
        # the plain string: RepoConfig needs it; write_repo_yaml masks the password on disk
        plain = secret_value(cfg.redis_connection_string) or ""
        online = {"type": "redis", "connection_string": plain}
    else:
        online = {"type": "sqlite", "path": str(ws.feast_online)}
    offline: dict[str, Any] = {"type": "duckdb"}
    if cfg.engine == "spark":
        from features.engine_spark import session_conf

        offline = {"type": "spark", "spark_conf": dict(session_conf(cfg))}
    return {
        "project": PROJECT,
        "provider": "local",
        "registry": {"path": str(ws.feast_registry), "cache_ttl_seconds": 60},
        "offline_store": offline,
        "online_store": online,
        "entity_key_serialization_version": 3,
    }


def repo_config(ws: Workspace, cfg: FeatureSettings) -> Any:
    """RepoConfig of the workspace (repo_config_dict), rooted at its feast folder."""
    from feast.repo_config import RepoConfig

    return RepoConfig(repo_path=ws.feast, **repo_config_dict(ws, cfg))


def _mask_password(connection_string: str) -> str:
    """A Redis connection string with its password replaced by an env-var reference: the
    feast CLI expands `${VAR}` when it reads feature_store.yaml, so no secret lands on disk."""
    parts = connection_string.split(",")
    masked = [
        f"password=${{{REDIS_PASSWORD_ENV}}}" if p.strip().startswith("password=") else p
        for p in parts
    ]
    return ",".join(masked)


def write_repo_yaml(ws: Workspace, cfg: FeatureSettings) -> Path:
    """Write <workspace>/features/feast/feature_store.yaml (the same configuration as
    get_store), so `feast -c <that folder> feature-views list` / `materialize` work on the
    workspace's own registry and online store. Written only when its text changes."""
    import yaml

    data = repo_config_dict(ws, cfg)
    online = data["online_store"]
    secret = online["type"] == "redis" and "password=" in online["connection_string"]
    if secret:
        online["connection_string"] = _mask_password(online["connection_string"])
    header = (
        "# Written by `grouppush features build` from the workspace settings\n"
        "# (features/store/feast_store.py):\n"
        "# the same configuration GroupPush uses in code. Use it with the feast CLI, e.g.\n"
        f"#   feast -c {ws.feast} feature-views list\n"
        "# Do not run `feast apply` here: `grouppush features build` applies the definitions.\n"
    )
    if secret:
        header += f"# The Redis password is read from ${REDIS_PASSWORD_ENV} when feast loads it.\n"
    text = header + yaml.safe_dump(data, sort_keys=False)
    path = ws.feast / REPO_YAML
    ws.feast.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        tmp = ws.feast / f".{REPO_YAML}.tmp"  # a killed writer's is swept (workspace_lock)
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    return path


def get_store(ws: Workspace, cfg: FeatureSettings) -> feast.FeatureStore:
    """The workspace's FeatureStore (creates the feast folder, nothing else)."""
    from feast import FeatureStore

    ws.feast.mkdir(parents=True, exist_ok=True)
    return FeatureStore(config=repo_config(ws, cfg))


def apply_definitions(store: feast.FeatureStore, ws: Workspace) -> None:
    """Register every catalog object, with FileSources pointing at this workspace's tables."""
    from features.store.feature_repo.definitions import build_definitions

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
