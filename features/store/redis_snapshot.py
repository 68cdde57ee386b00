"""The serving snapshot's inputs published to Redis, so service replicas need no local files.

Per-entity lookups go through Feast's Redis online store (feast_store.online_features), but
the service snapshot needs every row of every table at once (1M users on the large preset),
and a full scan of Feast's hash-per-entity layout would deserialize one protobuf per value.
So `features build` with `online_store: redis` also publishes, beside the Feast rows, the
same as-of rows as Parquet blobs (chunked under Redis's 512 MB value limit), plus the contract
tables the snapshot reads (memberships, pushes; products' ids and names when it has names) and
the operator page's side tables (features.store.side_tables). Publishing is atomic for readers: the
blobs go under a fresh build id, then one SET of the `current` manifest swaps them in, then the
old build's keys are deleted; a reader that lost that race retries once with the new manifest.

Connection strings use Feast's format: `host:port[,db=0][,password=...][,ssl=true]`.
"""

from __future__ import annotations

import io
import json
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import SecretStr

from configs.settings import FeatureSettings, secret_value
from configs.workspace import Workspace
from features.contract.io import read_names, table_path
from features.snapshots import default_as_of
from features.store.catalog import TABLES
from features.store.side_tables import side_tables

PREFIX = "grouppush:snapshot"
CURRENT = f"{PREFIX}:current"
CHUNK_BYTES = 64 * 1024 * 1024
CONTRACT_TABLES = ("memberships", "pushes")


def parse_connection_string(connection_string: str) -> dict[str, Any]:
    """redis.Redis keyword arguments from Feast's `host:port,key=value,...` format."""
    host, port = "127.0.0.1", 6379
    params: dict[str, Any] = {}
    for part in (p.strip() for p in connection_string.split(",") if p.strip()):
        if "=" in part:
            key, value = part.split("=", 1)
            try:
                params[key] = json.loads(value)
            except json.JSONDecodeError:
                params[key] = value
        else:
            host, _, port_text = part.partition(":")
            port = int(port_text or 6379)
    return {"host": host, "port": port, **params}


def redis_client(connection_string: SecretStr | str) -> Any:
    """A redis.Redis client (import deferred: serving imports this module cheaply); the
    connection string may be the secret setting itself (it can carry a password)."""
    import redis

    plain = secret_value(connection_string) or ""
    return redis.Redis(**parse_connection_string(plain))


def _to_bytes(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd")
    return sink.getvalue()


def _file_chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK_BYTES):
            yield chunk


def _blob_chunks(rows: pa.Table | pd.DataFrame | Path) -> Iterator[bytes]:
    """A table's Parquet bytes in CHUNK_BYTES pieces. A Parquet file's own bytes are sent as
    they are, a chunk at a time: the publisher never holds the rows (1M users on large)."""
    if isinstance(rows, Path):
        yield from _file_chunks(rows)
        return
    table = rows if isinstance(rows, pa.Table) else pa.Table.from_pandas(rows, preserve_index=False)
    blob = _to_bytes(table)
    for lo in range(0, max(len(blob), 1), CHUNK_BYTES):
        yield blob[lo : lo + CHUNK_BYTES]


def publish_snapshot(
    client: Any,
    tables: Mapping[str, pa.Table | pd.DataFrame | Path | None],
    meta: Mapping[str, Any],
) -> dict[str, Any]:
    """Write TABLES (None = absent; a Path: a Parquet file sent as is) as chunked Parquet
    blobs under a new build id and make it current; returns the manifest (build id, meta,
    chunks per table, bytes, seconds)."""
    start = time.perf_counter()
    build = uuid.uuid4().hex
    chunks: dict[str, int] = {}
    total = 0
    for name, rows in tables.items():
        if rows is None:
            continue
        n = 0
        for n, chunk in enumerate(_blob_chunks(rows), start=1):
            client.set(f"{PREFIX}:{build}:{name}:{n - 1}", chunk)
            total += len(chunk)
        chunks[name] = n
    manifest = {"build": build, "meta": dict(meta), "tables": chunks, "bytes": total}
    old = client.getset(CURRENT, json.dumps(manifest))
    if old:
        _delete_build(client, json.loads(old))
    manifest["seconds"] = time.perf_counter() - start
    return manifest


