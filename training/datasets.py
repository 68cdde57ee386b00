"""Point-in-time training sets: entity rows per snapshot date, features as of that date,
labels from the orders in [s, s + horizon). Features never see an order on or after s."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd

from configs import columns as C
from configs.settings import FeatureSettings, Settings
from configs.workspace import Workspace
from features.contract.io import read_table
from features.store import catalog
from features.store.offline_tables import offline_path

Fetch = Callable[[pd.DataFrame, str], pd.DataFrame]
SNAPSHOT = "snapshot"  # the snapshot date a row belongs to (python date)
# What each FeatureService serves (mirrors features/store/feature_repo/definitions.py), so the
# Feast-free path hands the models exactly the columns Feast would.
SERVICE_COLUMNS = {
    catalog.REPURCHASE_SERVICE: {catalog.USER_ACTIVITY.name: catalog.USER_ACTIVITY.numeric()},
    catalog.INTEREST_SERVICE: {
        catalog.USER_ACTIVITY.name: catalog.USER_ACTIVITY.names,
        catalog.USER_INTEREST.name: catalog.USER_INTEREST.names,
    },
}


def utc(day: date) -> pd.Timestamp:
    """A date at 00:00 UTC: the event_timestamp of a snapshot taken as of that date."""
    return pd.Timestamp(day).tz_localize("UTC")


@dataclass(frozen=True)
class SnapshotSplit:
    train: list[date]
    valid: date  # early stopping + calibration
    test: date  # held out: never trained on


def split_snapshots(dates: Sequence[date], horizon_days: int) -> SnapshotSplit:
    """Oldest snapshots train, the next validates, the latest is held out.

    Training snapshots whose label window reaches into the held-out snapshot's features are
    dropped (possible only when the spacing is shorter than the horizon).
    """
    ordered = sorted(dates)
    if len(ordered) < 3:
        raise ValueError(
            f"training.n_snapshots must be >= 3 (train, validation, holdout); got {len(ordered)}"
        )
    *train, valid, test = ordered
    horizon = timedelta(days=horizon_days)
    train = [d for d in train if d + horizon <= valid]
    if not train or valid + horizon > test:
        raise ValueError(
            "training.snapshot_spacing_days is shorter than horizon_days: label windows of the "
            "training snapshots overlap the held-out one"
        )
    return SnapshotSplit(train, valid, test)


def load_orders(ws: Workspace) -> pd.DataFrame:
    """Orders (user, category, day, quantity, amount) with ordered_at in UTC; category =
    product when the products table or its category is missing."""
    orders = read_table(ws.data, "orders", [C.USER_ID, C.PRODUCT_ID, C.ORDERED_AT, C.QUANTITY])
    if orders is None:
        raise FileNotFoundError(f"{ws.data / 'orders.parquet'}: the orders table is required")
    return with_category(ws, orders)


def orders_before(orders: pd.DataFrame, as_of: date) -> pd.DataFrame:
    """Orders strictly before AS_OF; ORDERS itself when none is dropped (the default as_of is
    the day after the last order, and copying 20M rows costs seconds and ~1 GB)."""
    keep = (orders[C.ORDERED_AT] < utc(as_of)).to_numpy()
    return orders if keep.all() else orders[keep]


def with_category(ws: Workspace, orders: pd.DataFrame) -> pd.DataFrame:
    """ordered_at in UTC, ids as strings, category_id from products (else the product).
    Modifies and returns `orders` (no copy: the orders table can be 20M rows)."""
    orders[C.ORDERED_AT] = pd.to_datetime(orders[C.ORDERED_AT], utc=True)
    products = read_table(ws.data, "products")
    if products is not None and C.CATEGORY_ID in products.columns:
        mapping = products.set_index(C.PRODUCT_ID)[C.CATEGORY_ID]
        orders[C.CATEGORY_ID] = orders[C.PRODUCT_ID].map(mapping).fillna(orders[C.PRODUCT_ID])
    else:
        orders[C.CATEGORY_ID] = orders[C.PRODUCT_ID]
    orders[C.USER_ID] = orders[C.USER_ID].astype(str)
    orders[C.CATEGORY_ID] = orders[C.CATEGORY_ID].astype(str)
    return orders


def entity_frame(orders: pd.DataFrame, day: date) -> pd.DataFrame:
    """Users with at least one order before `day` (the population scored as of that date)."""
    users = orders.loc[orders[C.ORDERED_AT] < utc(day), C.USER_ID].unique()
    users = np.sort(users.astype(str))
    return pd.DataFrame({C.USER_ID: users, C.EVENT_TIMESTAMP: utc(day)})


def window(orders: pd.DataFrame, day: date, horizon_days: int) -> pd.DataFrame:
    """Orders in the label window [day, day + horizon)."""
    start, end = utc(day), utc(day + timedelta(days=horizon_days))
    return orders[(orders[C.ORDERED_AT] >= start) & (orders[C.ORDERED_AT] < end)]


def repurchase_labels(
    orders: pd.DataFrame, users: pd.Series, day: date, horizon: int
) -> np.ndarray:
    """1 when the user orders at least once in [day, day + horizon)."""
    buyers = window(orders, day, horizon)[C.USER_ID].unique()
    return users.isin(buyers).to_numpy(dtype=np.int8)


def category_truth(orders: pd.DataFrame, day: date, horizon: int) -> pd.DataFrame:
    """(user, category) pairs bought in [day, day + horizon)."""
    return window(orders, day, horizon)[[C.USER_ID, C.CATEGORY_ID]].drop_duplicates()


def offline_fetcher(ws: Workspace) -> Fetch:
    """Point-in-time join straight on the offline Parquet history (Feast-free fallback/tests):
    for each entity row, the latest feature row with event_timestamp <= the row's."""

    def fetch(entity_df: pd.DataFrame, service: str) -> pd.DataFrame:
        out = entity_df.sort_values(C.EVENT_TIMESTAMP).reset_index(drop=True)
        out[C.EVENT_TIMESTAMP] = out[C.EVENT_TIMESTAMP].astype("datetime64[ns, UTC]")
        for table, names in SERVICE_COLUMNS[service].items():
            path = offline_path(ws.offline, table)
            if not path.exists():
                raise FileNotFoundError(
                    f"{path}: offline feature table missing; run features build"
                )
            history = pd.read_parquet(path)
            history[C.EVENT_TIMESTAMP] = pd.to_datetime(
                history[C.EVENT_TIMESTAMP], utc=True
            ).astype("datetime64[ns, UTC]")
            history[C.USER_ID] = history[C.USER_ID].astype(str)
            history = history.sort_values(C.EVENT_TIMESTAMP)
            cols = [C.USER_ID, C.EVENT_TIMESTAMP, *names]
            out = pd.merge_asof(
                out,
                history[[c for c in cols if c in history.columns]],
                on=C.EVENT_TIMESTAMP,
                by=C.USER_ID,
                direction="backward",
            )
        return out

    return fetch


