"""Build a serving Snapshot from a workspace: latest feature tables, contract tables, champions."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from configs import columns as C
from configs.settings import FeatureSettings, Settings
from configs.workspace import Workspace
from features.contract.io import read_names, read_table, table_path
from features.store import catalog
from features.store.offline_tables import (
    as_of_timestamp,
    date_file,
    date_rows,
    iter_date_batches,
    offline_files,
    offline_path,
    table_dir,
    table_files,
)
from serving.interest_csr import ChunkSource, InterestSource
from serving.interest_scoring import FastRefused, Unscorable
from serving.memory import release_memory as _release_memory
from serving.models import Champion, champion_versions, load_champions, safe_predict
from serving.names import with_names
from serving.registry_health import RegistryUnavailable, is_registry_error, unavailable
from serving.snapshot import Snapshot, SnapshotInputs, build_snapshot

if TYPE_CHECKING:
    from modelinput.push_log import PushLog
    from serving.push_cache import PushFields

log = logging.getLogger(__name__)

# the user_interest columns a snapshot without an interest champion reads
SERVED_INTEREST = (
    C.USER_ID,
    "interest_categories",
    "interest_scores",
    "last_days",
    "counts_30d",
)
# user_activity's columns build_snapshot reads (the rest only feed the champions)
SNAPSHOT_ACTIVITY = (
    C.USER_ID,
    C.EVENT_TIMESTAMP,
    C.GROUP_ID,
    "recency_days",
    "order_days_30d",
    "order_days_90d",
    "price_ratio",
    "tags",
)
MEMBERSHIP_COLUMNS = (C.GROUP_ID, C.USER_ID, C.JOINED_AT, C.LEFT_AT)
PUSH_COLUMNS = (C.GROUP_ID, C.USER_ID, C.PUSHED_AT)
PREDICT_ROWS = 100_000  # user_activity rows per repurchase predict_proba call


def read_feature_tables(
    ws: Workspace,
    as_of: date | None = None,
    as_arrow: Collection[str] = (),
    columns: Mapping[str, Sequence[str]] | None = None,
    names: Collection[str] | None = None,
) -> dict[str, Any]:
    """Every catalog table's (or NAMES') rows as of AS_OF (default: the latest), Parquet only,
    no Feast: pandas frames, or Arrow tables for the names in AS_ARROW (list columns stay
    flat); only COLUMNS[name] of the tables named there."""
    from features.store.feast_store import latest_snapshot_arrow

    columns = columns or {}
    out: dict[str, Any] = {}
    for name in catalog.TABLES if names is None else names:
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
    built = path.is_dir() and date_file(path.parent, path.name, as_of).exists()
    if table.num_rows == 0 and not built:  # built but empty: e.g. no groups in the data
        raise ValueError(f"{path}: no rows as of {as_of}; build features for that date first")
    return table


def feature_marker(ws: Workspace, cfg: FeatureSettings | None = None) -> int | str:
    """Newest modification time under the offline folder (Redis: the published build id):
    cheap 'features were rebuilt' check."""
    if cfg is not None and cfg.online_store == "redis":
        from features.store.redis_snapshot import current_manifest, redis_client

        manifest = current_manifest(redis_client(cfg.redis_connection_string))
        return manifest["build"] if manifest else ""
    if not ws.offline.exists():
        return 0
    return max((p.stat().st_mtime_ns for p in offline_files(ws.offline)), default=0)


def _tag_names(cfg: FeatureSettings, activity: pd.DataFrame) -> dict[str, str]:
    """Tag id -> English name, including generated ids such as 'region:<v>'."""
    from features.compute.tags import load_taxonomy, tag_names, taxonomy_path

    path = taxonomy_path(cfg)
    return tag_names(load_taxonomy(path), activity) if path.exists() else {}


def _newest_order_day(ws: Workspace) -> object:
    try:
        from features.snapshots import default_as_of

        return default_as_of(ws.data)
    except (FileNotFoundError, ValueError, ImportError):
        return None


def safe_champion_versions(uri: str) -> dict[str, str]:
    """Champion versions; {} only when the registry says there are none (or no tracking
    database exists yet). Raises RegistryUnavailable when it cannot be read: the caller
    keeps the snapshot it has instead of silently serving heuristic scores."""
    if uri.startswith("sqlite:///") and not Path(uri.removeprefix("sqlite:///")).exists():
        return {}  # no tracking database yet: nothing trained (and don't create one)
    try:
        return champion_versions(uri)
    except RegistryUnavailable:
        raise
    except Exception as exc:  # a client that cannot even be built: unknown, not "none"
        raise unavailable(exc) from exc


def _interest_blocks(
    ws: Workspace, as_of: date | None, columns: Sequence[str], rows: int
) -> Callable[[], Iterator[pa.Table]]:
    """user_interest's COLUMNS as Arrow tables of up to ROWS users, read from the Parquet file
    once per call (the latest date file is streamed by batches: the whole table is ~1 GB of
    Arrow on the large preset); a dated or old single-file read is one table, sliced."""
    files = table_files(ws.offline, "user_interest") if as_of is None else []
    dated = [f for f in files if f.parent == table_dir(ws.offline, "user_interest")]
    full = [f for f in dated if date_rows(f) > 0]
    if not dated:
        name = ("user_interest",)
        table = read_feature_tables(ws, as_of, name, {name[0]: columns}, name)[name[0]]
        return lambda: (table.slice(s, rows) for s in range(0, table.num_rows, rows))
    path = (full or dated)[-1]

    def blocks() -> Iterator[pa.Table]:  # a date file, or the Spark build's parts in turn
        for batch in iter_date_batches(path, rows, columns):
            yield pa.Table.from_batches([batch])

    return blocks


def _contract(
    ws: Workspace, name: str, columns: Sequence[str], since: tuple[str, date] | None = None
) -> pd.DataFrame | None:
    """A contract table's COLUMNS that it has (pushes carry ids the snapshot never reads),
    only the rows whose SINCE[0] column is at or after midnight UTC of SINCE[1] when given
    (pushes: the snapshot counts the rolling window only; 5M rows on the large preset)."""
    path = table_path(ws.data, name)
    if not path.exists():
        return None
    names = set(pq.read_schema(path).names)
    cols = [c for c in columns if c in names]
    if since is None or since[0] not in names:
        return read_table(ws.data, name, cols)
    try:
        cutoff = pd.Timestamp(since[1], tz="UTC")
        return pq.read_table(path, columns=cols, filters=[(since[0], ">=", cutoff)]).to_pandas()
    except (pa.ArrowException, TypeError, ValueError):  # a column type the filter cannot take
        return read_table(ws.data, name, cols)


def _contracts(ws: Workspace, since: date) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """(memberships, pushes since SINCE): read after the interest scores, which need the
    memory most."""
    return (
        _contract(ws, "memberships", MEMBERSHIP_COLUMNS),
        _contract(ws, "pushes", PUSH_COLUMNS, (C.PUSHED_AT, since)),
    )


def _inputs(
    ws: Workspace, settings: Settings, as_of: date | None, interest_columns: Sequence[str]
) -> tuple[Any, ...]:
    """(feature tables but user_interest, (since -> memberships, pushes), newest order day,
    marker, user_interest blocks, () -> product/category names): from the workspace, or
    (features.online_store = redis, latest date) from the snapshot `features build` published
    to Redis, so a replica needs no local files. user_interest comes as Arrow blocks of users
    (flat list buffers: pandas makes a numpy array per user and list, GBs at 1M users), only
    INTEREST_COLUMNS of it."""
    from serving.interest_scoring import USER_CHUNK

    cfg = settings.features
    if cfg.online_store == "redis" and as_of is None:
        from features.store.redis_snapshot import read_snapshot, redis_client

        published, meta = read_snapshot(redis_client(cfg.redis_connection_string))
        tables = {name: published[name] for name in catalog.TABLES if name != "user_interest"}
        ui = pa.Table.from_pandas(
            published["user_interest"][list(interest_columns)], preserve_index=False
        )
        blocks = lambda: (ui.slice(s, USER_CHUNK) for s in range(0, ui.num_rows, USER_CHUNK))  # noqa: E731
        day = date.fromisoformat(meta["data_as_of"]) if meta.get("data_as_of") else None
        contracts = published.get("memberships"), published.get("pushes")
        names = published.get("products")  # absent from older publications: ids are shown
        return tables, lambda since: contracts, day, meta["build"], blocks, lambda: names
    marker = feature_marker(ws)
    others = [name for name in catalog.TABLES if name != "user_interest"]
    return (
        read_feature_tables(ws, as_of, (), None, others),
        lambda since: _contracts(ws, since),
        _newest_order_day(ws),
        marker,
        _interest_blocks(ws, as_of, interest_columns, USER_CHUNK),
        lambda: read_names(ws.data),
    )


def load_snapshot(
    ws: Workspace, settings: Settings, as_of: date | None = None, *, champions: bool = True
) -> Snapshot:
    """Read everything once, score every user with the champions (heuristics only with
    CHAMPIONS false: a cheap look at groups and products), return the frozen snapshot.

    Memory (the service's start-up and reload peak, target <= 2 GiB on the large preset):
    user_interest is read and scored a block of users at a time, the scored pairs go to the
    score cache on disk and are streamed into the CSR (serving.interest_csr), the
    repurchase champion scores blocks of rows, and user_activity is cut to the columns the
    snapshot keeps before the CSR is built."""
    from serving.feedback import feedback_log
    from serving.feedback_live import FEEDBACK_MARK, with_feedback_pushes
    from serving.interest_scoring import PAIR_INPUTS

    registered = safe_champion_versions(ws.mlflow_tracking_uri) if champions else {}
    wanted = PAIR_INPUTS if "interest" in registered else SERVED_INTEREST
    tables, contracts, data_as_of, marker, blocks, names = _inputs(ws, settings, as_of, wanted)
    # pushes fed back to /feedback count toward the push cap too (serving.feedback_live)
    contracts, feedback_mark = with_feedback_pushes(contracts, feedback_log(ws, settings.features))
    try:
        loaded = load_champions(ws.mlflow_tracking_uri, registered) if registered else {}
    except Exception as exc:
        if is_registry_error(exc):  # a registered champion unreadable now: keep the old
            raise unavailable(exc) from exc
        raise
    ua = tables["user_activity"]
    rep = _predict_rows(loaded.get("repurchase"), ua)
    scored = None
    if "interest" in loaded:
        scored = _interest_scores(ws, settings, as_of, marker, loaded["interest"], tables, blocks)
    versions = {
        "repurchase": loaded["repurchase"].version if rep is not None else "heuristic",
        "interest": loaded["interest"].version if scored is not None else "heuristic",
    }
    push = loaded.get("push")
    tag_names = _tag_names(settings.features, ua)
    tables["user_activity"] = ua[[c for c in SNAPSHOT_ACTIVITY if c in ua.columns]]
    del ua, loaded
    _release_memory()
    interest = InterestSource(
        lists=blocks if scored is None else None,
        chunks=(scored, True) if scored is not None else None,
    )
    inputs = SnapshotInputs(
        push_cap_window_days=settings.serving.push_cap_window_days,
        contracts=contracts,
        tag_names=tag_names,
        interest=interest,
        repurchase_prob=rep,
        model_versions=versions,
        data_as_of=data_as_of,
    )
    snap = build_snapshot(tables, inputs)
    del inputs, interest
    extra = {"registered": registered, "feature_marker": marker, FEEDBACK_MARK: feedback_mark}
    del tables, scored, blocks
    _release_memory()
    snap = with_names(snap, names())
    if push is not None:
        snap = _with_push(ws, settings, snap, push)
    return replace(snap, extra=extra)


def _with_push(ws: Workspace, settings: Settings, snap: Snapshot, push: Champion) -> Snapshot:
    """SNAP with the push champion's warm entries (serving.push_scores), read from the push
    cache when the model, data files, settings and snapshot indices are unchanged, else
    scored and saved there; SNAP unchanged when the workspace lacks what the pair features
    need (logged)."""
    from serving import push_cache
    from serving.push_scores import with_push

    key = push_cache.cache_key(ws, settings, snap, f"{push.name}/{push.version}/{push.run_id}")
    pushed = push_cache.load(ws, key) if key else None
    if pushed is None:
        pushed = _score_push(ws, settings, snap, push)
        if pushed is None:
            return snap
        if key:
            push_cache.save(ws, key, pushed)
    versions = {**snap.model_versions, "push": push.version}
    return with_push(
        snap,
        pushed.arrays,
        model_versions=versions,
        block_indptr=pushed.block_indptr,
        block_indices=pushed.block_indices,
        cold_indptr=pushed.cold_indptr,
        cold_indices=pushed.cold_indices,
        cold_score=pushed.cold_score,
    )


def _score_push(
    ws: Workspace, settings: Settings, snap: Snapshot, push: Champion
) -> PushFields | None:
    """The push fields from the order log: warm pairs scored by the champion
    (serving.push_warm), product-level cycle suppression, cold category scores."""
    from modelinput.push_log import read_push_log
    from modelinput.push_pairs import push_history, read_memberships
    from serving.models import _client
    from serving.push_cache import PushFields
    from serving.push_scores import category_scores, codes_to_arrays, target_codes
    from serving.push_warm import score_warm_codes

    started = time.monotonic()
    try:
        # integer-coded lines: the string frame and a push_history built on it were 7.7 GB
        orders, memberships = read_push_log(ws.data, snap.as_of), read_memberships(ws.data)
        cfg = settings.serving
        targets = None  # every product, unless the catalog is large and slow movers are known
        if len(snap.prod_ids) > cfg.push_warm_products and len(snap.default_candidates):
            targets = pd.Index(snap.prod_ids[snap.default_candidates])
        history = push_history(orders, snap.as_of)
        codes = score_warm_codes(
            history,
            memberships,
            push.predict,
            target_codes(history, targets),
            cfg.push_warm_per_member,
            cfg.push_neighbour_max_buyers,
            cfg.push_warm_recent_per_member,
        )
        metrics = _client(ws.mlflow_tracking_uri).get_run(push.run_id).data.metrics
        cold_rate = float(metrics.get("cold_rate", 0.0))
    except (FileNotFoundError, KeyError, ValueError) as exc:
        log.warning("push champion v%s not used: %s", push.version, exc)
        return None
    arrays = codes_to_arrays(codes, history, snap.user_ids, snap.prod_ids, cold_rate)
    del codes
    block_indptr, block_indices = product_suppression(ws, settings, snap, orders)
    cold = category_scores(history, snap.user_index, snap.prod_index, snap.prod_cat)
    log.info(
        "push champion v%s: %d warm entries scored in %.0f s",
        push.version,
        len(arrays.indices),
        time.monotonic() - started,
    )
    return PushFields(arrays, block_indptr, block_indices, *cold)


def product_suppression(
    ws: Workspace, settings: Settings, snap: Snapshot, orders: pd.DataFrame | PushLog
) -> tuple[np.ndarray, np.ndarray]:
    """Rule 1 at the product level (serving.suppression) from the order log: each product's
    cycle (the products table's, else its category's) unless it is a high-frequency item."""
    from serving.suppression import day_gaps, product_cycles, recent_buys

    cat = snap.prod_cat.astype(np.int64)
    cat_cycle = np.where(cat >= 0, snap.cat_cycle[np.maximum(cat, 0)], np.nan)
    products = read_table(ws.data, "products")
    given = None
    if products is not None and C.REPURCHASE_CYCLE_DAYS in products.columns:
        values = pd.to_numeric(products[C.REPURCHASE_CYCLE_DAYS], errors="coerce")
        at = products[C.PRODUCT_ID].astype(str).map(snap.prod_index).to_numpy(np.float64)
        ok = np.isfinite(at) & values.notna().to_numpy()
        given = np.full(len(snap.prod_ids), np.nan)
        given[at[ok].astype(np.int64)] = values.to_numpy(np.float64)[ok]
    hf_days = settings.features.high_frequency_cycle_days
    gaps = day_gaps(orders)
    cycle, high = product_cycles(gaps, snap.prod_index, cat_cycle, hf_days, given)
    return recent_buys(orders, snap.as_of, snap.user_index, snap.prod_index, cycle, high, gaps)


def _predict_rows(champion: Champion | None, frame: pd.DataFrame) -> np.ndarray | None:
    """safe_predict a block of rows at a time (each row's score depends on that row only;
    one call over 1M rows made ~1.3 GB of pipeline copies)."""
    if champion is None or not len(frame):
        return None
    parts = []
    for start in range(0, len(frame), PREDICT_ROWS):
        prob = safe_predict(champion, frame.iloc[start : start + PREDICT_ROWS])
        if prob is None:
            return None
        parts.append(np.asarray(prob))
    return np.concatenate(parts)


def _interest_scores(
    ws: Workspace,
    settings: Settings,
    as_of: date | None,
    marker: int | str,
    champion: Champion,
    tables: dict[str, Any],
    blocks: Callable[[], Iterator[pa.Table]],
) -> ChunkSource | None:
    """The interest champion's numbered pair scores as a chunk source: the workspace's score
    cache when the model, feature files and settings are unchanged (local feature store),
    else scored block by block into it (into memory without a cache key); None when the
    champion cannot score these features."""
    from serving.score_cache import cache_key, cached_source

    n_popular = settings.training.interest_popular_candidates
    local = settings.features.online_store != "redis" and bool(marker)
    model = f"{champion.name}/{champion.version}/{champion.run_id}"
    key = cache_key(model, marker, n_popular, as_of) if local else None
    cached = cached_source(ws, key) if key else None
    if cached is not None and _readable(ws, key):
        return cached
    try:
        try:
            return _score_into_cache(ws, key, champion, tables, blocks, n_popular, True)
        except FastRefused:
            return _score_into_cache(ws, key, champion, tables, blocks, n_popular, False)
    except Unscorable:
        return None


def _readable(ws: Workspace, key: str | None) -> bool:
    from serving.score_cache import check

    try:
        return key is not None and check(ws, key)
    except Exception as exc:  # noqa: BLE001 - any damage just means scoring again
        log.warning("ignoring unreadable score cache %s: %s", key, exc)
        return False


def _score_into_cache(
    ws: Workspace,
    key: str | None,
    champion: Champion,
    tables: dict[str, Any],
    blocks: Callable[[], Iterator[pa.Table]],
    n_popular: int,
    fast_path: bool,
) -> ChunkSource | None:
    from serving import interest_scoring as scoring
    from serving.score_cache import PREFIX, ScoreWriter, cached_source

    cs, ua = tables["category_stats"], tables["user_activity"]
    chunks = scoring.iter_scores(champion, blocks(), cs, ua, n_popular, fast_path=fast_path)
    writer = None
    if key:
        try:
            writer = ScoreWriter(ws, key)
        except OSError as exc:
            log.warning("could not write the score cache: %s", exc)
    if writer is None:
        parts = list(chunks)
        return (lambda: parts) if parts else None
    try:
        for chunk in chunks:
            writer.add(chunk)
        if not writer.count:
            writer.abort()
            return None
        writer.commit()
    except OSError as exc:  # a full disk: score again into memory
        log.warning("could not save the score cache: %s", exc)
        writer.abort()
        parts = list(scoring.iter_scores(champion, blocks(), cs, ua, n_popular, fast_path=False))
        return (lambda: parts) if parts else None
    except BaseException:
        writer.abort()
        raise
    return cached_source(ws, writer.final.name.removeprefix(PREFIX))