def _delete_build(client: Any, manifest: Mapping[str, Any]) -> None:
    keys = [
        f"{PREFIX}:{manifest['build']}:{name}:{i}"
        for name, n in manifest["tables"].items()
        for i in range(n)
    ]
    if keys:
        client.delete(*keys)


def current_manifest(client: Any) -> dict[str, Any] | None:
    """The published manifest, or None when nothing was published yet."""
    raw = client.get(CURRENT)
    return json.loads(raw) if raw else None


def _read(client: Any, manifest: Mapping[str, Any]) -> dict[str, pd.DataFrame] | None:
    out = {}
    for name, n in manifest["tables"].items():
        parts = client.mget([f"{PREFIX}:{manifest['build']}:{name}:{i}" for i in range(n)])
        if any(p is None for p in parts):
            return None  # replaced while reading
        out[name] = pq.read_table(io.BytesIO(b"".join(parts))).to_pandas()
    return out


def read_snapshot(
    client: Any, names: tuple[str, ...] | None = None
) -> tuple[dict[str, pd.DataFrame], dict[str, Any]]:
    """Every published table (or those of NAMES that were published) and the build's meta;
    fails clearly when nothing is published."""
    for _ in range(3):
        manifest = current_manifest(client)
        if manifest is None:
            raise FileNotFoundError(
                f"Redis has no {CURRENT!r}: run `grouppush features build` with "
                "features.online_store=redis against this Redis first"
            )
        if names is not None:
            chunks = {n: c for n, c in manifest["tables"].items() if n in names}
            manifest = {**manifest, "tables": chunks}
        got = _read(client, manifest)
        if got is not None:
            return got, {**manifest["meta"], "build": manifest["build"]}
    raise RuntimeError("the Redis snapshot kept changing while it was read; try again")


def publish_workspace(ws: Workspace, cfg: FeatureSettings, as_of: date) -> dict[str, Any]:
    """Publish the AS_OF rows of every catalog table + the snapshot's contract tables (and
    product/category names: a service reading an older publication shows ids)."""
    with tempfile.TemporaryDirectory(prefix=".publish-", dir=ws.offline) as tmp:
        return _publish(ws, cfg, as_of, Path(tmp))


def _publish(ws: Workspace, cfg: FeatureSettings, as_of: date, tmp: Path) -> dict[str, Any]:
    from features.store.offline_tables import date_file, merge_parts, read_date

    tables: dict[str, pa.Table | Path | None] = {}
    for name in TABLES:  # the as-of file itself when stored per date (no rows in memory)
        f = date_file(ws.offline, name, as_of)
        if f.is_dir():  # the Spark executors' parts: merged batch by batch into one file
            merge_parts(f, tmp / f"{name}.parquet")
            f = tmp / f"{name}.parquet"
        tables[name] = f if f.is_file() else read_date(ws.offline, name, as_of)
    for name in CONTRACT_TABLES:
        path = table_path(ws.data, name)
        tables[name] = path if path.exists() else None
    tables["products"] = read_names(ws.data)
    tables.update(side_tables(ws))  # the operator page's (features.store.side_tables)
    try:
        data_as_of: str | None = default_as_of(ws.data).isoformat()
    except (FileNotFoundError, ValueError):
        data_as_of = None
    meta = {"as_of": as_of.isoformat(), "data_as_of": data_as_of}
    return publish_snapshot(redis_client(cfg.redis_connection_string), tables, meta)


def local_server_command(port: int, workdir: Path, exe: str = "redis-server") -> list[str]:
    """A throwaway redis-server on 127.0.0.1:PORT without persistence (tests, benchmarks)."""
    return [
        exe,
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(workdir),
        "--logfile",
        str(workdir / "redis.log"),
    ]
