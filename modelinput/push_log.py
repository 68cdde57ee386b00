"""The order log as integer codes, coded once, so each push snapshot is a mask on a day array.

Why: push training reads four snapshots of the same log. Re-factorising string ids and
re-grouping per snapshot took 7 min and 7.7 GB per snapshot on the large preset (20M lines);
with the ids coded once (sorted, so codes order as the ids do) a snapshot's window is a boolean
mask and its aggregates are sorts of int64 keys.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from configs import columns as C

EPOCH = pd.Timestamp("1970-01-01", tz="UTC")


@dataclass(frozen=True)
class PushLog:
    """Order lines as codes into sorted id indexes; `day` is the UTC day number of ordered_at."""

    users: pd.Index
    products: pd.Index
    categories: pd.Index
    prod_cat: np.ndarray  # category code of each product code
    u: np.ndarray  # int32 per line
    p: np.ndarray  # int32 per line
    day: np.ndarray  # int32 days since 1970-01-01 (UTC)
    qty: np.ndarray  # float64
    amount: np.ndarray | None  # float64 (NaN unknown); None: the log has no amount column

    def __len__(self) -> int:
        return len(self.u)

    def mask(self, keep: np.ndarray) -> PushLog:
        """The lines where KEEP holds, same code indexes."""
        amount = None if self.amount is None else self.amount[keep]
        return PushLog(
            self.users,
            self.products,
            self.categories,
            self.prod_cat,
            self.u[keep],
            self.p[keep],
            self.day[keep],
            self.qty[keep],
            amount,
        )


def day_number(day: date) -> int:
    """Days since 1970-01-01 of a calendar date (a snapshot is taken at its 00:00 UTC)."""
    return int((pd.Timestamp(day).tz_localize("UTC") - EPOCH).days)


def _sorted_codes(values: pd.Series | np.ndarray) -> tuple[np.ndarray, pd.Index]:
    codes, index = pd.factorize(np.asarray(values).astype(str), sort=True)
    return codes.astype(np.int32), pd.Index(index)


def _day_numbers(at: pd.Series) -> np.ndarray:
    stamps = pd.to_datetime(at, utc=True)
    return ((stamps - EPOCH).dt.floor("D") // pd.Timedelta(days=1)).to_numpy(np.int32)


def code_orders(orders: pd.DataFrame) -> PushLog:
    """ORDERS (user_id, product_id, category_id, ordered_at, quantity, optional amount) coded.
    A product's category is its first line's (the products table gives one per product)."""
    u, users = _sorted_codes(orders[C.USER_ID])
    p, products = _sorted_codes(orders[C.PRODUCT_ID])
    cat = pd.Series(np.asarray(orders[C.CATEGORY_ID]).astype(str))
    first = pd.Series(np.arange(len(p))).groupby(p).first().to_numpy()
    c, categories = _sorted_codes(cat.to_numpy()[first])
    amount = None
    if C.AMOUNT in orders.columns:
        amount = pd.to_numeric(orders[C.AMOUNT], errors="coerce").to_numpy(np.float64)
    return PushLog(
        users,
        products,
        categories,
        c.astype(np.int64),
        u,
        p,
        _day_numbers(orders[C.ORDERED_AT]),
        orders[C.QUANTITY].to_numpy(np.float64),
        amount,
    )


def _arrow_codes(column: object) -> tuple[np.ndarray, pd.Index]:
    """Sorted-id codes of a dictionary-encoded arrow column, without a Python string per line."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not pa.types.is_dictionary(column.type):  # type: ignore[attr-defined]
        column = pc.dictionary_encode(column)
    chunked = column.unify_dictionaries()  # type: ignore[attr-defined]
    if chunked.num_chunks == 0:
        return np.zeros(0, np.int32), pd.Index([], dtype=object)
    dictionary = chunked.chunk(0).dictionary.to_pandas().astype(str).to_numpy()
    index = np.concatenate([c.indices.to_numpy(zero_copy_only=False) for c in chunked.chunks])
    order = np.argsort(dictionary, kind="stable")
    ids = dictionary[order]
    # the same id may appear twice in a dictionary of mixed types cast to str: merge them
    uniq, rank_of_sorted = np.unique(ids, return_inverse=True)
    rank = np.empty(len(dictionary), np.int32)
    rank[order] = rank_of_sorted
    return rank[index.astype(np.int64)], pd.Index(uniq, dtype=object)


def read_push_log(data: Path, before: date | None = None) -> PushLog:
    """The coded order log the pair features read (lines strictly before BEFORE when given);
    category from the products table, else the product itself (as read_push_orders)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from features.contract.io import read_table, table_path

    path = table_path(data, "orders")
    if not path.exists():
        raise FileNotFoundError(f"{path}: the orders table is required")
    have = pq.read_schema(path).names
    cols = [c for c in (C.USER_ID, C.PRODUCT_ID, C.ORDERED_AT, C.QUANTITY, C.AMOUNT) if c in have]
    table = pq.read_table(path, columns=cols, read_dictionary=[C.USER_ID, C.PRODUCT_ID])
    if before is not None:
        stamp = pd.Timestamp(before).tz_localize("UTC")
        at = pc.cast(table.column(C.ORDERED_AT), pa.timestamp("us", tz="UTC"))
        table = table.filter(pc.less(at, stamp.to_pydatetime()))
    u, users = _arrow_codes(table.column(C.USER_ID))
    p, products = _arrow_codes(table.column(C.PRODUCT_ID))
    micros = pc.cast(table.column(C.ORDERED_AT), pa.timestamp("us", tz="UTC")).cast(pa.int64())
    day = np.floor_divide(micros.to_numpy(), 86_400_000_000).astype(np.int32)  # UTC day
    del micros
    qty = table.column(C.QUANTITY).to_numpy(zero_copy_only=False).astype(np.float64)
    amount = None
    if C.AMOUNT in cols:
        amount = table.column(C.AMOUNT).to_numpy(zero_copy_only=False).astype(np.float64)
    del table
    cat = pd.Series(products.to_numpy(), index=products)
    found = read_table(data, "products")
    if found is not None and C.CATEGORY_ID in found.columns:
        mapping = found.set_index(found[C.PRODUCT_ID].astype(str))[C.CATEGORY_ID]
        cat = cat.map(mapping).fillna(cat)
    c, categories = _sorted_codes(cat.astype(str).to_numpy())
    return PushLog(users, products, categories, c.astype(np.int64), u, p, day, qty, amount)