def feast_fetcher(ws: Workspace, cfg: FeatureSettings) -> Fetch:
    """Point-in-time join through the Feast FeatureService (the system of record)."""
    from features.store.feast_store import get_store, historical_features

    store = get_store(ws, cfg)

    def fetch(entity_df: pd.DataFrame, service: str) -> pd.DataFrame:
        return historical_features(store, entity_df, service)

    return fetch


def sample_entities(entities: pd.DataFrame, max_users: int | None, seed: int) -> pd.DataFrame:
    """At most MAX_USERS rows, drawn seeded (the same rows `DataFrame.sample` would draw from
    the fetched snapshot, which has the same users in the same order)."""
    if max_users is None or len(entities) <= max_users:
        return entities
    return entities.sample(n=max_users, random_state=seed)


def fetch_snapshots(
    fetch: Fetch,
    orders: pd.DataFrame,
    days: Sequence[date],
    service: str,
    max_users: Mapping[date, int | None] | None = None,
    seed: int = 0,
) -> pd.DataFrame:
    """Features for every (user with history, snapshot) row in one point-in-time join.

    max_users: per snapshot, a cap on its users, sampled (seeded) BEFORE the join so a
    1M-user snapshot is never fetched when a sample of it is all the model uses."""
    caps = max_users or {}
    entities = pd.concat(
        [sample_entities(entity_frame(orders, d), caps.get(d), seed) for d in days],
        ignore_index=True,
    )
    frame = fetch(entities, service)
    del entities
    frame[C.EVENT_TIMESTAMP] = pd.to_datetime(frame[C.EVENT_TIMESTAMP], utc=True)
    frame[C.USER_ID] = frame[C.USER_ID].astype(str)
    # sorted by (snapshot, user): one argsort of the keys, and no copy of the wide frame when
    # the fetch already returned that order
    stamps = frame[C.EVENT_TIMESTAMP].dt.tz_convert(None).to_numpy()
    order = np.lexsort((frame[C.USER_ID].to_numpy(), stamps))
    if not np.array_equal(order, np.arange(len(frame))):
        frame = frame.take(order)
    frame = frame.reset_index(drop=True)
    frame[SNAPSHOT] = frame[C.EVENT_TIMESTAMP].dt.date
    return frame


