"""Every Feast object of GroupPush, built from features/store/catalog.py.

Code applies them with `build_definitions(ws.offline)` + `store.apply(...)`
(features/store/feast_store.py), because the FileSource paths depend on the workspace. For the
Feast CLI (`feast apply` run in this folder) the objects are also reachable as module
attributes, built lazily on first access for the workspace in GROUPPUSH_WORKSPACE (or the
repo's default folders): importing this module creates nothing and reads nothing.
"""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from feast import Entity, FeatureService, FeatureView, Field, FileSource, ValueType
from feast.data_format import ParquetFormat
from feast.types import Array, Float32, Float64, Int64, String

from configs import columns as C
from features.store.catalog import (
    CATEGORY_STATS,
    GROUP_STATS,
    INTEREST_SERVICE,
    PRODUCT_STATS,
    PUSH_SERVICE,
    REPURCHASE_SERVICE,
    TABLES,
    USER_ACTIVITY,
    USER_INTEREST,
    FeatureTable,
)
from features.store.offline_tables import offline_path, spark_glob

ENTITY_NAMES = {
    C.USER_ID: "user",
    C.PRODUCT_ID: "product",
    C.CATEGORY_ID: "category",
    C.GROUP_ID: "group",
}
_FEAST_TYPES: dict[str, Any] = {
    "float": Float64,
    "int": Int64,
    "str": String,
    "float_array": Array(Float32),
    "str_array": Array(String),
}
TTL = timedelta(days=0)  # 0 = no expiry: a snapshot stays valid until the next one


def entities() -> dict[str, Entity]:
    """One entity per join key."""
    return {
        key: Entity(
            name=name, join_keys=[key], value_type=ValueType.STRING, description=f"keyed by {key}"
        )
        for key, name in ENTITY_NAMES.items()
    }


def _source(table: FeatureTable, offline_dir: Path, spark: bool) -> Any:
    """FileSource (DuckDB offline store) or SparkSource (Spark offline store) over the table's
    history folder (one Parquet file per as-of date): both read a folder as one table (Feast's
    DuckDB store calls ibis/DuckDB read_parquet on the path, which lists the folder and the
    Spark build's parts directories in it; Spark loads `<folder>/*.parquet`, which takes both
    date files and parts directories). An old workspace's single file until its next build
    splits it."""
    path = str(offline_path(offline_dir, table.name))
    if spark:
        path = spark_glob(Path(path))
        from feast.infra.offline_stores.contrib.spark_offline_store.spark_source import (
            SparkSource,
        )

        return SparkSource(
            name=f"{table.name}_source",
            path=path,
            file_format="parquet",
            timestamp_field=C.EVENT_TIMESTAMP,
            description=table.doc,
        )
    return FileSource(  # the format must be explicit: Feast infers it only from a .parquet name
        name=f"{table.name}_source",
        path=path,
        file_format=ParquetFormat(),
        timestamp_field=C.EVENT_TIMESTAMP,
        description=table.doc,
    )


def feature_view(
    table: FeatureTable, entity: Entity, offline_dir: Path, spark: bool = False
) -> FeatureView:
    """A view over one offline table; its source reads the table's Parquet history folder."""
    source = _source(table, offline_dir, spark)
    schema = [
        Field(name=f.name, dtype=_FEAST_TYPES[f.dtype], description=f.meaning)
        for f in table.features
    ]
    return FeatureView(
        name=table.name,
        entities=[entity],
        ttl=TTL,
        schema=schema,
        source=source,
        online=True,
        description=table.doc,
    )


def feature_services(views: dict[str, FeatureView]) -> list[FeatureService]:
    """repurchase_v1: numeric user activity; interest_v1: + interest; push_v1: everything."""
    ua = views[USER_ACTIVITY.name]
    return [
        FeatureService(
            name=REPURCHASE_SERVICE,
            features=[ua[USER_ACTIVITY.numeric()]],
            description="repurchase model inputs",
        ),
        FeatureService(
            name=INTEREST_SERVICE,
            features=[ua, views[USER_INTEREST.name]],
            description="category-interest model inputs",
        ),
        FeatureService(
            name=PUSH_SERVICE,
            features=[
                views[t.name]
                for t in (USER_ACTIVITY, USER_INTEREST, PRODUCT_STATS, CATEGORY_STATS, GROUP_STATS)
            ],
            description="everything the push-list service reads",
        ),
    ]


def build_definitions(offline_dir: Path, spark: bool = False) -> list[Any]:
    """Entities, feature views (with their sources) and feature services for one workspace;
    SPARK: SparkSources for Feast's Spark offline store (features.engine = spark)."""
    ents = entities()
    views = {
        name: feature_view(t, ents[t.entity], offline_dir, spark) for name, t in TABLES.items()
    }
    return [*ents.values(), *views.values(), *feature_services(views)]


@lru_cache(maxsize=1)
def _cli_objects() -> dict[str, Any]:
    from configs.workspace import resolve_workspace

    objs = build_definitions(resolve_workspace().offline)
    return {f"{type(o).__name__.lower()}_{o.name}": o for o in objs}


def __getattr__(name: str) -> Any:  # PEP 562: lazy module attributes for `feast apply`
    objs = _cli_objects()
    if name in objs:
        return objs[name]
    raise AttributeError(name)


def __dir__() -> list[str]:
    return sorted([*globals(), *_cli_objects()])
