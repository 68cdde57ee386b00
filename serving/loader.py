"""Build a serving Snapshot from a workspace: latest feature tables, contract tables, champions."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Collection, Mapping, Sequence
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from configs import columns as C
from configs.settings import FeatureSettings, Settings
from configs.workspace import Workspace
from features import catalog
from features.io import read_table
from features.offline_tables import as_of_timestamp, offline_files, offline_path
from serving.models import Champion, champion_versions, load_champions, safe_predict
from serving.snapshot import Long, Snapshot, build_snapshot

log = logging.getLogger(__name__)

# the user_interest columns a snapshot without an interest champion reads
SERVED_INTEREST = (
    C.USER_ID,
    "interest_categories",
    "interest_scores",
    "last_days",
    "counts_30d",
)


def read_feature_tables(
    ws: Workspace,
    as_of: date | None = None,
    as_arrow: Collection[str] = (),
    columns: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, Any]:
    """Every catalog table's rows as of AS_OF (default: the latest), Parquet only, no Feast:
    pandas frames, or Arrow tables for the names in AS_ARROW (list columns stay flat); only
    COLUMNS[name] of the tables named there."""
    from features.store import latest_snapshot_arrow

    columns = columns or {}
    out: dict[str, Any] = {}
    for name in catalog.TABLES:
        cols = list(columns[name]) if name in columns else None
        if as_of is None:
            table = latest_snapshot_arrow(ws, name, cols)
        else:
            table = _read_as_of(offline_path(ws.offline, name), as_of, cols)
        out[name] = table if name in as_arrow else table.to_pandas()
    return out


def _read_as_of(path: Path, as_of: date, columns: list[str] | None) -> pa.Table:
    if not path.exists():
        raise FileNotFoundError(f"{path}: no offline features; run `grouppush features build`")
    stamp = pd.Timestamp(as_of_timestamp(as_of))
    table = pq.read_table(path, columns=columns, filters=[(C.EVENT_TIMESTAMP, "=", stamp)])
    if table.num_rows == 0:
        raise ValueError(f"{path}: no rows as of {as_of}; build features for that date first")
    return table


def feature_marker(ws: Workspace, cfg: FeatureSettings | None = None) -> int | str:
    """Newest modification time under the offline folder (Redis: the published build id):
    cheap 'features were rebuilt' check."""
    if cfg is not None and cfg.online_store == "redis":
        from features.redis_snapshot import current_manifest, redis_client

        manifest = current_manifest(redis_client(cfg.redis_connection_string))
        return manifest["build"] if manifest else ""
    if not ws.offline.exists():
        return 0
    return max((p.stat().st_mtime_ns for p in offline_files(ws.offline)), default=0)


def _tag_names(cfg: FeatureSettings, activity: pd.DataFrame) -> dict[str, str]:
    """Tag id -> English name, including generated ids such as 'region:<v>'."""
    from features.tags import load_taxonomy, tag_names, taxonomy_path

    path = taxonomy_path(cfg)
    return tag_names(load_taxonomy(path), activity) if path.exists() else {}


def _newest_order_day(ws: Workspace) -> object:
    try:
        from features.snapshots import default_as_of

        return default_as_of(ws.data)
    except (FileNotFoundError, ValueError, ImportError):
        return None


def safe_champion_versions(uri: str) -> dict[str, str]:
    """Champion versions, or {} when the registry is unreachable (served by heuristics)."""
    if uri.startswith("sqlite:///") and not Path(uri.removeprefix("sqlite:///")).exists():
        return {}  # no tracking database yet: nothing trained (and don't create one)
    try:
        return champion_versions(uri)
    except Exception as exc:  # noqa: BLE001 - a missing registry must not stop serving
        log.warning("MLflow registry unavailable (%s): heuristic scores", exc)
        return {}


def _inputs(
    ws: Workspace, settings: Settings, as_of: date | None, interest_columns: Sequence[str]
) -> tuple[Any, ...]:
    """(feature tables, memberships, pushes, newest order day, marker): from the workspace, or
    (features.online_store = redis, latest date) from the snapshot `features build` published
    to Redis, so a replica needs no local files. user_interest comes as Arrow (flat list
    buffers: pandas makes a numpy array per user and list, GBs at 1M users), only
    INTEREST_COLUMNS of it."""
    cfg = settings.features
    if cfg.online_store == "redis" and as_of is None:
        from features.redis_snapshot import read_snapshot, redis_client

        published, meta = read_snapshot(redis_client(cfg.redis_connection_string))
        tables = {name: published[name] for name in catalog.TABLES}
        day = date.fromisoformat(meta["data_as_of"]) if meta.get("data_as_of") else None
        return tables, published.get("memberships"), published.get("pushes"), day, meta["build"]
    marker = feature_marker(ws)
    lean = {"user_interest": interest_columns}
    return (
        read_feature_tables(ws, as_of, ("user_interest",), lean),
        read_table(ws.data, "memberships"),
        read_table(ws.data, "pushes"),
        _newest_order_day(ws),
        marker,
    )


def load_snapshot(
    ws: Workspace, settings: Settings, as_of: date | None = None, *, champions: bool = True
) -> Snapshot:
    """Read everything once, score every user with the champions (heuristics only with
    CHAMPIONS false: a cheap look at groups and products), return the frozen snapshot."""
    from serving.interest_scoring import PAIR_INPUTS

    registered = safe_champion_versions(ws.mlflow_tracking_uri) if champions else {}
    wanted = PAIR_INPUTS if "interest" in registered else SERVED_INTEREST
    tables, memberships, pushes, data_as_of, marker = _inputs(ws, settings, as_of, wanted)
    loaded = load_champions(ws.mlflow_tracking_uri, registered) if registered else {}
    ua = tables["user_activity"]
    rep = safe_predict(loaded.get("repurchase"), ua)
    scored = None
    if "interest" in loaded:
        scored = _interest_scores(ws, settings, as_of, marker, loaded["interest"], tables)
    versions = {
        "repurchase": loaded["repurchase"].version if rep is not None else "heuristic",
        "interest": loaded["interest"].version if scored is not None else "heuristic",
    }
    lists = isinstance(tables.get("user_interest"), pa.Table)  # (Redis snapshots: pandas)
    if scored is not None:  # the lists are no longer needed: free them before the build
        del tables["user_interest"]
        _release_memory()
    interest_lists = tables.pop("user_interest") if lists and scored is None else None
    snap = build_snapshot(
        tables,
        push_cap_window_days=settings.serving.push_cap_window_days,
        memberships=memberships,
        pushes=pushes,
        tag_names=_tag_names(settings.features, ua),
        interest_lists=interest_lists,
        interest_long=scored,
        repurchase_prob=rep,
        model_versions=versions,
        data_as_of=data_as_of,
    )
    extra = {"registered": registered, "feature_marker": marker}
    del tables, scored, ua, interest_lists
    _release_memory()
    return replace(snap, extra=extra)


def _interest_scores(
    ws: Workspace,
    settings: Settings,
    as_of: date | None,
    marker: int | str,
    champion: Champion,
    tables: dict[str, Any],
) -> tuple[Long, Any] | None:
    """The interest champion's pair scores: from the workspace's score cache when the model,
    feature files and settings are unchanged (local feature store), else scored and saved."""
    from serving.interest_scoring import as_arrow, score_interest
    from serving.score_cache import cache_key, load_scores, save_scores

    n_popular = settings.training.interest_popular_candidates
    local = settings.features.online_store != "redis" and bool(marker)
    model = f"{champion.name}/{champion.version}/{champion.run_id}"
    key = cache_key(model, marker, n_popular, as_of) if local else None
    cached = load_scores(ws, key) if key else None
    if cached is not None:
        return cached
    ui, cs, ua = tables["user_interest"], tables["category_stats"], tables["user_activity"]
    scored = score_interest(champion, as_arrow(ui), cs, ua, n_popular)
    if scored is not None and key:
        save_scores(ws, key, scored)
    return scored


def _release_memory() -> None:
    """Hand the load's temporary frames back to the OS: glibc keeps freed arenas and Arrow's
    mimalloc pool keeps freed buffers otherwise (large preset: 3.3 GB -> 1.3 GB RSS)."""
    import ctypes
    import ctypes.util
    import gc

    gc.collect()
    pa.default_memory_pool().release_unused()
    libc = ctypes.util.find_library("c")
    if libc:
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(libc).malloc_trim(0)