def snapshot_rows(frame: pd.DataFrame, days: Sequence[date]) -> pd.DataFrame:
    """The rows of DAYS (one date, or several adjacent ones) of a frame sorted by SNAPSHOT, as
    one positional slice: no copy of the wide frame, unlike a boolean mask."""
    hit = np.flatnonzero(frame[SNAPSHOT].isin(list(days)).to_numpy())
    if len(hit) and hit[-1] - hit[0] + 1 == len(hit):
        return frame.iloc[hit[0] : hit[-1] + 1]
    return frame.iloc[hit]


def category_stats_at(ws: Workspace, day: date) -> pd.DataFrame:
    """The category_stats snapshot valid at `day` (latest event_timestamp <= day)."""
    path = offline_path(ws.offline, catalog.CATEGORY_STATS.name)
    if not path.exists():
        raise FileNotFoundError(f"{path}: offline feature table missing; run features build")
    stats = pd.read_parquet(path)
    stamps = pd.to_datetime(stats[C.EVENT_TIMESTAMP], utc=True)
    valid = stamps[stamps <= utc(day)]
    if valid.empty:
        raise ValueError(f"{path}: no category_stats snapshot at or before {day}")
    snap = stats[stamps == valid.max()].copy()
    snap[C.CATEGORY_ID] = snap[C.CATEGORY_ID].astype(str)
    return snap.reset_index(drop=True)


def snapshot_arrow(
    ws: Workspace, table: str, day: date | None, columns: Sequence[str] | None = None
) -> Any:
    """One offline table as of `day` (None: its latest snapshot) as an Arrow table, reading only
    that date's row groups (and COLUMNS when given)."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    path = offline_path(ws.offline, table)
    if not path.exists():
        raise FileNotFoundError(f"{path}: offline feature table missing; run features build")
    stamps = pq.read_table(path, columns=[C.EVENT_TIMESTAMP]).column(0)
    latest = pc.max(stamps).as_py()
    target = pd.Timestamp(latest) if day is None else utc(day)
    wanted = pa_scalar(target, stamps.type)
    if not pc.any(pc.equal(stamps, wanted)).as_py():
        raise LookupError(f"{path}: no snapshot as of {target.date()}")
    # row-group pushdown: the history holds every date, only one is read (1M-user tables)
    cols = list(columns) if columns is not None else None
    return pq.read_table(path, columns=cols, filters=[(C.EVENT_TIMESTAMP, "=", wanted)])


def snapshot_table(
    ws: Workspace, table: str, day: date | None, columns: Sequence[str] | None = None
) -> pd.DataFrame:
    """One offline table as of `day` (None: its latest snapshot), read with a row filter."""
    frame = snapshot_arrow(ws, table, day, columns).to_pandas()
    key = catalog.TABLES[table].entity
    frame[key] = frame[key].astype(str)
    return frame.reset_index(drop=True)


def pa_scalar(stamp: pd.Timestamp, kind: object) -> object:
    """A timestamp scalar of the column's Arrow type (unit and zone must match to compare)."""
    import pyarrow as pa

    if stamp.tzinfo is None and getattr(kind, "tz", None):
        stamp = stamp.tz_localize("UTC")
    if stamp.tzinfo is not None and not getattr(kind, "tz", None):
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    return pa.scalar(stamp.to_pydatetime(), type=kind)


class MissingSnapshots(LookupError):
    """Feature dates are missing from the offline history; the message names them and the
    command that builds them (training only reads features: the CLI builds them first)."""


def scoring_tables(
    settings: Settings, ws: Workspace, day: date | None, *, show_progress: bool = False
) -> dict[str, pd.DataFrame]:
    """user_activity, user_interest and category_stats as of `day` (the newest when None)."""
    names = (catalog.USER_ACTIVITY.name, catalog.USER_INTEREST.name, catalog.CATEGORY_STATS.name)
    try:
        return {name: snapshot_table(ws, name, day) for name in names}
    except (LookupError, FileNotFoundError) as exc:
        if day is None:
            raise
        raise MissingSnapshots(
            f"no feature snapshot as of {day}: run `grouppush features build --as-of {day}` "
            "(the export and evaluate commands build it themselves)"
        ) from exc
